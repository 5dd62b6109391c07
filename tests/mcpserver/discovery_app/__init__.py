"""A Django app for the discovery tests: its ``mcp`` module is found because the app is installed."""
