"""The target registry: built-in targets, user targets from TOML, building and caching,
wiring rs targets to the preference model, and ``redline targets``."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.config import Settings, load_settings
from redline.errors import ConfigError, NotFoundError
from redline.targets.backends.openai_compat import OpenAICompatBackend
from redline.targets.base import Conversation, TargetModel, TextScorer
from redline.targets.catalogue import CATALOGUE
from redline.targets.defences import PromptedTarget, RejectionSamplingTarget
from redline.targets.registry import (
    NAME_RE,
    TargetDefinition,
    available_targets,
    build_target,
    builtin_definitions,
    clear_cache,
    size_to_params,
)

DATASET_LABELS = {"plain lm", "context distillation", "rejection sampling", "rlhf"}
EXPECTED_TYPE = {
    "plain": "plain lm",
    "hhh": "context distillation",
    "rs": "rejection sampling",
    "rlhf": "rlhf",
}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def settings_with(tmp_path: Path, toml: str) -> Settings:
    path = tmp_path / "targets.toml"
    path.write_text(toml)
    return load_settings(data_dir=tmp_path / "data", targets_file=path, cwd=tmp_path)


OPENAI_TARGETS = """
[[targets]]
name = "llama3-8b/hhh"
backend = "openai"
model = "meta-llama/Meta-Llama-3-8B-Instruct"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "VLLM_KEY"

[[targets]]
name = "llama3-8b/rs4"
base_url = "http://127.0.0.1:9/v1"
model = "meta-llama/Meta-Llama-3-8B-Instruct"
api_key_env = "VLLM_KEY"

[[targets]]
name = "llama3-8b/plain"
base_url = "http://127.0.0.1:9/v1"
model = "meta-llama/Meta-Llama-3-8B-Instruct"
api_key_env = "VLLM_KEY"
max_tokens = 64
"""


class ConstantScorer(TextScorer):
    identity = "constant"

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        return [0.0] * len(replies)


# -- contract over every built-in target -------------------------------------------------


@pytest.mark.parametrize("definition", builtin_definitions(), ids=lambda d: d.info.name)
def test_builtin_target_metadata(definition: TargetDefinition) -> None:
    info = definition.info
    match = NAME_RE.match(info.name)
    assert match, f"{info.name} is not family-size/defence"
    assert info.model_type in DATASET_LABELS
    assert info.num_params > 0
    assert re.fullmatch(r"\d+(\.\d+)?[KMBT]", info.size_label)
    assert match["size"].upper() == info.size_label
    assert info.family == match["family"]
    assert info.defence == match["defence"]
    assert info.model_type == EXPECTED_TYPE[definition.defence.kind]
    # The size label and the exact count agree to within rounding of the label.
    assert abs(size_to_params(info.size_label) - info.num_params) / info.num_params < 0.05


def test_every_catalogue_model_has_plain_hhh_and_rs16(tmp_path: Path) -> None:
    names = {t.name for t in available_targets(load_settings(cwd=tmp_path))}
    for model in CATALOGUE:
        assert {f"{model}/plain", f"{model}/hhh", f"{model}/rs16"} <= names
    assert {"smollm2-135m/rs16", "gemma3-270m/hhh"} <= names


# -- user targets --------------------------------------------------------------------------


def test_user_targets_from_a_targets_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    settings = settings_with(
        tmp_path,
        OPENAI_TARGETS
        + """
[[targets]]
name = "tiny-42m/plain"
gguf = "models/tiny.gguf"
num_params = 41_900_000
family = "tinystories"

