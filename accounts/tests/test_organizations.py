"""Organizations: services (sign-up, invitations, roles, removal) and their pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import org_services, services
from accounts.audit import record_audit
from accounts.forms import SignUpForm
from accounts.models import AuditLog, Invitation, Membership, Organization, User
from kanban import access as board_access
from kanban import services as kanban_services
from kanban.models import Board, Task
from messaging.models import ChatMessage, ChatRoom
from messaging.services.posting import post_chat_message
from tests.admin_forms import change_form_data
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    OrganizationFactory,
    TaskFactory,
    UserFactory,
    join_organization,
)

pytestmark = pytest.mark.django_db
Role = Membership.Role


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def acme(alice, bob, carol) -> Organization:
    """alice owns Acme; bob is an admin, carol a member."""
    org = OrganizationFactory(name="Acme", slug="acme", owner=alice)
    join_organization(org, bob, role=Role.ADMIN)
    join_organization(org, carol)
    return org


@pytest.fixture
def dave(db) -> User:
    """In Globex, nothing to do with Acme."""
    user = UserFactory(username="dave")
    OrganizationFactory(name="Globex", slug="globex", owner=user)
    return user


def membership(org, user) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def signup_form(username: str, email: str = "") -> SignUpForm:
    form = SignUpForm(
        {
            "username": username,
            "email": email or f"{username}@example.com",
            "password1": "A-long-pass-4711",
            "password2": "A-long-pass-4711",
        }
    )
    assert form.is_valid(), form.errors
    return form


def invite(org, by, email="new@example.com", role=Role.MEMBER):
    return org_services.invite_member(
        organization=org, email=email, invited_by=by, base_url="http://testserver", role=role
    )


# --- sign-up and invitations --------------------------------------------------------------


def test_sign_up_creates_an_organization_the_user_owns():
    user = services.sign_up(form=signup_form("zoe"))

    only = Membership.objects.get(user=user)
    assert only.role == Role.OWNER
    assert AuditLog.objects.filter(organization=only.organization, action="org.created").exists()


def test_sign_up_by_invitation_joins_that_organization_only(acme, alice):
    invitation, _ = invite(acme, alice, role=Role.ADMIN)

    user = services.sign_up(form=signup_form("newbie"), invitation=invitation)

    assert list(Membership.objects.filter(user=user).values_list("organization__slug", "role")) == [
        ("acme", "admin")
    ]
    joined = AuditLog.objects.get(action="member.joined")
    assert joined.target_label == "newbie" and joined.organization == acme


def test_invitation_is_emailed_after_commit_with_its_link(
    acme, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, link = invite(acme, alice, email="pat@example.com")

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["pat@example.com"]
    assert link in mail.outbox[0].body
    assert org_services.get_invitation_for_token(link.rsplit("/invite/", 1)[1].strip("/")) == (
        invitation
    )
    entry = AuditLog.objects.get(action="member.invited")
    assert entry.changes == {"email": "pat@example.com", "role": "member"}


def test_invitation_link_works_once(acme, alice, bob):
    invitation, link = invite(acme, alice)
    token = link.rstrip("/").rsplit("/", 1)[1]
    outsider = UserFactory(username="eve")

    org_services.accept_invitation(invitation=invitation, user=outsider)

    with pytest.raises(ValidationError, match="invalid, already used or expired"):
        org_services.get_invitation_for_token(token)
    with pytest.raises(ValidationError):
        org_services.accept_invitation(invitation=invitation, user=UserFactory(username="x2"))


def test_expired_altered_or_revoked_links_are_refused(acme, alice):
    expired, expired_link = invite(acme, alice, email="a@example.com")
    Invitation.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _, good_link = invite(acme, alice, email="b@example.com")
    revoked, revoked_link = invite(acme, alice, email="c@example.com")
    org_services.revoke_invitation(invitation=revoked, revoked_by=alice)

    def token(link: str) -> str:
        return link.rstrip("/").rsplit("/", 1)[1]

    for bad in (token(expired_link), token(good_link)[:-2] + "xx", token(revoked_link), "junk"):
        with pytest.raises(ValidationError):
            org_services.get_invitation_for_token(bad)


def test_invitation_max_age_is_enforced_by_the_signature(acme, alice, settings):
    _, link = invite(acme, alice)
    settings.INVITATION_MAX_AGE_DAYS = 0  # every signature is now too old

    with pytest.raises(ValidationError):
        org_services.get_invitation_for_token(link.rstrip("/").rsplit("/", 1)[1])


def test_an_invitation_link_works_for_seven_days_and_no_longer(acme, alice, monkeypatch):
    """The default lifetime, with the signature's clock moved on (the row's expiry says
    the same)."""
    import time as real_time

    from django.core import signing

    invitation, link = invite(acme, alice)
    token = link.rstrip("/").rsplit("/", 1)[1]
    sent = real_time.time()
    assert abs((invitation.expires_at - timezone.now()) - timedelta(days=7)) < timedelta(minutes=1)

    class Clock:
        offset = timedelta(days=6, hours=23).total_seconds()

        @classmethod
        def time(cls) -> float:
            return sent + cls.offset

    monkeypatch.setattr(signing, "time", Clock)
    assert org_services.get_invitation_for_token(token) == invitation
    Clock.offset = timedelta(days=7, minutes=1).total_seconds()
    with pytest.raises(ValidationError, match="expired"):
        org_services.get_invitation_for_token(token)


def test_only_owners_and_admins_invite(acme, bob, carol):
    with pytest.raises(ValidationError, match="owners and admins"):
        invite(acme, carol)
    assert not Invitation.objects.exists()

    invite(acme, bob, email="by-an-admin@example.com")  # bob is an admin
    assert list(Invitation.objects.values_list("email", "invited_by__username")) == [
        ("by-an-admin@example.com", "bob")
    ]


# --- roles and removal --------------------------------------------------------------------


def test_last_owner_cannot_be_demoted_or_leave(acme, alice):
    with pytest.raises(ValidationError, match="last owner"):
        org_services.change_role(membership=membership(acme, alice), role="admin", changed_by=alice)
    with pytest.raises(ValidationError, match="last owner"):
        org_services.remove_member(membership=membership(acme, alice), removed_by=alice)
    assert membership(acme, alice).role == Role.OWNER


def test_an_owner_can_step_down_once_there_is_another(acme, alice, bob):
    org_services.change_role(membership=membership(acme, bob), role="owner", changed_by=alice)
    org_services.change_role(membership=membership(acme, alice), role="member", changed_by=bob)

    assert membership(acme, alice).role == Role.MEMBER
    changes = list(
        AuditLog.objects.filter(action="member.role_changed")
        .order_by("pk")
        .values_list("target_label", "changes")
    )
    assert changes == [
        ("bob", {"role": ["admin", "owner"]}),
        ("alice", {"role": ["owner", "member"]}),
    ]


def test_admins_cannot_make_or_remove_owners(acme, alice, bob, carol):
    with pytest.raises(ValidationError, match="Only an owner"):
        org_services.change_role(membership=membership(acme, carol), role="owner", changed_by=bob)
    with pytest.raises(ValidationError, match="Only an owner"):
        org_services.remove_member(membership=membership(acme, alice), removed_by=bob)


def test_members_cannot_change_roles(acme, carol, bob):
    with pytest.raises(ValidationError, match="owners and admins"):
        org_services.change_role(membership=membership(acme, bob), role="member", changed_by=carol)


def test_removing_a_member_removes_them_from_the_organizations_boards_and_rooms(
    acme, alice, carol, dave
):
    board = BoardFactory(created_by=alice, organization=acme, members=[carol])
    room = ChatRoomFactory(board=board, created_by=alice, members=[carol])
    task = TaskFactory(column=ColumnFactory(board=board), assignee=carol)
    elsewhere = BoardFactory(created_by=dave, members=[])  # another organization: untouched
    join_organization(elsewhere.organization, carol)
    elsewhere.members.add(carol)

    org_services.remove_member(membership=membership(acme, carol), removed_by=alice)

    assert not Membership.objects.filter(organization=acme, user=carol).exists()
    assert not board.members.filter(pk=carol.pk).exists()
    assert not room.members.filter(pk=carol.pk).exists()
    assert Task.objects.get(pk=task.pk).assignee is None
    assert elsewhere.members.filter(pk=carol.pk).exists()
    entry = AuditLog.objects.get(action="member.removed")
    assert entry.changes == {"role": "member", "left": False, "boards": 1, "rooms": 1}


def test_record_audit_refuses_to_run_outside_a_transaction(transactional_db, alice):
    org = OrganizationFactory(owner=alice)
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_audit(organization=org, actor=alice, action="org.created", target=org)


def test_a_failed_change_leaves_no_audit_row(acme, alice):
    board = BoardFactory(created_by=alice, organization=acme)
    with pytest.raises(ValidationError):
        kanban_services.update_board(board=board, name="  ", description="", updated_by=alice)
    assert not AuditLog.objects.filter(action="board.renamed").exists()


def test_board_and_room_changes_are_audited_with_actor_and_ip(client_for, acme, alice, bob):
    client = client_for(alice, REMOTE_ADDR="203.0.113.7")
    client.post(reverse("kanban:board_create"), {"name": "Roadmap", "organization": acme.pk})
    board = Board.objects.get(name="Roadmap")
    client.post(reverse("kanban:board_edit", args=[board.pk]), {"name": "Roadmap 2"})
    client.post(reverse("kanban:board_members", args=[board.pk]), {"username": "bob"})
    client.post(reverse("messaging:room_create", args=[board.pk]), {"name": "ops"})
    room = ChatRoom.objects.get(name="ops")
    client.post(reverse("messaging:room_members", args=[room.pk]), {"action": "add", "user": "bob"})
    client.post(
        reverse("messaging:room_members", args=[room.pk]), {"action": "remove", "user": "bob"}
    )
    client.post(reverse("kanban:member_remove", args=[board.pk, bob.pk]))
    column = board.columns.first()
    task = TaskFactory(column=column, title="Doomed")
    client.post(reverse("kanban:task_delete", args=[task.pk]))
    client.post(reverse("kanban:board_delete", args=[board.pk]))

    entries = AuditLog.objects.filter(organization=acme).order_by("pk")
    assert list(entries.values_list("action", flat=True)) == [
        "board.created",
        "board.renamed",
        "board.member_added",
        "room.created",
        "room.member_added",
        "room.member_removed",
        "board.member_removed",
        "task.deleted",
        "board.deleted",
    ]
    assert set(entries.values_list("actor__username", "ip_address")) == {("alice", "203.0.113.7")}
    assert entries.get(action="board.renamed").changes == {"name": ["Roadmap", "Roadmap 2"]}


def test_organization_rename_is_audited(client_for, acme, alice):
    client_for(alice, REMOTE_ADDR="203.0.113.7").post(
        reverse("orgs:rename", args=["acme"]), {"name": "Acme Corp"}
    )

    entry = AuditLog.objects.get(action="org.renamed")
    assert (entry.organization, entry.actor, entry.ip_address) == (acme, alice, "203.0.113.7")
    assert entry.changes == {"name": ["Acme", "Acme Corp"]}


def test_room_rename_and_delete_in_the_admin_are_audited(client_for, acme, alice, bob):
    """Rooms are renamed and deleted in the admin only: through the room services, which
    write the organization's audit log with the staff member as the actor."""
    board = BoardFactory(created_by=alice, organization=acme, members=[bob])
    room = ChatRoomFactory(board=board, name="ops", created_by=alice, members=[bob])
    staff = client_for(UserFactory(username="root", is_staff=True, is_superuser=True))
    url = reverse("admin:messaging_chatroom_change", args=[room.pk])
    data = change_form_data(staff.get(url).content.decode(), name="operations")

    assert staff.post(url, data).status_code == 302
    assert (
        staff.post(
            reverse("admin:messaging_chatroom_delete", args=[room.pk]), {"post": "yes"}
        ).status_code
        == 302
    )

    assert not ChatRoom.objects.filter(pk=room.pk).exists()
    entries = AuditLog.objects.filter(
        organization=acme, action__in=["room.renamed", "room.deleted"]
    )
    assert list(entries.order_by("pk").values_list("action", "actor_label", "changes")) == [
        ("room.renamed", "root", {"name": ["ops", "operations"]}),
        ("room.deleted", "root", {"name": "operations", "board": board.name}),
    ]
    assert set(entries.values_list("target_id", flat=True)) == {room.pk}


