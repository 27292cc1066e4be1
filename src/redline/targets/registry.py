"""Named targets (``family-size/defence``): built-in ones plus user ones from TOML.

Why here: this is the one place where targets and the harmlessness preference model are
wired together (DESIGN.md section 1): rejection-sampling targets get the default PM as
their scorer, imported lazily so ``targets`` never imports ``harmlessness`` at load time.

Built-in targets: for every model in :data:`redline.targets.models.CATALOGUE`, ``/plain``,
``/hhh`` and ``/rs16`` on the embedded llama.cpp backend, and ``/rlhf`` where a LoRA adapter
ships in ``targets/adapters`` (see :mod:`redline.rlhf`). User targets are ``[[targets]]``
tables in ``redline.toml`` or in the file given by ``--targets`` / ``REDLINE_TARGETS``
(that file wins on equal names; a user target may replace a built-in one)::

    [[targets]]
    name = "llama3-8b/rs16"          # family-size/defence
    backend = "openai"               # or "llamacpp"
    model = "meta-llama/Meta-Llama-3-8B-Instruct"   # llamacpp: catalogue name or .gguf path
    base_url = "http://127.0.0.1:8000/v1"
    api_key_env = "VLLM_API_KEY"     # the variable's name, never the key
    num_params = 8_030_000_000       # optional: parsed from the size label otherwise

Built targets and their loaded models are cached per process (the web server asks for
the same target on every turn); the plain, hhh and rs targets of one model share one
loaded backend. Building is serialised by a lock so a model is never loaded twice.
"""

from __future__ import annotations

import json
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.errors import ConfigError, NotFoundError
from redline.targets.base import Backend, Scorer, TargetInfo, TargetModel
from redline.targets.defences import DefenceSpec, build_defended_target, parse_defence
from redline.targets.models import CATALOGUE, ModelSpec

BUILTIN_DEFENCES = ("plain", "hhh", "rs16")
BACKENDS = ("llamacpp", "openai")
NAME_RE = re.compile(
    r"^(?P<family>[a-z0-9][a-z0-9._-]*?)-(?P<size>\d+(?:\.\d+)?[kmbt])/(?P<defence>[a-z0-9]+)$"
)
_MULTIPLIER = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
_FIELDS = {
    "name": str,
    "backend": str,
    "model": str,
    "gguf": str,
    "base_url": str,
    "api_key_env": str,
    "defence": str,
    "k": int,
    "size_label": str,
    "num_params": int,
    "family": str,
    "chat": bool,
    "max_tokens": int,
    "temperature": float,
    "timeout_s": float,
    "max_retries": int,
    "max_concurrency": int,
    "n_ctx": int,
    "n_threads": int,
}


@dataclass(frozen=True)
class TargetDefinition:
    """Everything needed to build one named target; ``source`` says where it was defined."""

    info: TargetInfo
    defence: DefenceSpec
    backend: str
    model: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)

    def backend_key(self) -> str:
        """Targets with equal keys share one loaded backend (one model in memory)."""
        shared = {k: v for k, v in self.options.items() if k not in ("max_tokens", "temperature")}
        return json.dumps([self.backend, self.model, shared], sort_keys=True, default=str)


