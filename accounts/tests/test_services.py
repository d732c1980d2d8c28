"""Account services, and the interfaces that reach them (logout view, admin, command).

The real-time side is checked on the channel layer itself: a test channel joins the user's
group, and each access-ending change must deliver an `access.changed` event to it after
commit (consumers then close the sockets that fail their re-check; the end-to-end close
against a real daphne is in tests/test_security_revocation.py).
"""

from __future__ import annotations

import pytest
from django.contrib import auth
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from accounts import org_services, services
from accounts.forms import LOOKALIKE_MESSAGE
from accounts.models import AuditLog, Membership, User
from messaging import realtime
from tests.factories import PASSWORD, UserFactory, join_organization

Role = Membership.Role


def logged_in_user(client: Client):
    """Whom the client's session authenticates as now (AnonymousUser if nobody), the way
    AuthenticationMiddleware would see it, without rendering a page."""
    request = HttpRequest()
    request.session = client.session
    return auth.get_user(request)


# --- log_out ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_logout_view_ends_session_and_signals_sockets(
    bob, listen, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(bob)
    session_key = client.session.session_key
    listener = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert not Session.objects.filter(session_key=session_key).exists()
    assert listener.access_changes() == 1
    assert not logged_in_user(client).is_authenticated


@pytest.mark.django_db
def test_admin_logout_also_signals_sockets(bob, listen, django_capture_on_commit_callbacks):
    """The admin's logout link goes through the same service, so a staff member logging out
    there closes their live sockets too."""
    client = Client()
    client.force_login(bob)
    listener = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/logout/")

    assert response.status_code == 302
    assert listener.access_changes() == 1
    assert not logged_in_user(client).is_authenticated


@pytest.mark.django_db
def test_logout_view_refuses_get(bob):
    client = Client()
    client.force_login(bob)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert logged_in_user(client) == bob


@pytest.mark.django_db
def test_logout_view_requires_csrf_token(bob, listen):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    listener = listen(realtime.user_group(bob.pk))
    assert client.post(reverse("accounts:logout")).status_code == 403
    assert logged_in_user(client) == bob
    assert listener.access_changes() == 0


@pytest.mark.django_db
def test_logout_keeps_other_sessions_of_same_user(bob):
    laptop, phone = Client(), Client()
    laptop.force_login(bob)
    phone.force_login(bob)
    laptop.post(reverse("accounts:logout"))
    assert not logged_in_user(laptop).is_authenticated
    assert logged_in_user(phone) == bob


@pytest.mark.django_db
def test_logout_of_anonymous_request_signals_nothing(listen, bob):
    listener = listen(realtime.user_group(bob.pk))
    response = Client().post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert listener.access_changes() == 0


# --- change_password ------------------------------------------------------------------


