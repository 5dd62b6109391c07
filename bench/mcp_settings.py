"""Settings for the ``/mcp`` section: the project's settings plus ``typed_echo`` (``bench.typed``),
``drf_echo`` (``bench.drf_echo``) and ``confirm_echo`` (``bench.asking``)."""

from config.settings import *  # noqa: F403
from config.settings import MCPSERVER

MCPSERVER = {
    **MCPSERVER,
    "CAPABILITIES": [
        *("mcpserver.tools", "mcpserver.prompts", "mcpserver.resources"),
        *("bench.typed", "bench.drf_echo", "bench.asking"),
    ],
}
