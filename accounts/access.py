"""Who may see and manage an organization: the one place that decides it.

A person belongs to an organization while they are active and hold a `Membership` in it;
owners and admins manage it (invite, change roles, remove members, read the audit log).
`member_rows()` is the rule, as a queryset of Membership rows; the predicates and querysets
below only narrow it, so changing the rule is a change here.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Membership, Organization, User

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def member_rows() -> QuerySet[Membership]:
    """Memberships that count: their user is active."""
    return Membership.objects.filter(user__is_active=True)


def _user_id(user: User) -> int | None:
    return user.pk if getattr(user, "is_authenticated", False) else None


def readable_organizations(user: User) -> QuerySet[Organization]:
    """Organizations the user belongs to."""
    user_id = _user_id(user)
    if user_id is None:
        return Organization.objects.none()
    return Organization.objects.filter(
        pk__in=member_rows().filter(user_id=user_id).values("organization_id")
    )


def can_read_organization(user: User, organization_id: int) -> bool:
    user_id = _user_id(user)
    return (
        user_id is not None
        and member_rows().filter(user_id=user_id, organization_id=organization_id).exists()
    )


def can_manage_organization(user: User, organization_id: int) -> bool:
    """Owners and admins invite, change roles, remove members and read the audit log."""
    user_id = _user_id(user)
    return (
        user_id is not None
        and member_rows()
        .filter(user_id=user_id, organization_id=organization_id, role__in=MANAGER_ROLES)
        .exists()
    )


def organization_members(organization_id: int) -> QuerySet[User]:
    """The active people of an organization: everyone a person picker in it may offer."""
    return User.objects.filter(
        pk__in=member_rows().filter(organization_id=organization_id).values("user_id")
    )


def role_in(user: User, organization_id: int) -> str | None:
    """The user's role in the organization, or None when they are not (or no longer) in it."""
    user_id = _user_id(user)
    if user_id is None:
        return None
    return (
        member_rows()
        .filter(user_id=user_id, organization_id=organization_id)
        .values_list("role", flat=True)
        .first()
    )


def colleagues(user: User) -> QuerySet[User]:
    """Active people who share at least one organization with `user` (the user included):
    everyone a direct-message picker may offer or a direct room may hold."""
    user_id = _user_id(user)
    if user_id is None:
        return User.objects.none()
    mine = member_rows().filter(user_id=user_id).values("organization_id")
    return User.objects.filter(
        pk__in=member_rows().filter(organization_id__in=mine).values("user_id")
    )


def shared_organization_ids(user_ids: list[int]) -> list[int]:
    """Organizations every one of `user_ids` belongs to, lowest id first."""
    rows = member_rows().filter(user_id__in=user_ids).values_list("user_id", "organization_id")
    by_user: dict[int, set[int]] = {}
    for user_id, org_id in rows:
        by_user.setdefault(user_id, set()).add(org_id)
    shared: set[int] | None = None
    for user_id in user_ids:
        mine = by_user.get(user_id, set())
        shared = mine if shared is None else shared & mine
    return sorted(shared or ())
