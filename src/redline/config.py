"""Settings, resolved in one place: CLI flags > environment (REDLINE_*) > redline.toml > defaults.

Why one resolver: the web app, the CLI and the tests must agree on where the database
and the cached artefacts live, or data silently goes to two places.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.errors import ConfigError

CONFIG_FILE = "redline.toml"
DEFAULT_DATA_DIR = ".redline"
#: Which weights llama.cpp runs (see redline.targets.weights): decided by the CPU's kernels
#: (auto), the GGUF file exactly as shipped, or a near-lossless copy in one of these formats
#: made once in the models directory.
LLAMA_WEIGHTS = ("auto", "shipped", "bf16", "f16", "q8_0")


@dataclass(frozen=True)
class Settings:
    """Where Redline keeps its data, which targets file it reads, and which weights
    llama.cpp runs (``llama_weights``: one of LLAMA_WEIGHTS)."""

    data_dir: Path
    db_url: str
    targets_file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    llama_weights: str = "auto"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


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
    raw = _read_toml(toml_path) if toml_path.is_file() else {}
    section = raw.get("redline", raw)

    def choose(flag: Any, env: str, key: str, default: Any) -> tuple[Any, str]:
        """The value of one setting and where it came from (for error messages)."""
        if flag is not None:
            return flag, "the command-line flag"
        if os.environ.get(env):
            return os.environ[env], f"environment variable {env}"
        if key in section:
            return section[key], f"{key} in {toml_path}"
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
    return Settings(
        data_dir=resolved_dir,
        db_url=url,
        targets_file=Path(targets) if targets else None,
        raw=raw,
        llama_weights=str(weights),
    )


def check_llama_weights(value: Any, source: str) -> None:
    """Raise ConfigError unless ``value`` is one of LLAMA_WEIGHTS."""
    if value not in LLAMA_WEIGHTS:
        raise ConfigError(
            f"llama_weights={value!r} (from {source}) is not one of "
            f"{', '.join(LLAMA_WEIGHTS)}; auto picks the fastest for this CPU"
        )
