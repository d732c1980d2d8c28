"""TaskFlow settings: one env-driven module.

With no environment variables it runs the *embedded* mode: SQLite, the in-memory channel
layer and Celery tasks run eagerly in-process. `REDIS_URL` switches on channels-redis, a
real Celery broker and the Redis cache; `DATABASE_URL` switches to PostgreSQL. Every
setting is listed in `.env.example`.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Core -------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=True)
_DEV_SECRET = "django-insecure-embedded-dev-key-not-for-production"
# DJANGO_SECRET_KEY_FILE (set by `make run`): without DJANGO_SECRET_KEY, use the key kept in
# that local file, generated on first use (kanban_board/secret_key.py).
SECRET_KEY_FILE = env.str("DJANGO_SECRET_KEY_FILE", default="")
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY and SECRET_KEY_FILE:
    from kanban_board.secret_key import local_secret_key

    SECRET_KEY = local_secret_key(BASE_DIR / SECRET_KEY_FILE)
if not SECRET_KEY and DEBUG:
    SECRET_KEY = _DEV_SECRET
if not SECRET_KEY:
    raise environ.ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (or DJANGO_SECRET_KEY_FILE)"
    )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "accounts",
    "kanban",
    "messaging",
    "search",  # issue 14: full-text search
    # Issue 15: the REST API under /api/v1/, its OpenAPI document and personal access tokens.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here (no CDN)
    "api",
    "webhooks",  # issue 15: incoming and outgoing webhooks
]

MIDDLEWARE = [
    "kanban_board.metrics.http_metrics_middleware",  # first: counts every answer
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kanban_board.logs.request_context_middleware",  # request and user ids for log records
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Organizations (issue 9): the request's IP address for the audit log.
    "accounts.audit.AuditContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "kanban_board.urls"
WSGI_APPLICATION = "kanban_board.wsgi.application"
ASGI_APPLICATION = "kanban_board.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "messaging.context_processors.notifications",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several daphne threads write at once; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Transactions take the write lock when they begin: a deferred one that read first and
    # then writes fails at once with "database is locked" (no waiting: SQLite's deadlock
    # rule) when another writer got there in between, which the read pointers (issue 11:
    # every open room page writes as messages arrive) made common.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # A file (not :memory:) so a daphne child process can share the test database; one per
    # pytest process so concurrent runs never wipe each other's data.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
else:
    # Under ASGI, persistent connections leak (Django's advice is to disable them): daphne runs
    # each HTTP request in a thread context of its own, and 30 concurrent requests held ~80
    # PostgreSQL connections from one process, exhausting max_connections (fault tier). So a
    # bounded psycopg pool per process instead (connections are borrowed per use, never
    # reopened); DJANGO_DB_POOL_SIZE=0 falls back to a connection per use.
    DB_POOL_SIZE = env.int("DJANGO_DB_POOL_SIZE", default=10)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DB_POOL_SIZE:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": 10,
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "kanban:board_list"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Organizations and e-mail (issue 9) ------------------------------------------------

# Invitation links work once, for this many days.
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)
# Embedded: e-mails are printed on the console. EMAIL_URL switches to SMTP, e.g.
# smtp+tls://user:password@smtp.example.com:587 (django-environ's e-mail URL syntax).
_EMAIL = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _EMAIL.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_EMAIL.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_EMAIL.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="TaskFlow <taskflow@localhost>")
# Issue 11: links in e-mails (notifications, unsubscribe) start with this.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
# A direct message, mention, reply or assignment still unread after this many minutes is
# e-mailed (once; several are batched in one e-mail per person and run).
NOTIFICATION_EMAIL_DELAY_MINUTES = env.int("NOTIFICATION_EMAIL_DELAY_MINUTES", default=10)

# --- Internationalisation ---------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve straight from the finders so daphne needs no collectstatic in embedded mode.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Hashed, pre-compressed names (collectstatic writes them and a manifest; `make run`,
# `make run-scaled` and the Docker image run it). WhiteNoise serves a hashed name with
# "Cache-Control: max-age=315360000, public, immutable". With DEBUG on, {% static %} gives the
# plain names, so the embedded mode works before any collectstatic.
# A name missing from the manifest (no collectstatic yet, e.g. the server started directly
# rather than through `make run`) falls back to its plain name (kanban_board.storage).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "kanban_board.storage.HashedStaticFilesStorage"},
}

# --- Redis: channel layer, cache, Celery broker -----------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# Redis Sentinel (scaled mode with failover): "host:port,host:port,..." of the sentinels and
# the name they monitor. When set, the channel layer, the cache and the Celery broker all ask
# the sentinels for the current primary (REDIS_URL is then not needed). REDIS_SENTINEL_DB is
# the database number on the primary.
REDIS_SENTINELS = [
    (host, int(port))
    for host, port in (item.rsplit(":", 1) for item in env.list("REDIS_SENTINELS", default=[]))
]
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="taskflow")
REDIS_SENTINEL_DB = env.int("REDIS_SENTINEL_DB", default=0)
REDIS_ENABLED = bool(REDIS_URL or REDIS_SENTINELS)

# Daphne closes a websocket after this many seconds (--websocket_timeout); a socket's
# group membership in Redis must outlive it, so group_expiry is set a little longer.
WEBSOCKET_TIMEOUT = env.int("WEBSOCKET_TIMEOUT", default=86400)
# The largest WebSocket message/frame daphne accepts (bytes); a 4,000-character message of
# 4-byte characters plus its JSON envelope fits. Bigger frames drop the connection.
WEBSOCKET_MAX_MESSAGE_BYTES = env.int("WEBSOCKET_MAX_MESSAGE_BYTES", default=65536)

# Sockets re-join their groups this often (refreshing group_expiry) and are closed, so the
# client reconnects and back-fills, if a membership was lost (Redis restart, FLUSHALL).
CHANNEL_RESUBSCRIBE_SECONDS = env.float("CHANNEL_RESUBSCRIBE_SECONDS", default=10.0)
# A socket that cannot join its groups (Redis down or just restarted) keeps its handshake
# waiting this long, retrying, before it is refused; below daphne's 5 s connect timeout.
CHANNEL_SUBSCRIBE_WAIT_SECONDS = env.float("CHANNEL_SUBSCRIBE_WAIT_SECONDS", default=4.0)

# Redis calls fail fast when Redis is down or stalled: a post still saves (the broadcast is
# skipped and clients back-fill), sockets close cleanly, and everything reconnects by itself.
# The layer's blocking receive (brpop_timeout) must stay below socket_timeout (messaging.layers).
REDIS_SOCKET_OPTIONS = {
    "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
    "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=2.0),
    "socket_keepalive": True,
}
# Each process's asyncio Redis clients (the channel layer, the socket cap, the rate limiter)
# share at most this many connections per server; a call that finds them all busy waits up
# to REDIS_POOL_TIMEOUT seconds for one instead of failing at once (redis-py's default pool
# raises "Too many connections": 100 sockets reconnecting together after a daphne restart
# failed their group_adds and presence broadcasts, and every failure closed the process's
# sockets for a resync, which reconnected them into the same storm).
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=100)
REDIS_POOL_TIMEOUT = env.float("REDIS_POOL_TIMEOUT", default=4.0)

if REDIS_SENTINELS:
    _LAYER_HOST = {
        "sentinels": REDIS_SENTINELS,
        "master_name": REDIS_SENTINEL_MASTER,
        "db": REDIS_SENTINEL_DB,
        "sentinel_kwargs": {
            "socket_connect_timeout": REDIS_SOCKET_OPTIONS["socket_connect_timeout"]
        },
        **REDIS_SOCKET_OPTIONS,
    }
    _CACHE = {
        "BACKEND": "kanban_board.sentinel.SentinelRedisCache",
        "LOCATION": [f"{host}:{port}" for host, port in REDIS_SENTINELS],
        "OPTIONS": {
            "master_name": REDIS_SENTINEL_MASTER,
            "db": REDIS_SENTINEL_DB,
            **REDIS_SOCKET_OPTIONS,
        },
    }
else:
    _LAYER_HOST = {"address": REDIS_URL, **REDIS_SOCKET_OPTIONS}
    _CACHE = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": REDIS_SOCKET_OPTIONS,
    }

# Embedded: this process's memory. Rate-limit counters, presence records and throttles live
# here; Django's default MAX_ENTRIES (300) drops the least recently used third of the keys
# whenever it is reached, and expired keys are only removed when read, so a small team filled
# it within the hour and lost live state (a user kept alive by an open tab read as offline).
EMBEDDED_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 200_000},
    }
}

if REDIS_ENABLED:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "messaging.layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_LAYER_HOST],
                "brpop_timeout": 1,
                "max_connections": REDIS_MAX_CONNECTIONS,
                "pool_timeout": REDIS_POOL_TIMEOUT,
                "capacity": env.int("CHANNEL_CAPACITY", default=10000),
                "expiry": 60,
                "group_expiry": WEBSOCKET_TIMEOUT + 60,
            },
        }
    }
    CACHES = {"default": _CACHE}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = EMBEDDED_CACHES

# --- Celery -----------------------------------------------------------------------------

_SENTINEL_BROKER = ";".join(
    f"sentinel://{host}:{port}/{REDIS_SENTINEL_DB}" for host, port in REDIS_SENTINELS
)
# (The embedded mode's in-process broker is named with a host: a bare "memory://" makes
# kombu warn "No hostname was supplied" on every enqueue, e.g. all through `make seed`.)
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=_SENTINEL_BROKER or REDIS_URL or "memory://localhost/"
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_ENABLED)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Mention tasks are short (tens of ms): each worker process reserves a few at a time instead
# of one round trip to the broker per task (acks_late still redelivers what a dead worker
# held). CELERY_WORKER_CONCURRENCY: processes per worker (default: one per core).
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=None)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A dead broker must not hang a request: fail fast and let the periodic sweep catch up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 2,
    # Also bounds a broker that accepts connections but never answers (measured: 5 s here
    # made an enqueue take 5.1 s; 2 s keeps it under the 3 s budget). Above kombu's 1 s BRPOP.
    "socket_timeout": 2,
    # acks_late: a task whose worker died unacknowledged is redelivered after this long.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
if REDIS_SENTINELS:
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
# Every task is bounded (seconds). At the soft limit a task logs and stops, leaving its work
# to the mention sweep; the hard limit kills it. Per-task limits (messaging.tasks) are
# tighter. The prefork pool enforces both; the solo and threads pools enforce neither.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_TASK_PUBLISH_RETRY = False
# THE beat schedule (README "Operations" lists it): nothing else schedules periodic work.
CELERY_BEAT_SCHEDULE: dict = {
    # Creates mention notifications a dead broker or worker lost (messaging.tasks).
    "sweep-missed-mentions": {
        "task": "messaging.tasks.sweep_missed_mentions",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # E-mails people about what they have not read (messaging.tasks, issue 11): at most once
    # each, batched per person and run; hourly digests are due on the hour after the last.
    "send-notification-emails": {
        "task": "messaging.tasks.send_notification_emails",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Due-date reminders (kanban.tasks, issue 13): hourly; idempotent per task, kind and date.
    "send-due-reminders": {
        "task": "kanban.tasks.send_due_reminders",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}

# --- Security ---------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page reads the token from a <meta> tag, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_TLS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0

CONTENT_SECURITY_POLICY = {
    # The admin ships its own inline scripts; our pages have none.
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Application limits -----------------------------------------------------------------

MESSAGE_MAX_LENGTH = 4000
TYPING_EXPIRY_SECONDS = 10
# Issue 11: "Seen by ..." read receipts in direct rooms and rooms of up to this many readers.
READ_RECEIPTS_MAX_MEMBERS = env.int("READ_RECEIPTS_MAX_MEMBERS", default=20)
# A busy room's `room_unread` frames are coalesced: each notifications socket recounts a room at
# most about once per this many seconds while messages keep arriving (the last frame is exact).
UNREAD_RECOUNT_SECONDS = env.float("UNREAD_RECOUNT_SECONDS", default=0.5)
# One "is typing" broadcast per user and room per window (messaging.services.typing).
TYPING_THROTTLE_SECONDS = env.float("TYPING_THROTTLE_SECONDS", default=2.0)
CHAT_PAGE_SIZE = 50
# Per user, per kind (chat messages, task comments: over WebSocket and HTTP alike; typing
# events), as "<count>/<seconds>s". Past the limit a frame gets an error; a socket that keeps
# going to twice the limit is closed (messaging.ratelimit, messaging.consumers.base).
CHAT_RATE_LIMIT = env.str("CHAT_RATE_LIMIT", default="20/10s")
TYPING_RATE_LIMIT = env.str("TYPING_RATE_LIMIT", default="30/10s")

# --- Realtime hot path (issue 16; messaging.dbcalls, messaging.consumers.base) ---------------
# A socket trusts its last access check this long between access-changed signals (every
# revocation sends one after commit; the posting services check again inside the transaction).
SOCKET_ACCESS_RECHECK_SECONDS = env.float("SOCKET_ACCESS_RECHECK_SECONDS", default=60.0)
# Threads per process running the sockets' ORM work (PostgreSQL; SQLite keeps Channels' one
# database thread). Keep it below DJANGO_DB_POOL_SIZE so HTTP requests (back-fill) always find
# a pooled connection.
CONSUMER_DB_THREADS = env.int("CONSUMER_DB_THREADS", default=4)
# Pushback: a post arriving while this many posts are already waiting or running in the
# process gets a `slow_down` error frame (socket) or 429 + Retry-After (HTTP) instead of a
# queue that grows until the channel layer drops frames.
REALTIME_MAX_PENDING_POSTS = env.int("REALTIME_MAX_PENDING_POSTS", default=32)
# ...and while the process's last post took longer than this to save and broadcast.
REALTIME_SLOW_POST_SECONDS = env.float("REALTIME_SLOW_POST_SECONDS", default=5.0)

# --- Abuse limits (issue 9: log-in throttling, sign-up, sockets, presence) --------------
# Failed log-ins on /accounts/login/ and /admin/login/ are counted by django-axes per IP
# address AND username together: after LOGIN_FAILURE_LIMIT failures (each within
# LOGIN_LOCKOUT_MINUTES of the previous one) that pair is refused for LOGIN_LOCKOUT_MINUTES,
# and the log-in page says to wait. A stranger elsewhere cannot lock the real user out: the
# user's own address is another pair. A successful log-in resets the count. Attempts live in
# the database (axes' AccessAttempt, visible in the admin), so every process shares them.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last: it turns a lock-out into the page
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the wait never grows past the cool-off
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failures are what we need; no row per successful log-in
# Open sign-up can be switched off (invitations still work); sign-ups per IP address are
# limited to SIGNUP_RATE_LIMIT ("<count>/<period>", as CHAT_RATE_LIMIT).
SIGNUP_OPEN = env.bool("SIGNUP_OPEN", default=True)
SIGNUP_RATE_LIMIT = env.str("SIGNUP_RATE_LIMIT", default="5/h")
# Open WebSockets per user, across every daphne process (Redis with REDIS_URL, else this
# process); the handshake past the cap is refused (messaging.socketcap).
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=30)
# Join/leave frames per user per room: at most PRESENCE_RATE_LIMIT go out at once; further
# changes in that period are coalesced into one trailing frame with the latest state
# (messaging.presence).
PRESENCE_RATE_LIMIT = env.str("PRESENCE_RATE_LIMIT", default="2/5s")
# Online / away / offline (issue 11, messaging.services.presence). A page reports its state in
# a `heartbeat` frame over a socket it has open; it counts as online for
# PRESENCE_ONLINE_SECONDS after a "visible, not idle" report. The server keeps an open
# socket's connection alive (re-stamped every TTL / 3); a killed process's connections expire
# after PRESENCE_CONNECTION_TTL_SECONDS and the sweep (every PRESENCE_SWEEP_SECONDS, in each
# daphne process, one at a time) announces them offline: within TTL + sweep + interval.
# A user's status changes reach their rooms and boards at most once per
# PRESENCE_FRAME_INTERVAL_SECONDS (a trailing frame carries the latest state).
PRESENCE_ONLINE_SECONDS = env.float("PRESENCE_ONLINE_SECONDS", default=60.0)
PRESENCE_CONNECTION_TTL_SECONDS = env.float("PRESENCE_CONNECTION_TTL_SECONDS", default=60.0)
PRESENCE_SWEEP_SECONDS = env.float("PRESENCE_SWEEP_SECONDS", default=10.0)
PRESENCE_FRAME_INTERVAL_SECONDS = env.float("PRESENCE_FRAME_INTERVAL_SECONDS", default=5.0)

# --- API (issue 15) ----------------------------------------------------------------------

# Requests per user and per personal access token, counted in the default cache (Redis when
# scaled): "<count>/<sec|min|hour|day>"; past either, 429 with Retry-After. Empty: no limit.
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="1200/min")
API_THROTTLE_TOKEN = env.str("API_THROTTLE_TOKEN", default="600/min")
REST_FRAMEWORK = {
    # Bearer first: its challenge makes a request without credentials a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.BearerTokenAuthentication",
        "api.auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.auth.TokenScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserThrottle", "api.throttling.TokenThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TaskFlow API",
    "DESCRIPTION": (
        "Boards, tasks, chat, notifications and search. Authenticate with a personal access "
        "token (`Authorization: Bearer <token>`, from /accounts/tokens/) or the browser session "
        '(with CSRF). Errors are JSON: `{"detail": ...}` or field errors.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoomTypeEnum": ["group", "direct"],
        "ResultTypeEnum": ["message", "comment", "task"],
    },
}

# --- Search (issue 14) ------------------------------------------------------------------

# PostgreSQL text search configuration (stemming, stop words) for the index and for queries;
# after changing it, run `manage.py reindex_search`. SQLite (FTS5) stems English with the porter
# tokenizer when this is "english" and only folds case and accents otherwise.
SEARCH_LANGUAGE = env.str("SEARCH_LANGUAGE", default="english")
SEARCH_PAGE_SIZE = 20

# --- Attachments (issue 12: files in conversations) -------------------------------------

# Embedded: files under MEDIA_ROOT. With ATTACHMENT_S3_BUCKET set, any S3-compatible object
# store through django-storages; downloads are then presigned redirects valid
# ATTACHMENT_S3_URL_SECONDS, issued after the same access check.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"  # never served directly: every file goes through the access check
ATTACHMENT_S3_BUCKET = env.str("ATTACHMENT_S3_BUCKET", default="")
ATTACHMENT_S3_URL_SECONDS = env.int("ATTACHMENT_S3_URL_SECONDS", default=60)
if ATTACHMENT_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENT_S3_BUCKET,
            "endpoint_url": env.str("ATTACHMENT_S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("ATTACHMENT_S3_ACCESS_KEY", default="") or None,
            "secret_key": env.str("ATTACHMENT_S3_SECRET_KEY", default="") or None,
            "region_name": env.str("ATTACHMENT_S3_REGION", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": ATTACHMENT_S3_URL_SECONDS,
            "file_overwrite": False,
            "addressing_style": "path",
            "signature_version": "s3v4",
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES["default"] = _default_storage  # (static files: see "Static files" above)
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=25 * 1024 * 1024)
ATTACHMENT_MAX_PER_MESSAGE = 10
# Per organization, the bytes all its attachments may take; 0 = unlimited.
ATTACHMENT_ORG_QUOTA_BYTES = env.int("ATTACHMENT_ORG_QUOTA_BYTES", default=0)
# Per user uploads, as CHAT_RATE_LIMIT.
ATTACHMENT_RATE_LIMIT = env.str("ATTACHMENT_RATE_LIMIT", default="30/m")
# Images with more pixels are refused by Pillow (decompression bombs): no preview, download only.
ATTACHMENT_MAX_IMAGE_PIXELS = env.int("ATTACHMENT_MAX_IMAGE_PIXELS", default=40_000_000)
ATTACHMENT_THUMBNAIL_SIZE = 400
# Uploads no message took within this long are removed by the sweep.
ATTACHMENT_UNSENT_MAX_AGE_SECONDS = env.int("ATTACHMENT_UNSENT_MAX_AGE_SECONDS", default=86400)
if ATTACHMENT_S3_BUCKET and env.str("ATTACHMENT_S3_ENDPOINT_URL", default=""):
    # Thumbnails and previews are presigned redirects to the object store.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(
        env.str("ATTACHMENT_S3_ENDPOINT_URL").rstrip("/")
    )
CELERY_BEAT_SCHEDULE["sweep-attachments"] = {
    "task": "messaging.tasks.sweep_attachments",
    "schedule": 3600.0,
    "options": {"expires": 3000},
}

# --- Webhooks (issue 15) ------------------------------------------------------------------

# Outgoing webhooks refuse URLs whose host resolves to a loopback, private, link-local,
# multicast, reserved or unspecified address (server-side request forgery), at subscription
# and at every delivery. True allows them (a receiver on the same machine or network).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# Posts per incoming webhook, as CHAT_RATE_LIMIT; past it the URL answers 429.
WEBHOOK_RATE_LIMIT = env.str("WEBHOOK_RATE_LIMIT", default="30/m")
# A delivery is tried up to WEBHOOK_MAX_ATTEMPTS times; attempt n+1 waits
# WEBHOOK_RETRY_BASE_SECONDS * 2**(n-1) after attempt n fails (30 s, 1, 2, 4, 8 min).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
# Connect and read timeout of one delivery attempt.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Picks up retries that are due (and deliveries a lost task left behind).
CELERY_BEAT_SCHEDULE["retry-webhook-deliveries"] = {
    "task": "webhooks.tasks.retry_due_deliveries",
    "schedule": 30.0,
    "options": {"expires": 25},
}

# --- Logging ----------------------------------------------------------------------------

# LOG_FORMAT=json: one JSON object per line, with the request id and user id of the HTTP
# request being served (kanban_board.logs).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "kanban_board.logs.JsonFormatter"},
    },
    "filters": {"request": {"()": "kanban_board.logs.RequestContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # django-axes announces itself at INFO in every process start (`make seed` included).
        "axes.apps": {"level": "WARNING"},
        # Tasks that run in-process (embedded mode) need no "Task ... succeeded" line each.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

# --- Operations: metrics, e-mail accounting (kanban_board.metrics) -----------------------

# GET /metrics answers a request with "Authorization: Bearer <METRICS_TOKEN>", or from one
# of METRICS_ALLOWED_IPS (the scraper's address as daphne sees it); anything else gets 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Every e-mail goes through the counting wrapper, which hands it to the backend configured
# above (or by EMAIL_BACKEND; console by default).
EMAIL_DELIVERY_BACKEND = globals().get("EMAIL_BACKEND") or env.str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
EMAIL_BACKEND = "kanban_board.metrics.MeteredEmailBackend"
