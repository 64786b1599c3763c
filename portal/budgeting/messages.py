"""User-facing messages for the codes that services and parsers return."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.budgeting.census import CensusProblem
from portal.budgeting.services import RoundError
from portal.i18n import money


def round_error_text(error: RoundError) -> str:
    """Say why a change to a round was refused."""
    v = error.values
    messages = {
        "dates-out-of-order": lambda: _("Each phase must start after the one before it."),
        "past-phase-date": lambda: _("Phases that have already started keep their dates."),
        "frozen": lambda: _(
            "Voting has opened or ballots exist: the rules and budgets can no longer change."
        ),
        "budgets-do-not-add-up": lambda: _(
            "The district budgets (%(districts)s) and the comuna-wide list (%(comuna)s) must add up to the total budget (%(total)s).",
            districts=money(v["districts"]),
            comuna=money(v["comuna_wide"]),
            total=money(v["total"]),
        ),
        "not-published": lambda: _("Publish the round first."),
        "already-closed": lambda: _("The round is already closed."),
        "phase-moved": lambda: _(
            "Nothing changed: the round had already moved on. Check its phase and next step below before trying again."
        ),
        "min-over-max": lambda: _("The fewest projects cannot be more than the most projects."),
        "points-required": lambda: _(
            "Give the points each voter spreads and the most points on one project."
        ),
        "rank-required": lambda: _("Give the longest ranking."),
        "threshold-required": lambda: _("Give the minimum number of votes."),
        "district-exists": lambda: _("The round already has a district with that name."),
        "district-in-use": lambda: _("Proposals belong to this district: it cannot be removed."),
        "not-proposal-phase": lambda: _("This round is not taking proposals now."),
        "already-reviewed": lambda: _("This proposal has already been reviewed."),
        "ballot-fixed": lambda: _(
            "Voting has started: the projects on the ballot can no longer change."
        ),
        "not-reviewable": lambda: _("Merged or withdrawn proposals cannot be reviewed."),
        "final-cost-required": lambda: _("Give the final cost of a feasible project."),
        "bad-merge": lambda: _("Choose another open proposal of the same round."),
    }
    return messages.get(error.code, lambda: _("That change is not possible."))()


def census_problem_text(problem: CensusProblem) -> str:
    """Say what is wrong with one line of a census file."""
    line, value = problem.line, problem.value
    messages = {
        "empty-file": lambda: _("Line %(line)d: the file is empty.", line=line),
        "missing-rut-column": lambda: _("Line %(line)d: there is no RUT column (rut).", line=line),
        "missing-second-fact-column": lambda: _(
            "Line %(line)d: there is no date of birth (fecha_nacimiento) or ID serial number (numero_serie) column.",
            line=line,
        ),
        "missing-district-column": lambda: _(
            "Line %(line)d: the round has districts but the file has no district column (sector).",
            line=line,
        ),
        "bad-rut": lambda: _(
            "Line %(line)d: “%(value)s” is not a valid RUT (check the check digit).",
            line=line,
            value=value,
        ),
        "bad-date": lambda: _(
            "Line %(line)d: “%(value)s” is not a valid date of birth (use 14-03-1990).",
            line=line,
            value=value,
        ),
        "bad-serial": lambda: _(
            "Line %(line)d: “%(value)s” is not a valid ID serial number.", line=line, value=value
        ),
        "missing-second-fact": lambda: _(
            "Line %(line)d: give a date of birth or an ID serial number.", line=line
        ),
        "unknown-district": lambda: _(
            "Line %(line)d: “%(value)s” is not a district of this round.", line=line, value=value
        ),
        "duplicate-rut": lambda: _(
            "Line %(line)d: the RUT %(value)s appears twice (see the line in brackets).",
            line=line,
            value=value,
        ),
        "no-rows": lambda: _("Line %(line)d: the file has no residents.", line=line),
    }
    return messages.get(problem.code, lambda: _("Line %(line)d: not valid.", line=line))()


def image_problem_text(code: str, filename: str) -> str:
    """Say why an uploaded image was refused."""
    messages = {
        "too-large": lambda: _("%(name)s is larger than 5 MB.", name=filename),
        "empty": lambda: _("%(name)s is empty.", name=filename),
        "bad-type": lambda: _("%(name)s is not a JPEG, PNG or WebP image.", name=filename),
    }
    return messages.get(code, lambda: _("%(name)s could not be read.", name=filename))()
