from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse


class User(AbstractUser):
    """A TaskFlow user. `display_name` is optional; the username stands in for it."""

    class Theme(models.TextChoices):
        AUTO = "auto", "Match my device"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    display_name = models.CharField(max_length=80, blank=True)
    # Colour theme of every page (templates/base.html); "auto" follows prefers-color-scheme.
    theme = models.CharField(max_length=5, choices=Theme.choices, default=Theme.AUTO)

    def get_display_name(self) -> str:
        return self.display_name or self.username

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile")
