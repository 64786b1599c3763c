"""Ballot rules, without the web: every method, every way to break them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal.voting.ballots import (
    Method,
    Option,
    Problem,
    Rules,
    Section,
    check_section,
    read_section,
)

OPTIONS = [Option(1, 4_000_000), Option(2, 3_000_000), Option(3, 2_500_000), Option(4, 1_000_000)]


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def test_approval_within_limits_is_valid() -> None:
    rules = Rules(Method.APPROVAL, min_selections=1, max_selections=2)
    section, problems = read_section(Method.APPROVAL, OPTIONS, MultiDict([("p", "1"), ("p", "4")]))
    assert problems == []
    assert section.selected == [1, 4]
    assert check_section(rules, OPTIONS, section) == []


@pytest.mark.parametrize(
    ("ticked", "expected"),
    [([], ["too-few"]), (["1", "2", "3"], ["too-many"])],
)
def test_approval_counts(ticked: list[str], expected: list[str]) -> None:
    rules = Rules(Method.APPROVAL, min_selections=1, max_selections=2)
    section, _ = read_section(Method.APPROVAL, OPTIONS, MultiDict([("p", t) for t in ticked]))
    assert codes(check_section(rules, OPTIONS, section)) == expected


def test_unknown_or_garbage_projects_are_problems_not_crashes() -> None:
    _, problems = read_section(
        Method.APPROVAL, OPTIONS, MultiDict([("p", "99"), ("p", "x'; DROP"), ("p", "")])
    )
    assert codes(problems) == ["unknown-project"] * 3


def test_knapsack_total_must_fit_the_budget() -> None:
    rules = Rules(Method.KNAPSACK, budget=6_000_000)
    fits = Section({1: 1, 4: 1})
    over = Section({1: 1, 2: 1})
    assert check_section(rules, OPTIONS, fits) == []
    assert check_section(rules, OPTIONS, over) == [
        Problem("over-budget", {"total": 7_000_000, "budget": 6_000_000})
    ]


def test_cumulative_points_and_cap() -> None:
    rules = Rules(Method.CUMULATIVE, min_selections=1, points=7, cap=3)
    form = MultiDict({"points-1": "3", "points-2": "3", "points-3": "1", "points-4": ""})
    section, problems = read_section(Method.CUMULATIVE, OPTIONS, form)
    assert problems == [] and dict(section.choices) == {1: 3, 2: 3, 3: 1}
    assert check_section(rules, OPTIONS, section) == []
    assert codes(check_section(rules, OPTIONS, Section({1: 4}))) == ["over-cap"]
    assert codes(check_section(rules, OPTIONS, Section({1: 3, 2: 3, 3: 2}))) == ["too-many-points"]
    _, bad = read_section(
        Method.CUMULATIVE, OPTIONS, MultiDict({"points-1": "-2", "points-2": "dos"})
    )
    assert codes(bad) == ["negative", "not-a-number"]


def test_ranked_needs_consecutive_ranks_up_to_k() -> None:
    rules = Rules(Method.RANKED, min_selections=1, rank_k=3)
    section, _ = read_section(Method.RANKED, OPTIONS, MultiDict({"rank-3": "1", "rank-1": "2"}))
    assert section.selected == [3, 1]
    assert check_section(rules, OPTIONS, section) == []
    assert codes(check_section(rules, OPTIONS, Section({1: 1, 2: 3}))) == ["ranks-not-consecutive"]
    assert codes(check_section(rules, OPTIONS, Section({1: 1, 2: 1}))) == ["ranks-not-consecutive"]
    assert "too-many" in codes(check_section(rules, OPTIONS, Section({1: 1, 2: 2, 3: 3, 4: 4})))


@settings(max_examples=200, deadline=None)
@given(
    chosen=st.sets(st.sampled_from([1, 2, 3, 4])),
    budget=st.integers(min_value=0, max_value=12_000_000),
    low=st.integers(min_value=0, max_value=4),
    high=st.integers(min_value=0, max_value=4),
)
def test_knapsack_agrees_with_a_plain_reading_of_the_rules(
    chosen: set[int], budget: int, low: int, high: int
) -> None:
    rules = Rules(Method.KNAPSACK, min_selections=low, max_selections=high, budget=budget)
    cost = {o.project_id: o.cost for o in OPTIONS}
    valid = low <= len(chosen) <= high and sum(cost[p] for p in chosen) <= budget
    assert (check_section(rules, OPTIONS, Section({p: 1 for p in chosen})) == []) == valid


@settings(max_examples=200, deadline=None)
@given(
    points=st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.integers(min_value=1, max_value=9)),
    total=st.integers(1, 12),
    cap=st.integers(1, 9),
)
def test_cumulative_agrees_with_a_plain_reading_of_the_rules(
    points: dict[int, int], total: int, cap: int
) -> None:
    rules = Rules(Method.CUMULATIVE, points=total, cap=cap)
    valid = sum(points.values()) <= total and all(v <= cap for v in points.values())
    assert (check_section(rules, OPTIONS, Section(points)) == []) == valid
