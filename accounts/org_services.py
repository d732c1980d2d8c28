"""Organizations, their members and invitations. Views, the admin, sign-up and commands call
these; nothing else writes Organization, Membership or Invitation rows.

Every change is recorded in the audit log in its own transaction. Ending someone's
membership ends their access to everything in the organization: their board and room rows
there are removed, their tasks there unassigned, and their open sockets asked to re-check
access after commit (the path board removal uses), so they close at once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from messaging import realtime

from . import access
from .audit import Action, record_audit
from .models import Invitation, Membership, Organization, User

Role = Membership.Role
INVITATION_SALT = "accounts.invitation"
NAME_MAX_LENGTH = Organization._meta.get_field("name").max_length


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the organization a name."}, code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"Names are limited to {NAME_MAX_LENGTH} characters."}, code="too_long"
        )
    return name


def _unique_slug(name: str) -> str:
    base = (slugify(name) or "org")[:50].strip("-") or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- organizations -----------------------------------------------------------------------


@transaction.atomic
def create_organization(*, name: str, created_by: User) -> Organization:
    """A new organization; its creator is its owner. The slug comes from the name (made
    unique with a number)."""
    name = _clean_name(name)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                organization = Organization.objects.create(name=name, slug=_unique_slug(name))
            break
        except IntegrityError:  # a concurrent create took the slug: pick the next one
            continue
    else:
        raise ValidationError({"name": "Could not pick an address for it; try another name."})
    Membership.objects.create(organization=organization, user=created_by, role=Role.OWNER)
    record_audit(
        organization=organization,
        actor=created_by,
        action=Action.ORG_CREATED,
        target=organization,
        changes={"name": name, "slug": organization.slug},
    )
    return organization


@transaction.atomic
def rename_organization(*, organization: Organization, name: str, renamed_by: User) -> Organization:
    """Owners and admins rename it; the slug (its address) stays."""
    _require_manager(organization, renamed_by)
    old = organization.name
    organization.name = _clean_name(name)
    if organization.name != old:
        organization.save(update_fields=["name"])
        record_audit(
            organization=organization,
            actor=renamed_by,
            action=Action.ORG_RENAMED,
            target=organization,
            changes={"name": [old, organization.name]},
        )
    return organization


def personal_organization_name(user: User) -> str:
    return f"{user.get_display_name()}'s workspace"[:NAME_MAX_LENGTH]


@transaction.atomic
def default_organization_for(user: User) -> Organization:
    """The organization a board goes into when none is named: the user's oldest one, or a
    new personal one they own if they belong to none."""
    membership = (
        access.member_rows()
        .filter(user_id=user.pk)
        .select_related("organization")
        .order_by("joined_at", "pk")
        .first()
    )
    if membership is not None:
        return membership.organization
    return create_organization(name=personal_organization_name(user), created_by=user)


# --- members -----------------------------------------------------------------------------


def _require_manager(organization: Organization, user: User) -> None:
    if not access.can_manage_organization(user, organization.pk):
        raise ValidationError(
            "Only the organization's owners and admins can do that.", code="forbidden"
        )


def _owner_count(organization: Organization) -> int:
    return access.member_rows().filter(organization=organization, role=Role.OWNER).count()


@transaction.atomic
def add_member(
    *, organization: Organization, user: User, added_by: User, role: str = Role.MEMBER
) -> Membership:
    """Put an existing user straight into the organization (owners and admins; the admin
    site and `seed_demo` use it; people normally join by invitation). Idempotent: someone
    already in it keeps their role."""
    _require_manager(organization, added_by)
    if role not in Role.values:
        raise ValidationError(f"Unknown role “{role}”.", code="invalid")
    if role == Role.OWNER and access.role_in(added_by, organization.pk) != Role.OWNER:
        raise ValidationError("Only an owner can make an owner.", code="forbidden")
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if created:
        record_audit(
            organization=organization,
            actor=added_by,
            action=Action.MEMBER_JOINED,
            target=user,
            target_label=user.username,
            changes={"role": role, "added_by": added_by.username},
        )
    return membership


@transaction.atomic
def change_role(*, membership: Membership, role: str, changed_by: User) -> Membership:
    """Owners and admins change roles; only an owner makes or unmakes an owner; the last
    owner cannot be demoted."""
    organization = membership.organization
    _require_manager(organization, changed_by)
    if role not in Role.values:
        raise ValidationError(f"Unknown role “{role}”.", code="invalid")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    old = membership.role
    if old == role:
        return membership
    if Role.OWNER in (old, role) and access.role_in(changed_by, organization.pk) != Role.OWNER:
        raise ValidationError("Only an owner can make or unmake an owner.", code="forbidden")
    # Lock the owners so two concurrent demotions cannot both see "another owner left".
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))
    if old == Role.OWNER and _owner_count(organization) <= 1:
        raise ValidationError(
            "The last owner cannot be demoted: make someone else an owner first.",
            code="last_owner",
        )
    membership.role = role
    membership.save(update_fields=["role"])
    record_audit(
        organization=organization,
        actor=changed_by,
        action=Action.MEMBER_ROLE_CHANGED,
        target=membership.user,
        target_label=membership.user.username,
        changes={"role": [old, role]},
    )
    return membership


def hand_over_ownership(*, leaving: User) -> list[Membership]:
    """`leaving` is about to be deactivated or deleted (by staff). In every organization where
    they are the last owner and other active people remain, the longest-standing admin (else
    member) becomes an owner, so the organization can still be managed; the audit log records
    it. Returns the promoted memberships. Runs in the caller's transaction."""
    promoted: list[Membership] = []
    # Their own row counts even if the admin's form has already cleared is_active.
    owned = Membership.objects.filter(user=leaving, role=Role.OWNER).values("organization_id")
    for organization in Organization.objects.filter(pk__in=owned).order_by("pk"):
        list(Membership.objects.select_for_update().filter(organization=organization))
        owners = access.member_rows().filter(organization=organization, role=Role.OWNER)
        if owners.exclude(user=leaving).exists():
            continue
        heir = (
            access.member_rows()
            .filter(organization=organization)
            .exclude(user=leaving)
            .order_by(
                models.Case(models.When(role=Role.ADMIN, then=0), default=1), "joined_at", "pk"
            )
            .select_related("user")
            .first()
        )
        if heir is None:
            continue
        old = heir.role
        heir.role = Role.OWNER
        heir.save(update_fields=["role"])
        record_audit(
            organization=organization,
            actor=None,
            action=Action.MEMBER_ROLE_CHANGED,
            target=heir.user,
            target_label=heir.user.username,
            changes={"role": [old, Role.OWNER], "reason": f"last owner {leaving.username} left"},
        )
        promoted.append(heir)
    return promoted


