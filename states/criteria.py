"""A pool's criteria and how reviews are scored against them."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from states.errors import BadInput
from states.fingerprint import fingerprint

MIN_SCORE, MAX_SCORE = 1, 5

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    weight: float = 1.0
    must_meet: bool = False
    description: str = ""


#: Tårnby's innovation pool: three primary parameters and three that may also be weighed.
TAARNBY_CRITERIA: tuple[Criterion, ...] = (
    Criterion("effektivitet", 2.0, description="Mere effektiv opgaveløsning"),
    Criterion("kvalitet", 2.0, description="Kvalitet målt efter en anerkendt faglig standard"),
    Criterion("resultat", 2.0, description="Bedre og/eller billigere resultat for borgeren"),
    Criterion("arbejdsmiljø", 1.0, description="Bedre arbejdsmiljø"),
    Criterion("begejstring", 1.0, description="Begejstring blandt medarbejdere og borgere"),
    Criterion("omtale", 1.0, description="Positiv omtale"),
)


def criteria_fingerprint(criteria: tuple[Criterion, ...]) -> str:
    """The criteria's fingerprint (`states.fingerprint`), in their order: the console's criteria form carries
    the one it was filled in from."""
    return fingerprint(*((c.name, c.weight, c.must_meet, c.description) for c in criteria))


def criteria_from_document(document: object) -> tuple[Criterion, ...]:
    """Read criteria from a parsed YAML/JSON document.

    Accepts a list of criteria or a mapping with a `criteria` list; each criterion is a mapping
    with `name` and optional `weight`, `must_meet` and `description`.
    """
    items = document.get("criteria") if isinstance(document, Mapping) else document
    if not isinstance(items, list) or not items:
        raise BadInput("criteria.empty", field="criteria")
    criteria = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise BadInput("criteria.no_name", field="criteria", position=position)
        unknown = set(item) - {"name", "weight", "must_meet", "description"}
        if unknown:
            raise BadInput("criteria.unknown_keys", field="criteria", criterion=item["name"], keys=sorted(unknown))
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
            raise BadInput("criteria.bad_weight", field="criteria", criterion=item["name"])
        must_meet = item.get("must_meet", False)
        if not isinstance(must_meet, bool):
            raise BadInput("criteria.bad_must_meet", field="criteria", criterion=item["name"])
        name = item["name"].strip()
        if not name or len(name) > 60 or not name.isprintable():
            raise BadInput("criteria.bad_name", field="criteria", position=position)
        criteria.append(Criterion(name, float(weight), must_meet, str(item.get("description", ""))))
    return check_criteria(tuple(criteria))


def check_criteria(criteria: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
    """A pool's criteria: at least one, and no two of the same name, whatever its case. Reviewers
    name criteria in either case ("effekt=4" scores "Effekt", `scored_by_name`), so "Effekt" and
    "effekt" in one pool could not be told apart."""
    if not criteria:
        raise BadInput("criteria.empty", field="criteria")
    seen: dict[str, str] = {}
    for criterion in criteria:
        folded = criterion.name.casefold()
        if folded in seen:
            raise BadInput("criteria.not_unique", field="criteria", first=seen[folded], second=criterion.name)
        seen[folded] = criterion.name
    return criteria


def _named(criteria: Iterable[Criterion], name: str) -> str | None:
    """The name of the criterion `name` names: itself, else the one criterion of that name in another case."""
    names = [c.name for c in criteria]
    if name in names:
        return name
    alike = [known for known in names if known.casefold() == name.casefold()]
    return alike[0] if len(alike) == 1 else None  # two alike: a pool from before check_criteria said no


def scored_by_name(criteria: Iterable[Criterion], answers: Mapping[str, T], field: str) -> dict[str, T]:
    """`answers` (scores, must-meet answers) under the criteria's own names: "effekt" answers for the
    criterion "Effekt", as the name of a pool does in any case. A name that is no criterion's stays as
    given (the caller refuses it, naming it); two names for one criterion are refused."""
    criteria = tuple(criteria)
    named: dict[str, T] = {}
    given: dict[str, str] = {}
    for name, answer in answers.items():
        own = _named(criteria, name) or name
        if own in named:
            raise BadInput("score.named_twice", field=field, criterion=own, first=given[own], second=name)
        named[own], given[own] = answer, name
    return named


def check_scores(criteria: Iterable[Criterion], scores: Mapping[str, int]) -> None:
    """Refuse scores for unknown criteria or outside 1–5 (bad input, not a rule)."""
    known = {c.name for c in criteria}
    for name, score in scores.items():
        if name not in known:
            raise BadInput("score.unknown_criterion", field="scores", criterion=name, known=sorted(known))
        if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
            raise BadInput("score.out_of_range", field="scores", criterion=name, low=MIN_SCORE, high=MAX_SCORE)


def weighted_score(criteria: Iterable[Criterion], scores: Mapping[str, int]) -> float | None:
    """The weight-averaged score over the criteria that were scored, or None if none were."""
    total = weights = 0.0
    for criterion in criteria:
        if criterion.name in scores:
            total += criterion.weight * scores[criterion.name]
            weights += criterion.weight
    return round(total / weights, 2) if weights else None


def missing_scores(criteria: Iterable[Criterion], scores: Mapping[str, int]) -> list[str]:
    return [c.name for c in criteria if c.name not in scores]
