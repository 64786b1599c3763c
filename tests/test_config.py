"""Configuration from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from portal import create_app
from portal.config import ConfigError, load_config, normalise_database_url


def test_production_without_secret_key_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY is not set"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_production_reads_the_secret_key_and_secures_cookies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_SECRET_KEY", "s3cret")
    config = load_config({"INSTANCE_PATH": str(tmp_path)})
    assert config["SECRET_KEY"] == "s3cret"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_generates_a_secret_key_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    monkeypatch.setenv("PORTAL_ENV", "development")
    first = load_config({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    second = load_config({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PORTAL_ENV", "staging")
    with pytest.raises(ConfigError):
        load_config({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_sqlite_default_lives_in_the_instance_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PORTAL_DATABASE_URL", raising=False)
    monkeypatch.setenv("PORTAL_ENV", "development")
    config = load_config({"INSTANCE_PATH": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.sqlite3'}"


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    from portal.extensions import db

    app = create_app(
        {
            "PORTAL_ENV": "testing",
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        }
    )
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 15000
        db.engine.dispose()


def test_trusted_proxy_gives_rate_limits_the_real_client_address(tmp_path: Path) -> None:
    from flask import request

    app = create_app(
        {
            "PORTAL_ENV": "testing",
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": "sqlite://",
            "TRUSTED_PROXIES": 1,
        }
    )

    @app.route("/whoami")
    def whoami() -> str:
        return request.remote_addr or ""

    client = app.test_client()
    assert (
        client.get(
            "/whoami",
            headers={"X-Forwarded-For": "200.1.2.3"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        ).text
        == "200.1.2.3"
    )
    plain = create_app(
        {
            "PORTAL_ENV": "testing",
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": "sqlite://",
        }
    )
    plain.add_url_rule("/whoami", view_func=whoami)
    assert (
        plain.test_client()
        .get(
            "/whoami",
            headers={"X-Forwarded-For": "200.1.2.3"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
        .text
        == "10.0.0.1"
    )


def test_postgresql_connections_are_pinged_before_use_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql+psycopg://portal@localhost/portal"
    monkeypatch.delenv("PORTAL_DATABASE_PRE_PING", raising=False)
    options = load_config({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url})[
        "SQLALCHEMY_ENGINE_OPTIONS"
    ]
    assert options["pool_pre_ping"] is False
    assert 0 < options["pool_recycle"] <= 3600  # renewed before idle connections are dropped
    monkeypatch.setenv("PORTAL_DATABASE_PRE_PING", "true")
    options = load_config({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url})[
        "SQLALCHEMY_ENGINE_OPTIONS"
    ]
    assert options["pool_pre_ping"] is True
