from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Issue 15: incoming webhooks post into a room; outgoing webhooks deliver board events."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
