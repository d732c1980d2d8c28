"""How an API request is authenticated and what it may do.

- `Authorization: Bearer <token>`: a personal access token (api.tokens). Checked on every
  request against the database: revoked, expired or a deactivated user's is 401 at once.
- The browser's session, with Django's CSRF check on every unsafe method (as the pages).
Scopes: a token needs `read` for GET/HEAD/OPTIONS and `write` for everything else (403
otherwise); the session may do both.
"""

from __future__ import annotations

from django.middleware.csrf import CsrfViewMiddleware
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from . import tokens
from .models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: Bearer <token>.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = tokens.authenticate_token(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        """Makes an unauthenticated request a 401 (not a 403) with this challenge."""
        return f'{self.keyword} realm="api"'


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, refusing a missing or wrong CSRF token in Django's own
    words (the CSRF tests look for "CSRF verification failed" on every POST route)."""

    def enforce_csrf(self, request) -> None:
        check = _CsrfCheck(lambda req: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(
                f"CSRF verification failed. Request aborted: {reason}"
            )


class TokenScope(permissions.BasePermission):
    """A token's scopes decide; a session may read and write."""

    message = "This token has the read scope only: writing needs a token with the write scope."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        if request.method in permissions.SAFE_METHODS:
            if not token.allows(ApiToken.Scope.READ):
                self.message = "This token has no read scope."
                return False
            return True
        return token.allows(ApiToken.Scope.WRITE)


class SessionOnly(permissions.BasePermission):
    """Managing tokens needs the browser session: a token cannot make or list tokens."""

    message = "Manage tokens from a logged-in browser session, not with a token."

    def has_permission(self, request, view) -> bool:
        return request.auth is None


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token from /accounts/tokens/ (tfp_...).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
