"""The Prompts API's logic, under the routes (`api/prompts.py`) and above the SQL
(`store/prompts.py`), and what a response's `prompt` becomes upstream.

    prompts = Prompts(store, files)
    first = await prompts.create(CreatePromptRequest(prompt="You are {{ role }}.", variables=["role"]), owner)
    second = await prompts.update(first.id, UpdatePromptRequest(prompt="…", version=1), scope)
    messages = await prompts.messages({"id": first.id, "variables": {"role": "pirate"}}, scope)

Prompts belong to their owner: another owner's prompt is not found (404), as a missing one is.
Versions count from 1; an update names the version it was made from, which must still be the
latest (else a 400 naming the latest), and makes the next one. The default version is what a
retrieve, the list and a response use when they name no version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from responsa import ids
from responsa.errors import InvalidRequest, NotFound
from responsa.files import parts as file_parts
from responsa.files.storage import Files, not_found
from responsa.prompts import templates
from responsa.prompts.requests import CreatePromptRequest, UpdatePromptRequest
from responsa.store.base import Store, StoredPrompt
from responsa.types import ChatMessages


def new_prompt_id() -> str:
    return ids.new_id("pmpt")  # pmpt_<48 hex>, the reference server's form


def prompt_not_found(prompt_id: str, version: int | None = None, param: str | None = None) -> NotFound:
    """OpenAI's words for an unknown prompt (a 404), and for a version it lacks."""
    if version is None:
        return NotFound(f"Prompt with id '{prompt_id}' not found.", param=param)
    return NotFound(f"Version {version} of prompt with id '{prompt_id}' not found.", param=param)


@dataclass(slots=True)
class PromptMessages:
    """What a response's `prompt` adds upstream (SPEC 1.3.7): the system message that goes
    first, before the instructions', and the user message of its media, after the input.
    Like the instructions', the system message is no history (a later turn sends it only if it
    names the prompt again); the media message is, as the reference server keeps it: a
    `previous_response_id` turn sends it again, a conversation (whose items are its history)
    does not."""

    system: ChatMessages = field(default_factory=list)
    appended: ChatMessages = field(default_factory=list)


class Prompts:
    def __init__(self, store: Store, files: Files) -> None:
        self.store = store
        self.files = files

    async def create(self, body: CreatePromptRequest, owner: str) -> StoredPrompt:
        variables = templates.check_declared(body.prompt, body.variables or [])
        prompt = StoredPrompt(new_prompt_id(), 1, body.prompt, variables, True, int(time.time()), owner)
        await self.store.save_prompt(prompt)
        return prompt

    async def get(self, prompt_id: str, version: int | None, scope: str | None) -> StoredPrompt:
        found = await self.store.get_prompt(prompt_id, version, scope)
        if found is None:
            if version is not None and await self._exists(prompt_id, scope):
                raise prompt_not_found(prompt_id, version, "version")
            raise prompt_not_found(prompt_id)
        return found

    async def defaults(self, scope: str | None) -> list[StoredPrompt]:
        """The default version of every prompt, newest prompt first."""
        return await self.store.list_prompts(scope)

    async def versions(self, prompt_id: str, scope: str | None) -> list[StoredPrompt]:
        found = await self.store.prompt_versions(prompt_id, scope)
        if found is None:
            raise prompt_not_found(prompt_id)
        return found

    async def update(self, prompt_id: str, body: UpdatePromptRequest, scope: str | None) -> StoredPrompt:
        """A new version, made from `body.version`, which must be the latest."""
        variables = templates.check_declared(body.prompt, body.variables or [])
        current = await self.versions(prompt_id, scope)
        prompt = StoredPrompt(
            prompt_id,
            body.version + 1,
            body.prompt,
            variables,
            body.set_as_default,
            int(time.time()),
            current[0].owner,
        )
        made = current[-1].version == body.version and await self.store.add_prompt_version(
            prompt, body.version, body.set_as_default, scope
        )
        if not made:  # not the latest, or another update made the next version first
            latest = (await self.versions(prompt_id, scope))[-1].version
            raise InvalidRequest(  # the reference server's words
                f"'{body.version}' is not the latest prompt version for prompt_id='{prompt_id}'. "
                f"Use the latest version '{latest}' in request.",
                param="version",
            )
        return prompt

    async def set_default(self, prompt_id: str, version: int, scope: str | None) -> StoredPrompt:
        found = await self.store.set_default_prompt_version(prompt_id, version, scope)
        if found is None:
            if await self._exists(prompt_id, scope):
                raise prompt_not_found(prompt_id, version, "version")
            raise prompt_not_found(prompt_id)
        return found

    async def delete(self, prompt_id: str, scope: str | None) -> None:
        if not await self.store.delete_prompt(prompt_id, scope):
            raise prompt_not_found(prompt_id)

    async def _exists(self, prompt_id: str, scope: str | None) -> bool:
        return await self.store.get_prompt(prompt_id, None, scope) is not None

    async def messages(self, raw: dict[str, Any] | None, scope: str | None) -> PromptMessages:
        """A response's `prompt` as upstream messages: the named version (or the default) with
        its variables put in. An unknown prompt or version is a 404, as at OpenAI, whose
        message says "not found" (the reference server answers a 400 with those words: a
        client that checks the words works with both; one that checks the status was written
        for OpenAI's). An uploaded file a variable names must be the caller's (404 naming the
        variable); its bytes are read for each upstream call, as for the input's files."""
        if raw is None:
            return PromptMessages()
        reference = templates.parse_reference(dict(raw))
        found = await self.store.get_prompt(reference.id, reference.version, scope)
        if found is None:
            if reference.version is not None and await self._exists(reference.id, scope):
                raise prompt_not_found(reference.id, reference.version, "prompt.version")
            raise prompt_not_found(reference.id, param="prompt.id")
        rendered = templates.render(found, reference)
        await self._check_files(rendered, scope)
        system: ChatMessages = [{"role": "system", "content": rendered.text}] if rendered.text else []
        parts = [part for _, part in rendered.media]
        return PromptMessages(system, [{"role": "user", "content": parts}] if parts else [])

    async def _check_files(self, rendered: templates.Rendered, scope: str | None) -> None:
        named = {
            file_id: f"prompt.variables.{name}.file_id"
            for name, part in rendered.media
            for file_id in file_parts.referenced([{"content": [part]}])
        }
        if named:
            found = await self.files.find(list(named), scope)
            for file_id, param in named.items():
                if file_id not in found:
                    raise not_found(file_id, param)
