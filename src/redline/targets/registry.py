"""Named targets (``family-size/defence``): built-in ones plus user ones from TOML.

Why here: this is the one place where targets and the harmlessness preference model are
wired together (DESIGN.md section 1): rejection-sampling targets get the default PM as
their scorer, imported lazily so ``targets`` never imports ``harmlessness`` at load time.

Built-in targets: for every model in :data:`redline.targets.catalogue.CATALOGUE`, ``/plain``,
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
from redline.targets.backends.base import BackendConfig, OptionError
from redline.targets.backends.registry import BACKENDS, DEFAULT_BACKEND
from redline.targets.base import Backend, Scorer, TargetInfo, TargetModel
from redline.targets.catalogue import CATALOGUE, ModelSpec
from redline.targets.defences import (
    DefenceSpec,
    build_defended_target,
    defence_class,
    parse_defence,
)
from redline.targets.defences.registry import option_types as defence_option_types
from redline.targets.scorers import SCORERS

BUILTIN_DEFENCES = ("plain", "hhh", "rs16")
NAME_RE = re.compile(
    r"^(?P<family>[a-z0-9][a-z0-9._-]*?)-(?P<size>\d+(?:\.\d+)?[kmbt])/(?P<defence>[a-z0-9]+)$"
)
_MULTIPLIER = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
#: Fields of every target, whatever its backend and defence; ``max_tokens`` and
#: ``temperature`` set how its replies are sampled.
TARGET_FIELDS: dict[str, type] = {
    "name": str,
    "backend": str,
    "defence": str,
    "size_label": str,
    "num_params": int,
    "family": str,
    "max_tokens": int,
    "temperature": float,
}
_SAMPLING = ("max_tokens", "temperature")


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
        shared = {k: v for k, v in self.options.items() if k not in _SAMPLING}
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
    defences = [parse_defence(name) for name in BUILTIN_DEFENCES]
    for spec in CATALOGUE.values():
        for defence in defences:
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


def _typed(value: Any, expected: type) -> bool:
    """Whether a TOML value has the declared type (ints pass as floats, never booleans)."""
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected) and not (expected is int and isinstance(value, bool))


def _backend_fields() -> dict[str, dict[str, type]]:
    """Each backend-specific field -> {backend: type} of the backends that read it."""
    owners: dict[str, dict[str, type]] = {}
    for name, plugin in BACKENDS.load_all().items():
        for key, option in plugin.options.items():
            owners.setdefault(key, {})[name] = option.kind
    return owners


def _check_types(raw: dict[str, Any], owners: dict[str, dict[str, type]]) -> None:
    known = {**TARGET_FIELDS, **defence_option_types()}
    for key, value in raw.items():
        types = [known[key]] if key in known else list(owners.get(key, {}).values())
        if not types:
            fields = sorted({*known, *owners})
            raise OptionError(key, f"unknown field; known fields: {', '.join(fields)}")
        if not any(_typed(value, expected) for expected in types):
            raise OptionError(key, f"expected {types[0].__name__}, got {value!r}")


def _choose_backend(raw: dict[str, Any], owners: dict[str, dict[str, type]]) -> str:
    """The named backend, else the first (the default first) that reads every
    backend-specific field the table gives (``base_url`` alone means openai)."""
    if "backend" in raw:
        name: str = raw["backend"]
        if name not in BACKENDS:
            raise OptionError("backend", f"{name!r} is not one of {', '.join(BACKENDS.names())}")
        return name
    given = [key for key in raw if key in owners]
    candidates = [DEFAULT_BACKEND, *(n for n in BACKENDS.names() if n != DEFAULT_BACKEND)]
    for candidate in candidates:
        if all(candidate in owners[key] for key in given):
            return candidate
    return DEFAULT_BACKEND


def _parse_table(
    raw: dict[str, Any], base_dir: Path
) -> tuple[re.Match[str], DefenceSpec, str, BackendConfig]:
    """The name's parts, the defence, the backend's name and its configuration of one
    table; a bad field raises :class:`OptionError` naming it."""
    owners = _backend_fields()
    _check_types(raw, owners)
    if "name" not in raw:
        raise OptionError("name", "missing; use family-size/defence, e.g. llama3-8b/hhh")
    name: str = raw["name"]
    match = NAME_RE.match(name)
    if not match:
        raise OptionError(
            "name", "must look like family-size/defence in lower case, e.g. llama3-8b/hhh"
        )
    options = {key: raw[key] for key in defence_option_types() if key in raw}
    try:
        defence = parse_defence(str(raw.get("defence", match["defence"])), **options)
    except ConfigError as exc:
        raise OptionError("defence", str(exc)) from exc
    if defence.name != match["defence"]:
        raise OptionError("name", f"ends in /{match['defence']} but the defence is {defence.name}")
    backend = _choose_backend(raw, owners)
    plugin = BACKENDS.load(backend)
    for key in raw:
        if key in owners and backend not in owners[key]:
            users = ", ".join(repr(owner) for owner in owners[key])
            raise OptionError(key, f"only used by backend {users}")
    fields = {key: value for key, value in raw.items() if key in plugin.options}
    configured = plugin.configure(fields, base_dir)
    return match, defence, backend, configured


def _user_definition(raw: Any, source: str, index: int, base_dir: Path) -> TargetDefinition:
    """Validate one ``[[targets]]`` table; errors name the file, the target and the field."""
    label = raw.get("name", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
    where = f"{source}, target {label!r}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a [[targets]] table")
    try:
        match, defence, backend, configured = _parse_table(raw, base_dir)
        size_label = raw.get("size_label", match["size"].upper())
        if "num_params" in raw:
            num_params = raw["num_params"]
        elif configured.num_params is not None and "size_label" not in raw:
            num_params = configured.num_params
        else:
            try:
                num_params = size_to_params(size_label)
            except ValueError as exc:
                raise OptionError("size_label", f"{exc}; or give num_params") from exc
        if num_params <= 0:
            raise OptionError("num_params", "must be positive")
    except OptionError as exc:
        raise ConfigError(f"{where}, {exc}") from exc
    options = {**{k: raw[k] for k in _SAMPLING if k in raw}, **configured.options}
    config = {"backend": backend, "model": configured.model, "source": source, **options}
    if defence.k:
        config["k"] = defence.k
    info = TargetInfo(
        name=match.string,
        family=str(raw.get("family", match["family"])),
        size_label=size_label,
        num_params=num_params,
        model_type=defence.model_type,
        defence=defence.name,
        config=config,
    )
    return TargetDefinition(info, defence, backend, configured.model, source, options)


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
    plugin = BACKENDS.load(definition.backend)
    return plugin.build(definition.model, definition.options, settings)


def _default_scorer(spec: DefenceSpec, settings: Settings) -> Scorer:
    """The scorer the defence names (the packaged PM for rs), loaded once per data dir."""
    name = defence_class(spec).scorer or ""
    key = f"{name}:{settings.data_dir}"
    if key not in _default_scorers:
        try:
            _default_scorers[key] = SCORERS.load(name)(settings)
        except Exception as exc:
            raise ConfigError(
                f"{spec.kind} targets need a preference model: loading the default one "
                f"({name}) failed ({type(exc).__name__}: {exc}); train one with "
                "`redline pm train` and point REDLINE_PM (or pm_path in redline.toml) at it, "
                "or use a plain or hhh target"
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
        if definition.defence.needs_scorer and scorer is None:
            scorer = _default_scorer(definition.defence, settings)
        plugin = BACKENDS.load(definition.backend)
        backend_key = definition.backend_key() + plugin.settings_key(settings)
        backend = _backends.get(backend_key)
        if backend is None:
            backend = _backends[backend_key] = _make_backend(definition, settings)
        opts = definition.options
        target = build_defended_target(
            definition.defence,
            definition.info,
            backend,
            scorer=scorer,
            max_tokens=opts.get("max_tokens", defence_class(definition.defence).default_max_tokens),
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
