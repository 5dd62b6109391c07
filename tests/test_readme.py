"""The README, the front door: short, its links resolve, its two commands are dev.py's."""

from __future__ import annotations

from tests import readme


def test_every_relative_link_of_the_readme_resolves_to_a_file():
    links = readme.relative_links()
    assert links  # the README links into docs/
    missing = [link for link in links if not (readme.ROOT / link.split("#", 1)[0]).is_file()]
    assert missing == []


def test_every_anchor_the_readme_links_to_is_a_heading_there():
    linked = [link.split("#", 1) for link in readme.relative_links() if "#" in link]
    assert linked  # the tour's step 5 links into sections of docs/tokens.md
    assert [(f, a) for f, a in linked if a not in readme.anchors(readme.ROOT / f)] == []


def test_the_readme_is_a_front_door_of_at_most_350_lines():
    # The tour shows every way to a token in a block a reader can paste (the enterprise tier included);
    # the reference lives in docs/.
    assert len(readme.text().splitlines()) <= 350


def test_the_two_commands_are_the_ones_dev_py_offers():
    import dev

    commands = readme.blocks("## Two commands", "sh")[0]
    assert [line.split()[:3] for line in commands.splitlines()] == [
        ["python3", "dev.py", name] for name in dev.COMMANDS
    ]


def test_the_tour_sets_the_base_url_the_tests_replace():
    first = readme.blocks(readme.TOUR, "sh")[0]
    assert readme.BASE_LINE in first.splitlines()
