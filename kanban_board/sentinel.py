"""Django's Redis cache through Redis Sentinel (settings: REDIS_SENTINELS).

Django's RedisCache connects to fixed URLs; this client asks the sentinels for the current
primary instead, and asks again when a connection to it fails (redis-py's
SentinelConnectionPool), so the cache follows a failover by itself. The channel layer
(channels-redis `sentinels`) and the Celery broker (kombu `sentinel://`) have their own
support; settings.py configures all three from the same variables.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SentinelCacheClient(RedisCacheClient):
    """Every call goes to the primary that the sentinels name (there is one pool)."""

    def __init__(self, servers: list[str], *, master_name: str, db: int = 0, **options: Any):
        super().__init__(servers, **options)
        self._master_name = master_name
        self._db = db
        self._master_pool = None

    def _get_connection_pool(self, write: bool):
        if self._master_pool is None:
            from redis.sentinel import Sentinel

            sentinels = [
                (host, int(port)) for host, port in (s.rsplit(":", 1) for s in self._servers)
            ]
            timeout = self._pool_options.get("socket_connect_timeout")
            sentinel = Sentinel(
                sentinels,
                sentinel_kwargs={"socket_connect_timeout": timeout, "socket_timeout": timeout},
                db=self._db,
                **self._pool_options,
            )
            self._master_pool = sentinel.master_for(self._master_name).connection_pool
        return self._master_pool


class SentinelRedisCache(RedisCache):
    """CACHES backend: LOCATION lists the sentinels ("host:port"); OPTIONS name the primary
    (`master_name`), the database (`db`) and the usual redis-py connection options."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SentinelCacheClient
