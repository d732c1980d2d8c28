"""Account changes. Views, the admin and commands call these; nothing else writes to User.

Ending someone's access has a real-time side: their open WebSockets were authorised when
they connected, so every service that takes access away also asks the user's sockets to
re-check it (`realtime.signal_access_changed_on_commit`); consumers close the ones that no
longer pass (the user is inactive, or the socket's session is gone).
"""

from django.conf import settings
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from messaging import realtime

from .models import Invitation, User


@transaction.atomic
def sign_up(*, form: UserCreationForm, invitation: Invitation | None = None) -> User:
    """Create the account from a valid sign-up form (the form hashes the password). Someone
    arriving by invitation joins its organization; anyone else gets an organization of
    their own, which they own. With SIGNUP_OPEN off only an invitation creates accounts."""
    from . import org_services

    if invitation is None and not settings.SIGNUP_OPEN:
        raise ValidationError("Sign-up is closed; ask for an invitation.")
    user = form.save()
    if invitation is not None:
        org_services.accept_invitation(invitation=invitation, user=user)
    else:
        org_services.create_organization(
            name=org_services.personal_organization_name(user), created_by=user
        )
    return user


@transaction.atomic
def update_profile(*, user: User, display_name: str, email: str) -> User:
    user.display_name = display_name.strip()
    user.email = email.strip()
    user.save(update_fields=["display_name", "email"])
    return user


@transaction.atomic
def set_theme(*, user: User, theme: str) -> User:
    """Remember the user's colour theme (one of User.Theme) for every page and device."""
    user.theme = User.Theme(theme)
    user.save(update_fields=["theme"])
    return user


def log_out(request: HttpRequest) -> None:
    """End the request's session and close the sockets opened with it.

    `logout()` flushes the session (the row is deleted from the session store), so the
    re-check of a socket opened with that session fails; sockets the same user opened from
    another device keep their own, still valid, session and stay open.
    """
    user_id = request.user.pk if request.user.is_authenticated else None
    logout(request)
    if user_id is not None:
        realtime.signal_access_changed_on_commit(user_id)


@transaction.atomic
def change_password(*, request: HttpRequest, form: PasswordChangeForm) -> User:
    """Save the new password from a valid PasswordChangeForm. This session stays logged in;
    every other session of the user stops authenticating (its stored password hash no longer
    matches), and their sockets are asked to re-check, so a stolen session's live sockets
    close too, not only its next page load."""
    user = form.save()
    update_session_auth_hash(request, user)
    realtime.signal_access_changed_on_commit(user.pk)
    return user


@transaction.atomic
def deactivate_user(*, user: User) -> User:
    """Stop a user from using TaskFlow: they can no longer log in, their sessions stop
    authenticating (ModelBackend rejects inactive users) and their open sockets close.

    Where they were an organization's last owner, someone else becomes one
    (`org_services.hand_over_ownership`), so the organization can still be managed.

    Idempotent: deactivating an inactive user saves nothing new but still signals, so a
    caller that has already cleared the flag (the admin's change form) can use it too.
    """
    from . import org_services

    org_services.hand_over_ownership(leaving=user)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    realtime.signal_access_changed_on_commit(user.pk)
    return user


@transaction.atomic
def set_password(*, user: User, password: str | None) -> User:
    """Set (or, with None, disable) a user's password for them: the admin's password reset.
    Every session of the user stops authenticating (the stored hash changes) and their open
    sockets are asked to re-check, so they close too."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    realtime.signal_access_changed_on_commit(user.pk)
    return user


@transaction.atomic
def delete_user(*, user: User) -> None:
    """Delete an account (the admin's delete). Their open sockets re-check after commit and
    close: the session they were opened with no longer names a user. Organizations they were
    the last owner of get another owner first (`org_services.hand_over_ownership`). Their
    uploads go with them, and the stored files after commit (the cascade alone would leave the
    files in storage with no row pointing at them)."""
    from messaging.models import Attachment
    from messaging.services import attachments as attachment_service

    from . import org_services

    user_id = user.pk
    org_services.hand_over_ownership(leaving=user)
    attachment_service.discard_attachments(
        Attachment.objects.select_for_update().filter(uploaded_by_id=user_id)
    )
    user.delete()
    realtime.signal_access_changed_on_commit(user_id)
