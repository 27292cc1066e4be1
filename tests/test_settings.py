"""Settings resolve in one place (flag > environment > redline.toml > default), and every
table of redline.toml is read with its types checked the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.config import Table, load_settings
from redline.errors import ConfigError
from redline.harmlessness import DEFAULT_PM, default_pm_path
from redline.targets.backends.llamacpp import default_threads


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDLINE_PM", "REDLINE_LLAMA_THREADS", "REDLINE_DATA_DIR", "REDLINE_DB_URL"):
        monkeypatch.delenv(name, raising=False)


def write_toml(folder: Path, text: str) -> Path:
    (folder / "redline.toml").write_text(text)
    return folder


def test_pm_path_comes_from_the_environment_before_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(cwd=tmp_path).pm_path is None
    assert default_pm_path(load_settings(cwd=tmp_path)) == DEFAULT_PM
    write_toml(tmp_path, '[redline]\npm_path = "from_file.json"\n')
    assert default_pm_path(load_settings(cwd=tmp_path)) == Path("from_file.json")
    monkeypatch.setenv("REDLINE_PM", "from_env.json")
    assert default_pm_path(load_settings(cwd=tmp_path)) == Path("from_env.json")


def test_llama_threads_come_from_the_environment_before_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(cwd=tmp_path).llama_threads is None
    write_toml(tmp_path, "llama_threads = 3\n")
    settings = load_settings(cwd=tmp_path)
    assert settings.llama_threads == 3 and default_threads(settings) == 3
    monkeypatch.setenv("REDLINE_LLAMA_THREADS", "5")
    assert default_threads(load_settings(cwd=tmp_path)) == 5


@pytest.mark.parametrize("value", ["many", "0", "-2", "1.5"])
def test_bad_llama_threads_in_the_environment_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("REDLINE_LLAMA_THREADS", value)
    with pytest.raises(ConfigError, match=f"REDLINE_LLAMA_THREADS='{value}' is not a whole"):
        load_settings(cwd=tmp_path)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("llama_threads = true\n", "llama_threads in .*redline.toml must be a whole number"),
        ("llama_threads = 0\n", "llama_threads in .* must be at least 1"),
        ("[redline]\nllama_threads = 2.0\n", r"\[redline\] llama_threads .* whole number"),
        ("data_dir = 3\n", "data_dir in .* must be a string in quotes, not 3"),
        ("[redline]\npm_path = false\n", r"\[redline\] pm_path .* must be a string"),
        ("[redline]\nllama_weights = 1\n", r"\[redline\] llama_weights .* must be a string"),
        ("redline = 3\n", "redline in .* must be a table"),
    ],
)
def test_wrong_types_in_the_file_say_where_and_how_to_fix(
    tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(cwd=write_toml(tmp_path, toml))


def test_a_table_refuses_booleans_for_numbers_and_numbers_for_booleans() -> None:
    table = Table("t", {"n": True, "x": 2, "f": 1, "ok": False}, Path("/etc/redline.toml"))
    with pytest.raises(ConfigError, match=r"^\[t\] n in /etc/redline.toml must be a whole"):
        table.whole("n", 1)
    with pytest.raises(ConfigError, match="must be a number, not True"):
        table.number("n", 1.0)
    with pytest.raises(ConfigError, match="true or false"):
        table.flag("f", False)
    assert table.whole("x", 1) == 2 and table.number("x", 1.0) == 2.0
    assert table.flag("ok", True) is False and table.whole("absent", None) is None
    assert table.table("absent").values == {} and table.texts("absent") is None
