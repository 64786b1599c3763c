"""Two portal instances on one database and one Redis: what a load balancer relies on.

Each instance is its own `create_app` with its own instance folder; they share only the
database, the secret keys and the rate-limit storage. Flask-Limiter keeps its storage on the one
module-level `limiter`, so in one process the second app would silently reuse the first one's
counters: `own_limiter_storage` gives each app back its own storage for its requests, as two
gunicorn masters would have. The memory:// control shows that the limit test can tell shared
counters from separate ones.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import create_app
from portal.budgeting.models import Ballot, Participation
from tests.conftest import CSRF_RE, IsolatedClient, base_config

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    storage = getattr(request, "param", REDIS_URL or "memory://")
    return {
        "RATELIMIT_STORAGE_URI": storage,
        "ELIGIBILITY_RATE_LIMIT": "3 per 15 minutes",
        "ELIGIBILITY_IP_RATE_LIMIT": "1000 per 15 minutes",
        # Counters in a shared Redis outlive the test: a fresh RUT key gives fresh RUT hashes.
        "RUT_HASH_KEY": "two-instances-" + secrets.token_hex(8),
    }


def own_limiter_storage(app: Flask) -> None:
    """Make this app's requests use the limiter storage its own init_app built."""
    from portal.extensions import limiter

    storage, strategy = limiter._storage, limiter._limiter

    @app.before_request
    def use_own_storage() -> None:
        limiter._storage, limiter._limiter = storage, strategy


def second_instance(app: Flask, tmp_path: Path) -> Flask:
    """Build instance B like A: same database, keys and limit storage; its own folder."""
    config = base_config(tmp_path / "b", app.config["SQLALCHEMY_DATABASE_URI"])
    for key in (
        "RATELIMIT_STORAGE_URI",
        "ELIGIBILITY_RATE_LIMIT",
        "ELIGIBILITY_IP_RATE_LIMIT",
        "RUT_HASH_KEY",
        "SECRET_KEY",
    ):
        config[key] = app.config[key]
    other = create_app(config)
    other.test_client_class = IsolatedClient
    return other


@pytest.fixture
def instances(app: Flask, tmp_path: Path) -> Any:
    own_limiter_storage(app)
    other = second_instance(app, tmp_path)
    own_limiter_storage(other)
    yield app, other
    from portal.extensions import db

    with other.app_context():
        db.session.remove()
        db.engine.dispose()


class Browser:
    """One visitor whose requests a load balancer spreads over several instances."""

    def __init__(self, *apps: Flask) -> None:
        self.clients = [a.test_client() for a in apps]
        self.cookie: str | None = None
        # A fresh loopback address per test: per-address counters in Redis outlive it.
        self.address = f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}.1"

    def open(self, instance: int, method: str, path: str, **kwargs: Any) -> Any:
        client = self.clients[instance]
        if self.cookie is not None:
            client.set_cookie("session", self.cookie, domain="localhost")
        response = client.open(
            path, method=method, environ_base={"REMOTE_ADDR": self.address}, **kwargs
        )
        cookie = client.get_cookie("session", domain="localhost")
        if cookie is not None:
            self.cookie = cookie.value
        return response

    def token(self, instance: int, path: str) -> str:
        match = CSRF_RE.search(self.open(instance, "GET", path).get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def check_in(self, instance: int, vr: Any, resident: Any, birth: str | None = None) -> Any:
        token = self.token(instance, f"{vr.base}/votar")
        return self.open(
            instance,
            "POST",
            f"{vr.base}/votar",
            data={
                "csrf_token": token,
                "rut": resident.rut,
                "birth_date": birth or resident.birth.isoformat(),
            },
        )


@needs_redis
def test_a_voter_session_from_one_instance_works_on_the_other(
    instances: Any, voting_round: Any
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    browser = Browser(*instances)
    assert browser.check_in(0, vr, vr.residents[0]).status_code == 302
    page = browser.open(1, "GET", f"{vr.base}/papeleta")
    assert page.status_code == 200  # not sent back to the eligibility check
    project = next(iter(vr.projects.values())).id
    sent = browser.open(
        1,
        "POST",
        f"{vr.base}/papeleta",
        data={"csrf_token": browser.token(1, f"{vr.base}/papeleta"), "comuna-p": str(project)},
    )
    assert sent.status_code == 302 and sent.location.endswith("/voto-registrado")
    assert browser.open(0, "GET", f"{vr.base}/voto-registrado").status_code == 200


def failed_checks_across_instances(vr: Any, apps: Any) -> list[int]:
    browser = Browser(*apps)
    return [
        browser.check_in(i % 2, vr, vr.residents[1], birth="1900-01-01").status_code
        for i in range(5)
    ]


@needs_redis
def test_failed_checks_on_both_instances_count_together(instances: Any, voting_round: Any) -> None:
    """The limit is 3 failures: two on A and one on B reach it, the next gets 429 on either."""
    vr = voting_round(districts=False)
    assert failed_checks_across_instances(vr, instances) == [200, 200, 200, 429, 429]


@pytest.mark.parametrize("app_config", ["memory://"], indirect=True)
def test_without_a_shared_storage_each_instance_counts_alone(
    instances: Any, voting_round: Any
) -> None:
    """The control: with memory:// neither instance sees the other's failures, so no 429."""
    vr = voting_round(districts=False)
    assert failed_checks_across_instances(vr, instances) == [200, 200, 200, 200, 200]


@needs_redis
def test_parallel_ballots_of_one_voter_on_both_instances_leave_one(
    instances: Any, voting_round: Any, db: Any
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    projects = [p.id for p in vr.projects.values()]
    browser = Browser(*instances)
    assert browser.check_in(0, vr, vr.residents[2]).status_code == 302
    token = browser.token(0, f"{vr.base}/papeleta")
    rounds = 4
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send(instance: int, project: int) -> None:
        client = instances[instance].test_client()
        client.set_cookie("session", browser.cookie or "", domain="localhost")
        barrier.wait()
        response = client.post(
            f"{vr.base}/papeleta",
            data={"csrf_token": token, "comuna-p": str(project)},
            environ_base={"REMOTE_ADDR": browser.address},
        )
        statuses.append(response.status_code)

    for turn in range(rounds):
        threads = [
            threading.Thread(target=send, args=(i, projects[(turn + i) % len(projects)]))
            for i in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [302] * (2 * rounds)
    db.session.expire_all()
    round_id = vr.round.id
    participations = db.session.scalar(
        select(func.count()).select_from(Participation).where(Participation.round_id == round_id)
    )
    ballots = db.session.scalar(
        select(func.count()).select_from(Ballot).where(Ballot.round_id == round_id)
    )
    assert (participations, ballots) == (1, 1)
