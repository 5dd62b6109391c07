"""A Django app whose ``mcp`` module defines a tool named like a built-in (discovery must refuse it)."""
