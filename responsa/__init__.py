"""Responsa: the OpenAI Responses API over any Chat-Completions backend."""

from responsa.app import create_app
from responsa.config import Settings

__version__ = "0.1.0"

__all__ = ["Settings", "__version__", "create_app"]
