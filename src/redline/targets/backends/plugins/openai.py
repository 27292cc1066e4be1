"""``backend = "openai"``: any OpenAI-compatible HTTP server (vLLM, llama.cpp's server,
a hosted API), through :class:`~redline.targets.backends.openai_compat.OpenAICompatBackend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from redline.config import Settings
from redline.targets.backends.base import BackendConfig, BackendPlugin, Option, OptionError
from redline.targets.base import Backend


class OpenAIPlugin(BackendPlugin):
    """A served model, by the name the server knows it under."""

    plugin_name = "openai"
    options: ClassVar[Mapping[str, Option]] = {
        "base_url": Option(str, required=True, help="http(s)://host:port/v1"),
        "model": Option(str, required=True, help="the served model's name"),
        "api_key_env": Option(
            str, default="OPENAI_API_KEY", help="the variable holding the key, never the key"
        ),
        "chat": Option(bool, default=True, help="false: a base model via /v1/completions"),
        "timeout_s": Option(float),
        "max_retries": Option(int),
        "max_concurrency": Option(int),
    }

    @classmethod
    def configure(cls, fields: Mapping[str, Any], base_dir: Path) -> BackendConfig:
        config = super().configure(fields, base_dir)
        if not config.options["base_url"].startswith(("http://", "https://")):
            raise OptionError("base_url", "must start with http:// or https://")
        return config

    @classmethod
    def build(cls, model: str, options: Mapping[str, Any], settings: Settings) -> Backend:
        from redline.targets.backends.openai_compat import OpenAICompatBackend

        keywords = {k: options[k] for k in cls.options if k in options}
        return OpenAICompatBackend(keywords.pop("base_url"), model, **keywords)
