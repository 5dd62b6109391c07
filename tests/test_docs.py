"""The documentation site (``mkdocs.yml``, ``docs/``) builds without a warning, and its configuration
reference lists every setting the code reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGURATION = ROOT / "docs" / "configuration.md"


def test_the_site_builds_strictly(tmp_path):
    """--strict turns every warning into a failure: a broken link or anchor, a missing page, a page
    left out of the navigation (mkdocs.yml's ``validation``)."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"]
        + ["-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert (tmp_path / "configuration" / "index.html").exists()


def _variables_read() -> set[str]:
    """Environment variables named in the settings package and in dev.py."""
    settings = "".join(path.read_text() for path in (ROOT / "config" / "settings").glob("*.py"))
    names = set(re.findall(r'\benv(?:_int|_bool|_list)?\("([A-Z0-9_]+)"', settings))
    names |= set(re.findall(r'os\.environ(?:\.get\(|\[)"([A-Z0-9_]+)"', (ROOT / "dev.py").read_text()))
    return names


def test_the_variable_parser_finds_what_it_should():
    names = _variables_read()
    assert {"SECRET_KEY", "MCP_KEY_SOURCE", "DCR_POLICY", "LOG_FORMAT", "WSGI_SERVER", "VENV_DIR"} <= names


@pytest.mark.parametrize("app", ["authserver", "mcpserver", "observability"])
def test_the_configuration_page_lists_every_setting_of_each_namespace(app):
    from importlib import import_module

    documented = CONFIGURATION.read_text()
    defaults = import_module(f"{app}.conf").DEFAULTS
    assert [key for key in defaults if f"`{key}`" not in documented] == []


def test_the_configuration_page_lists_every_environment_variable():
    documented = CONFIGURATION.read_text()
    assert sorted(name for name in _variables_read() if f"`{name}`" not in documented) == []
