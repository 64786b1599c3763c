"""How residents vote: the ballot methods a round may use.

A module of its own, in plain Python, so that both the rounds' model (portal.budgeting.models)
and the ballot rules (portal.voting.ballots) import the one enum without importing each other.
"""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    """How a voter expresses preferences."""

    APPROVAL = "approval"  # pick between min and max projects
    KNAPSACK = "knapsack"  # pick projects whose total cost fits the list's budget
    CUMULATIVE = "cumulative"  # spread up to N points, at most `cap` on one project
    RANKED = "ranked"  # order up to k projects
