"""Vote day: brute force from one address, closing the count while ballots arrive."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.budgeting.models import Ballot, Participation
from tests.conftest import csrf_token
from tests.voting.conftest import check_in


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ELIGIBILITY_IP_RATE_LIMIT": "5 per 15 minutes"}


def test_eligibility_guesses_from_one_address_are_limited_across_sessions_and_ruts(
    voting_round: Any, app: Any
) -> None:
    """A fresh browser and a different RUT each time: the per-address limit still holds."""
    vr = voting_round()
    statuses = []
    for i in range(7):
        client = app.test_client()
        statuses.append(
            client.post(
                f"{vr.base}/votar",
                data={
                    "csrf_token": csrf_token(client, f"{vr.base}/votar"),
                    "rut": vr.residents[i].rut,
                    "birth_date": "1900-01-01",
                },
            ).status_code
        )
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    # From another address the right answer still gets through.
    other = app.test_client()
    resident = vr.residents[10]
    response = other.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": csrf_token(other, f"{vr.base}/votar"),
            "rut": resident.rut,
            "birth_date": resident.birth.isoformat(),
        },
        environ_base={"REMOTE_ADDR": "127.0.0.9"},
    )
    assert response.status_code == 302


