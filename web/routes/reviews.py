"""The reviewer's pages: the inbox (`/inbox`) and the review form (`/ideas/{id}/review`).

What waits for whom, what a reviewer may read and whether they may review at all are the service
layer's answers (`ideaflow.inbox.Reviewing`); a review is saved by `Services.review`, the use case of
`ideaflow review`. An idea of a pool the person does not work in answers 404, like an idea that does
not exist; one they see but may not review answers with the reason (403, or 409 once the gate is
decided). Both attempts are in the refusals audit.

The form carries the gate and round it was shown at (`gate`, `round`) and which text of the idea it showed
(`text_version`): a review posted after that gate was decided, after a recycle began a new round, or after
the proposer revised the idea, is refused (409), not counted at the next gate or round nor against a text
the reviewer never read; so is one posted by a reviewer whose role was revoked meanwhile (403). Either way what they
typed (scores, must-meet answers, comment) is shown back, to copy: the criteria's names travel with the
form (`criterion-<index>`) for that, since the idea's new gate is no place to pre-fill them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.inbox import ReviewForm
from ideaflow.signin import Account
from states.criteria import MAX_SCORE, MIN_SCORE
from states.errors import BadInput, NotAllowed, Refused
from states.messages import sentence
from states.text import whole_number
from states.vocabulary import Gate
from web import pages
from web.auth import signed_in
from web.forms import Form, PostedForm
from web.routes.words import WORDS, formatters

router = APIRouter()

# Refusals said to the one refused, instead of the record's third person ("bent@… may not review idea 7").
# Every refusal the form can meet is here but bad input and a concurrent write ("try again"), which are
# said the same to anybody.
TO_YOU = {"not_allowed.conflicted": N_("You have declared a conflict of interest on this idea, so you neither "
                                       "review nor decide it."),
          "not_allowed.own_idea": N_("You proposed this idea, and nobody reviews an idea they proposed."),
          "not_allowed.role_needed": N_("You are not a reviewer in pool '%(pool)s': only its reviewers review "
                                        "its ideas."),
          "not_allowed.no_longer_reviewer": N_("You are no longer a reviewer in pool '%(pool)s', so you cannot "
                                               "review its ideas."),
          "gate.no_review_gate": N_("The idea is not open for review now: it is %(stage)s."),
          "gate.not_this_one": N_("The idea is not at %(gate)s: it is at %(open_gate)s. Your review was not saved."),
          "review.gate_decided": N_("The %(gate)s of this idea was decided while you were writing your review, and "
                                    "it is now at %(open_gate)s. Your review was not saved."),
          "review.new_round": N_("The idea was sent back to its proposer for revision while you were writing your "
                                 "review: it is in round %(round)s now, and its text may have changed. Your review "
                                 "was not saved; read the idea again before you review it."),
          "review.not_this_round": N_("The idea is in round %(round)s, not round %(seen_round)s. Your review was "
                                      "not saved."),
          "review.text_revised": N_("The proposer changed the idea while you were writing your review. Your review "
                                    "was not saved; read the idea again before you review it.")}
# ... and when a posted review met the refusal (what they wrote is shown below it).
NOT_SAVED = {"not_allowed.no_longer_reviewer": N_("You are no longer a reviewer in pool '%(pool)s', so your review "
                                                  "was not saved.")}
CHOOSE_SCORE = N_("Choose a score from 1 to 5 for %(criterion)s.")
ANSWER_MUST = N_("Answer yes or no for %(criterion)s.")
SCORES = [str(score) for score in range(MIN_SCORE, MAX_SCORE + 1)]


@router.get("/inbox")
def inbox(request: Request, person: Annotated[Account, Depends(signed_in)], page: str = "1") -> Response:
    """The ideas waiting for the person's review, soonest deadline first, a page at a time (a page
    number that is not one shows the first page, as the portfolio's filter drops what it cannot read)."""
    waiting = request.app.state.container.reviewing.inbox(person.email, request.app.state.clock(),
                                                           page=whole_number(page, max_digits=6) or 1)
    return pages.render(request, "inbox.html", {"inbox": waiting, **formatters(request)})


@router.get("/ideas/{idea_id}/review")
def review_form(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """The form, pre-filled with the reviewer's newest version (a draft, or the review they may revise)."""
    try:
        review = request.app.state.container.reviewing.form(idea_id, person.email, request.app.state.clock())
    except Refused as refusal:
        return _refused(request, refusal)
    return _page(request, review, _prefilled(review))


@router.post("/ideas/{idea_id}/review")
def save_review(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)],
                form: PostedForm) -> Response:
    """Save unfinished (a draft, counting for nothing) or submit; a submission that misses a score or a
    must-meet answer comes back (422) with each missing field marked."""
    container, now = request.app.state.container, request.app.state.clock()
    at_gate, at_round, at_text_version = _written_for(form)
    try:
        review = container.reviewing.form(idea_id, person.email, now, at_gate=at_gate, at_round=at_round,
                                          at_text_version=at_text_version)
    except Refused as refusal:
        return _refused(request, refusal, typed=_typed(form), idea_id=idea_id)
    draft = form.value("save") == "draft"
    scores, must_meet = {}, {}
    for criterion in review.criteria:
        score = form.value(f"score-{criterion.index}")
        if score in SCORES:
            scores[criterion.name] = int(score)
        elif score:
            form.error(f"score-{criterion.index}", CHOOSE_SCORE, criterion=criterion.name)
        answer = form.value(f"must-{criterion.index}")
        if criterion.must_meet and answer in ("yes", "no"):
            must_meet[criterion.name] = answer == "yes"
        elif criterion.must_meet and answer:
            form.error(f"must-{criterion.index}", ANSWER_MUST, criterion=criterion.name)
    comment = form.text("comment", max_length=5000, multiline=True)
    if form.errors:
        return _page(request, review, form, status_code=422)
    try:
        container.services.review(idea_id, person.email, scores, now, must_meet, comment, draft=draft,
                                  at_gate=at_gate, at_round=at_round, at_text_version=at_text_version)
    except BadInput as error:
        if error.code.startswith("review.incomplete_"):
            _mark_missing(form, review, error)
        else:
            form.failed(error, {"comment": ("comment", N_("Comment"))})
        return _page(request, review, form, status_code=422)
    except Refused as refusal:  # the gate was decided, or a conflict declared, since the form was read
        return _refused(request, refusal, typed=_typed(form), idea_id=idea_id)
    status = "review_saved" if draft else "review_submitted"
    return RedirectResponse(f"/ideas/{idea_id}/review?status={status}", status_code=303)


