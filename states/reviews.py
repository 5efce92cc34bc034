"""Reviews at a gate: which version counts, who may read which, and how far the reviewers agree.

A reviewer's review of one gate and round is a series of versions: drafts (unfinished, counting for
nothing) and submissions (complete). Until the gate is decided the reviewer may add versions; the
newest *submitted* one is the one that counts (weighted score, the screening guard, "has reviewed"),
and a draft saved after a submission does not withdraw it. Once a reviewer declares a conflict of
interest on the idea, none of their reviews of it counts any more, anywhere. Every version is kept for
the record.

Blind until submitted: a reviewer reads the other reviewers' reviews of a gate and round only once
their own review of that gate and round is submitted, so nobody anchors on the others' scores.
Coordinators of the idea's pool read every submitted review. Nobody but its author reads a draft.
These are rules about who may know what, so they live here, and every read model applies them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from statistics import fmean, pstdev
from typing import TYPE_CHECKING

from states.criteria import Criterion
from states.rules import Action, coordinates, may, stage_allows
from states.vocabulary import Gate

if TYPE_CHECKING:
    from states.model import Idea, Person, Pool, Review


def _by(review: Review, person: Person) -> bool:
    return review.reviewer.email == person.email


def counting(reviews: Sequence[Review], *, conflicted: Collection[str]) -> list[Review]:
    """The versions that count: per gate, round and reviewer the newest submitted one, in the given order.

    `conflicted` is the addresses of the people who declared a conflict of interest on the idea
    (`Idea.conflicted`): none of their reviews counts, whenever it was written (they neither review nor
    decide the idea from then on, and what they wrote before must not weigh either). Their versions stay
    in the record; they just count for nothing: not in a weighted score, the screening guard, "done" or a
    spread. Every reader of what counts asks here, so there is no one who forgets it."""
    newest: dict[tuple, Review] = {}
    for review in reviews:
        if review.reviewer.email in conflicted:
            continue
        key = (review.gate, review.round, review.reviewer.email)
        if review.submitted and (key not in newest or review.version > newest[key].version):
            newest[key] = review
    chosen = {id(review) for review in newest.values()}
    return [review for review in reviews if id(review) in chosen]


def asked(idea: Idea, reviewers: Sequence[Person]) -> list[Person]:
    """Whom the idea's open screening or funding gate asks for a review: the reviewers a coordinator
    asked, or, when nobody was asked, every one of `reviewers` (the pool's); either way only those who
    may review it now (not its proposer, nobody who declared a conflict). Review requests, reminders,
    the inbox and "x of y done" all count these."""
    if not stage_allows(Action.REVIEW, idea):
        return []
    return [p for p in (idea.assigned or reviewers) if may(p, Action.REVIEW, idea)]


def done(idea: Idea, asked_reviewers: Sequence[Person]) -> list[Person]:
    """Those of `asked_reviewers` whose review of the open gate counts (a draft is not done)."""
    reviewed = {r.reviewer.email for r in idea.counting_reviews}
    return [p for p in asked_reviewers if p.email in reviewed]


def readable_by(viewer: Person, pool: Pool, reviews: Sequence[Review]) -> list[Review]:
    """The versions `viewer` may read, in the given order (all of them belong to ideas of `pool`).

    Their own, drafts included; the others' submitted versions of a gate and round once the viewer
    submitted their own review of it, or all of them if the viewer coordinates the pool.
    """
    coordinator = coordinates(viewer, pool)
    submitted = {(r.gate, r.round) for r in reviews if r.submitted and _by(r, viewer)}
    return [r for r in reviews
            if _by(r, viewer) or (r.submitted and (coordinator or (r.gate, r.round) in submitted))]


@dataclass(frozen=True, slots=True)
class CriterionSpread:
    """How the counting reviews of one gate and round scored one criterion.

    `stdev` is the population standard deviation of the scores (0.0 when they all agree or there is
    only one); `min` and `max` are the lowest and highest score. With no score, all four are None.
    """

    gate: Gate
    round: int
    criterion: str
    weight: float
    count: int
    mean: float | None
    min: int | None
    max: int | None
    stdev: float | None


def spread(criteria: Sequence[Criterion], reviews: Sequence[Review], *,
           conflicted: Collection[str]) -> list[CriterionSpread]:
    """Per gate and round with a counting review (in the order they were first reviewed), per criterion:
    the mean, the lowest and highest score and the standard deviation, so disagreement shows before
    a decision. Pass only the reviews the reader may see: the figures reveal the scores. `conflicted` as
    for `counting`."""
    counted = counting(reviews, conflicted=conflicted)
    result = []
    for gate, round_ in dict.fromkeys((r.gate, r.round) for r in counted):
        for criterion in criteria:
            scores = [r.scores[criterion.name] for r in counted
                      if (r.gate, r.round) == (gate, round_) and criterion.name in r.scores]
            result.append(CriterionSpread(
                gate, round_, criterion.name, criterion.weight, len(scores),
                round(fmean(scores), 2) if scores else None, min(scores, default=None), max(scores, default=None),
                round(pstdev(scores), 2) if scores else None,
            ))
    return result
