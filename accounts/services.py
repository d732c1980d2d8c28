"""Account changes. Views call these; nothing else writes to User."""

from django.db import transaction

from .models import User


@transaction.atomic
def update_profile(*, user: User, display_name: str, email: str) -> User:
    user.display_name = display_name.strip()
    user.email = email.strip()
    user.save(update_fields=["display_name", "email"])
    return user
