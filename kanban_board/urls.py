from django.contrib import admin
from django.urls import include, path

from accounts.views import LogoutView

from .health import healthz
from .metrics import metrics_view

urlpatterns = [
    # The admin's own logout would skip accounts.services.log_out, leaving the user's open
    # sockets running: send it through ours.
    path("admin/logout/", LogoutView.as_view(), name="admin_logout"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; token or allow-list only
    # Issue 15: personal access tokens (before accounts/ so its catch-alls never shadow it).
    path("accounts/tokens/", include("api.page_urls")),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("api.urls")),  # issue 15: the REST API
    path("messaging/", include("messaging.urls")),
    # Organizations, their audit log and invitation links (issue 9).
    path("", include("accounts.org_urls")),
    path("search/", include("search.urls")),  # issue 14
    path("hooks/", include("webhooks.urls")),  # issue 15
    path("", include("kanban.urls")),
]
