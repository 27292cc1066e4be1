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


@dataclass(frozen=True)
class Settings:
    """Where Redline keeps its data, and which targets file it reads."""

    data_dir: Path
    db_url: str
    targets_file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

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
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings; arguments are the CLI flags and win over everything else."""
    cwd = cwd or Path.cwd()
    toml_path = cwd / CONFIG_FILE
    raw = _read_toml(toml_path) if toml_path.is_file() else {}
    section = raw.get("redline", raw)

    def pick(flag: Any, env: str, key: str, default: Any) -> Any:
        if flag is not None:
            return flag
        if os.environ.get(env):
            return os.environ[env]
        if key in section:
            return section[key]
        return default

    resolved_dir = Path(pick(data_dir, "REDLINE_DATA_DIR", "data_dir", DEFAULT_DATA_DIR))
    if not resolved_dir.is_absolute():
        resolved_dir = cwd / resolved_dir
    default_db = f"sqlite:///{resolved_dir / 'redline.db'}"
    url = str(pick(db_url, "REDLINE_DB_URL", "db_url", default_db))
    targets = pick(targets_file, "REDLINE_TARGETS", "targets_file", None)
    return Settings(
        data_dir=resolved_dir,
        db_url=url,
        targets_file=Path(targets) if targets else None,
        raw=raw,
    )
