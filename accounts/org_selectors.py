"""Reads about organizations, scoped to a user. `get_organization_for` raises Http404 for a
missing slug and for an organization the user is not in alike; `get_managed_organization_for`
does the same for one they cannot manage (its audit log, its member controls)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from . import access
from .models import AuditLog, Invitation, Membership, Organization, User


def organizations_for(user: User) -> QuerySet[Organization]:
    """The user's organizations by name, each with `my_role`, `member_count` and
    `board_count`. One query."""
    from kanban.models import Board

    members = (
        access.member_rows()
        .filter(organization_id=OuterRef("pk"))
        .order_by()
        .values("organization_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    boards = (
        Board.objects.filter(organization_id=OuterRef("pk"))
        .order_by()
        .values("organization_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    my_role = access.member_rows().filter(organization_id=OuterRef("pk"), user_id=user.pk)
    return (
        access.readable_organizations(user)
        .annotate(
            my_role=Subquery(my_role.values("role")[:1]),
            member_count=Coalesce(Subquery(members), 0),
            board_count=Coalesce(Subquery(boards), 0),
        )
        .order_by("name", "pk")
    )


def get_organization_for(user: User, slug: str) -> Organization:
    organization = access.readable_organizations(user).filter(slug=slug).first()
    if organization is None:
        raise Http404("No such organization.")
    return organization


def get_managed_organization_for(user: User, slug: str) -> Organization:
    """The organization if the user is one of its owners or admins, else Http404 (a member
    who cannot manage it learns nothing more than a stranger)."""
    organization = get_organization_for(user, slug)
    if not access.can_manage_organization(user, organization.pk):
        raise Http404("No such organization.")
    return organization


def memberships_of(organization: Organization) -> QuerySet[Membership]:
    """Its active members' memberships, owners first, then by username."""
    order = {Membership.Role.OWNER: 0, Membership.Role.ADMIN: 1, Membership.Role.MEMBER: 2}
    from django.db.models import Case, IntegerField, Value, When

    rank = Case(
        *(When(role=role, then=Value(n)) for role, n in order.items()),
        output_field=IntegerField(),
    )
    return (
        access.member_rows()
        .filter(organization=organization)
        .select_related("user")
        .annotate(rank=rank)
        .order_by("rank", "user__username")
    )


def get_membership_for(manager: User, organization: Organization, user_id: int) -> Membership:
    """A membership the manager may act on; Http404 for a user outside the organization."""
    membership = (
        access.member_rows()
        .filter(organization=organization, user_id=user_id)
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


def get_invitation_for(manager: User, organization: Organization, invitation_id: int) -> Invitation:
    invitation = pending_invitations(organization).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def audit_entries(
    organization: Organization,
    *,
    actor: str = "",
    action: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditLog]:
    """The organization's audit log, newest first, filtered by actor username, action and an
    inclusive date range (in the current time zone)."""
    entries = AuditLog.objects.filter(organization=organization)
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if action:
        entries = entries.filter(action=action)
    zone = timezone.get_current_timezone()
    if since is not None:
        entries = entries.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        next_day = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
        entries = entries.filter(created_at__lt=next_day)
    return entries.order_by("-created_at", "-pk")


def audit_actors(organization: Organization) -> list[str]:
    """Usernames that appear as actors in the organization's log (for the filter)."""
    return list(
        AuditLog.objects.filter(organization=organization)
        .exclude(actor_label="")
        .order_by("actor_label")
        .values_list("actor_label", flat=True)
        .distinct()
    )