def test_a_moderators_deletion_is_audited_and_an_authors_own_is_not(
    client_for, acme, alice, bob, carol
):
    """bob (an admin of Acme) deletes carol's message; carol deletes her own."""
    board = BoardFactory(created_by=alice, organization=acme, members=[bob, carol])
    room = ChatRoomFactory(board=board, created_by=alice, members=[bob, carol])
    theirs = post_chat_message(room=room, author=carol, content="moderate me")
    own = post_chat_message(room=room, author=carol, content="I take it back")

    moderated = client_for(bob, REMOTE_ADDR="198.51.100.9").post(
        reverse("messaging:message_delete", args=[theirs.pk]), HTTP_ACCEPT="application/json"
    )
    withdrawn = client_for(carol).post(
        reverse("messaging:message_delete", args=[own.pk]), HTTP_ACCEPT="application/json"
    )

    assert (moderated.status_code, withdrawn.status_code) == (200, 200)
    assert ChatMessage.objects.filter(pk__in=[theirs.pk, own.pk], is_deleted=True).count() == 2
    entry = AuditLog.objects.get(action="message.deleted")
    assert (entry.organization, entry.actor, entry.target_id) == (acme, bob, theirs.pk)
    assert entry.changes == {"author": "carol"} and entry.ip_address == "198.51.100.9"
    assert "moderate me" not in str(entry.changes) + entry.target_label


