from django.urls import path

app_name = "kanban"

urlpatterns: list = [
]
