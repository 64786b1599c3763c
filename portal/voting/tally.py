"""Bridge from the database to the allocation engine (portal.core): count a list, export it.

The same instance the count is computed on is the one exported as a pabulib file, so anyone can
check the published winners with `portal pb tally FILE --rule auto`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.budgeting.models import AllocationRule, Ballot, BallotChoice, Method, Round
from portal.core.model import Instance, Project, Voter, VoteType, make_instance
from portal.core.pabulib import dumps
from portal.core.rules import Result, tally
from portal.voting.models import ListResult
from portal.voting.services import BallotList, all_lists, list_ballots, section_rules

VOTE_TYPES = {
    Method.APPROVAL.value: VoteType.APPROVAL,
    Method.KNAPSACK.value: VoteType.APPROVAL,
    Method.CUMULATIVE.value: VoteType.CUMULATIVE,
    Method.RANKED.value: VoteType.ORDINAL,
}
# The round's rule, as the engine runs it and as pabulib names it in META `rule`.
ENGINE_RULES = {
    AllocationRule.GREEDY.value: ("greedy", "greedy"),
    AllocationRule.GREEDY_THRESHOLD.value: ("greedy", "greedy-threshold"),
    AllocationRule.MES_ADD1.value: ("mes-add1", "equalshares/add1"),
}


@dataclass
class Outcome:
    """A list's outcome in the terms the results pages store."""

    rule: str
    selected: list[int]
    total_cost: int
    votes: dict[int, int]
    scores: dict[int, int]
    detail: dict[str, Any]
    greedy_selected: list[int] | None = None
    ties: list[dict[str, Any]] = field(default_factory=list)


def build_instance(
    round_: Round,
    blist: BallotList,
    ballots: list[dict[int, int]],
    voter_columns: list[dict[str, str]] | None = None,
) -> Instance:
    """Build the engine's instance of one list from its ballots (project id -> points or rank)."""
    method = round_.method
    rules = section_rules(round_, blist)
    engine_rule, pabulib_rule = ENGINE_RULES[round_.allocation_rule]
    voters: list[Voter] = []
    for i, choices in enumerate(ballots):
        extra = voter_columns[i] if voter_columns else {}
        if method == Method.RANKED.value:
            ordered = sorted(choices, key=choices.__getitem__)
            voters.append(Voter(str(i + 1), tuple(str(p) for p in ordered), None, extra))
        elif method == Method.CUMULATIVE.value:
            ids = sorted(choices)
            voters.append(
                Voter(str(i + 1), tuple(str(p) for p in ids), tuple(choices[p] for p in ids), extra)
            )
        else:
            voters.append(Voter(str(i + 1), tuple(str(p) for p in sorted(choices)), None, extra))
    meta: dict[str, object] = {
        "description": f"{round_.municipality.name}: {round_.title}",
        "country": "Chile",
        "unit": round_.municipality.name,
        "instance": f"{round_.title} ({blist.name or 'comuna'})",
        "subunit": blist.name or "",
        "rule": pabulib_rule,
        "currency": "CLP",
        "date_begin": round_.voting_start.date().isoformat(),
        "date_end": round_.results_start.date().isoformat(),
        "min_length": str(max(rules.min_selections, 1)),
    }
    if method == Method.APPROVAL.value and rules.max_selections:
        meta["max_length"] = str(rules.max_selections)
    if method == Method.KNAPSACK.value:
        meta["max_sum_cost"] = str(blist.budget)
    if method == Method.CUMULATIVE.value:
        meta["max_sum_points"] = str(round_.points_total or 0)
        if round_.points_cap:
            meta["max_points"] = str(round_.points_cap)
    if method == Method.RANKED.value:
        # Borda over the longest ranking: first place scores k points, the k-th scores 1.
        meta["max_length"] = str(round_.rank_k or len(blist.projects) or 1)
        meta["scoring_fn"] = "Borda"
    if round_.allocation_rule == AllocationRule.GREEDY_THRESHOLD.value:
        meta["min_project_score_threshold"] = str(round_.threshold_votes or 0)
    return make_instance(
        budget=blist.budget,
        projects=[Project(str(p.id), p.final_cost or 0, p.title) for p in blist.projects],
        voters=voters,
        vote_type=VOTE_TYPES[method],
        meta=meta,
    )


def _counts(round_: Round, ballots: list[dict[int, int]]) -> tuple[dict[int, int], dict[int, int]]:
    votes: dict[int, int] = defaultdict(int)
    scores: dict[int, int] = defaultdict(int)
    k = round_.rank_k or 0
    for choices in ballots:
        for project, value in choices.items():
            votes[project] += 1
            if round_.method == Method.CUMULATIVE.value:
                scores[project] += value
            elif round_.method == Method.RANKED.value:
                scores[project] += max(k - value + 1, 0)
            else:
                scores[project] += 1
    return dict(votes), dict(scores)