[[targets]]
name = "smollm2-135m/hhh"
model = "smollm2-135m"
max_tokens = 32
""",
    )
    by_name = {t.name: t for t in available_targets(settings)}
    llama = by_name["llama3-8b/rs4"]
    assert (llama.model_type, llama.defence, llama.family) == (
        "rejection sampling",
        "rs4",
        "llama3",
    )
    assert (llama.size_label, llama.num_params) == ("8B", 8_000_000_000)
    assert llama.config["backend"] == "openai" and llama.config["k"] == 4
    assert llama.config["api_key_env"] == "VLLM_KEY"  # the variable's name, never a key
    tiny = by_name["tiny-42m/plain"]
    assert (tiny.family, tiny.num_params, tiny.size_label) == ("tinystories", 41_900_000, "42M")
    assert tiny.config["model"] == str(tmp_path / "models" / "tiny.gguf")  # relative to file
    # A user target replaces the built-in one of the same name.
    assert by_name["smollm2-135m/hhh"].config["max_tokens"] == 32
    assert by_name["smollm2-135m/hhh"].num_params == CATALOGUE["smollm2-135m"].num_params


def test_user_targets_from_redline_toml(tmp_path: Path) -> None:
    (tmp_path / "redline.toml").write_text('[redline]\ndata_dir = "d"\n' + OPENAI_TARGETS)
    settings = load_settings(cwd=tmp_path)
    names = [t.name for t in available_targets(settings)]
    assert names[-3:] == ["llama3-8b/hhh", "llama3-8b/rs4", "llama3-8b/plain"]


@pytest.mark.parametrize(
    ("toml", "field", "problem"),
    [
        ('name = "x-1b/plain"\nbackend = "llamacpp"\nmodle = "smollm2-135m"', "modle", "unknown"),
        ('name = "X 1b"\nmodel = "smollm2-135m"', "name", "family-size/defence"),
        ('model = "smollm2-135m"', "name", "missing"),
        ('name = "x-1b/hhh"\ndefence = "plain"\nmodel = "smollm2-135m"', "name", "ends in /hhh"),
        ('name = "x-1b/rs8"\nk = 4\nmodel = "smollm2-135m"', "name", "rs4"),
        ('name = "x-1b/fewshot"\nmodel = "smollm2-135m"', "defence", "unknown defence"),
        ('name = "x-1b/plain"\nbackend = "tgi"\nmodel = "m"', "backend", "not one of"),
        ('name = "x-1b/plain"\nbackend = "openai"\nmodel = "m"', "base_url", "required"),
        ('name = "x-1b/plain"\nbase_url = "localhost:8000"\nmodel = "m"', "base_url", "http"),
        ('name = "x-1b/plain"\nmodel = "smollm2-135m"\ngguf = "a.gguf"', "model", "exactly one"),
        ('name = "x-1b/plain"\nmodel = "gpt-7"', "model", "not a built-in model"),
        ('name = "x-1b/plain"\nmodel = "smollm2-135m"\nk = "16"', "k", "expected int"),
        ('name = "x-1b/plain"\nmodel = "smollm2-135m"\nnum_params = 0', "num_params", "positive"),
        ('name = "x-1b/plain"\nmodel = "smollm2-135m"\nbase_url = "http://h/v1"\nbackend = '
         '"llamacpp"', "base_url", "only used by backend 'openai'"),
    ],
)  # fmt: skip
def test_bad_definitions_name_the_file_the_target_and_the_field(
    tmp_path: Path, toml: str, field: str, problem: str
) -> None:
    settings = settings_with(tmp_path, "[[targets]]\n" + toml + "\n")
    with pytest.raises(ConfigError) as info:
        available_targets(settings)
    message = str(info.value)
    assert str(tmp_path / "targets.toml") in message
    assert "target " in message
    assert f"field '{field}'" in message
    assert problem in message


def test_missing_invalid_and_duplicate_files_are_config_errors(tmp_path: Path) -> None:
    missing = load_settings(targets_file=tmp_path / "nope.toml", cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        available_targets(missing)
    with pytest.raises(ConfigError, match="not valid TOML"):
        available_targets(settings_with(tmp_path, "[[targets]\n"))
    twice = '[[targets]]\nname = "a-1b/plain"\nmodel = "smollm2-135m"\n' * 2
    with pytest.raises(ConfigError, match="defined twice"):
        available_targets(settings_with(tmp_path, twice))


# -- building ------------------------------------------------------------------------------


def test_unknown_targets_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="redline targets"):
        build_target("nope-1b/plain", load_settings(cwd=tmp_path))


def test_build_is_cached_thread_safe_and_shares_one_backend(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, OPENAI_TARGETS)
    built: list[TargetModel] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            built.append(build_target("llama3-8b/hhh", settings))
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(built) == 8
    assert all(t is built[0] for t in built)
    hhh = built[0]
    assert isinstance(hhh, PromptedTarget) and hhh.info.name == "llama3-8b/hhh"
    assert isinstance(hhh.backend, OpenAICompatBackend)
    assert hhh.backend.api_key_env == "VLLM_KEY"
    plain = build_target("llama3-8b/plain", settings)
    assert isinstance(plain, PromptedTarget)
    assert plain.backend is hhh.backend  # one model, several defences
    assert plain.max_tokens == 64 and hhh.max_tokens == 128


def test_rs_uses_an_explicit_scorer(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, OPENAI_TARGETS)
    scorer = ConstantScorer()
    target = build_target("llama3-8b/rs4", settings, scorer=scorer)
    assert isinstance(target, RejectionSamplingTarget)
    assert target.scorer is scorer and target.k == 4
    assert build_target("llama3-8b/rs4", settings, scorer=scorer) is target


def test_rs_without_a_preference_model_is_a_config_error_saying_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_PM", str(tmp_path / "missing_pm.json"))
    settings = settings_with(tmp_path, OPENAI_TARGETS)
    with pytest.raises(ConfigError, match="rs targets need a preference model") as info:
        build_target("llama3-8b/rs4", settings)
    assert "missing_pm.json" in str(info.value)
    assert "plain or hhh" in str(info.value)


@pytest.mark.slow
def test_builtin_targets_load_the_embedded_model_once(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, data_dir=tmp_path / "data")
    plain = build_target("smollm2-135m/plain", settings)
    hhh = build_target("smollm2-135m/hhh", settings)
    assert isinstance(plain, PromptedTarget) and isinstance(hhh, PromptedTarget)
    assert plain.backend is hhh.backend
    assert plain.backend.is_chat  # type: ignore[attr-defined]
    assert hhh.info.num_params == CATALOGUE["smollm2-135m"].num_params


def _packaged_pm_exists() -> bool:
    from redline.harmlessness import DEFAULT_PM

    return DEFAULT_PM.is_file() and DEFAULT_PM.with_suffix(".npz").is_file()


@pytest.mark.slow
@pytest.mark.skipif(
    not _packaged_pm_exists(),
    reason="no packaged preference model yet (harmlessness/default_pm.json + .npz); the "
    "missing-PM error path is tested above",
)
def test_builtin_rs16_gets_the_default_preference_model(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, data_dir=tmp_path / "data")
    target = build_target("smollm2-135m/rs16", settings)
    assert isinstance(target, RejectionSamplingTarget) and target.k == 16
    assert hasattr(target.scorer, "score_batch")


# -- the command ---------------------------------------------------------------------------

runner = CliRunner()


def test_targets_command_json_and_table(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(OPENAI_TARGETS)
    result = runner.invoke(app, ["--targets", str(path), "targets", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    names = [r["name"] for r in rows]
    assert "smollm2-135m/rs16" in names and "llama3-8b/rs4" in names
    row = next(r for r in rows if r["name"] == "llama3-8b/rs4")
    assert (row["model_type"], row["backend"], row["size_label"]) == (
        "rejection sampling",
        "openai",
        "8B",
    )
    table = runner.invoke(app, ["--targets", str(path), "targets"])
    assert table.exit_code == 0
    assert "llama3-8b/rs4" in table.output and "context distillation" in table.output


def test_targets_command_reports_bad_files_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[[targets]]\nname = "x-1b/plain"\nbackend = "tgi"\nmodel = "m"\n')
    result = runner.invoke(app, ["--targets", str(path), "targets"])
    assert result.exit_code == 2
    assert "field 'backend'" in result.output
