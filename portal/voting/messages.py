"""User-facing messages for the codes that ballot rules, services and the paper import return."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _

from portal.i18n import money
from portal.voting.ballots import Problem
from portal.voting.services import VoteRefused


def problem_text(problem: Problem) -> str:
    """Say plainly what is wrong with a ballot section."""
    v = problem.values
    messages: dict[str, Callable[[], str]] = {
        "unknown-project": lambda: _("One of the projects chosen is not on this ballot."),
        "not-a-number": lambda: _("Write whole numbers only."),
        "negative": lambda: _("Numbers must be 1 or more."),
        "too-few": lambda: _("Choose at least %(n)d projects.", n=v.get("min", 0)),
        "too-many": lambda: _("Choose at most %(n)d projects.", n=v.get("max", 0)),
        "over-budget": lambda: _(
            "The projects chosen cost %(total)s, more than the budget of %(budget)s.",
            total=money(v.get("total", 0)),
            budget=money(v.get("budget", 0)),
        ),
        "over-cap": lambda: _("Give at most %(n)d points to one project.", n=v.get("cap", 0)),
        "too-many-points": lambda: _(
            "You gave %(used)d points; you have %(points)d.",
            used=v.get("used", 0),
            points=v.get("points", 0),
        ),
        "ranks-not-consecutive": lambda: _(
            "Number your choices 1, 2, 3… without repeating or skipping a number."
        ),
        "empty": lambda: _("Choose at least one project."),
    }
    return messages.get(problem.code, lambda: _("This ballot is not valid."))()


def refusal_text(error: VoteRefused) -> str:
    """Say why a vote or a staff action on voting was refused."""
    v = error.values
    messages: dict[str, Callable[[], str]] = {
        "closed": lambda: _("Voting has closed: this ballot was not counted."),
        "voted-on-paper": lambda: _(
            "This person voted on paper at a voting site: that ballot counts and cannot be changed."
        ),
        "voted-online": lambda: _(
            "This person already voted online, and in this round the first ballot counts."
        ),
        "too-young": lambda: _("You can vote from age %(age)d.", age=v.get("age", 0)),
        "bad-rut": lambda: _("This RUT is not valid: check the digits and the check digit."),
        "not-in-census": lambda: _("This RUT is not in the census of the round."),
        "census-changed": lambda: _(
            "The municipality updated the round's census after you checked your RUT, so this "
            "ballot was not saved. Check your RUT again to vote."
        ),
        "site-exists": lambda: _("The round already has a voting site with that name."),
        "voting-not-closed": lambda: _("Votes are counted once voting has closed."),
        "already-published": lambda: _("The results are already published."),
        "not-computed": lambda: _("Count the votes before publishing the results."),
        "busy": lambda: _("The portal is very busy: please send your ballot again."),
        "not-in-list": lambda: _("A project chosen is not on this voter's ballot."),
        "duplicate-rut": lambda: _(
            "This RUT appears earlier in the file (line %(line)d).", line=v.get("line", 0)
        ),
        "no-rut-column": lambda: _("The file needs a “rut” column and a “proyectos” column."),
        "empty-file": lambda: _("The file has no ballots."),
        "bad-csv": lambda: _("The file is not a readable CSV file."),
        "repeated-project": lambda: _(
            "Project %(value)s appears twice on this line.", value=v.get("value", "")
        ),
        "too-long": lambda: _(
            "The file has more than %(max)d ballots: split it in parts.", max=v.get("max", 0)
        ),
        "no-district": lambda: _(
            "The census gives no district for this RUT, so there is no ballot for it. Ask the municipality."
        ),
        "bad-choice": lambda: _(
            "“%(value)s” is not a project number (with points, as 12:3).", value=v.get("value", "")
        ),
    }
    return messages.get(error.code, lambda: _("That could not be done."))()
