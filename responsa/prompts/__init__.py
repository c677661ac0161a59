"""Prompt templates (`/v1/prompts`): versioned system prompts with `{{ name }}` placeholders.

`templates` is the pure part (which placeholders a text uses, the reference a response names,
the text with its variables substituted); `service` is the API's logic (ownership, versions,
the default version) and what a response's `prompt` becomes upstream; `requests` holds the
request bodies. Imports the store, the files, the engine's content parts (`engine/items/content.py`)
and the errors; nothing here imports FastAPI."""
