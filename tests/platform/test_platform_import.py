"""The web app is importable and buildable without loading any language model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from redline.platform.security import load_or_create_secret

SCRIPT = """
import sys
from redline.config import load_settings
from redline.platform import create_app
from redline.store import Store
settings = load_settings(data_dir=sys.argv[1])
app = create_app(Store(settings.db_url), settings)
names = [t.name for t in app.state.platform.campaign.config.targets]
assert "smollm2-135m/plain" in names, names
heavy = [m for m in ("llama_cpp", "torch", "transformers") if m in sys.modules]
assert not heavy, heavy
print("ok")
"""


def test_creating_the_app_loads_no_model(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_session_secret_is_made_once_and_private(tmp_path: Path):
    first = load_or_create_secret(tmp_path)
    assert load_or_create_secret(tmp_path) == first and len(first) == 64
    assert (tmp_path / "session_secret").stat().st_mode & 0o777 == 0o600
