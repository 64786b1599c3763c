"""Writes on rounds, districts, rules and proposals; each staff write is audited."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select, text
from sqlalchemy.orm import Session, lazyload, selectinload

from portal.accounts.models import User
from portal.audit.services import changes, record
from portal.budgeting.models import (
    DATED_PHASES,
    Ballot,
    District,
    DistrictMode,
    Method,
    Phase,
    Proposal,
    ProposalStatus,
    Round,
)
from portal.budgeting.phases import current_phase, dates_in_order, next_step
from portal.database import request_now, utcnow
from portal.geo.models import Municipality

ROUND_FIELDS = ["title", "description", "total_budget", "themes"] + [
    f"{p.value}_start" for p in DATED_PHASES
]
RULE_FIELDS = [
    "method",
    "min_selections",
    "max_selections",
    "points_total",
    "points_cap",
    "rank_k",
    "allocation_rule",
    "threshold_votes",
    "district_mode",
    "comuna_wide_budget",
    "min_age",
    "age_reference_date",
    "eligibility",
    "paper_conflict",
]
PROPOSAL_FIELDS = [
    "title",
    "summary",
    "description",
    "theme",
    "district_id",
    "estimated_cost",
    "address",
    "latitude",
    "longitude",
    "implementing_organization",
    "organization_id",
    "implementer_id",
]


class RoundError(ValueError):
    """A change refused by the round's state; `code` names the reason for the message."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


def _scope(round_: Round) -> dict[str, Any]:
    return {
        "municipality_id": round_.municipality_id,
        "region_cut": round_.municipality.comuna.region_cut,
    }


_TAKE_WRITER_LOCK = text("UPDATE rounds SET id = id WHERE id = :round_id")


def take_sqlite_writer_lock(session: Session, round_id: int) -> None:
    """On SQLite, which renders no row locks, take the database's writer lock now with a write
    that changes nothing, so that what is read next is what the last writer committed and no
    other writer comes in before this transaction ends. Elsewhere, nothing."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(_TAKE_WRITER_LOCK, {"round_id": round_id})


def hold_round(session: Session, round_id: int) -> Round:
    """Read a round afresh and lock it for a staff change until the transaction ends.

    FOR NO KEY UPDATE: two changes of the round (two clicks, two census uploads) wait for each
    other, and a count (FOR UPDATE) waits for them, while ballots (FOR KEY SHARE) go on. On
    SQLite the writer lock does the same."""
    take_sqlite_writer_lock(session, round_id)
    return session.scalars(
        select(Round)
        .where(Round.id == round_id)
        .options(lazyload(Round.municipality))  # joined otherwise, and not needed here
        .with_for_update(of=Round, key_share=True)
        .execution_options(populate_existing=True)
    ).one()


def has_ballots(session: Session, round_: Round) -> bool:
    """Tell whether any ballot has been cast in the round."""
    return bool(session.scalar(select(exists().where(Ballot.round_id == round_.id))))


def rules_frozen(session: Session, round_: Round, now: datetime | None = None) -> bool:
    """Rules, budgets and the projects on the ballot are frozen once voting has opened or a
    ballot exists (proposals are then neither reviewed, merged nor withdrawn). By the
    request's clock, as the round's phase is (`request_now`)."""
    now = now or request_now()
    if round_.published_at is not None and round_.voting_start <= now:
        return True
    return has_ballots(session, round_)


def check_dates(values: dict[str, Any]) -> None:
    """Refuse phase dates that are not in order."""
    starts = [values[f"{p.value}_start"] for p in DATED_PHASES]
    if not dates_in_order(starts):
        raise RoundError("dates-out-of-order")


def create_round(session: Session, municipality: Municipality, values: dict[str, Any]) -> Round:
    """Create a draft round."""
    check_dates(values)
    round_ = Round(municipality_id=municipality.id, **{k: values[k] for k in ROUND_FIELDS})
    round_.municipality = municipality
    session.add(round_)
    session.flush()
    record(
        session,
        "round.create",
        "round",
        round_.id,
        after={k: values[k] for k in ROUND_FIELDS},
        **_scope(round_),
    )
    return round_


def update_round(session: Session, round_: Round, values: dict[str, Any]) -> None:
    """Change a round's description, budget, themes or dates."""
    check_dates(values)
    if values["total_budget"] != round_.total_budget and rules_frozen(session, round_):
        raise RoundError("frozen")
    if current_phase(round_) != Phase.DRAFT:
        # Dates of phases already reached are history: they can no longer move.
        now = utcnow()
        for phase in DATED_PHASES:
            key = f"{phase.value}_start"
            if round_.phase_start(phase) <= now and values[key] != round_.phase_start(phase):
                raise RoundError("past-phase-date")
    before, after = changes(round_, ROUND_FIELDS, values)
    if after:
        record(
            session,
            "round.update",
            "round",
            round_.id,
            before=before,
            after=after,
            **_scope(round_),
        )


