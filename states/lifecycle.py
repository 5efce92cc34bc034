"""The one lifecycle machine every idea shares.

A single `transitions.Machine` holds the diagram and the guards. It keeps no models: `fire` runs a
trigger on whatever object is passed in, reading and writing its `stage` attribute, so an idea
loaded from its database row costs nothing to attach and nothing to forget (no `add_model`, no
Machine per idea). `auto_transitions` is off because its `to_<stage>()` shortcuts bypass every gate.

Guards raise `InvalidTransition`/`BudgetExceeded` with a reason instead of returning False, so the
caller can say *why* a move was refused; the machine changes no state when a guard raises. No
callbacks do I/O: the idea records history and events after `fire` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from transitions import EventData, Machine, MachineError

from states.criteria import missing_scores
from states.errors import InvalidTransition
from states.vocabulary import OPEN_STAGES, Stage

if TYPE_CHECKING:
    from states.model import Idea


def screening_refusal(idea: Idea) -> InvalidTransition | None:
    """Why a screening go would be refused now (must-meet answered no, or no complete review), or None.

    Only the reviews that count (each reviewer's newest submitted version) are weighed. Submissions are
    complete since reviews have versions; reviews stored before that are kept as submitted, complete
    or not, hence the completeness check."""
    criteria = idea.pool.criteria
    reviews = idea.counting_reviews
    if any(answer is False for review in reviews for answer in review.must_meet.values()):
        failed = sorted({name for r in reviews for name, ok in r.must_meet.items() if not ok})
        return InvalidTransition("screening.must_meet_failed", criteria=failed)
    must = [c.name for c in criteria if c.must_meet]
    complete = [
        r for r in reviews if not missing_scores(criteria, r.scores) and all(name in r.must_meet for name in must)
    ]
    if not complete:
        needed = [c.name for c in criteria]
        if must:
            return InvalidTransition("screening.no_complete_review_must", criteria=needed, must=must)
        return InvalidTransition("screening.no_complete_review", criteria=needed)
    return None


def _screening_passed(event: EventData) -> bool:
    refusal = screening_refusal(event.model)
    if refusal is not None:
        raise refusal
    return True


def _funding_affordable(event: EventData) -> bool:
    event.model.pool.check_affordable(event.kwargs["amount_dkk"])
    return True


def _pilot_planned(event: EventData) -> bool:
    if event.model.pilot is None:
        raise InvalidTransition("pilot.not_planned")
    return True


def _evaluation_open(event: EventData) -> bool:
    idea: Idea = event.model
    if not idea.evaluation_open:
        if idea.pilot:
            raise InvalidTransition("evaluation.opens_at_end", end=idea.pilot.end)
        raise InvalidTransition("evaluation.not_open")
    return True


def _left(stage: Stage) -> Callable[[EventData], bool]:
    def resumes_to(event: EventData) -> bool:
        return event.model.held_from == stage

    return resumes_to


_ACTIVE = [*OPEN_STAGES, Stage.ON_HOLD]

TRANSITIONS: list[dict] = [
    {"trigger": "go", "source": Stage.SUBMITTED, "dest": Stage.SCREENED, "conditions": [_screening_passed]},
    {"trigger": "go", "source": Stage.SCREENED, "dest": Stage.FUNDED, "conditions": [_funding_affordable]},
    {"trigger": "recycle", "source": [Stage.SUBMITTED, Stage.SCREENED], "dest": "="},
    {"trigger": "start_pilot", "source": Stage.FUNDED, "dest": Stage.PILOTING, "conditions": [_pilot_planned]},
    {"trigger": "evaluate", "source": Stage.PILOTING, "dest": Stage.EVALUATED, "conditions": [_evaluation_open]},
    {"trigger": "kill", "source": _ACTIVE, "dest": Stage.REJECTED},
    {"trigger": "withdraw", "source": _ACTIVE, "dest": Stage.WITHDRAWN},
    {"trigger": "hold", "source": list(OPEN_STAGES), "dest": Stage.ON_HOLD},
    *({"trigger": "resume", "source": Stage.ON_HOLD, "dest": s, "conditions": [_left(s)]} for s in OPEN_STAGES),
]

MACHINE = Machine(
    model=None,
    states=list(Stage),
    transitions=TRANSITIONS,
    initial=None,
    auto_transitions=False,
    send_event=True,
    model_attribute="stage",
)

TRIGGERS: tuple[str, ...] = tuple(MACHINE.events)


def fire(idea: Idea, trigger: str, **context: object) -> tuple[Stage, Stage]:
    """Run `trigger` on `idea`; return (from, to) or raise a reason why not."""
    before = idea.stage
    try:
        moved = MACHINE.events[trigger].trigger(idea, **context)
    except MachineError:
        raise InvalidTransition("transition.impossible", trigger=trigger, stage=before) from None
    if not moved:
        raise InvalidTransition("transition.impossible", trigger=trigger, stage=before)
    return before, idea.stage


def allowed_triggers(stage: Stage) -> list[str]:
    """Triggers the diagram has from `stage` (guards aside)."""
    return [name for name, event in MACHINE.events.items() if stage.name in event.transitions]