@transaction.atomic
def remove_member(*, membership: Membership, removed_by: User) -> None:
    """Remove someone from the organization (owners and admins; anyone may remove
    themselves: leaving). Only an owner removes an owner; the last owner cannot leave.

    Their rows on the organization's boards and rooms go too, their tasks there become
    unassigned, and their open sockets re-check access after commit and close."""
    from kanban.models import Board, Task
    from messaging.models import ChatRoom, UserTypingStatus

    organization = membership.organization
    user = membership.user
    leaving = user.pk == removed_by.pk
    if not leaving:
        _require_manager(organization, removed_by)
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))
    membership = Membership.objects.filter(pk=membership.pk).first()
    if membership is None:
        return
    if membership.role == Role.OWNER:
        if not leaving and access.role_in(removed_by, organization.pk) != Role.OWNER:
            raise ValidationError("Only an owner can remove an owner.", code="forbidden")
        if _owner_count(organization) <= 1:
            raise ValidationError(
                "The last owner cannot leave: make someone else an owner first.",
                code="last_owner",
            )
    boards = Board.objects.filter(organization=organization)
    # Raw row deletes on purpose: this service owns ending every access in the organization
    # at once (kanban.services.remove_member refuses a board's creator, who must go too).
    board_rows = Board.members.through.objects.filter(user=user, board__in=boards).delete()[0]
    room_rows = ChatRoom.members.through.objects.filter(
        user=user, chatroom__board__in=boards
    ).delete()[0]
    UserTypingStatus.objects.filter(user=user, chat_room__board__in=boards).delete()
    Task.objects.filter(column__board__in=boards, assignee=user).update(assignee=None)
    role = membership.role
    membership.delete()
    record_audit(
        organization=organization,
        actor=removed_by,
        action=Action.MEMBER_REMOVED,
        target=user,
        target_label=user.username,
        changes={"role": role, "left": leaving, "boards": board_rows, "rooms": room_rows},
    )
    realtime.signal_access_changed_on_commit(user.pk)


