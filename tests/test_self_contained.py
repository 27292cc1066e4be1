"""The repository is self-contained: nothing reads data from outside the checkout.

A user's clone has no workspace folder beside it, and an installed wheel has no checkout at
all; so commands default to data shipped in the package (``redline.data``) and tests read
``tests/data``. These tests keep it that way.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from redline.data import HARMLESS_BASE_PAIRS, harmless_base_pairs

REPO = Path(__file__).resolve().parents[1]
#: Built at run time so that this file does not contain what it looks for.
NEEDLE = "..".__add__("/shared")


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout (an sdist or an installed copy)")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout
    return [name for name in listing.decode("utf-8").split("\0") if name]


def _text(path: Path) -> str | None:
    """The file as text, or None for binary files (NUL bytes, or not UTF-8)."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for name in _tracked_files():
        path = REPO / name
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        text = _text(path)
        if text is None:
            continue
        offenders += [
            f"{name}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1)
            if NEEDLE in line
        ]
    assert not offenders, "data or docs outside the checkout:\n" + "\n".join(offenders)


def test_packaged_pairs_are_found_through_the_package() -> None:
    path = harmless_base_pairs()
    assert path.is_file()
    assert path.name == "pairs-a.jsonl.gz"
    assert path.as_posix().endswith("redline/data/" + HARMLESS_BASE_PAIRS)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        pairs = [json.loads(line) for line in fh]
    assert len(pairs) == 1600
    for pair in pairs:
        assert isinstance(pair["chosen"], str) and isinstance(pair["rejected"], str)
        assert pair["chosen"].startswith("\n\nHuman:")


def test_packaged_pairs_carry_licence_and_a_true_provenance_note() -> None:
    path = harmless_base_pairs()
    licence = (path.parent / "LICENSE.hh-rlhf").read_text()
    assert "MIT License" in licence and "Anthropic" in licence
    provenance = (path.parent / "PROVENANCE.md").read_text()
    assert hashlib.sha256(path.read_bytes()).hexdigest() in provenance
    assert "354e5c3cb8960630860dd5774a6ac2a58313bf4d" in provenance


def test_test_data_carries_licence_and_provenance() -> None:
    data = REPO / "tests" / "data"
    readme = (data / "README.md").read_text()
    assert "MIT License" in (data / "LICENSE.hh-rlhf").read_text()
    for name in (
        "red_team_attempts.sample.json",
        "red_team_attempts.sample.jsonl",
        "reference_stats.json",
    ):
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() in readme, name


def test_commands_default_to_the_packaged_pairs() -> None:
    from redline.attack.study import DEFAULT_ATTACKS as STUDY_ATTACKS
    from redline.cli import app
    from redline.rlhf.prompts import DEFAULT_ATTACKS as RLHF_ATTACKS

    assert STUDY_ATTACKS == RLHF_ATTACKS == harmless_base_pairs()
    root: Any = typer.main.get_command(app)  # typer's own click types: duck-typed here
    for command, option in (
        (root.commands["study"], "attacks"),
        (root.commands["train"].commands["rlhf"], "prompts"),
    ):
        (param,) = [p for p in command.params if p.name == option]
        assert Path(param.default) == harmless_base_pairs()
        assert param.show_default == "the packaged hh-rlhf harmless-base pairs"


def test_module_prints_the_path_for_shell_scripts() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "redline.data"], check=True, capture_output=True, text=True
    ).stdout
    assert Path(out.strip()) == harmless_base_pairs()