def _written_for(form: Form) -> tuple[Gate | None, int | None, int | None]:
    """The gate, round and text of the idea the form was shown with (a form without them, from before they
    were sent, reviews the gate open now, whichever its text)."""
    gate = form.value("gate")
    return ((Gate(gate) if gate in {g.value for g in Gate} else None), whole_number(form.value("round"), max_digits=6),
            whole_number(form.value("text_version"), max_digits=6))


@dataclass(frozen=True, slots=True)
class Typed:
    """What a refused review had typed: each criterion's score and must-meet answer, and the comment."""

    scores: list[tuple[str, str, str]] = field(default_factory=list)  # (criterion, score, "yes"/"no"/"")
    comment: str = ""

    def __bool__(self) -> bool:
        return bool(self.scores or self.comment)


def _typed(form: Form) -> Typed:
    scores = []
    for index in range(100):
        name = form.value(f"criterion-{index}").strip()[:60]
        if not name:
            break
        score, must = form.value(f"score-{index}"), form.value(f"must-{index}")
        if score in SCORES or must in ("yes", "no"):
            scores.append((name, score if score in SCORES else "", must if must in ("yes", "no") else ""))
    return Typed(scores, form.value("comment").strip()[:5000])


def _mark_missing(form: Form, review: ReviewForm, error: BadInput) -> None:
    """Put the domain's list of what a submission lacks on the fields concerned, in the form's order."""
    unscored, unanswered = set(error.values.get("unscored", ())), set(error.values.get("unanswered", ()))
    for criterion in review.criteria:
        if criterion.name in unscored:
            form.error(f"score-{criterion.index}", CHOOSE_SCORE, criterion=criterion.name)
        if criterion.name in unanswered:
            form.error(f"must-{criterion.index}", ANSWER_MUST, criterion=criterion.name)


def _prefilled(review: ReviewForm) -> Form:
    current = review.current
    if current is None:
        return Form({})
    values = {"comment": current.comment}
    for criterion in review.criteria:
        if criterion.name in current.scores:
            values[f"score-{criterion.index}"] = str(current.scores[criterion.name])
        if criterion.name in current.must_meet:
            values[f"must-{criterion.index}"] = "yes" if current.must_meet[criterion.name] else "no"
    return Form(values)


def _page(request: Request, review: ReviewForm, form: Form, *, status_code: int = 200) -> Response:
    return pages.render(request, "review.html",
                        {"review": review, "form": form, "scores": [(s, s) for s in SCORES], **formatters(request)},
                        status_code=status_code)


def _refused(request: Request, refusal: Refused, typed: Typed | None = None, idea_id: int | None = None) -> Response:
    """The reason, in the reader's language and to them: 403 for who they are (an attempt the audit keeps),
    409 for where the idea is (a gate decided, a new round begun or the idea revised, while the form was
    open). What a posted review typed is shown back, so it is not lost: where the idea is, or when the
    reviewer's role was revoked while they wrote (not to anybody else refused for who they are: they had no
    form). When the idea is still to be reviewed, only in a newer text, the form of that text is linked."""
    lang = pages.language(request)
    revoked = refusal.code == "not_allowed.no_longer_reviewer"
    said = (NOT_SAVED if typed else {}).get(refusal.code) or TO_YOU.get(refusal.code)
    if said:
        values = {name: i18n.gettext(lang, WORDS[_KIND[name]][str(value)])
                  if name in _KIND and str(value) in WORDS[_KIND[name]] else value
                  for name, value in refusal.values.items()}
        reason = i18n.gettext(lang, said, **values)
    else:
        reason = sentence(refusal, lang)
    forbidden = isinstance(refusal, NotAllowed)
    return pages.render(request, "review_refused.html",
                        {"reason": reason, "forbidden": forbidden,
                         "typed": typed if typed and (revoked or not forbidden) else Typed(),
                         "not_saved": bool(typed) and not forbidden,
                         "again": f"/ideas/{idea_id}/review" if idea_id and _again(refusal) else None},
                        status_code=403 if forbidden else 409)


def _again(refusal: Refused) -> bool:
    """Whether the idea still waits for reviews, read anew: sent back for revision, revised, or moved on from
    screening to its funding gate (the form there says so itself if this reviewer may not review it)."""
    if refusal.code in ("review.new_round", "review.text_revised"):
        return True
    return refusal.code in ("review.gate_decided", "gate.not_this_one") and \
        str(refusal.values.get("open_gate")) in (Gate.SCREENING, Gate.FUNDING)
#: The kind of word (`WORDS`) each value of a refusal is said as.
_KIND = {"stage": "stage", "gate": "gate", "open_gate": "gate"}
