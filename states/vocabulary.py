"""The words of the design brief as enums, so a typo is an error rather than a new stage."""

from enum import StrEnum
from zoneinfo import ZoneInfo

#: Times are stored in UTC and shown, and days counted, in Copenhagen.
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


class Stage(StrEnum):
    SUBMITTED = "submitted"
    SCREENED = "screened"
    FUNDED = "funded"
    PILOTING = "piloting"
    EVALUATED = "evaluated"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ON_HOLD = "on_hold"


#: Stages in which work still moves forward; `hold` is possible from these.
OPEN_STAGES = (Stage.SUBMITTED, Stage.SCREENED, Stage.FUNDED, Stage.PILOTING)
#: Stages an idea never leaves.
FINAL_STAGES = (Stage.EVALUATED, Stage.REJECTED, Stage.WITHDRAWN)


class Gate(StrEnum):
    SCREENING = "screening"
    FUNDING = "funding"
    EVALUATION = "evaluation"


class Decision(StrEnum):
    GO = "go"
    KILL = "kill"
    HOLD = "hold"
    RECYCLE = "recycle"


class Outcome(StrEnum):
    SCALE = "scale"
    ADJUST = "adjust"
    STOP = "stop"


class Role(StrEnum):
    """What a person may be. Administrators, coordinators and reviewers hold the role by a grant (on
    one pool or on every pool); proposers and followers need none: proposing an idea or being named
    in a pilot's follow-up group is what makes somebody one. The operator is the command line's own
    actor (`OPERATOR_EMAIL`), named in the record when a command was given without `--by`."""

    ADMINISTRATOR = "administrator"
    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"
    PROPOSER = "proposer"
    FOLLOWER = "follower"
    OPERATOR = "operator"


#: Roles that are granted (and revoked); coordinator and reviewer per pool, administrator everywhere.
GRANTABLE_ROLES = (Role.ADMINISTRATOR, Role.COORDINATOR, Role.REVIEWER)
#: The built-in actor of commands given on the command line without `--by`.
OPERATOR_EMAIL = "operator@ideaflow.invalid"
#: The longest a pool's gate deadline and a reminder's lead may be, in days: the command line and the
#: console accept the same.
MAX_DEADLINE_DAYS = 3650
MAX_REMINDER_DAYS = 365


class Language(StrEnum):
    DA = "da"
    EN = "en"


class TimerKind(StrEnum):
    GATE_REMINDER = "gate_reminder"
    GATE_DEADLINE = "gate_deadline"
    PILOT_START = "pilot_start"
    PILOT_END = "pilot_end"


class DeadlinePolicy(StrEnum):
    """What a passed screening deadline does: tell the coordinators, or let the idea lapse."""

    ESCALATE = "escalate"
    LAPSE = "lapse"
