"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSocket handshakes are refused unless their Origin is an allowed host (ALLOWED_HOSTS) and
names the very scheme, host and port the browser connected to (cross-site WebSocket hijacking),
and they carry the Django session (AuthMiddlewareStack); a user holds at most
WS_MAX_SOCKETS_PER_USER of them at once (messaging.socketcap).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import (  # noqa: E402
    AllowedHostsOriginValidator,
    WebsocketDenier,
)
from django.urls import re_path  # noqa: E402

from kanban_board.metrics import WebSocketMetrics  # noqa: E402
from kanban_board.origin import SameOriginValidator  # noqa: E402
from kanban_board.request_threads import RequestThreads  # noqa: E402  (issue 16)
from messaging.routing import websocket_urlpatterns  # noqa: E402
from messaging.socketcap import SocketCap  # noqa: E402
from messaging.upload_limit import UploadLimitMiddleware  # noqa: E402  (issue 12)

# Security (issue 9): any other /ws/... path is refused at the handshake (403), quietly, instead
# of URLRouter's "No route found" ValueError (a 500 and a traceback per request). Keep it last.
REFUSE_UNKNOWN_SOCKET_PATHS = [re_path(r"", WebsocketDenier.as_asgi())]

application = ProtocolTypeRouter(
    {
        # Issue 12: oversize attachment uploads get 413 before their body is read.
        # Issue 16: each request's sync work on a reused thread, not two new threads per request.
        "http": UploadLimitMiddleware(RequestThreads(django_asgi_app)),
        # WebSocketMetrics (outermost) counts refused handshakes too.
        "websocket": WebSocketMetrics(
            AllowedHostsOriginValidator(
                SameOriginValidator(
                    AuthMiddlewareStack(
                        # Security (issue 9): at most WS_MAX_SOCKETS_PER_USER open sockets per user.
                        SocketCap(URLRouter([*websocket_urlpatterns, *REFUSE_UNKNOWN_SOCKET_PATHS]))
                    )
                )
            )
        ),
    }
)
