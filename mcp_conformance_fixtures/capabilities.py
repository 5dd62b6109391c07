"""The conformance suite's fixture tools, prompts and resources (``MCPSERVER["FIXTURE_PACK"] = True``).

Names, arguments and payloads are the ones the suite's server scenarios call. The input-required
family (2026-07-28) asks through the author API (``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots``,
``ctx.ask``); the keys the suite looks for are given as ``key=``. The 2025-era sampling and elicitation
tools ask the client through ``mcpserver.transport.clientrequests.ask`` (2025 sessions).
``test_trigger_tool_change`` changes the tool list the way an admin would: it switches
``test_toggled_tool`` off or on again with a ``ToolPolicy``, whose save announces the change to every
notification stream (``mcpserver.notifications``).
"""

from __future__ import annotations

import base64
import json
import time

from mcpserver.registry import (
    ClientCannot,
    Log,
    Progress,
    PromptArgument,
    Question,
    ToolError,
    prompt,
    resource,
    tool,
)
from mcpserver.transport.clientrequests import ask

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
WAV = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA=="
OBJECT = {"type": "object"}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


@tool("test_simple_text", description="Tests simple text content response", input_schema=OBJECT)
def simple_text(ctx):
    return "This is a simple text response for testing."


@tool("test_image_content", description="Tests image content response", input_schema=OBJECT)
def image_content(ctx):
    return [{"type": "image", "data": PNG, "mimeType": "image/png"}]


@tool("test_audio_content", description="Tests audio content response", input_schema=OBJECT)
def audio_content(ctx):
    return [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]


@tool("test_embedded_resource", description="Tests embedded resource content response", input_schema=OBJECT)
def embedded_resource(ctx):
    return [
        {
            "type": "resource",
            "resource": {
                "uri": "test://embedded-resource",
                "mimeType": "text/plain",
                "text": "This is an embedded resource content.",
            },
        }
    ]


@tool(
    "test_multiple_content_types",
    description="Tests response with multiple content types",
    input_schema=OBJECT,
)
def multiple_content_types(ctx):
    return [
        _text("Multiple content types test:"),
        {"type": "image", "data": PNG, "mimeType": "image/png"},
        {
            "type": "resource",
            "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": json.dumps({"test": "data", "value": 123}),
            },
        },
    ]


@tool(
    "test_tool_with_logging",
    description="Tests tool that emits log messages during execution",
    input_schema=OBJECT,
)
def tool_with_logging(ctx):
    yield Log("Tool execution started")
    time.sleep(0.05)
    yield Log("Tool processing data")
    time.sleep(0.05)
    yield Log("Tool execution completed")
    return "Tool with logging executed successfully"


@tool(
    "test_logging_tool",
    description="Emits a log message only a client that opted in receives",
    input_schema=OBJECT,
)
def logging_tool(ctx):
    yield Log("A log message from test_logging_tool")
    return "Logged"


@tool(
    "test_tool_with_progress",
    description="Tests tool that reports progress notifications",
    input_schema=OBJECT,
)
def tool_with_progress(ctx):
    for value in (0, 50, 100):
        yield Progress(value, 100, f"Completed step {value} of 100")
        time.sleep(0.05)
    return str(ctx.progress_token)


@tool(
    "test_streaming_elicitation",
    description="Streams progress notifications while the call is in flight",
    input_schema=OBJECT,
)
def streaming_elicitation(ctx):
    for value in (1, 2, 3):
        yield Progress(value, 3, f"Step {value} of 3")
        time.sleep(0.02)
    return "Streamed only notifications, then this result."


@tool("test_error_handling", description="Tests error response handling", input_schema=OBJECT)
def error_handling(ctx):
    raise ToolError("This tool intentionally returns an error for testing")


