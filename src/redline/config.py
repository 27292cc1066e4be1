"""Settings, resolved in one place: CLI flags > environment (REDLINE_*) > redline.toml > defaults.

Why one resolver: the web app, the CLI and the tests must agree on where the database
and the cached artefacts live, or data silently goes to two places. Every value read from
redline.toml goes through :class:`Table`, so a wrong type is refused the same way in
every table, with a message that names the file, the table and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from redline.errors import ConfigError

CONFIG_FILE = "redline.toml"
DEFAULT_DATA_DIR = ".redline"
#: Which weights llama.cpp runs (see redline.targets.weights): decided by the CPU's kernels
#: (auto), the GGUF file exactly as shipped, or a near-lossless copy in one of these formats
#: made once in the models directory.
LLAMA_WEIGHTS = ("auto", "shipped", "bf16", "f16", "q8_0")
#: Overrides ``llama_threads`` of redline.toml (see :func:`load_settings`).
THREADS_ENV = "REDLINE_LLAMA_THREADS"


@dataclass(frozen=True)
class Settings:
    """Where Redline keeps its data, which targets file it reads, and which weights
    llama.cpp runs (``llama_weights``: one of LLAMA_WEIGHTS)."""

    data_dir: Path
    db_url: str
    targets_file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    llama_weights: str = "auto"
    #: The harmlessness PM to use when a command names none (None: the packaged one).
    pm_path: Path | None = None
    #: Threads for llama.cpp (None: one less than the usable cores).
    llama_threads: int | None = None
    #: The redline.toml ``raw`` was read from, named in error messages.
    config_file: Path | None = None

    def table(self, name: str) -> Table:
        """The ``[name]`` table of redline.toml (empty when absent), read with types checked."""
        return Table(None, self.raw, self.config_file).table(name)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


T = TypeVar("T")


@dataclass(frozen=True)
class Table:
    """One table of redline.toml, whose values are read with their types checked.

    Why one reader: TOML values are typed, but Python's ``bool`` is an ``int``, so
    ``int(value)`` or ``isinstance(value, int)`` alone take ``task_size = true`` for 1, and
    tables that each checked in their own way accepted what another refused. ``name`` is
    None for the top level of the file.
    """

    name: str | None
    values: Mapping[str, Any]
    file: Path | None = None

    def error(self, key: str, problem: str) -> ConfigError:
        """A ConfigError that says where ``key`` is (table and file) and what is wrong."""
        place = f"[{self.name}] {key}" if self.name else key
        where = f" in {self.file}" if self.file else ""
        return ConfigError(f"{place}{where} {problem}")

    def whole(self, key: str, default: T) -> int | T:
        """A whole number (not a boolean, not a decimal), or ``default`` when absent."""
        value = self.values.get(key, default)
        if key in self.values and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(key, f"must be a whole number, not {value!r}; e.g. {key} = 2")
        return value

    def number(self, key: str, default: T) -> float | T:
        """A number (whole or decimal, not a boolean), or ``default`` when absent."""
        value = self.values.get(key, default)
        if key not in self.values:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, not {value!r}; e.g. {key} = 1.5")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        """``true`` or ``false`` (TOML booleans, not strings), or ``default`` when absent."""
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false (without quotes), not {value!r}")
        return value

    def text(self, key: str, default: T) -> str | T:
        """A string, or ``default`` when absent."""
        value = self.values.get(key, default)
        if key in self.values and not isinstance(value, str):
            raise self.error(key, f'must be a string in quotes, not {value!r}; e.g. {key} = "..."')
        return value

    def texts(self, key: str) -> list[str] | None:
        """A list of non-empty strings (stripped), or None when absent."""
        if key not in self.values:
            return None
        value = self.values[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(
                key, f'must be a list of non-empty strings, not {value!r}; e.g. {key} = ["a", "b"]'
            )
        return [v.strip() for v in value]

    def table(self, key: str) -> Table:
        """The table under ``key`` (empty when absent), read the same way."""
        value = self.values.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f'must be a table, not {value!r}; e.g. {key} = {{ "a" = 1 }}')
        name = f"{self.name}.{key}" if self.name else key
        return Table(name, value, self.file)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from exc


def load_settings(
    *,
    data_dir: str | Path | None = None,
    db_url: str | None = None,
    targets_file: str | Path | None = None,
    llama_weights: str | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings; arguments are the CLI flags and win over everything else."""
    cwd = cwd or Path.cwd()
    toml_path = cwd / CONFIG_FILE
    found = toml_path.is_file()
    raw = _read_toml(toml_path) if found else {}
    file = toml_path if found else None
    top = Table(None, raw, file)
    section = top.table("redline") if "redline" in raw else top

    def choose(flag: Any, env: str, key: str, default: Any) -> tuple[Any, str]:
        """The value of one setting and where it came from (for error messages)."""
        if flag is not None:
            return flag, "the command-line flag"
        if os.environ.get(env):
            return os.environ[env], f"environment variable {env}"
        if key in section.values:
            return section.text(key, default), f"{key} in {toml_path}"
        return default, "the default"

    def pick(flag: Any, env: str, key: str, default: Any) -> Any:
        return choose(flag, env, key, default)[0]

    resolved_dir = Path(pick(data_dir, "REDLINE_DATA_DIR", "data_dir", DEFAULT_DATA_DIR))
    if not resolved_dir.is_absolute():
        resolved_dir = cwd / resolved_dir
    default_db = f"sqlite:///{resolved_dir / 'redline.db'}"
    url = str(pick(db_url, "REDLINE_DB_URL", "db_url", default_db))
    targets = pick(targets_file, "REDLINE_TARGETS", "targets_file", None)
    weights, weights_from = choose(llama_weights, "REDLINE_LLAMA_WEIGHTS", "llama_weights", "auto")
    check_llama_weights(weights, weights_from)
    pm_path = pick(None, "REDLINE_PM", "pm_path", None)
    return Settings(
        data_dir=resolved_dir,
        db_url=url,
        targets_file=Path(targets) if targets else None,
        raw=raw,
        llama_weights=str(weights),
        pm_path=Path(pm_path) if pm_path else None,
        llama_threads=_llama_threads(section),
        config_file=file,
    )


def _llama_threads(section: Table) -> int | None:
    """REDLINE_LLAMA_THREADS, else ``llama_threads`` in redline.toml, else None (automatic)."""
    env = os.environ.get(THREADS_ENV)
    if env:
        try:
            threads = int(env)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ConfigError(
                f"{THREADS_ENV}={env!r} is not a whole number of threads; unset it or use e.g. 2"
            )
        return threads
    configured = section.whole("llama_threads", None)
    if configured is not None and configured < 1:
        raise section.error("llama_threads", f"must be at least 1, not {configured}")
    return configured


def check_llama_weights(value: Any, source: str) -> None:
    """Raise ConfigError unless ``value`` is one of LLAMA_WEIGHTS."""
    if value not in LLAMA_WEIGHTS:
        raise ConfigError(
            f"llama_weights={value!r} (from {source}) is not one of "
            f"{', '.join(LLAMA_WEIGHTS)}; auto picks the fastest for this CPU"
        )
