"""Organization pages: mine, new, settings + members + invitations, the audit log, and the
invitation link. Non-members get 404 for every one of them, like a slug that does not exist;
members who cannot manage the organization get 404 for its management actions and audit log.
Each view: access selector -> form -> one service -> render or redirect."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import access, org_selectors, org_services, services
from .forms import SignUpForm
from .models import Membership
from .org_forms import AuditFilterForm, InviteForm, OrganizationForm, RoleForm

AUDIT_PAGE_SIZE = 50


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# --- list and create ---------------------------------------------------------------------


@require_GET
def organization_list(request: HttpRequest) -> HttpResponse:
    organizations = org_selectors.organizations_for(request.user)
    return render(request, "accounts/org_list.html", {"organizations": organizations})


@require_http_methods(["GET", "POST"])
def organization_create(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = org_services.create_organization(
                name=form.cleaned_data["name"], created_by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Organization “{organization.name}” created.")
            return redirect(organization)
    return render(
        request, "accounts/org_form.html", {"form": form}, status=400 if form.errors else 200
    )


# --- settings, members, invitations ------------------------------------------------------


def _render_detail(
    request: HttpRequest, organization, *, invite_form=None, rename_form=None, status=200
) -> HttpResponse:
    role = access.role_in(request.user, organization.pk)
    can_manage = role in access.MANAGER_ROLES
    context = {
        "organization": organization,
        "memberships": org_selectors.memberships_of(organization),
        "my_role": role,
        "can_manage": can_manage,
        "is_owner": role == Membership.Role.OWNER,
        "roles": Membership.Role.choices,
        "boards": organization.boards.filter(pk__in=_readable_board_ids(request.user)).order_by(
            "name"
        ),
    }
    if can_manage:
        base = _base_url(request)
        context["invitations"] = [
            (invitation, org_services.invitation_url(invitation, base_url=base))
            for invitation in org_selectors.pending_invitations(organization)
        ]
        context["invite_form"] = invite_form or InviteForm()
        context["rename_form"] = rename_form or OrganizationForm(
            initial={"name": organization.name}
        )
    return render(request, "accounts/org_detail.html", context, status=status)


def _readable_board_ids(user):
    from kanban.access import readable_boards

    return readable_boards(user).values("pk")


@require_GET
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = org_selectors.get_organization_for(request.user, slug)
    return _render_detail(request, organization)


@require_POST
def organization_rename(request: HttpRequest, slug: str) -> HttpResponse:
    organization = org_selectors.get_managed_organization_for(request.user, slug)
    form = OrganizationForm(request.POST)
    if form.is_valid():
        try:
            org_services.rename_organization(
                organization=organization, name=form.cleaned_data["name"], renamed_by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Organization renamed.")
            return redirect(organization)
    return _render_detail(request, organization, rename_form=form, status=400)


@require_POST
def organization_invite(request: HttpRequest, slug: str) -> HttpResponse:
    organization = org_selectors.get_managed_organization_for(request.user, slug)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, _link = org_services.invite_member(
                organization=organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                base_url=_base_url(request),
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Invitation e-mailed to {invitation.email}. You can also copy its link below.",
            )
            return redirect(f"{organization.get_absolute_url()}#invitation-{invitation.pk}")
    return _render_detail(request, organization, invite_form=form, status=400)


@require_POST
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    organization = org_selectors.get_managed_organization_for(request.user, slug)
    invitation = org_selectors.get_invitation_for(request.user, organization, invitation_id)
    org_services.revoke_invitation(invitation=invitation, revoked_by=request.user)
    messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect(organization)


@require_POST
def member_role(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    organization = org_selectors.get_managed_organization_for(request.user, slug)
    membership = org_selectors.get_membership_for(request.user, organization, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: owner, admin or member.")
        return redirect(organization)
    try:
        org_services.change_role(
            membership=membership, role=form.cleaned_data["role"], changed_by=request.user
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request, f"{membership.user.get_display_name()} is now {form.cleaned_data['role']}."
        )
    return redirect(organization)


@require_POST
def member_remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    organization = org_selectors.get_managed_organization_for(request.user, slug)
    membership = org_selectors.get_membership_for(request.user, organization, user_id)
    try:
        org_services.remove_member(membership=membership, removed_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect(organization)
    messages.success(
        request,
        f"{membership.user.get_display_name()} was removed from {organization.name}, "
        "its boards and its rooms.",
    )
    if membership.user_id == request.user.pk:
        return redirect("orgs:list")
    return redirect(organization)


@require_POST
def organization_leave(request: HttpRequest, slug: str) -> HttpResponse:
    organization = org_selectors.get_organization_for(request.user, slug)
    membership = org_selectors.get_membership_for(request.user, organization, request.user.pk)
    try:
        org_services.remove_member(membership=membership, removed_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect(organization)
    messages.success(request, f"You left {organization.name}.")
    return redirect("orgs:list")


# --- audit log ---------------------------------------------------------------------------

CSV_COLUMNS = (
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "ip_address",
)


def _csv_cell(value: object) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
def organization_audit(request: HttpRequest, slug: str) -> HttpResponse:
    """Owners and admins: the log with filters, 50 a page; `?format=csv` exports every row
    the filters match."""
    import json

    organization = org_selectors.get_managed_organization_for(request.user, slug)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "accounts/org_audit.html",
            {"organization": organization, "form": form, "page": None, "actors": []},
            status=400,
        )
    data = form.cleaned_data
    entries = org_selectors.audit_entries(
        organization,
        actor=data["actor"],
        action=data["action"],
        since=data["since"],
        until=data["until"],
    )
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{organization.slug}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for entry in entries.iterator():
            writer.writerow(
                _csv_cell(value)
                for value in (
                    entry.created_at.isoformat(),
                    entry.actor_label,
                    entry.action,
                    entry.target_type,
                    entry.target_id,
                    entry.target_label,
                    json.dumps(entry.changes, ensure_ascii=False, sort_keys=True),
                    entry.ip_address,
                )
            )
        return response
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/org_audit.html",
        {
            "organization": organization,
            "form": form,
            "page": page,
            "actors": org_selectors.audit_actors(organization),
            "query": query.urlencode(),
        },
    )


# --- the invitation link -----------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """A new person signs up here and joins; someone logged in joins with one click; someone
    with an account but logged out is offered the log-in page, which brings them back."""
    try:
        invitation = org_services.get_invitation_for_token(token)
    except ValidationError as error:
        return render(
            request, "accounts/invite_invalid.html", {"message": _error_text(error)}, status=404
        )
    organization = invitation.organization
    context = {"invitation": invitation, "organization": organization}
    if request.user.is_authenticated:
        already = access.can_read_organization(request.user, organization.pk)
        if request.method == "POST":
            try:
                org_services.accept_invitation(invitation=invitation, user=request.user)
            except ValidationError as error:
                messages.error(request, _error_text(error))
                return redirect("orgs:list")
            messages.success(request, f"You joined {organization.name}.")
            return redirect(organization)
        return render(request, "accounts/invite_accept.html", {**context, "already": already})

    form = SignUpForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_up(form=form, invitation=invitation)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {organization.name}, {user.get_display_name()}!")
            return redirect(organization)
    login_url = f"{reverse('accounts:login')}?next={request.path}"
    return render(
        request,
        "accounts/invite_accept.html",
        {**context, "form": form, "login_url": login_url},
        status=400 if form.errors else 200,
    )
