"""The built-in prompts: a greeting personalised with the caller's name, and help for this caller."""

from __future__ import annotations

from .registry import PromptArgument, prompt


@prompt(
    title="Greeting",
    arguments=[PromptArgument("topic", "Something to talk about (optional).", required=False)],
)
def greeting(ctx, topic: str = "") -> str:
    """Greet the caller by name."""
    name = ctx.token.username or ctx.token.subject
    text = f"Say hello to {name} in a friendly way."
    return f"{text} Then talk briefly about {topic}." if topic else text


@prompt("help", title="Help")
def help_prompt(ctx) -> str:
    """Explain what this caller may do on this server."""
    lines = [
        f"You are connected as {ctx.token.username or ctx.token.subject} (client {ctx.token.client_id})."
    ]
    for kind, label in (
        ("tool", "Tools"),
        ("prompt", "Prompts"),
        ("resource", "Resources"),
        ("template", "Templates"),
    ):
        items = ctx.visible(kind)
        described = ", ".join(f"{item.key} ({item.description.splitlines()[0]})" for item in items) or "none"
        lines.append(f"{label} you may use: {described}.")
    lines.append(f"Your scopes: {' '.join(sorted(ctx.token.scopes)) or 'none'}.")
    return "\n".join(lines)
