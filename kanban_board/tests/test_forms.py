"""Every form error names its field, and blank (or spaces-only) names are "can't be blank"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.forms import SignUpForm
from kanban.forms import BoardForm, ColumnForm
from kanban_board.forms import errors_text


@pytest.mark.parametrize("value", ["", "   ", "\t\n "])
def test_blank_column_name_error_names_the_field(value):
    form = ColumnForm({"name": value})

    assert not form.is_valid()
    assert form.errors == {"name": ["Name can't be blank."]}
    assert errors_text(form) == "Name can't be blank."


def test_other_errors_are_prefixed_with_their_field_label():
    form = ColumnForm({"name": "x" * 200})

    assert not form.is_valid()
    assert errors_text(form).startswith("Name: Ensure this value has at most 80 characters")


def test_no_error_text_says_none():
    for form in (ColumnForm({}), BoardForm({}), SignUpForm({})):
        assert not form.is_valid()
        assert "None" not in errors_text(form)


def test_blank_board_name_is_shown_on_the_field(alice_client):
    response = alice_client.post(reverse("kanban:board_create"), {"name": "    "})

    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["Name can't be blank."]
    assert "Name can&#x27;t be blank." in response.content.decode()


def test_blank_sign_up_fields_name_themselves(client, db):
    response = client.post(reverse("accounts:signup"), {"username": "  "})

    errors = response.context["form"].errors
    assert errors["username"] == ["Username can't be blank."]
    assert errors["password1"] == ["Password can't be blank."]
