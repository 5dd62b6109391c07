"""Sealed requestState (``mcpserver.interaction.state``): it opens only for the request it was sealed for,
before it expires, with a key the deployment still holds; nothing in it can be read or changed."""

from __future__ import annotations

import base64
import time

import pytest

from mcpserver.interaction.state import VERSION, Binding, StateRefused, seal, unseal

BINDING = Binding("user-1", "client-1", "tools/call", "book_room", "ab" * 32)
CONTENT = {
    "r": 2,
    "a": {"user_name": ["f" * 32, {"action": "accept", "content": {"name": "Alice"}}]},
    "s": {},
}


def refused(sealed, binding=BINDING, now=None) -> str:
    with pytest.raises(StateRefused) as caught:
        unseal(sealed, binding, now)
    return caught.value.reason


def test_a_state_opens_for_its_own_request():
    assert unseal(seal(BINDING, CONTENT), BINDING) == CONTENT


@pytest.mark.parametrize("size", range(8))
def test_a_state_of_any_length_opens(size):
    content = {"s": {"note": "x" * size}}
    assert unseal(seal(BINDING, content), BINDING) == content


def test_two_seals_of_the_same_content_differ():
    assert seal(BINDING, CONTENT) != seal(BINDING, CONTENT)


def test_nothing_of_the_content_can_be_read():
    raw = base64.urlsafe_b64decode(seal(BINDING, CONTENT)[len(VERSION) :] + "==")
    assert b"Alice" not in raw and b"user-1" not in raw and b"book_room" not in raw


@pytest.mark.parametrize("position", [0, 4, 20, 32, -1])
def test_a_changed_byte_is_refused(position):
    raw = bytearray(base64.urlsafe_b64decode(seal(BINDING, CONTENT)[len(VERSION) :] + "=="))
    raw[position] ^= 1
    assert refused(VERSION + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")) == "tampered"


@pytest.mark.parametrize(
    "sealed",
    [None, 42, "", "1.", "2.abc", "1.!!!", "1.AAAA", lambda s: s + "-TAMPERED", lambda s: s[:-8]],
)
def test_garbage_and_truncation_are_refused(sealed):
    value = sealed(seal(BINDING, CONTENT)) if callable(sealed) else sealed
    assert refused(value) == "tampered"


@pytest.mark.parametrize(
    ("other", "reason"),
    [
        (Binding("user-2", "client-1", "tools/call", "book_room", "ab" * 32), "another caller"),
        (Binding("user-1", "client-2", "tools/call", "book_room", "ab" * 32), "another caller"),
        (Binding("user-1", "client-1", "prompts/get", "book_room", "ab" * 32), "another request"),
        (Binding("user-1", "client-1", "tools/call", "cancel_room", "ab" * 32), "another request"),
        (Binding("user-1", "client-1", "tools/call", "book_room", "cd" * 32), "another request"),
    ],
)
def test_a_state_is_refused_for_another_caller_tool_or_arguments(other, reason):
    assert refused(seal(BINDING, CONTENT), other) == reason


def test_a_state_expires(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "INPUT_STATE_SECONDS": 60}
    now = time.time()
    sealed = seal(BINDING, CONTENT, now)
    assert unseal(sealed, BINDING, now + 59) == CONTENT
    assert refused(sealed, now=now + 61) == "expired"


def test_a_state_sealed_before_a_rotation_opens_while_its_key_is_a_fallback(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-secret-" + "x" * 40, []
    sealed = seal(BINDING, CONTENT)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-secret-" + "y" * 40, ["old-secret-" + "x" * 40]
    assert unseal(sealed, BINDING) == CONTENT
    assert unseal(seal(BINDING, CONTENT), BINDING) == CONTENT  # new states use the new key
    settings.SECRET_KEY_FALLBACKS = []  # the old key retired: its states are dead
    assert refused(sealed) == "tampered"


def test_a_state_sealed_under_another_secret_is_refused(settings):
    sealed = seal(BINDING, CONTENT)
    settings.SECRET_KEY = "another-deployment-" + "z" * 40
    assert refused(sealed) == "tampered"
