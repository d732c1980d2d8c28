from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse


class User(AbstractUser):
    """A TaskFlow user. `display_name` is optional; the username stands in for it."""

    display_name = models.CharField(max_length=80, blank=True)

    def get_display_name(self) -> str:
        return self.display_name or self.username

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile")