# --- pages --------------------------------------------------------------------------------


def test_org_list_shows_mine_with_my_role(client_for, acme, carol, dave):
    html = client_for(carol).get(reverse("orgs:list")).content.decode()
    assert "Acme" in html and "Globex" not in html
    assert re.search(r'data-org-slug="acme".*?org-role">member<', html, re.S)


def test_new_organization_page_makes_me_its_owner(client_for, dave):
    response = client_for(dave).post(reverse("orgs:create"), {"name": "Initech"})
    org = Organization.objects.get(name="Initech")
    assert response.status_code == 302 and response.url == org.get_absolute_url()
    assert membership(org, dave).role == Role.OWNER


@pytest.mark.parametrize("name", ["detail", "audit", "leave", "rename", "invite"])
def test_org_pages_are_404_for_non_members_like_a_missing_slug(client_for, acme, dave, name):
    client = client_for(dave)
    for slug in ("acme", "no-such-org"):
        url = reverse(f"orgs:{name}", args=[slug])
        response = client.post(url) if name in ("leave", "rename", "invite") else client.get(url)
        assert response.status_code == 404, url


def test_member_and_invitation_actions_are_404_for_non_members(
    client_for, acme, alice, carol, dave
):
    invitation, _ = invite(acme, alice)
    client = client_for(dave)
    urls = [
        reverse("orgs:member_role", args=["acme", carol.pk]),
        reverse("orgs:member_remove", args=["acme", carol.pk]),
        reverse("orgs:invitation_revoke", args=["acme", invitation.pk]),
    ]
    for url in urls:
        assert client.post(url, {"role": "owner"}).status_code == 404, url
    assert membership(acme, carol).role == Role.MEMBER
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_admins_read_the_audit_log_too(client_for, acme, bob):
    assert client_for(bob).get(reverse("orgs:audit", args=["acme"])).status_code == 200


