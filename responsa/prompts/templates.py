"""Prompt templates without I/O: the placeholders a text uses, the check that a prompt declares
them, the reference a response names and the text with its variables put in (SPEC 1.3.7).

    check_declared("You are a {{ role }}.", ["role"])     # fine; ["tone"] is a 400
    reference = parse_reference({"id": "pmpt_…", "variables": {"role": "pirate"}})
    rendered = render(stored, reference)                  # rendered.text == "You are a pirate."

A placeholder is `{{ name }}`: spaces inside the braces allowed, the name word characters, as
the reference server (OGX) reads them. A text variable (`input_text`, or a plain string, which
OpenAI allows too) replaces its placeholders by its text; an `input_image` or `input_file`
variable by `[Image: name]` or `[File: name]`, and its part (in Chat Completions form, by
`engine/items/content.py`) goes to the user message that follows the input. A placeholder
without a variable stays as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from responsa.engine.items.content import chat_part
from responsa.errors import InvalidRequest
from responsa.prompts.requests import MAX_VERSION
from responsa.store.base import StoredPrompt

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
NAME = re.compile(r"\w+")
MEDIA_LABELS = {"input_image": "Image", "input_file": "File"}
VARIABLE_TYPES = ("input_text", *MEDIA_LABELS)
REFERENCE_KEYS = ("id", "version", "variables")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def check_declared(text: str, variables: list[str]) -> list[str]:
    """The declared variable names, if they are names, each once, and cover every placeholder
    of `text` (declared names the text does not use are allowed)."""
    for name in variables:
        if not NAME.fullmatch(name):
            raise InvalidRequest(
                f"Invalid value for 'variables': {name!r} is not a variable name "
                "(letters, digits and underscores).",
                param="variables",
            )
    if len(set(variables)) != len(variables):
        twice = sorted({name for name in variables if variables.count(name) > 1})
        raise InvalidRequest(f"Invalid value for 'variables': {twice} declared twice.", param="variables")
    undeclared = placeholders(text) - set(variables)
    if undeclared:
        raise InvalidRequest(
            f"Prompt contains undeclared variables: {sorted(undeclared)}. Declare each in 'variables'.",
            param="variables",
        )
    return variables


@dataclass(frozen=True, slots=True)
class Reference:
    """A response's `prompt`: which prompt, which version (None: its default) and the values."""

    id: str
    version: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)


def parse_reference(raw: dict[str, Any]) -> Reference:
    """`prompt: {"id", "version"?, "variables"?}` checked: `version` is a string of digits, as
    in the SDK's `ResponsePrompt`; values are checked by `render`."""
    for key in raw:
        if key not in REFERENCE_KEYS:
            raise InvalidRequest(
                f"Unknown parameter: 'prompt.{key}'.", param=f"prompt.{key}", code="unknown_parameter"
            )
    prompt_id = raw.get("id")
    if not isinstance(prompt_id, str) or not prompt_id:
        raise InvalidRequest(
            "Missing required parameter: 'prompt.id' (a prompt id, such as 'pmpt_…').",
            param="prompt.id",
            code="missing_required_parameter",
        )
    version = raw.get("version")
    digits = isinstance(version, str) and version.isascii() and version.isdigit()
    if version is not None and not (digits and 1 <= int(str(version)) <= MAX_VERSION):
        raise InvalidRequest(
            f"Invalid value for 'prompt.version': expected a version number as a string, such as \"2\"; "
            f"got {version!r}.",
            param="prompt.version",
        )
    variables = raw.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidRequest(
            "Invalid type for 'prompt.variables': expected an object of variable names to values.",
            param="prompt.variables",
            code="invalid_type",
        )
    return Reference(prompt_id, int(version) if version is not None else None, variables or {})


@dataclass(slots=True)
class Rendered:
    text: str  # the system message
    media: list[tuple[str, dict[str, Any]]]  # (variable name, Chat Completions part), in order


def _check_names(prompt: StoredPrompt, reference: Reference) -> None:
    for name in reference.variables:
        if name not in prompt.variables:  # the reference server's words
            raise InvalidRequest(
                f"Invalid value for 'prompt.variables': {name}. "
                f"Variable not defined in prompt '{prompt.id}'.",
                param="prompt.variables",
            )
    missing = [name for name in prompt.variables if name not in reference.variables]
    if missing:
        raise InvalidRequest(
            f"Missing prompt variables: {', '.join(missing)}. Version {prompt.version} of prompt "
            f"'{prompt.id}' declares them; give each a value in 'prompt.variables'.",
            param="prompt.variables",
            code="missing_required_parameter",
        )


def render(prompt: StoredPrompt, reference: Reference) -> Rendered:
    """The prompt's text with the reference's variables put in, and the media they bring.
    Every variable must be declared by this version of the prompt, and every declared one
    given a value."""
    _check_names(prompt, reference)
    texts: dict[str, str] = {}
    media: list[tuple[str, dict[str, Any]]] = []
    for name, value in reference.variables.items():
        where = f"prompt.variables.{name}"
        if isinstance(value, str):
            texts[name] = value
            continue
        kind = value.get("type") if isinstance(value, dict) else None
        if kind not in VARIABLE_TYPES:
            raise InvalidRequest(
                f"Invalid value for '{where}': expected a string or an object of type "
                f"{', '.join(VARIABLE_TYPES)}.",
                param=where,
            )
        part = chat_part(value, where)
        if kind == "input_text":
            texts[name] = part["text"]
        else:
            texts[name] = f"[{MEDIA_LABELS[str(kind)]}: {name}]"
            media.append((name, part))
    text = PLACEHOLDER.sub(lambda match: texts.get(match.group(1), match.group(0)), prompt.prompt)
    return Rendered(text, media)
