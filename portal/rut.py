"""Chilean RUT/RUN: validation with python-stdnum and the keyed hash stored instead of it."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from stdnum.cl import rut as stdnum_rut
from stdnum.exceptions import ValidationError


class InvalidRut(ValueError):
    """A RUT that is malformed or whose check digit does not match."""


def normalize_rut(text: str) -> str:
    """Validate a RUT in any usual spelling and return its compact form, e.g. '123456785'."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidRut("empty")
    try:
        return str(stdnum_rut.validate(cleaned)).upper()
    except ValidationError as error:
        raise InvalidRut(str(error)) from error


def format_rut(compact: str) -> str:
    """Write a compact RUT the Chilean way: 12.345.678-5."""
    return str(stdnum_rut.format(compact))


def _key() -> bytes:
    configured = current_app.config.get("RUT_HASH_KEY") or ""
    if configured:
        return configured.encode()
    # Derived, so that a deployment that sets only the secret key still gets a private key.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"rut-hash", hashlib.sha256).digest()


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a value for one purpose (RUT, ID serial…), as hex."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def rut_hash(rut: str) -> str:
    """Hash a RUT (any spelling) with the server's key; the RUT space is too small for a plain hash."""
    return keyed_hash(normalize_rut(rut), "rut")