def test_my_boards_groups_boards_by_organization(client_for, acme, alice, carol, dave):
    """carol is in Acme and Globex; each board sits under its own organization's heading,
    whatever the board names' order."""
    globex = Organization.objects.get(slug="globex")
    join_organization(globex, carol)
    for name, org, creator in (
        ("Alpha", acme, alice),
        ("Middle", globex, dave),
        ("Zulu", acme, alice),
    ):
        BoardFactory(name=name, created_by=creator, organization=org, members=[carol])

    html = client_for(carol).get(reverse("kanban:board_list")).content.decode()

    sections = re.findall(r'data-org-slug="([^"]+)"(.*?)</section>', html, re.S)
    grouped = {
        slug: re.findall(r'class="stretched-link[^"]*" href="[^"]+">([^<]+)<', body)
        for slug, body in sections
    }
    assert [slug for slug, _ in sections] == ["acme", "globex"]
    assert grouped == {"acme": ["Alpha", "Zulu"], "globex": ["Middle"]}


def test_members_see_the_page_but_not_its_management(client_for, acme, carol, bob):
    client = client_for(carol)
    html = client.get(reverse("orgs:detail", args=["acme"])).content.decode()
    assert "bob" in html and 'id="invite-form"' not in html
    assert client.get(reverse("orgs:audit", args=["acme"])).status_code == 404
    before = membership(acme, bob).role
    url = reverse("orgs:member_role", args=["acme", bob.pk])
    assert client.post(url, {"role": "member"}).status_code == 404
    assert client.post(reverse("orgs:member_remove", args=["acme", bob.pk])).status_code == 404
    assert membership(acme, bob).role == before


