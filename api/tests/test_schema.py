"""The OpenAPI document: valid OpenAPI 3, every API route in it, served as JSON (and YAML),
and the docs page loads only local assets with no inline script."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern

from api.urls import urlpatterns
from tests.csp import assert_strict_policy, audit

pytestmark = pytest.mark.django_db


def documented_paths(schema: dict) -> set[str]:
    return set(schema["paths"])


def route_paths() -> set[str]:
    """Every API route as the document writes it: /api/v1/chat/rooms/{room_id}/..."""
    paths = set()
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in ("schema", "docs"):
            continue
        path = re.sub(r"<int:(\w+)>", r"{\1}", str(pattern.pattern))
        paths.add(f"/api/v1/{path}")
    return paths


@pytest.fixture
def schema() -> dict:
    response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def test_schema_validates_as_openapi_3(schema):
    from openapi_spec_validator import validate

    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_lists_every_endpoint_and_method(schema):
    assert documented_paths(schema) == route_paths()
    for pattern in urlpatterns:
        if pattern.name in ("schema", "docs"):
            continue
        path = "/api/v1/" + re.sub(r"<int:(\w+)>", r"{\1}", str(pattern.pattern))
        view = pattern.callback.view_class
        methods = {m for m in ("get", "post", "patch", "delete") if hasattr(view, m)}
        assert set(schema["paths"][path]) >= methods, path


def test_schema_names_both_credentials(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"


def test_the_message_shape_is_documented(schema):
    message = schema["components"]["schemas"]["Message"]
    assert set(message["properties"]) == {
        "id",
        "room_id",
        "sender",
        "content",
        "html",
        "parent_id",
        "attachments",
        "reactions",
        "is_edited",
        "is_deleted",
        "created_at",
        "edited_at",
    }


def test_schema_as_yaml():
    response = Client().get("/api/v1/schema/?format=yaml")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3")


def test_docs_page_loads_local_assets_under_the_strict_policy():
    client = Client()
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert_strict_policy(response)
    html = response.content.decode()
    assert audit(html).problems == []
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") for src in sources), sources
    for src in sources:
        asset = client.get(src)
        assert asset.status_code == 200, src
        body = b"".join(asset.streaming_content) if asset.streaming else asset.content
        assert body, src
    init = client.get("/api/v1/docs/?script=")
    assert init["Content-Type"].startswith("application/javascript")
    assert b"/api/v1/schema/" in init.content