def budget_problem(round_: Round) -> RoundError | None:
    """Say how district budgets fail to add up to the total, if they do."""
    districts_total = sum(d.budget for d in round_.districts)
    if not round_.districts:
        return None
    comuna_wide = (
        round_.comuna_wide_budget
        if round_.district_mode == DistrictMode.DISTRICT_AND_COMUNA.value
        else 0
    )
    if districts_total + comuna_wide != round_.total_budget:
        return RoundError(
            "budgets-do-not-add-up",
            districts=districts_total,
            comuna_wide=comuna_wide,
            total=round_.total_budget,
        )
    return None


def publish_round(session: Session, round_: Round) -> None:
    """Publish a draft round: its dates then drive its phase."""
    if round_.published_at is not None:
        return
    problem = budget_problem(round_)
    if problem:
        raise problem
    round_.published_at = utcnow()
    record(session, "round.publish", "round", round_.id, **_scope(round_))


def advance_phase(
    session: Session, round_: Round, now: datetime | None = None, *, expected: str | None = None
) -> Phase:
    """Start the next phase now (staff moving a round on early).

    `expected` is the phase the staff member's page offered to start. A second click, or a page
    loaded before the round moved on by its own dates, would otherwise start the phase after
    it (closing voting early, with no way back): the round is read again under its lock and the
    change is refused unless the next phase is still that one.
    """
    now = now or utcnow()
    round_ = hold_round(session, round_.id)
    if round_.published_at is None:
        raise RoundError("not-published")
    step = next_step(round_, now)
    if step is None:
        raise RoundError("already-closed")
    phase, start = step
    if expected is not None and phase.value != expected:
        raise RoundError("phase-moved")
    previous = current_phase(round_, now)
    setattr(round_, f"{phase.value}_start", now)
    record(
        session,
        "round.advance",
        "round",
        round_.id,
        before={"phase": previous.value, f"{phase.value}_start": start},
        after={f"{phase.value}_start": now},
        **_scope(round_),
    )
    return phase


def update_rules(session: Session, round_: Round, values: dict[str, Any]) -> None:
    """Change the voting rules, unless they are frozen."""
    if rules_frozen(session, round_):
        raise RoundError("frozen")
    method = values["method"]
    if (
        values.get("max_selections") is not None
        and values["min_selections"] > values["max_selections"]
    ):
        raise RoundError("min-over-max")
    if method == Method.CUMULATIVE.value and not (
        values.get("points_total") and values.get("points_cap")
    ):
        raise RoundError("points-required")
    if method == Method.RANKED.value and not values.get("rank_k"):
        raise RoundError("rank-required")
    if values["allocation_rule"] == "greedy-threshold" and not values.get("threshold_votes"):
        raise RoundError("threshold-required")
    before, after = changes(round_, RULE_FIELDS, values)
    if after:
        record(
            session, "round.rules", "round", round_.id, before=before, after=after, **_scope(round_)
        )


def save_district(
    session: Session, round_: Round, values: dict[str, Any], district: District | None = None
) -> District:
    """Add or change a district of a round, unless budgets are frozen."""
    if rules_frozen(session, round_):
        raise RoundError("frozen")
    duplicate = session.scalar(
        select(District).where(
            District.round_id == round_.id,
            func.lower(District.name) == values["name"].strip().lower(),
            District.id != (district.id if district else -1),
        )
    )
    if duplicate:
        raise RoundError("district-exists")
    if district is None:
        district = District(
            round_id=round_.id,
            name=values["name"].strip(),
            code=values.get("code"),
            budget=values["budget"],
        )
        session.add(district)
        session.flush()
        record(session, "district.create", "district", district.id, after=values, **_scope(round_))
    else:
        before, after = changes(district, ["name", "code", "budget"], values)
        if after:
            record(
                session,
                "district.update",
                "district",
                district.id,
                before=before,
                after=after,
                **_scope(round_),
            )
    return district


def delete_district(session: Session, round_: Round, district: District) -> None:
    """Remove a district that nothing refers to yet."""
    if rules_frozen(session, round_):
        raise RoundError("frozen")
    in_use = session.scalar(select(exists().where(Proposal.district_id == district.id)))
    if in_use:
        raise RoundError("district-in-use")
    record(
        session,
        "district.delete",
        "district",
        district.id,
        before={"name": district.name, "budget": district.budget},
        **_scope(round_),
    )
    session.delete(district)
    session.flush()


