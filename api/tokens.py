"""Personal access tokens: the one place that makes, checks and revokes them.

A token reads `tfp_<43 url-safe characters>` (256 random bits). Only its SHA-256 is stored,
so looking a presented token up is one indexed query on the hash; a 256-bit secret needs no
slow hash. Every request re-reads the row and the user (no cached authentication), so a
revoked or expired token, or a deactivated user's, is refused on the very next request.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User

from .models import ApiToken

TOKEN_PREFIX = "tfp_"
# last_used_at is written at most this often per token (a busy script is not a write per call).
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)
NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes as stored: known values only, at least one; "write" implies "read"."""
    if isinstance(scopes, str):
        scopes = [part for part in scopes.replace(",", " ").split() if part]
    wanted = set(scopes or ())
    unknown = wanted - set(ApiToken.Scope.values)
    if unknown:
        raise ValidationError(
            {"scopes": f"Unknown scope {sorted(unknown)[0]!r}: use read and/or write."},
            code="invalid",
        )
    if not wanted:
        raise ValidationError({"scopes": "Choose at least one scope: read or write."})
    if ApiToken.Scope.WRITE in wanted:
        wanted.add(ApiToken.Scope.READ)
    return [scope for scope in ApiToken.Scope.values if scope in wanted]


@transaction.atomic
def create_token(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`. Returns the row and the secret, which exists nowhere else:
    show it once."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name (what will use it?)."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"Names are limited to {NAME_MAX_LENGTH} characters."})
    scopes = clean_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        key_hash=hash_token(raw),
        scopes=scopes,
        expires_at=expires_at,
    )
    return token, raw


@transaction.atomic
def revoke_token(*, token: ApiToken, revoked_by: User, as_admin: bool = False) -> ApiToken:
    """Revoke one of `revoked_by`'s own tokens (`as_admin`: a site admin revoking anyone's,
    from the admin); it is refused from the next request on. Revoking twice changes nothing."""
    if not as_admin and token.user_id != revoked_by.pk:
        raise ValidationError("You can only revoke your own tokens.", code="forbidden")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate_token(raw: str) -> ApiToken | None:
    """The live token named by `raw` (user loaded), or None: unknown, revoked, expired, or
    its user deactivated. One query, plus a last-used write at most once a minute."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    note_use(token)
    return token


def note_use(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    token.last_used_at = now


def tokens_for(user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first (revoked ones too: the list says so)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def get_token_for(user: User, token_id: int) -> ApiToken:
    """One of the user's own tokens; anyone else's is as missing as a nonexistent one."""
    token = None
    if user.is_authenticated:
        token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise Http404("No such token.")
    return token