@tool(
    "test_sampling",
    description="Requests LLM sampling from the client",
    input_schema={"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
)
def sampling(ctx, prompt: str):
    params = {"messages": [{"role": "user", "content": _text(prompt)}], "maxTokens": 100}
    content = ask(ctx, "sampling/createMessage", params, ctx.remaining())["content"]
    texts = [block.get("text", "") for block in (content if isinstance(content, list) else [content])]
    return "LLM response: " + "".join(texts)


def _elicited(ctx, message: str, properties: dict, required: list[str] = ()) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return ask(ctx, "elicitation/create", {"message": message, "requestedSchema": schema}, ctx.remaining())


def _completed(answer: dict) -> str:
    return (
        f"Elicitation completed: action={answer.get('action')}, content={json.dumps(answer.get('content'))}"
    )


@tool(
    "test_elicitation",
    description="Requests user input from the client",
    input_schema={"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
)
def elicitation(ctx, message: str):
    properties = {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    }
    answer = _elicited(ctx, message, properties, ["username", "email"])
    return f"User response: action={answer.get('action')}, content={json.dumps(answer.get('content'))}"


@tool(
    "test_elicitation_sep1034_defaults",
    description="Requests user input with a default value for every primitive type (SEP-1034)",
    input_schema=OBJECT,
)
def elicitation_defaults(ctx):
    properties = {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    }
    return _completed(_elicited(ctx, "Please review and update the form fields with defaults", properties))


@tool(
    "test_elicitation_sep1330_enums",
    description="Requests user input with every enum form (SEP-1330)",
    input_schema=OBJECT,
)
def elicitation_enums(ctx):
    def titled(*pairs):
        return [{"const": value, "title": title} for value, title in pairs]

    properties = {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": titled(
                ("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")
            ),
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": titled(
                    ("value1", "First Choice"), ("value2", "Second Choice"), ("value3", "Third Choice")
                )
            },
        },
    }
    return _completed(_elicited(ctx, "Please select options from the enum fields", properties))


TOGGLED = "test_toggled_tool"


@tool(TOGGLED, description="Switched off and on by test_trigger_tool_change", input_schema=OBJECT)
def toggled(ctx):
    return "Toggled tool: on"


@tool(
    "test_trigger_tool_change",
    description="Changes the tool list: switches test_toggled_tool off, or on again",
    input_schema=OBJECT,
)
def trigger_tool_change(ctx):
    from mcpserver.models import ToolPolicy

    switched_on, _ = ToolPolicy.objects.filter(name=TOGGLED).delete()
    if not switched_on:
        ToolPolicy.objects.create(name=TOGGLED, enabled=False)
    return f"{TOGGLED} is now {'on' if switched_on else 'off'}"


@tool(
    "test_missing_capability",
    description="Requires the sampling client capability (-32021 otherwise)",
    input_schema=OBJECT,
    client_capabilities=["sampling"],
)
def missing_capability(ctx):
    raise ToolError("This server sends no requests to clients; sampling is not available.")


@tool(
    "json_schema_2020_12_tool",
    description="Tool with JSON Schema 2020-12 features for conformance testing",
    input_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    },
)
def json_schema_2020_12(ctx, **arguments):
    return "Received: " + json.dumps(arguments, sort_keys=True)


@tool(
    "test_x_mcp_header",
    description="Tests Mcp-Param-* header validation (x-mcp-header)",
    input_schema={
        "type": "object",
        "properties": {
            "region": {
                "type": "string",
                "description": "mirrored into Mcp-Param-Region",
                "x-mcp-header": "Region",
            },
            "level": {"type": "integer", "description": "not mirrored"},
        },
    },
)
def x_mcp_header(ctx, region: str = "", level: int = 0):
    return f"region={region} level={level}"


NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def _said(sampled: dict) -> str:
    content = sampled["content"]
    return content.get("text", "") if isinstance(content, dict) else ""