@pytest.mark.django_db
def test_password_change_keeps_this_session_ends_others_and_signals(
    bob, listen, django_capture_on_commit_callbacks
):
    laptop, phone = Client(), Client()
    laptop.force_login(bob)
    phone.force_login(bob)
    listener = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = laptop.post(
            reverse("accounts:password_change"),
            {
                "old_password": PASSWORD,
                "new_password1": "A-new-long-passphrase-42",
                "new_password2": "A-new-long-passphrase-42",
            },
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_done")
    assert logged_in_user(laptop) == bob
    assert not logged_in_user(phone).is_authenticated
    assert listener.access_changes() == 1


@pytest.mark.django_db
def test_failed_password_change_signals_nothing(bob, listen, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(bob)
    listener = listen(realtime.user_group(bob.pk))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:password_change"),
            {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
        )
    assert response.status_code == 200
    assert listener.access_changes() == 0


# --- deactivate_user --------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivate_user_locks_out_and_signals(bob, listen, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(bob)
    listener = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        services.deactivate_user(user=bob)

    bob.refresh_from_db()
    assert bob.is_active is False
    assert listener.access_changes() == 1
    # The existing session stops authenticating and a new login is refused.
    assert not logged_in_user(client).is_authenticated
    # (django-axes needs the request authenticate() is given, as its test guide says.)
    assert Client().login(request=HttpRequest(), username="bob", password=PASSWORD) is False


@pytest.mark.django_db
def test_deactivate_user_signals_only_after_commit(bob, listen, django_capture_on_commit_callbacks):
    listener = listen(realtime.user_group(bob.pk))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.deactivate_user(user=bob)
    assert listener.access_changes() == 0
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_deactivate_user_is_idempotent(bob, listen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.deactivate_user(user=bob)
    listener = listen(realtime.user_group(bob.pk))
    with django_capture_on_commit_callbacks(execute=True):
        services.deactivate_user(user=bob)
    bob.refresh_from_db()
    assert bob.is_active is False
    assert listener.access_changes() == 1


# --- admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(db):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client, admin


@pytest.mark.django_db
def test_admin_action_deactivates_selected_users(
    admin_client_, bob, carol, listen, django_capture_on_commit_callbacks
):
    client, admin = admin_client_
    bob_listener, carol_listener = (
        listen(realtime.user_group(bob.pk)),
        listen(realtime.user_group(carol.pk)),
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "deactivate_users", "_selected_action": [bob.pk, carol.pk, admin.pk]},
        )

    assert response.status_code == 302
    bob.refresh_from_db()
    carol.refresh_from_db()
    admin.refresh_from_db()
    assert (bob.is_active, carol.is_active) == (False, False)
    assert admin.is_active is True  # an admin cannot lock themselves out by accident
    assert bob_listener.access_changes() == 1
    assert carol_listener.access_changes() == 1


def _change_form_data(user) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "is_staff": "",
        "is_superuser": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }


@pytest.mark.django_db
def test_admin_change_form_unticking_active_signals(
    admin_client_, bob, listen, django_capture_on_commit_callbacks
):
    client, _ = admin_client_
    listener = listen(realtime.user_group(bob.pk))
    url = reverse("admin:accounts_user_change", args=[bob.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _change_form_data(bob))  # "is_active" left unticked

    assert response.status_code == 302, response.context["adminform"].form.errors
    bob.refresh_from_db()
    assert bob.is_active is False
    assert listener.access_changes() == 1


@pytest.mark.django_db
def test_admin_change_form_other_edits_do_not_signal(
    admin_client_, bob, listen, django_capture_on_commit_callbacks
):
    client, _ = admin_client_
    listener = listen(realtime.user_group(bob.pk))
    data = {**_change_form_data(bob), "is_active": "on", "display_name": "Robert"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:accounts_user_change", args=[bob.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    bob.refresh_from_db()
    assert (bob.is_active, bob.display_name) == (True, "Robert")
    assert listener.access_changes() == 0


# --- command ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivate_user_command(bob, listen, django_capture_on_commit_callbacks, capsys):
    listener = listen(realtime.user_group(bob.pk))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("deactivate_user", "bob")
    bob.refresh_from_db()
    assert bob.is_active is False
    assert listener.access_changes() == 1
    assert "Deactivated: bob" in capsys.readouterr().out


@pytest.mark.django_db
def test_deactivate_user_command_unknown_user():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("deactivate_user", "nobody")


# --- the last owner leaves (staff deactivate or delete them) ------------------------------


def _organization_with(owner, *people):
    """`owner`'s organization with `people` joined in order, as (user, role) pairs."""
    organization = org_services.create_organization(name="Acme", created_by=owner)
    for user, role in people:
        join_organization(organization, user, role)
    return organization


def _roles(organization) -> dict[str, str]:
    rows = Membership.objects.filter(organization=organization, user__is_active=True)
    return dict(rows.values_list("user__username", "role"))


@pytest.mark.django_db
def test_deactivating_the_last_owner_makes_the_longest_standing_admin_an_owner(
    admin_client_, alice, bob, carol
):
    client, _ = admin_client_
    dave = UserFactory(username="dave")
    acme = _organization_with(alice, (carol, Role.MEMBER), (bob, Role.ADMIN), (dave, Role.ADMIN))

    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [alice.pk]},
    )

    assert response.status_code == 302
    assert _roles(acme) == {"bob": Role.OWNER, "carol": Role.MEMBER, "dave": Role.ADMIN}
    entry = AuditLog.objects.get(organization=acme, action=AuditLog.Action.MEMBER_ROLE_CHANGED)
    assert (entry.actor, entry.target_label) == (None, "bob")
    assert entry.changes == {"role": ["admin", "owner"], "reason": "last owner alice left"}


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["change form", "delete"])
def test_the_change_form_and_deleting_hand_the_organization_over_too(
    admin_client_, alice, carol, how
):
    client, _ = admin_client_
    acme = _organization_with(alice, (carol, Role.MEMBER))

    if how == "delete":
        url = reverse("admin:accounts_user_delete", args=[alice.pk])
        response = client.post(url, {"post": "yes"})
    else:
        url = reverse("admin:accounts_user_change", args=[alice.pk])
        response = client.post(url, _change_form_data(alice))  # "is_active" unticked

    assert response.status_code == 302
    assert _roles(acme) == {"carol": Role.OWNER}


@pytest.mark.django_db
def test_no_hand_over_while_another_owner_remains_or_nobody_is_left(alice, bob, carol):
    shared = _organization_with(alice, (carol, Role.OWNER), (bob, Role.ADMIN))
    alone = org_services.create_organization(name="Solo", created_by=alice)

    services.deactivate_user(user=alice)

    assert _roles(shared) == {"carol": Role.OWNER, "bob": Role.ADMIN}
    assert _roles(alone) == {}
    assert not AuditLog.objects.filter(action=AuditLog.Action.MEMBER_ROLE_CHANGED).exists()


# --- look-alike names in the admin -------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_refuses_to_add_a_lookalike_username(admin_client_, alice):
    client, _ = admin_client_
    data = {"username": "\u0430lice", "usable_password": "false", "display_name": "A."}

    response = client.post(reverse("admin:accounts_user_add"), data)

    assert response.status_code == 200
    assert LOOKALIKE_MESSAGE in response.context["adminform"].form.errors["username"]
    assert not User.objects.filter(username="\u0430lice").exists()


@pytest.mark.django_db
def test_the_admin_refuses_to_rename_someone_to_a_lookalike_but_keeps_their_own(
    admin_client_, alice, bob
):
    client, _ = admin_client_
    url = reverse("admin:accounts_user_change", args=[bob.pk])

    refused = client.post(url, {**_change_form_data(bob), "is_active": "on", "username": "a1ice"})
    kept = client.post(url, {**_change_form_data(bob), "is_active": "on", "display_name": "Rob"})

    assert LOOKALIKE_MESSAGE in refused.context["adminform"].form.errors["username"]
    assert kept.status_code == 302
    bob.refresh_from_db()
    assert (bob.username, bob.display_name) == ("bob", "Rob")
