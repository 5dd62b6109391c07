"""Settings for the growth benchmark's second phase: the project's settings plus 1,000 registered tools."""

from config.settings import *  # noqa: F403
from config.settings import MCPSERVER

MCPSERVER = {
    **MCPSERVER,
    "CAPABILITIES": ["mcpserver.tools", "mcpserver.prompts", "mcpserver.resources", "bench.capabilities"],
}