# --- invitations -------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    """The signed token of an invitation link (it names the row and its secret key)."""
    return signing.dumps({"i": invitation.pk, "k": invitation.key}, salt=INVITATION_SALT)


def invitation_url(invitation: Invitation, *, base_url: str) -> str:
    return base_url.rstrip("/") + reverse("orgs:invite_accept", args=[invitation_token(invitation)])


INVALID_INVITATION = "This invitation link is invalid, already used or expired."


def get_invitation_for_token(token: str) -> Invitation:
    """The pending invitation a token names, or ValidationError: a forged or altered token,
    one older than INVITATION_MAX_AGE_DAYS, one already used and a revoked one all fail
    alike."""
    max_age = timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        raise ValidationError(INVALID_INVITATION, code="invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise ValidationError(INVALID_INVITATION, code="invalid")
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(pk=data["i"], key=str(data.get("k")), accepted_at__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        raise ValidationError(INVALID_INVITATION, code="invalid")
    return invitation


@transaction.atomic
def invite_member(
    *, organization: Organization, email: str, invited_by: User, base_url: str, role: str = ""
) -> tuple[Invitation, str]:
    """Invite an e-mail address (owners and admins). The link is e-mailed after commit and
    returned, so the inviter can copy it too. Returns (invitation, link)."""
    _require_manager(organization, invited_by)
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid e-mail address."}, code="invalid") from None
    role = role or Role.MEMBER
    if role not in (Role.MEMBER, Role.ADMIN):
        raise ValidationError({"role": "Invite as a member or an admin."}, code="invalid")
    if access.organization_members(organization.pk).filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": "Someone with that address is already a member."}, code="member"
        )
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        key=secrets.token_urlsafe(24),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
    )
    link = invitation_url(invitation, base_url=base_url)
    record_audit(
        organization=organization,
        actor=invited_by,
        action=Action.MEMBER_INVITED,
        target=invitation,
        target_label=email,
        changes={"email": email, "role": role},
    )
    subject = f"{invited_by.get_display_name()} invited you to {organization.name} on TaskFlow"
    body = (
        f"{invited_by.get_display_name()} invited you to join “{organization.name}” on "
        f"TaskFlow.\n\nOpen this link to sign up or log in and join (it works once, for "
        f"{settings.INVITATION_MAX_AGE_DAYS} days):\n\n{link}\n"
    )
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [email], fail_silently=True), robust=True
    )
    return invitation, link


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, revoked_by: User) -> None:
    """Delete a pending invitation: its link stops working."""
    _require_manager(invitation.organization, revoked_by)
    invitation.delete()


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's organization with its role; the invitation is used up. Someone
    already in the organization keeps their role (the link is still used up)."""
    locked = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if locked is None or locked.accepted_at is not None or locked.expires_at <= timezone.now():
        raise ValidationError(INVALID_INVITATION, code="invalid")
    locked.accepted_at = timezone.now()
    locked.accepted_by = user
    locked.save(update_fields=["accepted_at", "accepted_by"])
    organization = locked.organization
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": locked.role}
    )
    if created:
        record_audit(
            organization=organization,
            actor=user,
            action=Action.MEMBER_JOINED,
            target=user,
            target_label=user.username,
            changes={"role": membership.role, "invitation": locked.pk, "email": locked.email},
        )
    return membership