@tool("test_input_required_result_elicitation", description="Asks the user's name", input_schema=OBJECT)
def input_required_elicitation(ctx):
    answer = ctx.elicit("What is your name?", NAME, key="user_name")
    return f"Hello, {answer.content['name']}!" if answer.accepted else f"No name given ({answer.action})."


@tool("test_input_required_result_sampling", description="Asks the client's model", input_schema=OBJECT)
def input_required_sampling(ctx):
    sampled = ctx.sample("What is the capital of France?", max_tokens=100, key="capital_question")
    return f"The model said: {_said(sampled)}"


@tool("test_input_required_result_list_roots", description="Asks for the client's roots", input_schema=OBJECT)
def input_required_list_roots(ctx):
    found = ctx.list_roots(key="client_roots")
    return "Roots: " + ", ".join(root["uri"] for root in found)


@tool(
    "test_input_required_result_request_state", description="Keeps state between rounds", input_schema=OBJECT
)
def input_required_request_state(ctx):
    first_request = ctx.state.setdefault("first_request", ctx.request_id)
    answer = ctx.elicit("Please confirm", CONFIRM, key="confirm")
    confirmed = answer.accepted and answer.content["ok"]
    return f"state-ok: confirmed={confirmed}, first request {first_request}"


@tool("test_input_required_result_tampered_state", description="Asks for a confirmation", input_schema=OBJECT)
def input_required_tampered_state(ctx):
    answer = ctx.elicit("Please confirm", CONFIRM, key="confirm")
    return f"Confirmed: {answer.accepted}"


@tool(
    "test_input_required_result_multiple_inputs", description="Asks three things at once", input_schema=OBJECT
)
def input_required_multiple_inputs(ctx):
    named, greeting, found = ctx.ask(
        Question.elicitation("What is your name?", NAME, key="user_name"),
        Question.sampling("Generate a greeting", max_tokens=50, key="greeting"),
        Question.roots(key="client_roots"),
    )
    name = named.content["name"] if named.accepted else "stranger"
    return f"{_said(greeting)} {name} ({len(found)} roots)"


@tool("test_input_required_result_multi_round", description="Asks two things in turn", input_schema=OBJECT)
def input_required_multi_round(ctx):
    name = ctx.elicit("Step 1: What is your name?", NAME, key="step1")
    color_schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    color = ctx.elicit("Step 2: What is your favorite color?", color_schema, key="step2")
    return f"{name.content['name']} likes {color.content['color']}."


@tool(
    "test_input_required_result_capabilities",
    description="Asks the user, or the model when the client cannot ask the user",
    input_schema=OBJECT,
)
def input_required_capabilities(ctx):
    try:
        answer = ctx.elicit("What is your name?", NAME, key="user_name")
        return f"The user said: {answer.content['name'] if answer.accepted else answer.action}"
    except ClientCannot:
        return f"The model said: {_said(ctx.sample('Suggest a name', max_tokens=20, key='name_suggestion'))}"


@prompt("test_input_required_result_prompt", description="A prompt that asks the user for its context")
def input_required_prompt(ctx):
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    answer = ctx.elicit("What context should the prompt use?", schema, key="user_context")
    context = answer.content["context"] if answer.accepted else "none"
    return f"Answer with this context in mind: {context}"


@prompt("test_simple_prompt", description="A simple prompt without arguments")
def simple_prompt(ctx):
    return "This is a simple prompt for testing."


@prompt(
    "test_prompt_with_arguments",
    description="A prompt with required arguments",
    arguments=[
        PromptArgument("arg1", "First test argument", required=True, choices=("paris", "park", "party")),
        PromptArgument("arg2", "Second test argument", required=True),
    ],
)
def prompt_with_arguments(ctx, arg1: str, arg2: str):
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@prompt(
    "test_prompt_with_embedded_resource",
    description="A prompt that includes an embedded resource",
    arguments=[PromptArgument("resourceUri", "URI of the resource to embed", required=True)],
)
def prompt_with_embedded_resource(ctx, resourceUri: str):  # noqa: N803  (the suite's argument name)
    return [
        {
            "role": "user",
            "content": {
                "type": "resource",
                "resource": {
                    "uri": resourceUri,
                    "mimeType": "text/plain",
                    "text": "Embedded resource content for testing.",
                },
            },
        },
        {"role": "user", "content": _text("Please process the embedded resource above.")},
    ]


