"""Request bodies of `/v1/prompts`, with the reference server's (OGX) fields: `variables`
names what the `{{ name }}` placeholders may be (`templates.check_declared` checks they agree
with the text); an update names the `version` it was made from and becomes the default unless
`set_as_default` is false."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_VERSION = 2**31 - 1  # the versions column is a 32-bit integer on both databases
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
Variables = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=100)]


class CreatePromptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str
    variables: Variables | None = None


class UpdatePromptRequest(BaseModel):
    """A new version; `variables` left out declares none (as OGX has it), so a text with
    placeholders must name them again."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str
    version: Version
    variables: Variables | None = None
    set_as_default: bool = True


class SetDefaultVersionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: Version
