"""The OpenAPI document and its browsable docs, both public (they describe the API; every
endpoint they list still needs credentials). The docs page loads Swagger UI from this site
(drf-spectacular-sidecar) and its start-up script from a URL of its own, not inline, so it
runs under the pages' Content-Security-Policy (script-src 'self')."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class SchemaView(SpectacularAPIView):
    # JSON first (application/json); ?format=yaml or Accept: application/yaml for YAML.
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer]


def _page(view):
    """GET-only pages: Django's CSRF middleware refuses a forged POST like on every other
    page (DRF exempts its views and checks CSRF in its session authentication instead)."""
    view.csrf_exempt = False
    return login_not_required(view)


def schema_view():
    return _page(SchemaView.as_view())


def docs_view():
    return _page(SpectacularSwaggerSplitView.as_view(url_name="api:schema"))
