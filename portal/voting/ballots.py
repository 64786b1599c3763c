"""Ballot rules: read a ballot from a submitted form and check it against a round's rules.

Pure Python (no Flask, no database), so that online ballots, paper ballots typed in by staff
and imported paper ballots are all held to exactly the same rules. A ballot has one section per
list the voter may vote in (the voter's district, and the comuna-wide list where the round has
one); each section is checked on its own with the budget of its list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from portal.ballot_methods import Method


@dataclass(frozen=True)
class Rules:
    """The voting rules of a round, as they apply to one list (section) of the ballot."""

    method: Method
    min_selections: int = 0
    max_selections: int | None = None
    budget: int | None = None  # the list's budget in pesos (knapsack)
    points: int | None = None  # points to spread (cumulative)
    cap: int | None = None  # most points on one project (cumulative)
    rank_k: int | None = None  # longest ranking (ranked)


@dataclass(frozen=True)
class Option:
    """A project on the ballot."""

    project_id: int
    cost: int


@dataclass(frozen=True)
class Problem:
    """Why a section is not valid: a code for programs and values for the message."""

    code: str
    values: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A voter's choices in one list: project id -> points (approval/knapsack: 1; ranked: rank)."""

    choices: Mapping[int, int]

    @property
    def selected(self) -> list[int]:
        """Return the chosen project ids (by rank for ranked sections)."""
        return [p for p, _ in sorted(self.choices.items(), key=lambda kv: (kv[1], kv[0]))]


def _int(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    digits = value.removeprefix("-")
    if digits.isascii() and digits.isdecimal() and len(value) <= 9:
        return int(value)
    raise ValueError(value)


def _values(form: Mapping[str, object], key: str) -> list[str]:
    """Return every value sent under a key (a MultiDict's getlist, or a plain mapping's list)."""
    getlist = getattr(form, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(key)]
    value = form.get(key, [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[union-attr]


def read_section(
    method: Method, options: Sequence[Option], form: Mapping[str, object], prefix: str = ""
) -> tuple[Section, list[Problem]]:
    """Read one section from form fields; unknown projects and garbage are problems, not crashes.

    Field names: approval/knapsack send `{prefix}p` once per ticked project id;
    cumulative sends `{prefix}points-{id}`; ranked sends `{prefix}rank-{id}`.
    """
    known = {o.project_id for o in options}
    problems: list[Problem] = []
    choices: dict[int, int] = {}
    if method in (Method.APPROVAL, Method.KNAPSACK):
        for raw in _values(form, f"{prefix}p"):
            try:
                project = _int(raw)
            except ValueError:
                project = None
            if project is None or project not in known:
                problems.append(Problem("unknown-project"))
                continue
            choices[project] = 1
        return Section(choices), problems
    key = "points" if method == Method.CUMULATIVE else "rank"
    for option in options:
        values = _values(form, f"{prefix}{key}-{option.project_id}")
        if not values:
            continue
        try:
            number = _int(values[-1])
        except ValueError:
            problems.append(Problem("not-a-number"))
            continue
        if number is None or (method == Method.CUMULATIVE and number == 0):
            continue
        if number < 0 or (method == Method.RANKED and number == 0):
            problems.append(Problem("negative"))
            continue
        choices[option.project_id] = number
    return Section(choices), problems


def check_section(rules: Rules, options: Sequence[Option], section: Section) -> list[Problem]:
    """Return every way a section breaks the rules (empty when valid)."""
    problems: list[Problem] = []
    costs = {o.project_id: o.cost for o in options}
    unknown = [p for p in section.choices if p not in costs]
    if unknown:
        problems.append(Problem("unknown-project"))
    chosen = [p for p in section.choices if p in costs]
    count = len(chosen)
    if count < rules.min_selections:
        problems.append(Problem("too-few", {"min": rules.min_selections}))
    if rules.max_selections is not None and count > rules.max_selections:
        problems.append(Problem("too-many", {"max": rules.max_selections}))
    if rules.method == Method.KNAPSACK and rules.budget is not None:
        total = sum(costs[p] for p in chosen)
        if total > rules.budget:
            problems.append(Problem("over-budget", {"total": total, "budget": rules.budget}))
    if rules.method == Method.CUMULATIVE:
        points = [section.choices[p] for p in chosen]
        if rules.cap is not None and any(v > rules.cap for v in points):
            problems.append(Problem("over-cap", {"cap": rules.cap}))
        if rules.points is not None and sum(points) > rules.points:
            problems.append(
                Problem("too-many-points", {"used": sum(points), "points": rules.points})
            )
    if rules.method == Method.RANKED:
        ranks = sorted(section.choices[p] for p in chosen)
        if ranks != list(range(1, len(ranks) + 1)):
            problems.append(Problem("ranks-not-consecutive"))
        if rules.rank_k is not None and count > rules.rank_k:
            problems.append(Problem("too-many", {"max": rules.rank_k}))
    return problems


def problems_are_unique(problems: Iterable[Problem]) -> list[Problem]:
    """Drop repeated problems, keeping their first order."""
    seen: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.append(problem)
    return seen
