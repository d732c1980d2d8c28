"""HTTP routes of the messaging app (namespace `messaging:`). The URL list is binding (seed)."""

from django.urls import path

app_name = "messaging"

urlpatterns: list = [
]
