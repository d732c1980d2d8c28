from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ and its personal access tokens (issue 15)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API"
