"""Notes: who reads and who changes which notes; identity and timestamps."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AnonymousUser

from notes.models import Note


def titles(notes) -> set[str]:
    return set(notes.values_list("title", flat=True))


def test_a_user_sees_only_their_own_notes(people, make_note):
    make_note(people["alice"], "alice's")
    make_note(people["bob"], "bob's")
    assert titles(Note.objects.visible_to(people["alice"])) == {"alice's"}
    assert titles(Note.objects.visible_to(people["bob"])) == {"bob's"}


def test_a_holder_of_the_admin_role_sees_every_note(people, make_note):
    make_note(people["alice"], "alice's")
    make_note(people["bob"], "bob's")
    assert titles(Note.objects.visible_to(people["root"])) == {"alice's", "bob's"}


def test_the_role_decides_not_the_staff_flags(people, make_note):
    """A superuser without the admin role reads only their own notes through the queryset (the Django
    admin is a separate door, governed by Django's permissions)."""
    make_note(people["alice"], "alice's")
    make_note(people["staff"], "staff's")
    assert titles(Note.objects.visible_to(people["staff"])) == {"staff's"}


def test_losing_the_admin_role_narrows_at_once(people, make_note):
    make_note(people["alice"], "alice's")
    people["root"].roles.clear()
    assert titles(Note.objects.visible_to(people["root"])) == set()


def test_nobody_sees_notes_without_a_user(people, make_note):
    make_note(people["alice"], "alice's")
    assert not Note.objects.visible_to(None).exists()
    assert not Note.objects.visible_to(AnonymousUser()).exists()
    assert not Note.objects.owned_by(AnonymousUser()).exists()


def test_an_admin_reads_all_but_changes_only_their_own(people, make_note):
    make_note(people["alice"], "alice's")
    make_note(people["root"], "root's")
    assert titles(Note.objects.owned_by(people["root"])) == {"root's"}
    assert titles(Note.objects.owned_by(people["alice"])) == {"alice's"}


def test_visibility_composes_with_other_filters(people, make_note):
    make_note(people["alice"], "Groceries")
    make_note(people["bob"], "Groceries")
    mine = Note.objects.filter(title="Groceries").visible_to(people["alice"])
    assert [note.owner for note in mine] == [people["alice"]]


def test_a_note_has_a_stable_key_that_is_its_natural_key(people, make_note):
    note = make_note(people["alice"], "Keyed")
    assert isinstance(note.key, uuid.UUID)
    note.title = "Renamed"
    note.save()
    assert Note.objects.get_by_natural_key(str(note.key)) == note
    assert note.natural_key() == (str(note.key),)


def test_saving_moves_updated_but_not_created(people, make_note):
    note = make_note(people["alice"], "Draft")
    created, updated = note.created, note.updated
    note.body = "More"
    note.save()
    note.refresh_from_db()
    assert note.created == created
    assert note.updated > updated


def test_newest_first(people, make_note):
    first = make_note(people["alice"], "first")
    second = make_note(people["alice"], "second")
    assert list(Note.objects.visible_to(people["alice"])) == [second, first]
    first.save()
    assert list(Note.objects.visible_to(people["alice"])) == [first, second]
