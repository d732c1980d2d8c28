"""GET /healthz reports the database, the channel layer and the broker."""

import asyncio

import pytest


@pytest.mark.django_db
def test_healthz_is_public_json_with_every_check_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"]["ok"] and body["channel_layer"]["ok"] and body["broker"]["ok"]
    assert "backend" not in body["channel_layer"]  # details are for staff only


@pytest.fixture
def staff_client(client, alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    client.force_login(alice)
    return client


@pytest.mark.django_db
def test_healthz_shows_backends_to_staff(staff_client):
    body = staff_client.get("/healthz").json()

    assert body["channel_layer"]["backend"] == "InMemoryChannelLayer"
    assert body["database"]["backend"] in ("sqlite", "postgresql")


@pytest.mark.django_db
def test_healthz_reports_503_when_the_channel_layer_is_unreachable(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["channel_layer"] == {"ok": False, "ms": None}  # no error text for anonymous
    assert body["database"]["ok"] is True


@pytest.mark.services
@pytest.mark.django_db
def test_healthz_reaches_real_redis_layer(staff_client, redis_layer):
    response = staff_client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["channel_layer"]["backend"] == "RedisChannelLayer"


@pytest.mark.django_db
def test_healthz_reports_a_layer_that_never_answers_instead_of_hanging(client, monkeypatch):
    from channels.layers import get_channel_layer

    from kanban_board import health

    async def never(channel):
        await asyncio.sleep(3600)

    monkeypatch.setattr(get_channel_layer(), "receive", never)
    monkeypatch.setattr(health, "LAYER_TIMEOUT_SECONDS", 0.2)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["channel_layer"]["ok"] is False