def submit_proposal(
    session: Session, round_: Round, author: User, values: dict[str, Any]
) -> Proposal:
    """File a resident's proposal during the proposal phase."""
    if current_phase(round_) != Phase.PROPOSALS:
        raise RoundError("not-proposal-phase")
    proposal = Proposal(
        round_id=round_.id, author_id=author.id, **{k: values.get(k) for k in PROPOSAL_FIELDS}
    )
    session.add(proposal)
    session.flush()
    return proposal


def edit_proposal(session: Session, proposal: Proposal, values: dict[str, Any]) -> None:
    """Change a proposal; its author may do so until the proposal phase ends."""
    if current_phase(proposal.round) != Phase.PROPOSALS:
        raise RoundError("not-proposal-phase")
    if proposal.status != ProposalStatus.SUBMITTED.value:
        raise RoundError("already-reviewed")
    changes(proposal, PROPOSAL_FIELDS, values)


def review_proposal(
    session: Session, proposal: Proposal, feasible: bool, reason: str, final_cost: int | None
) -> None:
    """Mark a proposal feasible (with its final cost) or not feasible, with a public reason."""
    round_ = proposal.round
    if rules_frozen(session, round_):
        raise RoundError("ballot-fixed")
    if proposal.status in (ProposalStatus.MERGED.value, ProposalStatus.WITHDRAWN.value):
        raise RoundError("not-reviewable")
    if feasible and not final_cost:
        raise RoundError("final-cost-required")
    values = {
        "status": (ProposalStatus.FEASIBLE if feasible else ProposalStatus.NOT_FEASIBLE).value,
        "review_reason": reason.strip(),
        "final_cost": final_cost if feasible else proposal.final_cost,
        "reviewed_at": utcnow(),
    }
    before, after = changes(
        proposal, ["status", "review_reason", "final_cost", "reviewed_at"], values
    )
    record(
        session,
        "proposal.review",
        "proposal",
        proposal.id,
        before=before,
        after=after,
        **_scope(round_),
    )


def merge_proposal(session: Session, proposal: Proposal, into: Proposal, reason: str) -> None:
    """Merge a duplicate into the proposal that stays."""
    if into.id == proposal.id or into.round_id != proposal.round_id:
        raise RoundError("bad-merge")
    if into.status in (ProposalStatus.MERGED.value, ProposalStatus.WITHDRAWN.value):
        raise RoundError("bad-merge")
    if rules_frozen(session, proposal.round):
        raise RoundError("ballot-fixed")
    before = {"status": proposal.status}
    proposal.status = ProposalStatus.MERGED.value
    proposal.merged_into_id = into.id
    proposal.review_reason = reason.strip() or None
    proposal.reviewed_at = utcnow()
    record(
        session,
        "proposal.merge",
        "proposal",
        proposal.id,
        before=before,
        after={"status": proposal.status, "merged_into": into.id},
        **_scope(proposal.round),
    )


def withdraw_proposal(
    session: Session, proposal: Proposal, reason: str, *, by_staff: bool = True
) -> None:
    """Withdraw a proposal (its author before review, or staff before voting)."""
    if rules_frozen(session, proposal.round):
        raise RoundError("ballot-fixed")
    before = {"status": proposal.status}
    proposal.status = ProposalStatus.WITHDRAWN.value
    proposal.review_reason = reason.strip() or proposal.review_reason
    if by_staff:
        record(
            session,
            "proposal.withdraw",
            "proposal",
            proposal.id,
            before=before,
            after={"status": proposal.status, "reason": reason},
            **_scope(proposal.round),
        )


def ballot_projects(session: Session, round_: Round) -> list[Proposal]:
    """Return the projects on the ballot: feasible proposals with a final cost, with their images.

    Their round is the one given (already in the session): not joined again with its
    municipality and comuna for every project.
    """
    return list(session.scalars(_ballot_projects_statement(), {"round_id": round_.id}))


@cache
def _ballot_projects_statement() -> Select[tuple[Proposal]]:
    """Built once, on first use."""
    return (
        select(Proposal)
        .where(
            Proposal.round_id == bindparam("round_id"),
            Proposal.status == ProposalStatus.FEASIBLE.value,
            Proposal.final_cost.is_not(None),
        )
        .options(lazyload(Proposal.round), selectinload(Proposal.images))
        .order_by(Proposal.id)
    )
