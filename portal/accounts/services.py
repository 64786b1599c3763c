"""Account writes: sign-up, sign-in, invitations and password resets."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import Invitation, Membership, Role, User
from portal.accounts.passwords import hash_password, needs_rehash, verify_password
from portal.audit.services import record
from portal.database import utcnow


class AccountError(ValueError):
    """A request about an account that cannot be honoured, with a message for the user."""


def normalise_email(email: str) -> str:
    """Compare emails case-insensitively."""
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    """Find a user by email."""
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active user with this email and password, else None."""
    user = user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def create_user(session: Session, email: str, name: str, password: str | None) -> User:
    """Create an account; the email must be new."""
    if user_by_email(session, email) is not None:
        raise AccountError("email-taken")
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scope_of(municipality_id: int | None, region_cut: str | None) -> dict[str, object]:
    """Name the scope of a role for the audit log."""
    return {"municipality_id": municipality_id, "region_cut": region_cut}


def create_invitation(
    session: Session,
    email: str,
    role: Role,
    *,
    municipality_id: int | None = None,
    region_cut: str | None = None,
    invited_by: User | None = None,
) -> tuple[Invitation, str]:
    """Create an invitation and return it with its secret token (only its hash is stored)."""
    if role == Role.MUNICIPAL_STAFF and municipality_id is None:
        raise AccountError("municipality-required")
    if role == Role.REGIONAL_STAFF and not region_cut:
        raise AccountError("region-required")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=normalise_email(email),
        role=role.value,
        municipality_id=municipality_id if role == Role.MUNICIPAL_STAFF else None,
        region_cut=region_cut if role == Role.REGIONAL_STAFF else None,
        token_hash=_token_hash(token),
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
        created_by_id=invited_by.id if invited_by else None,
    )
    session.add(invitation)
    session.flush()
    record(
        session,
        "invitation.create",
        "invitation",
        invitation.id,
        municipality_id=invitation.municipality_id,
        region_cut=invitation.region_cut,
        after={"email": invitation.email, "role": invitation.role},
    )
    return invitation, token


def municipal_team(
    session: Session, municipality_id: int
) -> tuple[list[Membership], list[Invitation]]:
    """Return a municipality's staff memberships and its pending invitations."""
    staff = session.scalars(
        select(Membership).where(Membership.municipality_id == municipality_id)
    ).all()
    invitations = [
        i
        for i in session.scalars(
            select(Invitation).where(Invitation.municipality_id == municipality_id)
        )
        if i.pending
    ]
    return list(staff), invitations


def invitation_by_token(session: Session, token: str) -> Invitation | None:
    """Find a pending invitation by its token."""
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == _token_hash(token))
    )
    if invitation is None or not invitation.pending:
        return None
    return invitation


def add_membership(
    session: Session, user: User, role: str, municipality_id: int | None, region_cut: str | None
) -> Membership:
    """Give a user a role unless they already hold it."""
    for membership in user.memberships:
        if (membership.role, membership.municipality_id, membership.region_cut) == (
            role,
            municipality_id,
            region_cut,
        ):
            return membership
    membership = Membership(role=role, municipality_id=municipality_id, region_cut=region_cut)
    user.memberships.append(membership)
    session.flush()
    return membership


def accept_invitation(
    session: Session, invitation: Invitation, user: User | None, name: str = "", password: str = ""
) -> User:
    """Turn an invitation into a membership, creating the account when there is none."""
    if user is None:
        user = create_user(session, invitation.email, name, password)
    elif normalise_email(user.email) != invitation.email:
        raise AccountError("wrong-account")
    membership = add_membership(
        session, user, invitation.role, invitation.municipality_id, invitation.region_cut
    )
    invitation.accepted_at = utcnow()
    record(
        session,
        "membership.create",
        "membership",
        membership.id,
        municipality_id=membership.municipality_id,
        region_cut=membership.region_cut,
        after={"user": user.email, "role": membership.role, "invitation": invitation.id},
        actor=user,
    )
    return user


def revoke_membership(session: Session, membership: Membership) -> None:
    """Remove a role from a user, with an audit entry."""
    record(
        session,
        "membership.delete",
        "membership",
        membership.id,
        municipality_id=membership.municipality_id,
        region_cut=membership.region_cut,
        before={"user": membership.user.email, "role": membership.role},
    )
    session.delete(membership)
    session.flush()


def revoke_invitation(session: Session, invitation: Invitation) -> None:
    """Make a pending invitation unusable."""
    invitation.revoked_at = utcnow()
    record(
        session,
        "invitation.revoke",
        "invitation",
        invitation.id,
        municipality_id=invitation.municipality_id,
        region_cut=invitation.region_cut,
        before={"email": invitation.email, "role": invitation.role},
    )


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _password_fingerprint(user: User) -> str:
    # Binding the token to the current hash makes it single-use: it dies once the password changes.
    return hashlib.sha256((user.password_hash or "none").encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    """Sign a password-reset token for a user."""
    return _reset_serializer().dumps({"uid": user.id, "fp": _password_fingerprint(user)})


def user_from_reset_token(session: Session, token: str) -> User | None:
    """Return the user a valid, unused, unexpired reset token names."""
    max_age = current_app.config["RESET_HOURS"] * 3600
    try:
        data = _reset_serializer().loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    user = session.get(User, data.get("uid"))
    if user is None or not user.active or data.get("fp") != _password_fingerprint(user):
        return None
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password hash."""
    user.password_hash = hash_password(password)