def size_to_params(size_label: str) -> int:
    """``"135M"`` -> 135_000_000, ``"2.7B"`` -> 2_700_000_000."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmbt])", size_label.strip().lower())
    if not match:
        raise ValueError(f"size label {size_label!r} is not like 135M or 2.7B")
    return round(float(match.group(1)) * _MULTIPLIER[match.group(2)])


def builtin_definitions() -> list[TargetDefinition]:
    """``<model>/plain``, ``<model>/hhh`` and ``<model>/rs16`` for every catalogue model."""
    defs = []
    for spec in CATALOGUE.values():
        for defence_name in BUILTIN_DEFENCES:
            defence = parse_defence(defence_name)
            config: dict[str, Any] = {"backend": "llamacpp", "model": spec.name}
            if defence.k:
                config["k"] = defence.k
            info = TargetInfo(
                name=f"{spec.name}/{defence.name}",
                family=spec.family,
                size_label=spec.size_label,
                num_params=spec.num_params,
                model_type=defence.model_type,
                defence=defence.name,
                config=config,
            )
            defs.append(TargetDefinition(info, defence, "llamacpp", spec.name, "built-in"))
        rlhf = _packaged_rlhf_definition(spec)
        if rlhf is not None:
            defs.append(rlhf)
    return defs


def _packaged_rlhf_definition(spec: ModelSpec) -> TargetDefinition | None:
    """``<model>/rlhf``: the model with the LoRA adapter shipped in ``targets/adapters``
    (trained against the PM by ``redline train rlhf``), shown the plain prompt; only
    listed when the adapter file is there."""
    adapter = Path(__file__).with_name("adapters") / f"{spec.name}-rlhf.gguf"
    if not adapter.is_file():
        return None
    defence = parse_defence("rlhf")
    info = TargetInfo(
        name=f"{spec.name}/rlhf",
        family=spec.family,
        size_label=spec.size_label,
        num_params=spec.num_params,
        model_type=defence.model_type,
        defence=defence.name,
        config={"backend": "llamacpp", "model": spec.name, "lora": adapter.name},
    )
    options = {"lora_path": str(adapter)}
    return TargetDefinition(info, defence, "llamacpp", spec.name, "built-in", options)


def _user_definition(raw: Any, source: str, index: int, base_dir: Path) -> TargetDefinition:
    """Validate one ``[[targets]]`` table; errors name the file, the target and the field."""
    label = raw.get("name", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
    where = f"{source}, target {label!r}"

    def fail(field_name: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}, field '{field_name}': {problem}")

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a [[targets]] table")
    for key, value in raw.items():
        expected = _FIELDS.get(key)
        if expected is None:
            raise fail(key, f"unknown field; known fields: {', '.join(sorted(_FIELDS))}")
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise fail(key, f"expected {expected.__name__}, got {value!r}")
    if "name" not in raw:
        raise fail("name", "missing; use family-size/defence, e.g. llama3-8b/hhh")
    name: str = raw["name"]
    match = NAME_RE.match(name)
    if not match:
        raise fail("name", "must look like family-size/defence in lower case, e.g. llama3-8b/hhh")
    try:
        defence = parse_defence(str(raw.get("defence", match["defence"])), k=raw.get("k"))
    except ConfigError as exc:
        raise fail("defence", str(exc)) from exc
    if defence.name != match["defence"]:
        raise fail("name", f"ends in /{match['defence']} but the defence is {defence.name}")

    backend = raw.get("backend", "openai" if "base_url" in raw else "llamacpp")
    if backend not in BACKENDS:
        raise fail("backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")
    options: dict[str, Any] = {
        k: raw[k]
        for k in ("max_tokens", "temperature", "timeout_s", "n_ctx", "n_threads")
        if k in raw
    }
    catalogue_spec = None
    if backend == "openai":
        if "gguf" in raw:
            raise fail("gguf", "only the llamacpp backend loads GGUF files; use model")
        for required in ("base_url", "model"):
            if not raw.get(required):
                raise fail(required, "required for backend 'openai'")
        if not raw["base_url"].startswith(("http://", "https://")):
            raise fail("base_url", "must start with http:// or https://")
        model = raw["model"]
        options.update(
            base_url=raw["base_url"],
            api_key_env=raw.get("api_key_env", "OPENAI_API_KEY"),
            chat=raw.get("chat", True),
        )
        options.update({k: raw[k] for k in ("max_retries", "max_concurrency") if k in raw})
    else:
        for unused in ("base_url", "api_key_env", "chat", "max_retries", "max_concurrency"):
            if unused in raw:
                raise fail(unused, "only used by backend 'openai'")
        if ("model" in raw) == ("gguf" in raw):
            raise fail("model", "give exactly one of model (a built-in model) or gguf (a path)")
        if "gguf" in raw:
            path = Path(raw["gguf"]).expanduser()
            model = str(path if path.is_absolute() else (base_dir / path).resolve())
        else:
            model = raw["model"]
            catalogue_spec = CATALOGUE.get(model)
            if catalogue_spec is None and not model.endswith(".gguf"):
                raise fail("model", f"{model!r} is not a built-in model ({', '.join(CATALOGUE)})")

    size_label = raw.get("size_label", match["size"].upper())
    if "num_params" in raw:
        num_params = raw["num_params"]
    elif catalogue_spec is not None and "size_label" not in raw:
        num_params = catalogue_spec.num_params
    else:
        try:
            num_params = size_to_params(size_label)
        except ValueError as exc:
            raise fail("size_label", f"{exc}; or give num_params") from exc
    if num_params <= 0:
        raise fail("num_params", "must be positive")
    config = {"backend": backend, "model": model, "source": source, **options}
    if defence.k:
        config["k"] = defence.k
    info = TargetInfo(
        name=name,
        family=str(raw.get("family", match["family"])),
        size_label=size_label,
        num_params=num_params,
        model_type=defence.model_type,
        defence=defence.name,
        config=config,
    )
    return TargetDefinition(info, defence, backend, model, source, options)


def _tables(data: dict[str, Any], source: str) -> list[Any]:
    tables = data.get("targets", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: 'targets' must be [[targets]] tables")
    return tables


def user_definitions(settings: Settings) -> list[TargetDefinition]:
    """Targets from ``redline.toml`` then from the targets file (later wins on names)."""
    defs = [
        _user_definition(raw, "redline.toml", i, Path.cwd())
        for i, raw in enumerate(_tables(settings.raw, "redline.toml"))
    ]
    path = settings.targets_file
    if path is not None:
        source = str(path)
        if not path.is_file():
            raise ConfigError(
                f"targets file {path} does not exist; fix --targets or REDLINE_TARGETS"
            )
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        base = path.resolve().parent
        defs += [
            _user_definition(raw, source, i, base) for i, raw in enumerate(_tables(data, source))
        ]
    seen: dict[str, str] = {}
    for d in defs:
        if seen.get(d.info.name) == d.source:
            raise ConfigError(f"{d.source}: target {d.info.name!r} is defined twice")
        seen[d.info.name] = d.source
    return defs


def target_definitions(settings: Settings) -> dict[str, TargetDefinition]:
    """All targets by name: built-in first, then user targets (which may replace them)."""
    merged = {d.info.name: d for d in builtin_definitions()}
    for d in user_definitions(settings):
        merged[d.info.name] = d
    return merged


def available_targets(settings: Settings) -> list[TargetInfo]:
    """Identity of every target this configuration can build (nothing is loaded)."""
    return [d.info for d in target_definitions(settings).values()]


# -- building, cached per process ------------------------------------------------------

_lock = threading.RLock()
_targets: dict[tuple[str, str, int], tuple[TargetModel, Scorer | None]] = {}
_backends: dict[str, Backend] = {}
_default_scorers: dict[str, Scorer] = {}


def _make_backend(definition: TargetDefinition, settings: Settings) -> Backend:
    opts = definition.options
    if definition.backend == "openai":
        from redline.targets.backends.openai_compat import OpenAICompatBackend

        http_kwargs: dict[str, Any] = {
            k: opts[k]
            for k in ("api_key_env", "timeout_s", "max_retries", "max_concurrency", "chat")
            if k in opts
        }
        return OpenAICompatBackend(opts["base_url"], definition.model, **http_kwargs)
    from redline.targets.backends.llamacpp import LlamaCppBackend

    llama_kwargs: dict[str, Any] = {
        k: opts[k] for k in ("n_ctx", "n_threads", "timeout_s", "lora_path") if k in opts
    }
    return LlamaCppBackend(definition.model, settings=settings, **llama_kwargs)


def _default_scorer(settings: Settings) -> Scorer:
    key = str(settings.data_dir)
    if key not in _default_scorers:
        try:
            from redline.harmlessness import load_default_scorer

            _default_scorers[key] = load_default_scorer(settings)
        except Exception as exc:
            raise ConfigError(
                f"rs targets need a preference model: loading the default one failed "
                f"({type(exc).__name__}: {exc}); train one with `redline pm train` and point "
                "REDLINE_PM (or pm_path in redline.toml) at it, or use a plain or hhh target"
            ) from exc
    return _default_scorers[key]


def _settings_key(settings: Settings) -> str:
    return json.dumps(
        [
            str(settings.data_dir),
            str(settings.targets_file),
            settings.raw.get("targets"),
            settings.llama_weights,
        ],
        sort_keys=True,
        default=str,
    )


def build_target(name: str, settings: Settings, *, scorer: Scorer | None = None) -> TargetModel:
    """The target called ``name``, built once per process (and per explicit scorer).

    Raises NotFoundError for an unknown name, ConfigError for a bad definition or a
    missing preference model, BackendUnavailable when the model cannot be loaded.
    """
    key = (name, _settings_key(settings), id(scorer))
    cached = _targets.get(key)
    if cached is not None:
        return cached[0]
    with _lock:
        cached = _targets.get(key)
        if cached is not None:
            return cached[0]
        definitions = target_definitions(settings)
        definition = definitions.get(name)
        if definition is None:
            raise NotFoundError(
                f"unknown target {name!r}; `redline targets` lists the "
                f"{len(definitions)} available ones"
            )
        if definition.defence.kind == "rs" and scorer is None:
            scorer = _default_scorer(settings)
        backend_key = definition.backend_key()
        if definition.backend == "llamacpp":  # the weights file depends on both
            backend_key += f"{settings.data_dir}:{settings.llama_weights}"
        backend = _backends.get(backend_key)
        if backend is None:
            backend = _backends[backend_key] = _make_backend(definition, settings)
        opts = definition.options
        target = build_defended_target(
            definition.defence,
            definition.info,
            backend,
            scorer=scorer,
            # rs replies are scored by a PM trained on 64-token replies, and a turn draws
            # 16 of them: 64 tokens keep it interactive (about 13 s on 2 cores).
            max_tokens=opts.get("max_tokens", 64 if definition.defence.kind == "rs" else 128),
            temperature=opts.get("temperature", 0.8),
        )
        # Keep the scorer alive with the entry: its id is part of the key.
        _targets[key] = (target, scorer)
        return target


def clear_cache() -> None:
    """Forget built targets and loaded models (tests; reloading a changed config)."""
    with _lock:
        _targets.clear()
        _backends.clear()
        _default_scorers.clear()