def test_owners_manage_members_on_the_page_and_the_last_owner_is_told_why_not(
    client_for, acme, alice, bob, carol
):
    client = client_for(alice)
    page = reverse("orgs:detail", args=["acme"])

    def post(name: str, *args, **data) -> str:
        response = client.post(reverse(f"orgs:{name}", args=["acme", *args]), data, follow=True)
        assert response.status_code == 200
        return response.content.decode()

    assert "is now admin" in post("member_role", carol.pk, role="admin")
    assert membership(acme, carol).role == Role.ADMIN
    assert "The last owner cannot be demoted" in post("member_role", alice.pk, role="member")
    assert "The last owner cannot leave" in post("leave")
    assert membership(acme, alice).role == Role.OWNER
    assert "was removed from Acme" in post("member_remove", bob.pk)
    assert not Membership.objects.filter(organization=acme, user=bob).exists()
    invitation, link = invite(acme, alice)
    assert "revoked" in post("invitation_revoke", invitation.pk)
    assert client.get(link.removeprefix("http://testserver")).status_code == 404

    leaving = client_for(carol).post(reverse("orgs:leave", args=["acme"]))
    assert leaving.status_code == 302 and leaving.url == reverse("orgs:list")
    assert client_for(carol).get(page).status_code == 404


def test_inviting_shows_the_link_to_copy(client_for, acme, alice):
    client = client_for(alice)
    response = client.post(
        reverse("orgs:invite", args=["acme"]), {"email": "pat@example.com", "role": "member"}
    )
    assert response.status_code == 302
    html = client.get(response.url).content.decode()
    link = re.search(r'class="form-control invitation-link" readonly value="([^"]+)"', html)
    assert link and "/invite/" in link.group(1)
    assert "pat@example.com" in html


def test_inviting_a_bad_address_is_a_400_with_a_message(client_for, acme, alice):
    response = client_for(alice).post(
        reverse("orgs:invite", args=["acme"]), {"email": "not-an-address", "role": "member"}
    )
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


def test_a_new_person_signs_up_through_the_link_and_joins(client, acme, alice):
    _, link = invite(acme, alice, email="pat@example.com")
    path = link.removeprefix("http://testserver")

    page = client.get(path)
    assert page.status_code == 200 and "Join Acme" in page.content.decode()
    response = client.post(
        path,
        {
            "username": "pat",
            "email": "pat@example.com",
            "password1": "A-long-pass-4711",
            "password2": "A-long-pass-4711",
        },
    )

    assert response.status_code == 302 and response.url == acme.get_absolute_url()
    pat = User.objects.get(username="pat")
    assert list(
        Membership.objects.filter(user=pat).values_list("organization__slug", flat=True)
    ) == ["acme"]
    assert client.get(acme.get_absolute_url()).status_code == 200  # logged in, a member
    assert client.get(path).status_code == 404  # used up


def test_with_sign_up_closed_the_invitation_page_still_signs_people_up(
    client, acme, alice, settings
):
    settings.SIGNUP_OPEN = False
    _, link = invite(acme, alice, email="pat@example.com")
    data = {
        "username": "pat",
        "email": "pat@example.com",
        "password1": "A-long-pass-4711",
        "password2": "A-long-pass-4711",
    }
    closed = client.post(reverse("accounts:signup"), {**data, "username": "mallory"})
    assert closed.status_code == 403

    response = client.post(link.removeprefix("http://testserver"), data)

    assert response.status_code == 302 and response.url == acme.get_absolute_url()
    assert membership(acme, User.objects.get(username="pat")).role == Role.MEMBER
    assert not User.objects.filter(username="mallory").exists()


