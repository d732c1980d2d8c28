"""`manage.py deactivate_user <username>`: lock a user out and close their live connections.

The close reaches open sockets through the channel layer, so it needs the shared (Redis)
layer of the scaled mode. In the embedded mode the layer lives inside the daphne process and
this command cannot reach it; the sockets then close at the user's next message (consumers
re-check access on every message), and every new page load or socket is refused at once.
Use the admin's "Deactivate" action there for an immediate close.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import User


class Command(BaseCommand):
    help = "Deactivate a user: they can no longer log in and their open sockets are closed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        was_active = user.is_active
        services.deactivate_user(user=user)
        state = "Deactivated" if was_active else "Already inactive (sockets re-checked)"
        self.stdout.write(self.style.SUCCESS(f"{state}: {user.username}"))