def _explain(round_: Round, result: Result, mes: bool) -> dict[str, dict[str, Any]]:
    explained: dict[str, dict[str, Any]] = {}
    for pid, e in result.explanations.items():
        if mes and (e.stage or "mes") == "mes":
            price = e.rho if e.selected else None
            explained[pid] = {
                "kind": "mes",
                "step": e.round or 0,
                "price": math.ceil(float(price)) if price is not None else 0,
                "supporters_money": math.floor(float(e.supporters_money or 0)),
                "shortfall": math.ceil(float(e.shortfall or 0)),
            }
            continue
        reason = "funded" if e.selected else "did-not-fit"
        if not e.selected and "threshold" in e.reason:
            reason = "threshold"
        elif not e.selected and "not considered" in e.reason:
            reason = "stopped"
        explained[pid] = {
            "kind": "greedy",
            "rank": e.rank or 0,
            "budget_left": int(e.budget_left or 0),
            "reason": reason,
            "threshold": round_.threshold_votes or 0,
        }
    return explained


def tally_list(round_: Round, blist: BallotList, ballots: list[dict[int, int]]) -> Outcome:
    """Count one list with the round's rule; for MES rounds, count it by greedy too."""
    instance = build_instance(round_, blist, ballots)
    engine_rule, pabulib_rule = ENGINE_RULES[round_.allocation_rule]
    options: dict[str, object] = {}
    if round_.allocation_rule == AllocationRule.GREEDY_THRESHOLD.value:
        options["threshold"] = round_.threshold_votes or 0
    result = tally(instance, engine_rule, **options)
    mes = engine_rule.startswith("mes")
    greedy_selected = None
    if mes:
        greedy = tally(instance, "greedy")
        greedy_selected = [int(p) for p in greedy.selected]
    votes, scores = _counts(round_, ballots)
    return Outcome(
        rule=pabulib_rule,
        selected=[int(p) for p in result.selected],
        total_cost=int(result.total_cost),
        votes=votes,
        scores=scores,
        detail={
            "projects": _explain(round_, result, mes),
            "ties": [t.to_dict() for t in result.ties],
        },
        greedy_selected=greedy_selected,
    )


def export_ballots(
    session: Session, round_: Round, blist: BallotList
) -> tuple[list[dict[int, int]], list[dict[str, str]]]:
    """Return a list's ballots with their voter columns (age band, district), in random order."""
    ids = [p.id for p in blist.projects]
    statement = (
        select(
            Ballot.id,
            Ballot.age_band,
            Ballot.district_id,
            BallotChoice.proposal_id,
            BallotChoice.points,
            BallotChoice.rank,
        )
        .join(BallotChoice, BallotChoice.ballot_id == Ballot.id)
        .where(Ballot.round_id == round_.id, BallotChoice.proposal_id.in_(ids))
    )
    if blist.district_id is not None:
        statement = statement.where(Ballot.district_id == blist.district_id)
    names = {d.id: d.name for d in round_.districts}
    ranked = round_.method == Method.RANKED.value
    choices: dict[int, dict[int, int]] = defaultdict(dict)
    columns: dict[int, dict[str, str]] = {}
    for ballot_id, band, district_id, proposal_id, points, rank in session.execute(statement):
        choices[ballot_id][proposal_id] = (rank or 0) if ranked else points
        columns[ballot_id] = {"age": band or "", "district": names.get(district_id, "")}
    order = sorted(choices)  # ballot ids are random: this order says nothing about voting
    return [choices[b] for b in order], [columns[b] for b in order]


def pabulib_export(session: Session, round_: Round, result: ListResult) -> str:
    """Write a published list as a pabulib file with its winners in a `selected` column."""
    blist = next(b for b in all_lists(session, round_) if b.key == result.list_key)
    ballots, columns = export_ballots(session, round_, blist)
    instance = build_instance(round_, blist, ballots, columns)
    chosen = {str(line.proposal_id) for line in result.lines if line.selected}
    votes, scores = _counts(round_, ballots)
    for pid, project in list(instance.projects.items()):
        instance.projects[pid] = Project(
            project.id,
            project.cost,
            project.name,
            {
                "votes": str(votes.get(int(pid), 0)),
                "score": str(scores.get(int(pid), 0)),
                "selected": "1" if pid in chosen else "0",
            },
        )
    instance.project_columns = ["votes", "score", "selected"]
    return dumps(instance)


__all__ = ["Outcome", "build_instance", "list_ballots", "pabulib_export", "tally_list"]
