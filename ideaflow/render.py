"""Human-readable output of an idea for `show` and the demo.

The console reads no markup (`cli.out`): titles, descriptions and reasons are what people typed, and
"[/b]" in a citizen's title must print as itself, not stop the command. Emphasis is a `Text` style.
"""

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ideaflow.views import IdeaView
from states import formatting as fmt


def print_idea(out: Console, view: IdeaView) -> None:
    out.print(Text(f"#{view.id} {view.title}", style="bold"))
    out.print(f"stage {view.stage}" + (f" (held from {view.held_from})" if view.held_from else "")
              + f" · pool {view.pool} · proposer {view.proposer}")
    if view.open_gate:
        out.print(f"{view.open_gate} gate open, deadline {fmt.moment(view.deadline)}"
                  + (f"; reviewers asked: {', '.join(view.reviewers_asked)}" if view.reviewers_asked else ""))
    out.print(f"requested {fmt.dkk(view.requested_dkk)} · allocated {fmt.dkk(view.allocated_dkk)}"
              + (f" · departments: {', '.join(view.departments)}" if view.departments else ""))
    out.print(view.description)
    for v in view.earlier_versions:
        out.print(Text.assemble((f"earlier version (round {v.round})", "bold"),
                                f", replaced {fmt.moment(v.replaced_at)} by {v.replaced_by}: {v.title} · requested "
                                f"{fmt.dkk(v.requested_dkk)}"
                                + (f" · departments: {', '.join(v.departments)}" if v.departments else "")))
        out.print(v.description)
    if view.reviews:
        table = Table("gate", "round", "reviewer", "version", "weighted", "scores", "comment", title="reviews")
        for r in view.reviews:
            scores = ", ".join(f"{k} {v}" for k, v in r.scores.items())
            must = ", ".join(f"{k}: {'ja' if ok else 'nej'}" for k, ok in r.must_meet.items())
            status = ("submitted" if r.submitted else "draft") + (", counts" if r.counts else "")
            table.add_row(r.gate, str(r.round), r.reviewer, f"{r.version} ({status})", fmt.score(r.weighted_score),
                          scores + (f" · {must}" if must else ""), r.comment)
        out.print(table)
    if view.criteria_summary:
        table = Table("gate", "round", "criterion", "weight", "reviews", "mean", "min–max", "std. dev.",
                      title="per criterion, over the reviews that count")
        for c in view.criteria_summary:
            table.add_row(c.gate, str(c.round), c.criterion, fmt.score(c.weight), str(c.count), fmt.score(c.mean),
                          f"{c.min}–{c.max}" if c.count else "", fmt.score(c.stdev))
        out.print(table)
    if view.pilot:
        p = view.pilot
        out.print(f"pilot {fmt.day(p.start)} – {fmt.day(p.end)} at {', '.join(p.sites)}"
                  + (f"; follow-up group: {', '.join(p.followers)}" if p.followers else "")
                  + (f"; measures: {'; '.join(p.measures)}" if p.measures else ""))
    if view.evaluation:
        e = view.evaluation
        out.print(f"evaluation: outcome {e.outcome}, weighted score {fmt.score(e.weighted_score)} ({e.by})")
    if view.conflicts:
        out.print(f"conflicts of interest declared: {', '.join(view.conflicts)}")
    if view.actions is not None:
        out.print("you may now: " + (", ".join(view.actions) or "nothing"))
    print_history(out, view)


def print_history(out: Console, view: IdeaView) -> None:
    table = Table("when", "action", "from", "to", "by", "reason", title=f"history of #{view.id}")
    for h in view.history:
        reason = f"{h.reason} ({h.subject})" if h.subject else h.reason
        table.add_row(fmt.moment(h.at), h.action, h.from_ or "", h.to, h.by or "system", reason)
    out.print(table)
