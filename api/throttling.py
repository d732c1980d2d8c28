"""Request rates per user and per token, counted in the default cache (Redis when scaled, so
every process shares the count). Rates come from settings at request time
(`API_THROTTLE_USER`, `API_THROTTLE_TOKEN`, e.g. "600/min"); a request past either answers
429 with Retry-After."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken


class _SettingRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting, None) or None

    def allow_request(self, request, view) -> bool:
        # The rate is re-read per request (DRF reads it once, at construction).
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class UserThrottle(_SettingRateThrottle):
    scope = "api_user"
    setting = "API_THROTTLE_USER"

    def get_cache_key(self, request, view) -> str | None:
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenThrottle(_SettingRateThrottle):
    scope = "api_token"
    setting = "API_THROTTLE_TOKEN"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
