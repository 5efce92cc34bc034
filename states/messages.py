"""What every refusal and bad input says, in Danish and English.

An error (`states.errors`) is a code, the field it concerns and its values; `render` turns it into a
line for a person. The entry point names the field its own way through `label` (the CLI by its flag,
`--amount-dkk`; a web form by the field's label); without one the field's own name is used, as in
`str(error)`, which is the English line for logs and the refusals audit.

Values are shown the Danish way in Danish (`6.000.000 kr.`, `1. april 2027`) and the English way in
English (`DKK 6,000,000`, `1 April 2027`): a value whose name ends in `_dkk` is an amount, a `date`
is a day, a `datetime` a moment in Copenhagen time, a list is joined with commas, and the values named
in `TERMS` (stages, gates, roles, actions) are said in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from states.formatting import day, dkk, moment

if TYPE_CHECKING:
    from states.errors import IdeaflowError

LANGUAGES = ("da", "en")

_MAY_NOT = {"en": "{person} may not {action} idea {idea}: ", "da": "{person} må ikke {action} idé {idea}: "}

CATALOGUE: dict[str, dict[str, str]] = {
    # -- text, addresses and amounts (states.text) -------------------------------------------------
    "text.empty": {"en": "{field} must not be empty", "da": "{field} skal udfyldes"},
    "text.too_long": {"en": "{field} is {length} characters long; at most {max_length} are allowed",
                      "da": "{field} er {length} tegn lang; højst {max_length} tegn er tilladt"},
    "text.control_character": {"en": "{field} contains a control character ({character})",
                               "da": "{field} indeholder et kontroltegn ({character})"},
    "text.surrogate": {"en": "{field} contains an unpaired surrogate",
                       "da": "{field} indeholder et ugyldigt tegn (en uparret surrogat)"},
    "email.invalid": {"en": "'{value}' is not an email address", "da": "'{value}' er ikke en e-mailadresse"},
    "amount.out_of_range": {"en": "{field} must be a whole number of kroner from {low_dkk} to {high_dkk}",
                            "da": "{field} skal være et helt antal kroner fra {low_dkk} til {high_dkk}"},
    # -- criteria and scores (states.criteria) ------------------------------------------------------
    "criteria.empty": {"en": "criteria file must hold a non-empty list of criteria",
                       "da": "kriteriefilen skal indeholde en liste med mindst ét kriterium"},
    "criteria.no_name": {"en": "criterion #{position} needs a 'name'", "da": "kriterium nr. {position} mangler 'name'"},
    "criteria.unknown_keys": {"en": "criterion '{criterion}' has unknown keys: {keys}",
                              "da": "kriteriet '{criterion}' har ukendte nøgler: {keys}"},
    "criteria.bad_weight": {"en": "criterion '{criterion}' needs a weight above 0 and at most 100",
                            "da": "kriteriet '{criterion}' skal have en vægt over 0 og højst 100"},
    "criteria.bad_must_meet": {"en": "criterion '{criterion}': must_meet is true or false",
                               "da": "kriteriet '{criterion}': must_meet er true eller false"},
    "criteria.bad_name": {"en": "criterion #{position} needs a printable name of at most 60 characters",
                          "da": "kriterium nr. {position} skal have et skrivbart navn på højst 60 tegn"},
    "criteria.not_unique": {"en": "criteria names must be unique, also ignoring capital letters: '{first}' and "
                                  "'{second}' are the same name",
                            "da": "kriteriernes navne skal være forskellige, også uden hensyn til store og små "
                                  "bogstaver: '{first}' og '{second}' er det samme navn"},
    "criteria.unreadable": {"en": "cannot read criteria file '{path}': {reason}",
                            "da": "kriteriefilen '{path}' kan ikke læses: {reason}"},
    "criteria.unparsable": {"en": "criteria file '{path}' is not valid YAML or JSON: {reason}",
                            "da": "kriteriefilen '{path}' er ikke gyldig YAML eller JSON: {reason}"},
    "score.unknown_criterion": {"en": "{field}: unknown criterion '{criterion}'; the pool's criteria are: {known}",
                                "da": "{field}: ukendt kriterium '{criterion}'; puljens kriterier er: {known}"},
    "score.out_of_range": {"en": "{field}: the score for '{criterion}' must be a whole number from {low} to {high}",
                           "da": "{field}: scoren for '{criterion}' skal være et helt tal fra {low} til {high}"},
    "score.named_twice": {"en": "{field} names the criterion '{criterion}' twice ('{first}' and '{second}')",
                          "da": "{field} nævner kriteriet '{criterion}' to gange ('{first}' og '{second}')"},
    "score.missing": {"en": "an evaluation scores every criterion; missing: {criteria}",
                      "da": "en evaluering scorer alle kriterier; mangler: {criteria}"},
    # -- the command line's own parsing (ideaflow.cli) ----------------------------------------------
    "input.not_a_time": {"en": "{field} '{value}' is not an ISO-8601 time (e.g. 2026-11-22T07:00:00+01:00)",
                         "da": "{field} '{value}' er ikke et ISO 8601-tidspunkt (fx 2026-11-22T07:00:00+01:00)"},
    "input.not_a_date": {"en": "{field} '{value}' is not a date (YYYY-MM-DD)",
                         "da": "{field} '{value}' er ikke en dato (ÅÅÅÅ-MM-DD)"},
    "input.not_a_pair": {"en": "{field} '{value}' must look like CRITERION=VALUE",
                         "da": "{field} '{value}' skal have formen KRITERIUM=VÆRDI"},
    "input.pair_twice": {"en": "{field} names '{criterion}' twice", "da": "{field} nævner '{criterion}' to gange"},
    "input.not_a_score": {"en": "{field} {criterion}='{value}': the score must be a whole number from 1 to 5",
                          "da": "{field} {criterion}='{value}': scoren skal være et helt tal fra 1 til 5"},
    "input.not_yes_no": {"en": "{field} {criterion}='{value}': answer yes or no",
                         "da": "{field} {criterion}='{value}': svar ja eller nej"},
    "input.in_the_future": {"en": "{field} '{value}' is later than now: give a moment that has passed, or leave "
                                  "{field} out to use the clock",
                            "da": "{field} '{value}' ligger efter nu: angiv et tidspunkt, der er passeret, eller "
                                  "udelad {field} for at bruge uret"},
    "input.both_ways": {"en": "{option} and {flag}: name some, or remove them all, not both",
                        "da": "{option} og {flag}: nævn nogle, eller fjern dem alle, ikke begge dele"},
    # -- pools, people and roles ---------------------------------------------------------------------
    "pool.implausible_year": {"en": "{field} {year} is not a plausible budget year",
                              "da": "{field} {year} er ikke et sandsynligt budgetår"},
    "policy.reminder_too_early": {"en": "a reminder {reminder} days before a deadline comes before the gate opens: "
                                        "the shortest gate has {days} days",
                                  "da": "en påmindelse {reminder} dage før en frist kommer, før beslutningen åbner: "
                                        "den korteste har {days} dage"},
    "pool.budget_not_positive": {"en": "{field} must be at least {low_dkk}: a pool without a budget cannot fund "
                                       "any idea",
                                 "da": "{field} skal være mindst {low_dkk}: en pulje uden budget kan ikke støtte "
                                       "nogen idé"},
    "pool.exists": {"en": "pool '{pool}' already exists", "da": "puljen '{pool}' findes allerede"},
    "pool.name_differs_in_case": {
        "en": "pool '{pool}' already exists: {field} must differ from it by more than capital letters",
        "da": "puljen '{pool}' findes allerede: {field} skal adskille sig fra den med mere end store og små "
              "bogstaver"},
    "pool.criteria_in_use": {"en": "pool '{pool}' has reviews or evaluations scored on its criteria: only their "
                                   "descriptions may change now",
                             "da": "puljen '{pool}' har bedømmelser eller evalueringer efter sine kriterier: nu kan "
                                   "kun kriteriernes beskrivelser ændres"},
    "pool.unknown": {"en": "unknown pool '{pool}'", "da": "ukendt pulje '{pool}'"},
    "budget.exceeded": {"en": "pool '{pool}' cannot afford {amount_dkk}: {remaining_dkk} left",
                        "da": "puljen '{pool}' har ikke råd til {amount_dkk}: {remaining_dkk} tilbage"},
    "role.last_administrator": {"en": "{person} is the last administrator: give the role to somebody else first",
                                "da": "{person} er den sidste administrator: giv rollen til en anden først"},
    "person.unknown": {"en": "unknown person '{email}': an administrator adds people under People and roles, "
                             "or with 'ideaflow person add'",
                       "da": "ukendt person '{email}': en administrator tilføjer personer under Personer og roller "
                             "eller med 'ideaflow person add'"},
    "person.exists": {"en": "person '{email}' already exists; give them another role under People and roles, "
                            "or with 'ideaflow person grant'",
                      "da": "personen '{email}' findes allerede; giv vedkommende en rolle mere under Personer og "
                            "roller eller med 'ideaflow person grant'"},
    "person.operator_role": {"en": "the operator role belongs to the command line itself",
                             "da": "operatørrollen hører til kommandolinjen selv"},
    "person.operator_kept": {"en": "the command line's operator cannot be forgotten",
                             "da": "kommandolinjens operatør kan ikke glemmes"},
    "role.not_grantable": {"en": "{field} {value} is not granted: choose {choices}",
                           "da": "{field} {value} kan ikke tildeles: vælg {choices}"},
    "role.everywhere": {"en": "the administrator role holds for every pool; leave out {field}",
                        "da": "administratorrollen gælder alle puljer; udelad {field}"},
    "role.not_held": {"en": "{email} holds no {role} role on pool '{pool}'",
                      "da": "{email} har ingen rolle som {role} i puljen '{pool}'"},
    "role.not_held_everywhere": {"en": "{email} holds no {role} role on every pool",
                                 "da": "{email} har ingen rolle som {role} på alle puljer"},
    # -- who may do what (states.rules) ---------------------------------------------------------------
    "not_allowed.administrator": {"en": "{person} may not {task}: only an administrator may",
                                  "da": "{person} må ikke {task}: det må kun en administrator"},
    "not_allowed.proposer_only": {"en": _MAY_NOT["en"] + "only the idea's proposer may",
                                  "da": _MAY_NOT["da"] + "det må kun idéens forslagsstiller"},
    "not_allowed.own_idea": {"en": _MAY_NOT["en"] + "nobody judges or steers an idea they proposed",
                             "da": _MAY_NOT["da"] + "ingen bedømmer eller styrer en idé, de selv har foreslået"},
    "not_allowed.conflicted": {"en": _MAY_NOT["en"] + "they declared a conflict of interest on it",
                               "da": _MAY_NOT["da"] + "vedkommende har erklæret sig inhabil"},
    "not_allowed.staff_only": {"en": _MAY_NOT["en"] + "only a coordinator or reviewer of pool '{pool}' may",
                               "da": _MAY_NOT["da"] + "det må kun en koordinator eller bedømmer i puljen '{pool}'"},
    "not_allowed.role_needed": {"en": _MAY_NOT["en"] + "only a {role} of pool '{pool}' may",
                                "da": _MAY_NOT["da"] + "det må kun en {role} i puljen '{pool}'"},
    "not_allowed.no_longer_reviewer": {
        "en": "{person} may not review idea {idea}: their reviewer role on pool '{pool}' was revoked {revoked_at}",
        "da": "{person} må ikke bedømme idé {idea}: vedkommendes rolle som bedømmer i puljen '{pool}' blev "
              "frataget {revoked_at}"},
    "not_allowed.sight": {"en": "{person} may not see idea {idea} of pool '{pool}'",
                          "da": "{person} må ikke se idé {idea} i puljen '{pool}'"},
    "not_allowed.sight_follower": {
        "en": "{person} follows the pilot of idea {idea}: they see its pilot's page (/pilots/{idea}), "
              "not the whole idea",
        "da": "{person} følger piloten for idé {idea}: de ser pilotens side (/pilots/{idea}), ikke hele idéen"},
    "not_allowed.sight_proposer": {
        "en": "{person} proposed idea {idea}: they see it among their own ideas (/my-ideas), not the whole idea",
        "da": "{person} har foreslået idé {idea}: de ser den blandt deres egne idéer (/my-ideas), ikke hele idéen"},
    "not_allowed.pools": {"en": "{person} has no pools: only a coordinator or an administrator has",
                          "da": "{person} har ingen puljer: det har kun en koordinator eller en administrator"},
    "not_allowed.pool": {"en": "{person} may not see pool '{pool}': only its coordinators and administrators may",
                         "da": "{person} må ikke se puljen '{pool}': det må kun dens koordinatorer og "
                               "administratorer"},
    "not_allowed.outbox": {"en": "{person} may not see the outbox: only a coordinator or an administrator may",
                           "da": "{person} må ikke se udbakken: det må kun en koordinator eller en administrator"},
    "not_allowed.portfolio": {"en": "{person} has no portfolio: only a coordinator or an administrator has one",
                              "da": "{person} har ingen portefølje: den har kun koordinatorer og administratorer"},
    # -- the lifecycle and the gates (states.lifecycle, states.model) ---------------------------------
    "transition.impossible": {"en": "cannot {trigger} an idea that is {stage}",
                              "da": "en idé, der er {stage}, kan ikke {trigger}"},
    "gate.none_open": {"en": "no gate is open for an idea that is {stage}",
                       "da": "ingen beslutning er åben for en idé, der er {stage}"},
    "gate.no_review_gate": {"en": "no screening or funding gate is open for an idea that is {stage}",
                            "da": "hverken screeningen eller bevillingsbeslutningen er åben for en idé, "
                                  "der er {stage}"},
    "gate.not_this_one": {"en": "idea {idea} is not at the {gate} gate: its {open_gate} gate is open",
                          "da": "idé {idea} er ikke ved {gate}: {open_gate} er åben"},
    "gate.not_this_one_none": {"en": "idea {idea} is not at the {gate} gate: it is {stage} with no gate open",
                               "da": "idé {idea} er ikke ved {gate}: den er {stage}, og ingen beslutning er åben"},
    "review.gate_decided": {"en": "idea {idea} is no longer at the {gate} gate: it was decided while the review "
                                  "was being written, and the {open_gate} gate is open now; the review was not saved",
                            "da": "idé {idea} er ikke længere ved {gate}: der blev truffet afgørelse, mens "
                                  "bedømmelsen blev skrevet, og nu er {open_gate} åben; bedømmelsen blev ikke gemt"},
    "review.new_round": {"en": "idea {idea} was sent back for revision while the review was being written: its {gate} "
                               "gate is in round {round} now, not round {seen_round}, and the idea may have changed; "
                               "read it again. The review was not saved",
                         "da": "idé {idea} blev sendt tilbage til revision, mens bedømmelsen blev skrevet: {gate} "
                               "er nu i runde {round}, ikke runde {seen_round}, og idéen kan være ændret; læs den "
                               "igen. Bedømmelsen blev ikke gemt"},
    "review.not_this_round": {"en": "idea {idea}'s {gate} gate is in round {round}, not round {seen_round}",
                              "da": "{gate} for idé {idea} er i runde {round}, ikke runde {seen_round}"},
    "review.text_revised": {"en": "the proposer of idea {idea} changed it while the review was being written; read "
                                  "the idea again. The review was not saved",
                            "da": "forslagsstilleren har ændret idé {idea}, mens bedømmelsen blev skrevet; læs idéen "
                                  "igen. Bedømmelsen blev ikke gemt"},
    "review.not_this_text": {"en": "idea {idea}'s text is version {text_version}, not version {seen_text_version}",
                             "da": "teksten til idé {idea} er version {text_version}, ikke version "
                                   "{seen_text_version}"},
    "gate.evaluation_by_evaluate": {"en": "the evaluation gate is decided by an evaluation ('ideaflow evaluate')",
                                    "da": "evalueringen afgøres med en evaluering ('ideaflow evaluate')"},
    "gate.no_deadline_ahead": {"en": "no gate deadline ahead for an idea that is {stage}",
                               "da": "ingen frist forude for en idé, der er {stage}"},
    "decide.reason_needed": {"en": "{field} is needed to {decision} an idea: the proposer is told why",
                             "da": "{field} skal udfyldes for at {decision} en idé: forslagsstilleren får den at vide"},
    "conflict.changed_meanwhile": {"en": "idea {idea} changed while you had it open (it is now {stage}): "
                                     "look at it again before you act",
                               "da": "idé {idea} blev ændret, mens du havde den åben (den er nu {stage}): "
                                     "se den igen, før du handler"},
    "conflict.changed_meanwhile_what": {"en": "idea {idea} changed while you had it open ({what}): look at it "
                                              "again before you act",
                                        "da": "idé {idea} blev ændret, mens du havde den åben ({what}): se den "
                                              "igen, før du handler"},
    "conflict.intake_changed_meanwhile": {"en": "the intake of ideas of {pool} was changed while you had it open: "
                                                "look at it again before you save",
                                          "da": "modtagelsen af idéer til {pool} blev ændret, mens du havde den "
                                                "åben: se den igen, før du gemmer"},
    "conflict.criteria_changed_meanwhile": {"en": "the criteria of {pool} were changed while you had them open: "
                                                  "look at them again before you save",
                                            "da": "kriterierne for {pool} blev ændret, mens du havde dem åbne: "
                                                  "se dem igen, før du gemmer"},
    "decide.request_reused": {"en": "request {request} was already used for a {decision} decision on idea {recorded}; "
                                    "another decision on idea {idea} needs a new request id",
                              "da": "anmodningen {request} er allerede brugt til at {decision} idé {recorded}; "
                                    "en anden afgørelse om idé {idea} kræver et nyt anmodnings-id"},
    "screening.must_meet_failed": {"en": "screening go refused: must-meet criteria answered no: {criteria}",
                                   "da": "godkendelse (go) ved screeningen afvist: skal-krav besvaret med nej: "
                                         "{criteria}"},
    "screening.no_complete_review": {
        "en": "screening go needs at least one review submitted that scores every criterion ({criteria})",
        "da": "godkendelse (go) ved screeningen kræver mindst én indsendt bedømmelse, der scorer alle kriterier "
              "({criteria})"},
    "screening.no_complete_review_must": {
        "en": "screening go needs at least one review submitted that scores every criterion ({criteria}) "
              "and answering must-meet {must}",
        "da": "godkendelse (go) ved screeningen kræver mindst én indsendt bedømmelse, der scorer alle kriterier "
              "({criteria}) "
              "og besvarer skal-krav {must}"},
    "funding.nothing_left": {"en": "pool '{pool}' has nothing left to allocate",
                             "da": "puljen '{pool}' har intet tilbage at bevilge"},
    "amount.only_funding_go": {"en": "{field} applies only to a go at the funding gate",
                               "da": "{field} gælder kun en godkendelse (go) ved bevillingsbeslutningen"},
    "amount.needed": {"en": "a funding go needs {field} (the idea requested no amount)",
                      "da": "en godkendelse (go) ved bevillingsbeslutningen kræver {field} (idéen søgte intet beløb)"},
    "amount.not_positive": {"en": "{field} must be a positive whole number of kroner",
                            "da": "{field} skal være et positivt helt antal kroner"},
    "review.not_must_meet": {"en": "{criteria} is not a must-meet criterion of pool '{pool}' (must-meet: {must})",
                             "da": "{criteria} er ikke et skal-krav i puljen '{pool}' (skal-krav: {must})"},
    "review.empty_draft": {"en": "a draft review needs at least a score, a must-meet answer or a comment",
                           "da": "en kladde skal have mindst én score, et svar på et skal-krav eller en kommentar"},
    **{f"review.incomplete_{what}": {
        "en": "a submitted review scores every criterion and answers every must-meet criterion; missing " + en
              + " (or save it as a draft)",
        "da": "en indsendt bedømmelse scorer alle kriterier og svarer på alle skal-krav; mangler " + da
              + " (eller gem den som kladde)"}
       for what, en, da in (
           ("scores", "scores for {unscored}", "score for {unscored}"),
           ("must", "must-meet answers for {unanswered}", "svar på skal-krav for {unanswered}"),
           ("both", "scores for {unscored} and must-meet answers for {unanswered}",
            "score for {unscored} og svar på skal-krav for {unanswered}"))},
    "digest.bad_unsubscribe_token": {
        "en": "this unsubscribe link is not valid (it may be from before the address was forgotten)",
        "da": "linket til at afmelde nyhedsbrevet er ikke gyldigt (det kan være fra før adressen blev glemt)"},
    "assign.not_reviewers": {"en": "{people} cannot be asked to review: not a reviewer of pool '{pool}'",
                             "da": "{people} kan ikke bedes om en bedømmelse: ikke bedømmer i puljen '{pool}'"},
    "assign.barred": {"en": "cannot ask {people}: nobody judges an idea they proposed or declared a conflict "
                            "of interest on",
                      "da": "{people} kan ikke spørges: ingen bedømmer en idé, de selv har foreslået eller er "
                            "inhabile i"},
    "conflict.already_declared": {"en": "{person} has already declared a conflict of interest on idea {idea}",
                                  "da": "{person} har allerede erklæret sig inhabil i idé {idea}"},
    "revise.nothing_given": {"en": "say what to revise: --title, --description, --requested-dkk or --department",
                             "da": "sig, hvad der skal revideres: --title, --description, --requested-dkk eller "
                                   "--department"},
    "revise.not_sent_back": {"en": "idea {idea} may be revised only while it is sent back for revision, until its gate "
                                   "is decided; it is {stage}",
                             "da": "idé {idea} kan kun revideres, mens den er sendt tilbage til revision, indtil "
                                   "der er truffet beslutning; den er {stage}"},
    "pilot.ends_before_start": {"en": "the pilot's last day, {end}, is before its first day, {start}",
                                "da": "pilotens sidste dag, {end}, ligger før dens første dag, {start}"},
    "pilot.over": {"en": "the pilot's last day, {end}, has passed; plan a pilot before it ends",
                   "da": "pilotens sidste dag, {end}, er passeret; en pilot planlægges, før den slutter"},
    "pilot.no_site": {"en": "a pilot needs at least one site ({field})",
                      "da": "en pilot skal have mindst ét sted ({field})"},
    "pilot.not_funded": {"en": "the idea is {stage}: a pilot is planned only for a funded idea, or re-planned "
                               "until it is evaluated",
                         "da": "idéen er {stage}: en pilot kan kun planlægges for en bevilget idé eller planlægges "
                               "om, indtil den er evalueret"},
    "pilot.evaluated": {"en": "the pilot's evaluation has been recorded: its plan can no longer change",
                        "da": "pilotens evaluering er registreret: planen kan ikke længere ændres"},
    "pilot.on_hold": {"en": "the idea is on hold: resume it before its pilot is planned",
                      "da": "idéen er sat i bero: genoptag den, før piloten planlægges"},
    "pilot.started": {"en": "the pilot started {start}: its first day stays", "da": "piloten startede {start}: "
                                                                                    "dens første dag ligger fast"},
    "pilot.not_planned": {"en": "the pilot cannot start before it is planned (ideaflow pilot)",
                          "da": "piloten kan ikke starte, før den er planlagt (ideaflow pilot)"},
    "pilot.not_running": {"en": "no running pilot to end for an idea that is {stage}",
                          "da": "ingen igangværende pilot at afslutte for en idé, der er {stage}"},
    "evaluation.opens_at_end": {"en": "the evaluation gate opens when the pilot ends ({end})",
                                "da": "evalueringen åbner, når piloten slutter ({end})"},
    "evaluation.not_open": {"en": "the evaluation gate is not open", "da": "evalueringen er ikke åben"},
    # -- storage, digests and delivery ----------------------------------------------------------------
    "idea.unknown": {"en": "unknown idea {idea}", "da": "ukendt idé {idea}"},
    "conflict.concurrent": {"en": "the idea was changed by someone else at the same time; nothing was changed, "
                                  "try again",
                            "da": "idéen blev ændret af en anden på samme tid; intet blev ændret, prøv igen"},
    "conflict.stored_data": {"en": "the change conflicts with stored data: {detail}",
                             "da": "ændringen strider mod gemte data: {detail}"},
    "conflict.busy": {"en": "the database was busy with another change; nothing was changed, try again",
                      "da": "databasen var optaget af en anden ændring; intet blev ændret, prøv igen"},
    "digest.running": {"en": "another digest run is covering the same recipients",
                       "da": "en anden kørsel af oversigterne dækker de samme modtagere"},
    "delivery.failed": {"en": "delivery failed; {summary}", "da": "afsendelsen mislykkedes; {summary}"},
    "database.newer_schema": {
        "en": "the database's schema (revision {revision}) is newer than this ideaflow knows: upgrade ideaflow",
        "da": "databasens skema (revision {revision}) er nyere, end denne ideaflow kender: opgrader ideaflow"},
    "server.not_started": {"en": "{detail}", "da": "{detail}"},
    "signin.operator": {"en": "{email} is the command line's own operator, not a person: it cannot sign in to the "
                                "web console; sign in with your own address",
                        "da": "{email} er kommandolinjens egen operatør og ikke en person: den kan ikke logge ind "
                              "i webkonsollen; log ind med din egen adresse"},
    "signin.short_key": {"en": "the secret key must be at least 16 bytes",
                         "da": "den hemmelige nøgle skal være mindst 16 byte"},
    # -- the public intake (states.intake, ideaflow.intake, ideaflow.privacy) ----------------------------
    "intake.window_order": {"en": "the pool must open for ideas ({opens_at}) before it closes ({closes_at})",
                            "da": "puljen skal åbne for idéer ({opens_at}), før den lukker ({closes_at})"},
    "intake.days_order": {"en": "the last day ({last_day}) comes before the first day ({first_day})",
                          "da": "sidste dag ({last_day}) ligger før første dag ({first_day})"},
    "intake.last_day_passed": {"en": "the last day for ideas ({last_day}) has already passed",
                               "da": "sidste dag for idéer ({last_day}) er allerede passeret"},
    "intake.grant_above_budget": {"en": "{field} ({amount_dkk}) is more than the pool's whole budget ({budget_dkk})",
                                  "da": "{field} ({amount_dkk}) er mere end puljens samlede budget ({budget_dkk})"},
    "intake.grant_order": {"en": "the smallest grant ({low_dkk}) is larger than the largest ({high_dkk})",
                           "da": "det mindste beløb ({low_dkk}) er større end det største ({high_dkk})"},
    "intake.not_yet_open": {"en": "pool '{pool}' takes ideas from {opens_at}",
                            "da": "puljen '{pool}' modtager idéer fra {opens_at}"},
    "intake.closed": {"en": "pool '{pool}' closed for ideas {closes_at}",
                      "da": "puljen '{pool}' lukkede for idéer {closes_at}"},
    "intake.above_grant_max": {
        "en": "{field} {amount_dkk} is above the largest amount pool '{pool}' gives ({max_dkk})",
        "da": "{field} {amount_dkk} er over det største beløb, puljen '{pool}' giver ({max_dkk})"},
    "intake.below_grant_min": {
        "en": "{field} {amount_dkk} is below the smallest amount pool '{pool}' gives ({min_dkk})",
        "da": "{field} {amount_dkk} er under det mindste beløb, puljen '{pool}' giver ({min_dkk})"},
    "intake.invalid": {"en": "the idea's form has problems in: {fields}", "da": "idéens formular har fejl i: {fields}"},
    "intake.rate_limited_address": {
        "en": "too many ideas from this address: at most {limit} in {minutes} minutes; try again after {retry_after}",
        "da": "for mange idéer fra denne adresse: højst {limit} på {minutes} minutter; prøv igen efter {retry_after}"},
    "intake.rate_limited_email": {
        "en": "too many ideas from this e-mail address: at most {limit} in {minutes} minutes; try again after "
              "{retry_after}",
        "da": "for mange idéer fra denne e-mailadresse: højst {limit} på {minutes} minutter; prøv igen efter "
              "{retry_after}"},
    "intake.unknown_link": {"en": "this confirmation link is not valid or has expired; please send the idea again",
                            "da": "linket til at bekræfte er ugyldigt eller udløbet; send idéen igen"},
    "not_allowed.pool_intake": {
        "en": "{person} may not change when pool '{pool}' takes ideas: only an administrator or a coordinator of the "
              "pool may",
        "da": "{person} må ikke ændre, hvornår puljen '{pool}' modtager idéer: det må kun en administrator eller en "
              "koordinator af puljen"},
    "attachment.unknown": {"en": "unknown attachment {attachment}", "da": "ukendt bilag {attachment}"},
    "attachment.checksum": {"en": "attachment {attachment} does not match its checksum; it was changed after upload",
                            "da": "bilag {attachment} passer ikke med sin kontrolsum; det er ændret efter upload"},
    "privacy.unreadable": {"en": "cannot read the privacy notice file '{path}': {reason}",
                           "da": "filen med oplysningspligtens tekster '{path}' kan ikke læses: {reason}"},
    "privacy.unparsable": {"en": "the privacy notice file '{path}' is not valid YAML: {reason}",
                           "da": "filen med oplysningspligtens tekster '{path}' er ikke gyldig YAML: {reason}"},
    "privacy.bad_languages": {"en": "the privacy notice file '{path}' may have the sections da: and en: only",
                              "da": "filen med oplysningspligtens tekster '{path}' må kun have afsnittene da: og en:"},
    "privacy.bad_sections": {"en": "the privacy notice file '{path}': {lang}: may hold texts for {sections} only",
                             "da": "filen med oplysningspligtens tekster '{path}': {lang}: må kun have tekster til "
                                   "{sections}"},
    "privacy.bad_placeholder": {"en": "the privacy notice text {lang}.{section} names a value that does not exist: "
                                      "{detail}",
                                "da": "oplysningspligtens tekst {lang}.{section} nævner en værdi, der ikke findes: "
                                      "{detail}"},
    "input.not_a_moment": {"en": "{field} '{value}' is not a date (YYYY-MM-DD), an ISO time or none",
                           "da": "{field} '{value}' er ikke en dato (ÅÅÅÅ-MM-DD), et ISO-tidspunkt eller none"},
    "input.not_kroner": {"en": "{field} '{value}' is not a whole number of kroner (write 250000, 250.000 or 250,000)",
                         "da": "{field} '{value}' er ikke et helt antal kroner (skriv 250000, 250.000 eller 250,000)"},
    "input.not_an_amount": {"en": "{field} '{value}' must be a whole number of kroner or none",
                            "da": "{field} '{value}' skal være et helt antal kroner eller none"},
}

#: What happened to an idea without moving it, as `conflict.changed_meanwhile_what` says it (by its history action).
CHANGES_SAID = {
    "submit_review": {"en": "a new review has come in", "da": "en ny bedømmelse er kommet ind"},
    "revise_review": {"en": "a review has been revised", "da": "en bedømmelse er blevet revideret"},
    "assign": {"en": "a reviewer has been asked", "da": "en bedømmer er blevet bedt om en bedømmelse"},
    "conflict": {"en": "somebody has declared a conflict of interest", "da": "nogen har erklæret sig inhabil"},
    "revise": {"en": "its proposer has revised it", "da": "forslagsstilleren har revideret den"},
    "recycle": {"en": "it has been sent back for revision", "da": "den er blevet sendt tilbage til revision"},
    "plan_pilot": {"en": "its pilot has been planned", "da": "dens pilot er blevet planlagt"},
    "replan_pilot": {"en": "its pilot plan has been changed", "da": "dens pilotplan er blevet ændret"},
    "escalate": {"en": "its deadline has passed", "da": "dens frist er overskredet"},
    "open_evaluation": {"en": "its pilot has ended", "da": "dens pilot er slut"},
}

#: Values said in the reader's language, by the value's name; English defaults to the value itself.
TERMS: dict[str, dict[str, dict[str, str]]] = {
    "da": {
        "stage": {"submitted": "indsendt", "screened": "screenet", "funded": "bevilget", "piloting": "i pilot",
                  "evaluated": "evalueret", "rejected": "afvist", "withdrawn": "trukket tilbage",
                  "on_hold": "i bero"},
        "gate": {"screening": "screeningen", "funding": "bevillingsbeslutningen", "evaluation": "evalueringen"},
        "open_gate": {"screening": "screeningen", "funding": "bevillingsbeslutningen", "evaluation": "evalueringen"},
        "role": {"administrator": "administrator", "coordinator": "koordinator", "reviewer": "bedømmer",
                 "proposer": "forslagsstiller", "follower": "følger", "operator": "operatør"},
        "action": {"review": "bedømme", "go": "afgøre", "kill": "afgøre", "hold": "afgøre", "recycle": "afgøre",
                   "assign": "bede om bedømmelser af", "plan_pilot": "planlægge en pilot for",
                   "evaluate": "evaluere", "resume": "genoptage", "withdraw": "tilbagetrække", "revise": "revidere",
                   "declare_conflict": "erklære sig inhabil i", "see_attachments": "se bilagene til"},
        "decision": {"go": "godkende", "kill": "afvise", "hold": "sætte i bero",
                     "recycle": "sende tilbage til revision"},
        "trigger": {"go": "få go", "recycle": "sendes til revision", "start_pilot": "starte sin pilot",
                    "evaluate": "evalueres", "kill": "stoppes", "withdraw": "trækkes tilbage",
                    "hold": "sættes i bero", "resume": "genoptages"},
        "what": {action: said["da"] for action, said in CHANGES_SAID.items()},
        "task": {"create_pools": "oprette puljer", "add_people": "tilføje personer", "grant_roles": "tildele roller",
                 "revoke_roles": "fratage roller", "forget_people": "glemme personer",
                 "edit_criteria": "ændre puljers kriterier", "see_people": "se personer og roller"},
    },
    "en": {
        "action": {"go": "decide", "kill": "decide", "hold": "decide", "recycle": "decide",
                   "assign": "ask reviewers for", "plan_pilot": "plan a pilot for",
                   "declare_conflict": "declare a conflict on", "see_attachments": "see the attachments of"},
        "trigger": {"start_pilot": "start pilot"},
        "what": {action: said["en"] for action, said in CHANGES_SAID.items()},
        "task": {"create_pools": "create pools", "add_people": "add people", "grant_roles": "grant roles",
                 "revoke_roles": "revoke roles", "forget_people": "forget people",
                 "edit_criteria": "change pools' criteria", "see_people": "see people and roles"},
    },
}


def _value(name: str, value: object, lang: str) -> str:
    if isinstance(value, datetime):
        return moment(value, lang)
    if isinstance(value, date):
        return day(value, lang)
    if name.endswith("_dkk") and isinstance(value, int):
        return dkk(value, lang)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(item) for item in value)
    text = str(value)
    if not text.isprintable():  # what a person typed, shown on one line: control characters escaped
        return repr(text)[1:-1]
    return TERMS[lang].get(name, {}).get(text, text)


def render(error: IdeaflowError, lang: str = "en", label: Callable[[str], str] | None = None) -> str:
    """The error's message in `lang` ("da" or "en"), naming its field by `label(field)`.

    A code the catalogue lacks is shown as it is: a raise written before its code was catalogued
    (`tests/unit/test_messages.py` lists the few left) still reaches the person as its English text.
    """
    texts = CATALOGUE.get(error.code)
    if texts is None:
        return error.code
    values = {name: _value(name, value, lang) for name, value in error.values.items()}
    if error.field is not None:
        values["field"] = label(error.field) if label is not None else error.field
    return texts[lang].format(**values)


def sentence(error: IdeaflowError, lang: str = "en", label: Callable[[str], str] | None = None) -> str:
    """The error's message as a sentence on a page: a capital first letter where the message begins with
    a word of its own (not with a value, such as an e-mail address), and a full stop. The command line
    keeps `render`'s line, which follows its program name (`ideaflow: en idé, der er …`)."""
    line = render(error, lang, label)
    if CATALOGUE.get(error.code, {}).get(lang, "")[:1].islower():
        line = line[:1].upper() + line[1:]
    return line if line.endswith((".", "!", "?")) else line + "."
