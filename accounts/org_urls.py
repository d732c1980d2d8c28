"""Organization routes (namespace `orgs:`)."""

from django.urls import path

from . import org_views as views

app_name = "orgs"

urlpatterns = [
    path("orgs/", views.organization_list, name="list"),
    path("orgs/new/", views.organization_create, name="create"),
    path("orgs/<slug:slug>/", views.organization_detail, name="detail"),
    path("orgs/<slug:slug>/rename/", views.organization_rename, name="rename"),
    path("orgs/<slug:slug>/invite/", views.organization_invite, name="invite"),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("orgs/<slug:slug>/members/<int:user_id>/role/", views.member_role, name="member_role"),
    path(
        "orgs/<slug:slug>/members/<int:user_id>/remove/", views.member_remove, name="member_remove"
    ),
    path("orgs/<slug:slug>/leave/", views.organization_leave, name="leave"),
    path("orgs/<slug:slug>/audit/", views.organization_audit, name="audit"),
    path("invite/<str:token>/", views.invite_accept, name="invite_accept"),
]
