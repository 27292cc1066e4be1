"""``backend = "llamacpp"`` (the default): a GGUF model run in process by llama.cpp, a
catalogue model or a file, through :class:`~redline.targets.backends.llamacpp.LlamaCppBackend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from redline.config import Settings
from redline.targets.backends.base import BackendConfig, BackendPlugin, Option, OptionError
from redline.targets.base import Backend
from redline.targets.catalogue import CATALOGUE


class LlamaCppPlugin(BackendPlugin):
    """Exactly one of ``model`` (a catalogue name) or ``gguf`` (a path, relative to the
    file that defines the target)."""

    plugin_name = "llamacpp"
    options: ClassVar[Mapping[str, Option]] = {
        "model": Option(str, help="a built-in model"),
        "gguf": Option(str, help="a .gguf file"),
        "n_ctx": Option(int),
        "n_threads": Option(int),
        "timeout_s": Option(float),
    }
    #: Built-in rlhf targets load a LoRA adapter on top of the model (not a TOML field).
    _internal = ("lora_path",)

    @classmethod
    def configure(cls, fields: Mapping[str, Any], base_dir: Path) -> BackendConfig:
        if ("model" in fields) == ("gguf" in fields):
            raise OptionError(
                "model", "give exactly one of model (a built-in model) or gguf (a path)"
            )
        config = super().configure(fields, base_dir)
        options = dict(config.options)
        if "gguf" in options:
            path = Path(options.pop("gguf")).expanduser()
            model = str(path if path.is_absolute() else (base_dir / path).resolve())
            return BackendConfig(model, options)
        spec = CATALOGUE.get(config.model)
        if spec is None and not config.model.endswith(".gguf"):
            raise OptionError(
                "model", f"{config.model!r} is not a built-in model ({', '.join(CATALOGUE)})"
            )
        return BackendConfig(config.model, options, spec.num_params if spec else None)

    @classmethod
    def settings_key(cls, settings: Settings) -> str:
        return f"{settings.data_dir}:{settings.llama_weights}"

    @classmethod
    def build(cls, model: str, options: Mapping[str, Any], settings: Settings) -> Backend:
        from redline.targets.backends.llamacpp import LlamaCppBackend

        names = [k for k in cls.options if k not in ("model", "gguf")] + list(cls._internal)
        keywords = {k: options[k] for k in names if k in options}
        return LlamaCppBackend(model, settings=settings, **keywords)
