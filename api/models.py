"""Personal access tokens. The secret is shown once, when the token is made; only its SHA-256
is stored (`key_hash`), so a database dump holds no usable token. `prefix` (the secret's first
characters) lets a person recognise a token in the list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    # A list of Scope values; "write" always comes with "read" (api.tokens.clean_scopes).
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    # Refreshed at most once a minute (api.tokens.note_use), not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
