"""The README as the tests read it: its sections, their fenced code blocks and its relative links.

The README's tour and tool example are run by tests (``tests/e2e/test_readme_tour.py``,
``tests/mcpserver/test_readme_tool.py``), so what a newcomer copies is what the suite proves; so are
the clients in docs/ that the tour points to (``tour_clients``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOUR = "## Tour"
TOOL = "## Add your own tool"
# The base URL the tour sets in its first block; tests point it at their own server.
BASE_LINE = "BASE=http://127.0.0.1:8000"
TOKENS = ROOT / "docs" / "tokens.md"
# Where the tour's step 5 sends the reader for clients to run: (file, level-2 heading).
CLIENTS = (
    (TOKENS, "## DPoP: sender-constrained tokens"),
    (TOKENS, "## Signed client assertions (`private_key_jwt`)"),
)

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def text() -> str:
    return README.read_text()


def section(heading: str, path: Path = README) -> str:
    """The text under a level-2 ``heading`` (subsections included), up to the next level-2 heading."""
    source = path.read_text()
    start = source.index(f"\n{heading}\n")
    end = source.find("\n## ", start + 1)
    return source[start : end if end != -1 else len(source)]


def blocks(heading: str, language: str, path: Path = README) -> list[str]:
    """The fenced code blocks of one language under ``heading``, in order."""
    return [body for lang, body in _FENCE.findall(section(heading, path)) if lang == language]


def tour_clients() -> list[str]:
    """The ready-to-run clients the tour's step 5 points to in docs/ (the ``sh`` blocks there that use
    the tour's ``BASE``), in the order of ``CLIENTS``."""
    return [block for path, heading in CLIENTS for block in blocks(heading, "sh", path) if '"$BASE"' in block]


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub and MkDocs spell them."""
    headings = re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", path.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def relative_links() -> list[str]:
    """Every link and image target that is neither a URL nor an anchor on the same page."""
    targets = _LINK.findall(text())
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#)", t)]


def capabilities_setting() -> list[str]:
    """The ``MCPSERVER["CAPABILITIES"]`` entry the tool example tells the reader to write."""
    entry = next(b for b in blocks(TOOL, "python") if '"CAPABILITIES"' in b)
    return ast.literal_eval("{" + entry.strip().rstrip(",") + "}")["CAPABILITIES"]


def tool_module() -> tuple[str, str]:
    """The tool example's module: its name (the one the setting adds) and its source."""
    name = capabilities_setting()[-1]
    source = next(b for b in blocks(TOOL, "python") if "@tool" in b)
    return name, source
