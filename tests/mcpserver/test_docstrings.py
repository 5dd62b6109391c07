"""Parameter descriptions from Google, NumPy and Sphinx docstrings, and the text left without them."""

from __future__ import annotations

import pytest

from mcpserver.docstrings import parse

GOOGLE = """Book a room.

    Only rooms that are free.

    Args:
        room (str): Which room.
        nights: How many nights,
            at most thirty.
        **extras: Anything else.

    Returns:
        A confirmation number.
    """

NUMPY = """Book a room.

    Only rooms that are free.

    Parameters
    ----------
    room : str
        Which room.
    nights : int, optional
        How many nights,
        at most thirty.
    **extras
        Anything else.

    Returns
    -------
    A confirmation number.
    """

SPHINX = """Book a room.

    Only rooms that are free.

    :param room: Which room.
    :type room: str
    :param int nights: How many nights,
        at most thirty.
    :param extras: Anything else.
    :returns: A confirmation number.
    """

EXPECTED = {"room": "Which room.", "nights": "How many nights, at most thirty.", "extras": "Anything else."}


@pytest.mark.parametrize("doc", [GOOGLE, NUMPY, SPHINX], ids=["google", "numpy", "sphinx"])
def test_parameter_descriptions_from_each_style(doc):
    parsed = parse(doc)
    assert parsed.parameters == EXPECTED
    assert parsed.text.startswith("Book a room.\n\nOnly rooms that are free.\n\n")
    assert "Which room" not in parsed.text and "thirty" not in parsed.text
    assert "A confirmation number." in parsed.text  # other sections stay in the description


def test_plain_docstrings_are_kept_whole():
    assert parse("Just say hello.\n\n    Twice if asked.").text == "Just say hello.\n\nTwice if asked."
    assert parse(None).text == "" and parse(None).parameters == {}


def test_a_google_section_ends_at_the_next_heading_and_keeps_prose_after_it():
    parsed = parse("Do it.\n\nArgs:\n    a: First.\n\nNote:\n    Be careful.\n")
    assert parsed.parameters == {"a": "First."}
    assert parsed.text == "Do it.\n\nNote:\n    Be careful."
