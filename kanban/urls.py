from django.urls import path

from . import card_views, views

app_name = "kanban"

urlpatterns = [
    path("", views.board_list, name="board_list"),
    path("boards/new/", views.board_create, name="board_create"),
    path("boards/<int:board_id>/", views.board_detail, name="board_detail"),
    path("boards/<int:board_id>/edit/", views.board_edit, name="board_edit"),
    path("boards/<int:board_id>/delete/", views.board_delete, name="board_delete"),
    path("boards/<int:board_id>/members/", views.board_members, name="board_members"),
    path(
        "boards/<int:board_id>/members/<int:user_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("boards/<int:board_id>/columns/new/", views.column_create, name="column_create"),
    path("columns/<int:column_id>/rename/", views.column_rename, name="column_rename"),
    path("columns/<int:column_id>/move/", views.column_move, name="column_move"),
    path("columns/<int:column_id>/delete/", views.column_delete, name="column_delete"),
    path("columns/<int:column_id>/tasks/new/", views.task_create, name="task_create"),
    path("tasks/<int:task_id>/", views.task_detail, name="task_detail"),
    path("tasks/<int:task_id>/edit/", views.task_edit, name="task_edit"),
    path("tasks/<int:task_id>/delete/", views.task_delete, name="task_delete"),
    path("tasks/<int:task_id>/move/", views.task_move, name="task_move"),
    # The live board (issue 13): state for a client that saw a version gap, labels, checklists.
    path("boards/<int:board_id>/state/", card_views.board_state, name="board_state"),
    path("boards/<int:board_id>/labels/", card_views.board_labels, name="board_labels"),
    path("labels/<int:label_id>/edit/", card_views.label_edit, name="label_edit"),
    path("labels/<int:label_id>/delete/", card_views.label_delete, name="label_delete"),
    path("tasks/<int:task_id>/labels/", card_views.task_labels, name="task_labels"),
    path("tasks/<int:task_id>/checklist/", card_views.checklist_add, name="checklist_add"),
    path("checklist/<int:item_id>/done/", card_views.checklist_done, name="checklist_done"),
    path("checklist/<int:item_id>/move/", card_views.checklist_move, name="checklist_move"),
    path("checklist/<int:item_id>/delete/", card_views.checklist_delete, name="checklist_delete"),
]
