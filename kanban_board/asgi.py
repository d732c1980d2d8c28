"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSocket handshakes are refused unless their Origin is an allowed host (ALLOWED_HOSTS) and
names the very scheme, host and port the browser connected to (cross-site WebSocket hijacking),
and they carry the Django session (AuthMiddlewareStack).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from kanban_board.origin import SameOriginValidator  # noqa: E402
from messaging.routing import websocket_urlpatterns  # noqa: E402
from messaging.upload_limit import UploadLimitMiddleware  # noqa: E402  (issue 12)

application = ProtocolTypeRouter(
    {
        "http": UploadLimitMiddleware(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
