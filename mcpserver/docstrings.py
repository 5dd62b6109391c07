"""Per-parameter descriptions from a docstring (Google, NumPy or Sphinx style), and its text without them.

A capability whose schema is inferred publishes each parameter's description in the schema, so the
description of the capability itself is the docstring with those descriptions taken out; every other
section (``Returns:``, ``Raises:``, examples) stays in it.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_GOOGLE = re.compile(
    r"(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters):", re.IGNORECASE
)
_NUMPY = {"parameters", "other parameters", "keyword arguments", "keyword parameters"}
_UNDERLINE = re.compile(r"-{3,}")
_GOOGLE_ITEM = re.compile(r"\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)")
_NUMPY_ITEM = re.compile(r"\*{0,2}(\w+)\s*(?::.*)?")
_SPHINX = re.compile(r":(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:\s*(.*)")
_SPHINX_TYPE = re.compile(r":type\s+\w+\s*:")


@dataclass(frozen=True)
class Docstring:
    text: str  # the docstring without its parameter descriptions
    parameters: dict[str, str] = field(default_factory=dict)


def parse(doc: str | None) -> Docstring:
    """Split a docstring into its text and a description per parameter name (``*``/``**`` dropped)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    kept: list[str] = []
    parameters: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line, stripped = lines[index], lines[index].strip()
        underlined = index + 1 < len(lines) and _UNDERLINE.fullmatch(lines[index + 1].strip())
        if _GOOGLE.fullmatch(stripped):
            index = _items(lines, index + 1, _indent(line), _GOOGLE_ITEM, parameters)
        elif stripped.lower() in _NUMPY and underlined:
            index = _items(lines, index + 2, _indent(line) - 1, _NUMPY_ITEM, parameters)
        elif _SPHINX.fullmatch(stripped) or _SPHINX_TYPE.match(stripped):
            found = _SPHINX.fullmatch(stripped)
            index, more = _continuation(lines, index + 1, _indent(line))
            if found:
                parameters[found.group(1)] = _join([found.group(2), *more])
        else:
            kept.append(line)
            index += 1
    return Docstring(re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip(), parameters)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _continuation(lines: list[str], index: int, indent: int) -> tuple[int, list[str]]:
    """The lines indented deeper than ``indent`` from ``index`` on (blank ones included)."""
    more = []
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > indent):
        more.append(lines[index].strip())
        index += 1
    return index, more


def _items(lines: list[str], index: int, outer: int, item: re.Pattern, into: dict[str, str]) -> int:
    """Read a section's items (indented deeper than ``outer``); return where the section ends.

    An item starts at the first item line's indentation; deeper lines continue it. For NumPy the
    section's items sit at the heading's own indentation (``outer`` is one less), and a line there
    that is no item (the next heading, prose) ends the section.
    """
    item_indent = None
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if _indent(line) <= outer:
            break
        if item_indent is None:
            item_indent = _indent(line)
        found = item.fullmatch(line.strip()) if _indent(line) == item_indent else None
        if found is None or _is_numpy_heading(lines, index):
            break
        index, more = _continuation(lines, index + 1, item_indent)
        text = found.group(2) if found.re is _GOOGLE_ITEM else ""
        into[found.group(1)] = _join([text, *more])
    while index > 0 and not lines[index - 1].strip() and index < len(lines):
        index -= 1  # leave the blank line before the next section to the text
    return index


def _is_numpy_heading(lines: list[str], index: int) -> bool:
    return index + 1 < len(lines) and bool(_UNDERLINE.fullmatch(lines[index + 1].strip()))


def _join(parts: list[str]) -> str:
    return " ".join(part for part in parts if part).strip()
