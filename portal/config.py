"""Settings: the one module that reads os.environ."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised when the environment cannot give a safe configuration."""


DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


@dataclass(frozen=True)
class Setting:
    """One environment variable the portal reads, for the README's table."""

    env: str
    default: str
    help: str


SETTINGS: list[Setting] = [
    Setting(
        "PORTAL_ENV",
        "development",
        "`development` or `production` (production refuses to start without a secret key).",
    ),
    Setting(
        "PORTAL_SECRET_KEY",
        "generated into instance/secret_key in development",
        "Signs sessions and tokens. Required in production.",
    ),
    Setting(
        "PORTAL_RUT_HASH_KEY",
        "derived from the secret key",
        "Key of the HMAC that hashes residents' RUTs. Keep it stable: changing it orphans the census.",
    ),
    Setting(
        "PORTAL_DATABASE_URL",
        "sqlite:///instance/portal.sqlite3",
        "SQLAlchemy URL; `postgresql+psycopg://user:pass@host/db` for PostgreSQL.",
    ),
    Setting(
        "PORTAL_INSTANCE_PATH",
        "instance/",
        "Folder for the SQLite database, the generated secret key and the development outbox.",
    ),
    Setting(
        "PORTAL_RATELIMIT_STORAGE_URL",
        "memory://",
        "Flask-Limiter storage; `redis://host:6379/0` when several workers or instances share limits.",
    ),
    Setting(
        "PORTAL_LOGIN_RATE_LIMIT",
        "10 per 15 minutes",
        "Failed logins allowed per client address and per account.",
    ),
    Setting(
        "PORTAL_ELIGIBILITY_RATE_LIMIT",
        "8 per 15 minutes",
        "Failed voter eligibility checks allowed per browser session and per RUT.",
    ),
    Setting(
        "PORTAL_ELIGIBILITY_IP_RATE_LIMIT",
        "60 per 15 minutes",
        "Failed voter eligibility checks allowed per client address (higher: a community centre shares one).",
    ),
    Setting(
        "PORTAL_API_RATE_LIMIT",
        "300 per minute",
        "Requests to the open data API (`/api/v1`) allowed per client address.",
    ),
    Setting(
        "PORTAL_MAIL_SERVER",
        "(empty: write mail to instance/outbox/)",
        "SMTP host; when empty, messages are written as .eml files.",
    ),
    Setting("PORTAL_MAIL_PORT", "587", "SMTP port."),
    Setting("PORTAL_MAIL_USERNAME", "(empty)", "SMTP user."),
    Setting("PORTAL_MAIL_PASSWORD", "(empty)", "SMTP password."),
    Setting("PORTAL_MAIL_USE_TLS", "true", "STARTTLS on the SMTP connection."),
    Setting("PORTAL_MAIL_SENDER", "Portal <no-reply@localhost>", "From address of outgoing mail."),
    Setting(
        "PORTAL_BASE_URL",
        "(empty: use the request's host)",
        "Absolute base URL used in mailed links, e.g. `https://portal.example.cl`.",
    ),
    Setting(
        "PORTAL_HTTPS",
        "false in development, true in production",
        "Secure cookies and HSTS; set when served over HTTPS.",
    ),
    Setting("PORTAL_INVITATION_DAYS", "7", "Days a staff invitation link stays valid."),
    Setting("PORTAL_RESET_HOURS", "2", "Hours a password-reset link stays valid."),
    Setting(
        "PORTAL_MAX_CONTENT_LENGTH",
        "16777216",
        "Largest request body in bytes (larger ones get 413).",
    ),
    Setting(
        "PORTAL_TRUSTED_PROXIES",
        "0",
        "How many reverse proxies (nginx, a load balancer) stand in front; their X-Forwarded-* headers are trusted so that rate limits see the real client address.",
    ),
    Setting(
        "PORTAL_DATABASE_PRE_PING",
        "false",
        "Test each pooled PostgreSQL connection with a round trip before every request uses it. Off: after a database restart the requests that meet a dead connection get the 503 page once and the pool renews every older connection; on: they are spared that, and every request pays the round trip.",
    ),
    Setting(
        "PORTAL_PUBLIC_PAGE_CACHE_SECONDS",
        "5",
        "Seconds each worker keeps what every anonymous voter sees alike: the home page and round pages, and the round and ballot projects the vote pages show (0: never). A change in the same process shows at once; other workers and instances show it within this time.",
    ),
    Setting("PORTAL_DEFAULT_LOCALE", "es_CL", "Language of a visitor who has not chosen one."),
    Setting(
        "PORTAL_MAP_TILE_URL",
        DEFAULT_TILE_URL,
        "Tile URL template of the maps (Leaflet `{z}/{x}/{y}`); its host is allowed in the CSP `img-src`.",
    ),
    Setting(
        "PORTAL_MAP_ATTRIBUTION",
        DEFAULT_TILE_ATTRIBUTION,
        "Attribution shown on the maps, as the tile server's terms require (HTML).",
    ),
]


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path, env: str) -> str:
    key = os.environ.get("PORTAL_SECRET_KEY", "")
    if key:
        return key
    if env == "production":
        raise ConfigError(
            "PORTAL_SECRET_KEY is not set. A production portal refuses to start without it: "
            "generate one with `python -c 'import secrets; print(secrets.token_hex(32))'` "
            "and set it in the environment."
        )
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the environment into a Flask config mapping; overrides win (tests use them)."""
    overrides = dict(overrides or {})
    env = overrides.get("PORTAL_ENV") or os.environ.get("PORTAL_ENV", "development")
    if env not in {"development", "production", "testing"}:
        raise ConfigError(f"PORTAL_ENV must be development, production or testing, not {env!r}.")
    instance_path = Path(
        overrides.get("INSTANCE_PATH")
        or os.environ.get("PORTAL_INSTANCE_PATH")
        or PROJECT_ROOT / "instance"
    ).resolve()
    production = env == "production"
    https = _bool(os.environ.get("PORTAL_HTTPS"), production)
    secret = overrides.get("SECRET_KEY") or _secret_key(instance_path, env)

    database_url = (
        overrides.pop("DATABASE_URL", None)
        or os.environ.get("PORTAL_DATABASE_URL")
        or f"sqlite:///{instance_path / 'portal.sqlite3'}"
    )
    database_url = normalise_database_url(database_url)

    config: dict[str, Any] = {
        "PORTAL_ENV": env,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": secret,
        "RUT_HASH_KEY": os.environ.get("PORTAL_RUT_HASH_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "SQLALCHEMY_RECORD_QUERIES": False,
        "RATELIMIT_STORAGE_URI": os.environ.get("PORTAL_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("PORTAL_LOGIN_RATE_LIMIT", "10 per 15 minutes"),
        "ELIGIBILITY_RATE_LIMIT": os.environ.get(
            "PORTAL_ELIGIBILITY_RATE_LIMIT", "8 per 15 minutes"
        ),
        "ELIGIBILITY_IP_RATE_LIMIT": os.environ.get(
            "PORTAL_ELIGIBILITY_IP_RATE_LIMIT", "60 per 15 minutes"
        ),
        "API_RATE_LIMIT": os.environ.get("PORTAL_API_RATE_LIMIT", "300 per minute"),
        "MAIL_SERVER": os.environ.get("PORTAL_MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("PORTAL_MAIL_PORT", "587")),
        "MAIL_USERNAME": os.environ.get("PORTAL_MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("PORTAL_MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(os.environ.get("PORTAL_MAIL_USE_TLS"), True),
        "MAIL_SENDER": os.environ.get("PORTAL_MAIL_SENDER", "Portal <no-reply@localhost>"),
        "MAIL_OUTBOX": str(instance_path / "outbox"),
        "BASE_URL": os.environ.get("PORTAL_BASE_URL", "").rstrip("/"),
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "HTTPS": https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "WTF_CSRF_SSL_STRICT": https,
        "MAX_CONTENT_LENGTH": int(
            os.environ.get("PORTAL_MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))
        ),
        "INVITATION_DAYS": int(os.environ.get("PORTAL_INVITATION_DAYS", "7")),
        "RESET_HOURS": int(os.environ.get("PORTAL_RESET_HOURS", "2")),
        "TRUSTED_PROXIES": int(os.environ.get("PORTAL_TRUSTED_PROXIES", "0")),
        "PUBLIC_PAGE_CACHE_SECONDS": float(os.environ.get("PORTAL_PUBLIC_PAGE_CACHE_SECONDS", "5")),
        "BABEL_DEFAULT_LOCALE": os.environ.get("PORTAL_DEFAULT_LOCALE", "es_CL"),
        "BABEL_DEFAULT_TIMEZONE": "America/Santiago",
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "LANGUAGES": {"es_CL": "Español", "en": "English"},
        # argon2id parameters; tests lower them to keep the suite fast.
        "ARGON2_TIME_COST": 3,
        "ARGON2_MEMORY_COST": 65536,
        "TESTING": env == "testing",
    }
    tile_url = os.environ.get("PORTAL_MAP_TILE_URL", "") or DEFAULT_TILE_URL
    config["MAP_TILE_URL"] = tile_url
    config["MAP_ATTRIBUTION"] = (
        os.environ.get("PORTAL_MAP_ATTRIBUTION", "") or DEFAULT_TILE_ATTRIBUTION
    )
    config["CSP_EXTRA_IMG_SRC"] = tile_sources(tile_url)
    config.update(overrides)
    return config


def tile_sources(tile_url: str) -> list[str]:
    """Return the CSP source of a tile URL template: its scheme and host ({s} → any subdomain)."""
    from urllib.parse import urlsplit

    parts = urlsplit(tile_url.replace("{s}.", "SUBDOMAIN."))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return []
    host = parts.netloc.replace("SUBDOMAIN.", "*.")
    return [f"{parts.scheme}://{host}"]


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """Engine options per backend: SQLite waits on locks. PostgreSQL: a pool per process, its
    connections renewed after half an hour (before a firewall or a pooler drops them idle; a
    check of the time, no round trip), tested before each use only if asked
    (``PORTAL_DATABASE_PRE_PING``): a connection found dead on use fails that request with the
    503 page and makes the pool renew every connection older than it."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_pre_ping": _bool(os.environ.get("PORTAL_DATABASE_PRE_PING"), False),
        "pool_recycle": 1800,
        "pool_size": 10,
        "max_overflow": 10,
    }
