"""Scaled mode: the API throttles count in the shared Redis cache, so every daphne process
sees the same count (services tier: needs REDIS_URL)."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from .conftest import Cast

pytestmark = pytest.mark.services


def test_token_throttle_counts_in_redis(cast: Cast, redis_url, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"api-throttle-test-{cast.room.pk}",
        }
    }
    caches["default"].clear()
    try:
        with override_settings(API_THROTTLE_TOKEN="2/min", API_THROTTLE_USER=""):
            client = cast.client("member")
            codes = [client.get("/api/v1/boards/").status_code for _ in range(3)]
            assert codes == [200, 200, 429]
        keys = redis.Redis.from_url(redis_url).keys("*throttle_api_token*")
        assert keys, "the count is not in Redis"
    finally:
        caches["default"].clear()