def test_an_existing_user_logs_in_and_joins(client, acme, alice, dave, password):
    _, link = invite(acme, alice, email="dave@example.com")
    path = link.removeprefix("http://testserver")
    login_link = re.search(r'href="([^"]+)" id="invite-login"', client.get(path).content.decode())
    response = client.post(
        login_link.group(1).replace("&amp;", "&"), {"username": "dave", "password": password}
    )
    assert response.url == path  # back to the invitation

    joined = client.post(path)

    assert joined.status_code == 302
    assert membership(acme, dave).role == Role.MEMBER


def test_a_bad_link_is_a_404_page_saying_so(client):
    response = client.get(reverse("orgs:invite_accept", args=["nope"]))
    assert response.status_code == 404
    assert "invalid, already used or expired" in response.content.decode()


# --- the demo -----------------------------------------------------------------------------


def test_seed_demo_makes_acme_and_globex_with_nothing_shared():
    call_command("seed_demo", stdout=io.StringIO())

    def people(slug: str) -> dict[str, str]:
        return dict(
            Membership.objects.filter(organization__slug=slug).values_list("user__username", "role")
        )

    assert people("acme") == {"alice": "owner", "bob": "member", "carol": "member"}
    assert people("globex") == {"dave": "owner", "erin": "member"}
    readers = {
        board.organization.slug: set(
            board_access.board_readers(board.pk).values_list("username", flat=True)
        )
        for board in Board.objects.select_related("organization")
    }
    assert readers == {"acme": {"alice", "bob", "carol"}, "globex": {"dave", "erin"}}


# --- the audit page -----------------------------------------------------------------------


@pytest.fixture
def logged(acme, alice, bob):
    """60 board creations by alice and one room creation by bob, on known dates."""
    from django.db import transaction

    with transaction.atomic():
        for i in range(60):
            record_audit(
                organization=acme,
                actor=alice,
                action="board.created",
                target_type="board",
                target_id=i,
                target_label=f"=HYPERLINK(board {i})" if i == 0 else f"board {i}",
            )
        record_audit(
            organization=acme,
            actor=bob,
            action="room.created",
            target_type="room",
            target_label="x",
        )
    AuditLog.objects.filter(actor=alice).update(created_at=timezone.now() - timedelta(days=10))
    return acme


def test_audit_page_pages_and_filters(client_for, logged, alice):
    client = client_for(alice)
    url = reverse("orgs:audit", args=["acme"])

    first = client.get(url)
    assert first.status_code == 200
    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].paginator.count == 61
    second = client.get(url, {"page": 2})
    assert len(second.context["page"].object_list) == 11

    by_bob = client.get(url, {"actor": "bob"}).context["page"].object_list
    assert [e.action for e in by_bob] == ["room.created"]
    rooms = client.get(url, {"action": "room.created"}).context["page"].object_list
    assert len(rooms) == 1
    today = timezone.localdate()
    recent = client.get(url, {"since": today.isoformat()}).context["page"].paginator.count
    older = client.get(url, {"until": (today - timedelta(days=5)).isoformat()})
    assert older.context["page"].paginator.count == 60
    assert recent == 1
    bad = client.get(url, {"since": today.isoformat(), "until": "2000-01-01"})
    assert bad.status_code == 400


def test_audit_csv_export_has_every_matching_row_and_no_formulas(client_for, logged, alice):
    response = client_for(alice).get(
        reverse("orgs:audit", args=["acme"]), {"action": "board.created", "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["created_at", "actor", "action"]
    assert len(rows) == 1 + 60
    labels = {row[5] for row in rows[1:]}
    assert "'=HYPERLINK(board 0)" in labels  # a spreadsheet shows it, never runs it


# --- the admin ----------------------------------------------------------------------------


def test_audit_log_is_read_only_in_the_admin(client_for, logged):
    root = client_for(UserFactory(username="root", is_staff=True, is_superuser=True))
    entry = AuditLog.objects.filter(organization=logged).first()
    before = AuditLog.objects.count()

    assert root.get(reverse("admin:accounts_auditlog_changelist")).status_code == 200
    change = root.get(reverse("admin:accounts_auditlog_change", args=[entry.pk]))
    assert change.status_code == 200 and 'name="action"' not in change.content.decode()
    assert root.get(reverse("admin:accounts_auditlog_add")).status_code == 403
    assert (
        root.post(reverse("admin:accounts_auditlog_change", args=[entry.pk]), {}).status_code == 403
    )
    assert (
        root.post(
            reverse("admin:accounts_auditlog_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditLog.objects.count() == before
