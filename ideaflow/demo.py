"""`ideaflow demo`: a sample portfolio drawn from real Danish cases, run through the whole lifecycle.

It goes through the same service layer as every command, with a simulated clock that steps through
the last six months up to now (DAYS), so that deadlines pass and pilots start and end, and the
console that `ideaflow serve` opens on it afterwards shows a history that has happened, a pilot
running today and deadlines that are due, not a record dated months ahead. The sweeps, the digests and the
mail go through the Prefect flows that `ideaflow serve` schedules, against a Prefect server that
the demo starts first (saying so: 15–50 s on these shared machines) and stops at the end, or against
PREFECT_API_URL's server; the mail lands in IDEAFLOW_MAIL_DIR (or on the SMTP server if one is set).
Running it again in the same database adds a second portfolio beside the first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ideaflow.render import print_history
from states import formatting as fmt
from states.criteria import TAARNBY_CRITERIA
from states.errors import Conflict
from states.model import REVISABLE
from states.vocabulary import OPERATOR_EMAIL, Decision, Outcome, Role

if TYPE_CHECKING:
    from ideaflow.bootstrap import Container

T = TypeVar("T")

#: How many days the portfolio's story takes: it starts that long before now and ends now.
DAYS = 175

COORDINATORS = {
    "Tårnby": ("innovation@taarnby.example.dk", "Mette Sørensen"),
    "Roskilde": ("innovation@roskilde.example.dk", "Jonas Holm"),
    "Gentofte": ("innovationschef@gentofte.example.dk", "Anne Kjær"),
}
#: Each municipality's reviewers review its own pool only (their role is granted on that pool).
REVIEWERS = {
    "Tårnby": [("bedoemmer@taarnby.example.dk", "Lars Østergaard"), ("oekonomi@taarnby.example.dk", "Sofie Bæk")],
    "Roskilde": [("bedoemmer@roskilde.example.dk", "Mads Vinther"), ("plan@roskilde.example.dk", "Nadia Rasmussen")],
    "Gentofte": [("bedoemmer@gentofte.example.dk", "Jens Kirk"), ("kultur@gentofte.example.dk", "Eva Lind")],
}
ADMINISTRATOR = ("it@kommune.example.dk", "Ida Administrator")
FOLLOWERS = [  # Roskilde's political follow-up group of four council members
    ("byraad.a@roskilde.example.dk", "Karen Friis"),
    ("byraad.b@roskilde.example.dk", "Peter Lund"),
    ("byraad.c@roskilde.example.dk", "Hanne Dahl"),
    ("byraad.d@roskilde.example.dk", "Ole Brandt"),
]

IDEAS = {
    "sagsbehandling": dict(
        pool="Tårnby", title="Tværgående sagsbehandling",
        description="Én fælles sagsgang på tværs af Borgerservice, Jobcenter og Socialforvaltning, så borgeren "
                    "ikke skal fortælle sin historie flere gange.",
        proposer="medarbejder@taarnby.example.dk", proposer_name="Henrik Mortensen", requested_dkk=1_200_000,
        departments=("Borgerservice", "Jobcenter", "Socialforvaltning")),
    "zebrabyer": dict(
        pool="Roskilde", title="ZebraByer: landsbyer der deler hverdagens opgaver",
        description="Borgere i testbyerne Gundsømagle og Viby løfter sammen opgaver som samkørsel og "
                    "fællesspisning, med kommunen som medspiller.",
        proposer="borger@gundsoemagle.example.dk", proposer_name="Birgitte Holm", requested_dkk=850_000,
        departments=("Plan og Udvikling",)),
    "unge": dict(
        pool="Roskilde", title="Én indgang for unge",
        description="Ét sted hvor unge mellem 15 og 25 år kan henvende sig om uddannelse, job og trivsel.",
        proposer="ungeraadgiver@roskilde.example.dk", proposer_name="Ali Hassan", requested_dkk=600_000,
        departments=("Ungdommens Uddannelsesvejledning", "Jobcenter")),
    "samskabelse": dict(
        pool="Gentofte", title="Samskabelse om fremtidens fritidsliv",
        description="Opgaveudvalgets forslag: borgere, foreninger og politikere skaber sammen nye "
                    "fritidstilbud til ældre.",
        proposer="borger@gentofte.example.dk", proposer_name="Else Marie Jensen", requested_dkk=400_000,
        departments=("Kultur og Fritid",)),
    "droner": dict(
        pool="Tårnby", title="Droner til tagrendeinspektion",
        description="Kommunens ejendomme inspiceres med drone i stedet for lift.",
        proposer="ejendomme@taarnby.example.dk", proposer_name="Thomas Berg", requested_dkk=250_000),
    "robotplæneklipper": dict(
        pool="Gentofte", title="Robotplæneklippere i parkerne",
        description="Forsøg med robotplæneklippere i tre parker.",
        proposer="park@gentofte.example.dk", proposer_name="Lone Winther", requested_dkk=300_000),
}


class Demo:
    def __init__(self, out: Console, app: Container, start: datetime) -> None:
        self.out = out
        self.now = start
        self.svc = app.services
        self.views = app.views
        self.ids: dict[str, int] = {}
        self.pools: dict[str, str] = {}

    def at(self, days: int, what: str) -> None:
        self.now = self.start + timedelta(days=days)
        self.out.print(Text.assemble(("\n" + fmt.moment(self.now), "bold"), f" — {what}"))

    def person(self, email: str, name: str, role: Role | None = None, pool: str | None = None) -> None:
        """Add the person unless a previous demo run did; grant `role` on `pool` (or on every pool)."""
        try:
            self.svc.add_person(email, name, None, self.now, by=OPERATOR_EMAIL)
        except Conflict:
            pass  # a second demo run reuses the people of the first
        if role is not None:
            self.svc.grant_role(email, role, self.now, pool=pool, by=OPERATOR_EMAIL)

    def pool(self, municipality: str, budget_dkk: int) -> None:
        name = f"{municipality} innovationspulje {self.now.year}"
        n = 1
        while True:
            try:
                self.svc.create_pool(name if n == 1 else f"{name} (demo {n})", budget_dkk, self.now.year, self.now,
                                     TAARNBY_CRITERIA, by=OPERATOR_EMAIL)
                break
            except Conflict:
                n += 1
        self.pools[municipality] = name if n == 1 else f"{name} (demo {n})"

    def review_all(self, key: str, scores: tuple[int, ...], comment: str) -> None:
        named = dict(zip((c.name for c in TAARNBY_CRITERIA), scores, strict=True))
        for email, _ in REVIEWERS[IDEAS[key]["pool"]]:
            review = self.svc.review(self.ids[key], email, named, self.now, comment=comment)
            self.out.print(f"  {email} reviewed #{self.ids[key]}: weighted score {fmt.score(review.weighted_score)}")

    def decide(self, key: str, decision: Decision, amount: int | None = None, reason: str = "") -> None:
        coordinator = COORDINATORS[IDEAS[key]["pool"]][0]
        idea = self.svc.decide(self.ids[key], decision, coordinator, self.now, amount, reason)
        money = f" ({fmt.dkk(amount)})" if amount else ""
        self.out.print(f"  #{idea.id} {idea.title}: {decision}{money} → {idea.stage}")

    @staticmethod
    def _run(flow_run: Coroutine[Any, Any, T]) -> T:
        """Run a flow; Ctrl-C or SIGTERM cancels it cleanly (see ideaflow/processes.py)."""
        from ideaflow.processes import signals_to_asyncio

        with signals_to_asyncio():
            return asyncio.run(flow_run)

    def sweep(self) -> None:
        from workflows.flows import sweep_deadlines

        report = self._run(sweep_deadlines(now=self.now))
        self.out.print(f"  sweep: {report.summary()}")

    def run(self) -> None:
        self.start = self.now
        self.at(0, "pools, people and six ideas")
        self.person(*ADMINISTRATOR, Role.ADMINISTRATOR)
        for municipality, budget in (("Tårnby", 5_000_000), ("Roskilde", 2_000_000), ("Gentofte", 1_000_000)):
            self.pool(municipality, budget)
            self.person(*COORDINATORS[municipality], Role.COORDINATOR, self.pools[municipality])
            for email, name in REVIEWERS[municipality]:
                self.person(email, name, Role.REVIEWER, self.pools[municipality])
        for email, name in FOLLOWERS:
            self.person(email, name)
        for key, spec in IDEAS.items():
            self.person(spec["proposer"], spec["proposer_name"])  # as the public form registers them: named
            fields = {k: v for k, v in spec.items() if k not in ("pool", "proposer_name")}
            self.ids[key] = self.svc.submit(pool=self.pools[spec["pool"]], now=self.now, **fields)
            self.out.print(f"  submitted #{self.ids[key]} {spec['title']} ({self.pools[spec['pool']]})")

        self.at(4, "screening reviews")
        self.review_all("sagsbehandling", (5, 4, 5, 4, 4, 3), "Klar gevinst for borgeren")
        self.review_all("zebrabyer", (3, 4, 5, 3, 5, 5), "Stærk lokal opbakning")
        self.review_all("unge", (4, 4, 4, 3, 4, 3), "")
        self.review_all("samskabelse", (3, 3, 4, 3, 5, 4), "")
        self.review_all("droner", (2, 2, 2, 3, 2, 2), "Ingen dokumenteret effekt")

        self.at(6, "screening gate decisions")
        for key in ("sagsbehandling", "zebrabyer", "unge", "samskabelse"):
            self.decide(key, Decision.GO)
        self.decide("droner", Decision.KILL, reason="Uden for puljens formål")

        self.at(20, "funding gate decisions")
        self.decide("sagsbehandling", Decision.GO, 1_100_000, "Bevilget med mindre reduktion")
        self.decide("zebrabyer", Decision.GO, 850_000)
        self.decide("unge", Decision.GO, 600_000)
        self.decide("samskabelse", Decision.RECYCLE, reason="Budgettet skal konkretiseres")

        self.at(21, "the Gentofte proposer revises the idea sent back to her")
        spec = IDEAS["samskabelse"]
        changed = self.svc.revise(
            self.ids["samskabelse"], spec["proposer"], self.now, requested_dkk=350_000,
            description=spec["description"] + " Budget: 350.000 kr. til tre forløb, heraf 50.000 kr. til "
                                              "lokaler; foreningerne stiller frivillige.")
        said = ", ".join(REVISABLE[name] for name in changed)
        self.out.print(f"  #{self.ids['samskabelse']} revised by {spec['proposer_name']}: {said}")

        self.at(22, "pilots planned")
        self.svc.plan_pilot(self.ids["sagsbehandling"], start=self._day(30), end=self._day(120),
                            sites=("Tårnby Rådhus",), measures=("Sagsbehandlingstid", "Borgertilfredshed"),
                            now=self.now, by=self._coordinator_of("sagsbehandling"))
        self.svc.plan_pilot(self.ids["zebrabyer"], start=self._day(35), end=self._day(150),
                            sites=("Gundsømagle", "Viby"), followers=tuple(e for e, _ in FOLLOWERS),
                            measures=("Antal fællesaktiviteter", "Oplevet fællesskab"), now=self.now,
                            by=self._coordinator_of("zebrabyer"))
        self.svc.plan_pilot(self.ids["unge"], start=self._day(60), end=self._day(400), sites=("Roskilde Bibliotek",),
                            now=self.now, by=self._coordinator_of("unge"))
        self.out.print("  three pilots planned; they start when their start dates arrive")

        self.at(40, "sweep: pilots start, the unreviewed idea's screening deadline has passed")
        self.sweep()

        self.at(45, "the recycled Gentofte idea is held while the task committee meets")
        self.decide("samskabelse", Decision.HOLD, reason="Afventer opgaveudvalgets møde")
        self.at(60, "and resumed")
        self.svc.resume(self.ids["samskabelse"], COORDINATORS["Gentofte"][0], self.now)
        self.out.print(f"  #{self.ids['samskabelse']} resumed at the funding gate")

        self.at(125, "sweep: the Tårnby pilot has ended; the resumed Gentofte idea's funding deadline has passed")
        self.sweep()
        self.at(130, "evaluation of the Tårnby pilot")
        self._evaluate("sagsbehandling", (5, 5, 5, 4, 4, 4), Outcome.SCALE, "Udbredes til hele kommunen")

        self.at(160, "sweep: ZebraByer has ended in Gundsømagle and Viby")
        self.sweep()
        self.at(170, "evaluation of ZebraByer")
        self._evaluate("zebrabyer", (3, 4, 4, 4, 5, 5), Outcome.ADJUST, "Justeres før næste testby")
        self.at(DAYS, "the weekly digests, and all the mail of the six months, delivered")
        self.mail()
        self.summary()

    def mail(self) -> None:
        from workflows.flows import send_digests

        run = self._run(send_digests(now=self.now))
        queued = ", ".join(f"{n} × {role}" for role, n in run.queued.items()) or "none due"
        self.out.print(f"  digests queued: {queued}")
        self.out.print(f"  mail: {run.delivery.summary()}")

    def _evaluate(self, key: str, scores: tuple[int, ...], outcome: Outcome, comment: str) -> None:
        coordinator = COORDINATORS[IDEAS[key]["pool"]][0]
        named = dict(zip((c.name for c in TAARNBY_CRITERIA), scores, strict=True))
        idea = self.svc.evaluate(self.ids[key], coordinator, named, outcome, self.now, comment)
        self.out.print(f"  #{idea.id} evaluated: {outcome}, weighted score {fmt.score(idea.evaluation.weighted_score)}")

    @staticmethod
    def _coordinator_of(key: str) -> str:
        return COORDINATORS[IDEAS[key]["pool"]][0]

    def _day(self, days: int) -> date:
        return (self.start + timedelta(days=days)).date()

    def summary(self) -> None:
        self.out.print(Text("\nThe portfolio", style="bold"))
        mine = set(self.ids.values())
        table = Table("id", "idea", "pool", "stage", "allocated", "deadline")
        for line in self.views.lines():
            if line.id in mine:
                table.add_row(str(line.id), line.title, line.pool, line.stage,
                              fmt.dkk(line.allocated_dkk) if line.allocated_dkk else "", fmt.moment(line.deadline))
        self.out.print(table)
        budgets = Table("pool", "budget", "allocated", "left", title="Budgets")
        for name in self.pools.values():
            view = self.views.pool(name)
            budgets.add_row(name, fmt.dkk(view.budget_dkk), fmt.dkk(view.allocated_dkk), fmt.dkk(view.remaining_dkk))
        self.out.print(budgets)
        print_history(self.out, self.views.idea(self.ids["zebrabyer"]))


def run_demo(out: Console, app: Container) -> dict[str, int]:
    """Create or upgrade the database, run the portfolio, print the summary; returns the idea ids.

    The flows it runs build their own application per flow run, from the same IDEAFLOW_* settings,
    against the Prefect server started here (or PREFECT_API_URL's).
    """
    from ideaflow.processes import stop_signals
    from workflows.local_server import prefect_api

    app.upgrade_database()
    demo = Demo(out, app, datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS))
    with stop_signals(), prefect_api(out.print):
        demo.run()
    return demo.ids