@prompt("test_prompt_with_image", description="A prompt that includes image content")
def prompt_with_image(ctx):
    return [
        {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
        {"role": "user", "content": _text("Please analyze the image above.")},
    ]


@resource(
    "test://static-text", name="static-text", description="A static text resource", mime_type="text/plain"
)
def static_text(ctx):
    return "This is the content of the static text resource."


@resource(
    "test://static-binary",
    name="static-binary",
    description="A static binary resource",
    mime_type="image/png",
)
def static_binary(ctx):
    return base64.b64decode(PNG)


@resource(
    "test://watched-resource",
    name="watched-resource",
    description="A resource clients may watch",
    mime_type="text/plain",
)
def watched_resource(ctx):
    return "Watched resource content"


@resource(
    "test://template/{id}/data",
    name="template-data",
    description="A resource template with an id",
    mime_type="application/json",
)
def template_data(ctx, id: str):  # noqa: A002  (the template's variable name)
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


# --- the tasks extension (io.modelcontextprotocol/tasks, 2026-07-28): run by a task worker ---


@tool("greet", description="Greets someone (never a task)")
def greet(ctx, name: str = "World") -> str:
    return f"Hello, {name}!"


@tool("slow_compute", description="Sleeps for the given seconds, then answers", task="optional")
def slow_compute(ctx, seconds: float = 1, label: str = "") -> str:
    """Works for ``seconds`` in steps of 0.1 s, so that a cancellation stops it between two steps."""
    steps = max(0, round(float(seconds) * 10))
    for step in range(steps):
        time.sleep(0.1)
        if step % 10 == 9:
            yield Progress(step + 1, steps, f"{(step + 1) // 10} s of {seconds} s")
    return f"Computed {label or 'result'} after {seconds} s."


@tool("failing_job", description="Fails with a tool error after about a second", task="required")
def failing_job(ctx) -> str:
    time.sleep(1)
    raise ToolError("The job failed (as it always does).")


@tool("protocol_error_job", description="Crashes: its task fails with a JSON-RPC error", task="required")
def protocol_error_job(ctx) -> str:
    raise RuntimeError("protocol_error_job crashes on purpose")


CONFIRM_DELETE = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}


@tool("confirm_delete", description="Asks for a confirmation before deleting a file", task="optional")
def confirm_delete(ctx, filename: str) -> str:
    answer = ctx.elicit(f"Delete {filename}?", CONFIRM_DELETE)
    if answer.accepted and answer.content["confirm"]:
        return f"Deleted {filename}."
    return f"Kept {filename}."


NAME_AND_CONFIRM = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "confirm": {"type": "boolean"}},
    "required": ["name"],
}


@tool("multi_input", description="Asks two questions at once", task="optional")
def multi_input(ctx) -> str:
    first, second = ctx.ask(
        Question.elicitation("First name?", NAME_AND_CONFIRM, key="first"),
        Question.elicitation("Second name?", NAME_AND_CONFIRM, key="second"),
    )
    names = [answer.content["name"] if answer.accepted else answer.action for answer in (first, second)]
    return "Got " + " and ".join(names) + "."


@tool(
    "test_tool_with_task",
    description="Asks the user's name, then greets them from a task",
    task="required",
    ask_first=True,
)
def tool_with_task(ctx) -> str:
    answer = ctx.elicit("What is your name?", NAME, key="user_name")
    ctx.background()  # the request ends here with a task handle; the task runs this again, answered
    return f"Hello from a task, {answer.content['name'] if answer.accepted else 'stranger'}!"
