"""The notes admin: list, search, filter by owner, edit."""

from __future__ import annotations

import pytest

URL = "/admin/notes/note/"


@pytest.fixture
def admin_client(client, people):
    client.force_login(people["staff"])
    return client


def listed(response) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {note.title for note in response.context["cl"].result_list}


def test_the_list_shows_every_note(admin_client, people, make_note):
    make_note(people["alice"], "Groceries")
    make_note(people["bob"], "Bike")
    assert listed(admin_client.get(URL)) == {"Groceries", "Bike"}


def test_search_finds_title_body_and_owner(admin_client, people, make_note):
    make_note(people["alice"], "Groceries", "lemons")
    make_note(people["bob"], "Bike", "brake pads")
    assert listed(admin_client.get(URL, {"q": "brake"})) == {"Bike"}
    assert listed(admin_client.get(URL, {"q": "alice"})) == {"Groceries"}


def test_filter_by_owner(admin_client, people, make_note):
    make_note(people["alice"], "Groceries")
    make_note(people["bob"], "Bike")
    response = admin_client.get(URL, {"owner__id__exact": people["bob"].pk})
    assert listed(response) == {"Bike"}
    assert "alice" in response.content.decode()  # an owner with notes is offered as a filter


def test_an_admin_edits_a_note(admin_client, people, make_note):
    note = make_note(people["alice"], "Groceries")
    page = admin_client.get(f"{URL}{note.pk}/change/")
    assert page.status_code == 200 and str(note.key) in page.content.decode()
    response = admin_client.post(
        f"{URL}{note.pk}/change/", {"owner": people["bob"].pk, "title": "Shopping", "body": "coffee"}
    )
    assert response.status_code == 302, response.content[:500]
    note.refresh_from_db()
    assert (note.owner, note.title, note.body) == (people["bob"], "Shopping", "coffee")
