"""Where a round stands, computed from its dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from portal.database import request_now

if TYPE_CHECKING:
    from portal.budgeting.models import Phase, Round


@dataclass(frozen=True)
class Step:
    """One phase on a round's timeline."""

    phase: Phase
    starts: datetime | None
    state: str  # "past", "current" or "future"


def current_phase(round_: Round, now: datetime | None = None) -> Phase:
    """Return the phase a round is in: draft until published, then the latest phase started."""
    from portal.budgeting.models import DATED_PHASES, Phase

    if round_.published_at is None:
        return Phase.DRAFT
    now = now or request_now()
    phase = Phase.DRAFT
    for candidate in DATED_PHASES:
        if round_.phase_start(candidate) <= now:
            phase = candidate
    return phase


def next_step(round_: Round, now: datetime | None = None) -> tuple[Phase, datetime] | None:
    """Return the next phase and when it starts, or None once the round is closed."""
    from portal.budgeting.models import DATED_PHASES

    now = now or request_now()
    for candidate in DATED_PHASES:
        start = round_.phase_start(candidate)
        if start > now:
            return candidate, start
    return None


def timeline(round_: Round, now: datetime | None = None) -> list[Step]:
    """Return every dated phase with its start and whether it is past, current or future."""
    from portal.budgeting.models import DATED_PHASES

    now = now or request_now()
    current = current_phase(round_, now)
    steps = []
    for phase in DATED_PHASES:
        start = round_.phase_start(phase)
        if phase == current:
            state = "current"
        elif start <= now and round_.published_at is not None:
            state = "past"
        else:
            state = "future"
        steps.append(Step(phase, start, state))
    return steps


def dates_in_order(starts: list[datetime]) -> bool:
    """Tell whether each phase starts strictly after the one before."""
    return all(a < b for a, b in zip(starts, starts[1:], strict=False))
