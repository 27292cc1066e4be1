"""``redline replay``: human attacks re-run against targets, scored and stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import typer

from redline.attack.converters.registry import CONVERTERS
from redline.cli.app import app, console, err_console, progress, state
from redline.errors import ConfigError

if TYPE_CHECKING:
    from redline.attack.converters.base import ConverterSpec
    from redline.attack.executors import Executor
    from redline.attack.resumable import RunReport
    from redline.attack.runtime import Runtime
    from redline.config import Settings

#: The model a converter that needs one runs in ``redline replay`` when ``model=`` is not
#: given (``redline attack`` uses its ``--attacker``).
DEFAULT_CONVERTER_MODEL = "smollm2-135m"

WORKERS = typer.Option(
    0, "--workers", help="Run batches in a local pool of N processes (0: this process)."
)
RAY = typer.Option(
    None,
    "--ray",
    help="Run batches on the Ray cluster at ADDRESS ('local' starts a private one; "
    "needs pip install 'redline[ray]').",
)
CONCURRENCY = typer.Option(
    1, "--concurrency", help="Threads in this process (helps OpenAI-compatible servers)."
)
BATCH = typer.Option(4, "--batch-size", help="Attacks per batch (each batch is committed).")
PM = typer.Option(
    None, "--pm", help="Preference model .json (default: REDLINE_PM or the packaged one)."
)
MAX_TOKENS = typer.Option(
    None, "--max-tokens", help="Reply length of the targets (default: each target's own)."
)
CANDIDATES = typer.Option(
    2, "--candidates", help="Replies stored per turn; the first continues the conversation."
)
CONVERTER = typer.Option(
    None,
    "--converter",
    help="Convert every human message before the target sees it: "
    + ", ".join(CONVERTERS.names())
    + ". Repeat it or give a comma list to chain them in order; options as "
    "NAME:OPTION=VALUE (translation:language=Zulu:model=gemma3-270m; a converter that "
    "needs a model runs the attacker's, or smollm2-135m in replay, unless model= names a "
    "target). The stored turn is what the target saw; the original is kept with the "
    "attempt.",
)


def converter_specs(
    settings: Settings, values: list[str] | None, default_model: str
) -> tuple[ConverterSpec, ...]:
    """``--converter`` values as specs; a converter that needs a model runs the backend of
    the target its ``model=`` names (default ``default_model``)."""
    if not values:
        return ()
    from redline.attack.attacker import RegistryAttacker
    from redline.attack.converters.base import parse_converters

    return parse_converters(
        values,
        model=lambda name: RegistryAttacker(settings, name),
        default_model=default_model,
    )


def split_targets(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ConfigError("--targets is empty; e.g. --targets smollm2-135m/plain,smollm2-135m/hhh")
    return list(dict.fromkeys(names))


def make_runtime(
    settings: Settings, *, pm: Path | None, max_tokens: int | None, candidates: int
) -> Runtime:
    """Registry targets scored by the harmlessness PM (the same PM rs targets use)."""
    from redline.attack.runtime import RegistryTargets, Runtime
    from redline.attack.scoring import DefaultPM

    if candidates < 1:
        raise ConfigError(f"--candidates must be at least 1, got {candidates}")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"--max-tokens must be at least 1, got {max_tokens}")
    scorer = DefaultPM(settings, pm)
    return Runtime(
        targets=RegistryTargets(settings, scorer, max_tokens), scorer=scorer, candidates=candidates
    )


class RunHooks(TypedDict):
    """What a long run (replay, attack, study) takes from the command line."""

    executor: Executor
    progress: Callable[[int], None]
    on_start: Callable[[int], None]


@contextmanager
def running(label: str, *, workers: int, ray: str | None, concurrency: int) -> Iterator[RunHooks]:
    """Where the run's batches execute (this process, a process pool or Ray) and a Rich
    bar on stderr; the executor is closed however the run ends."""
    from redline.attack.executors import make_executor

    executor = make_executor(workers=workers, ray_address=ray, concurrency=concurrency)
    try:
        with progress() as bar:
            task = bar.add_task(label, total=None)
            yield RunHooks(
                executor=executor,
                progress=lambda n: bar.advance(task, n),
                on_start=lambda total: bar.update(task, total=total),
            )
    finally:
        executor.close()


def print_report(report: RunReport, what: str) -> None:
    console.print(
        f"{what}: {report.written} stored, {report.skipped} already stored, "
        f"{len(report.failed)} failed, in {report.seconds:.1f} s "
        f"({report.attacks_per_minute:.1f} per minute) on {report.executor}"
    )
    for problem in report.failed[:10]:
        err_console.print(f"  failed: {problem}", markup=False, highlight=False)
    if report.failed:
        err_console.print("  failed attacks are not stored; run the command again to retry them")


@app.command("replay")
def replay_cmd(
    ctx: typer.Context,
    source: str = typer.Argument(
        ...,
        help="An hh-rlhf file (red-team attempts or comparisons; imported first), or "
        "'store' (stored human and imported attempts), or 'store:ORIGIN'.",
    ),
    targets: str = typer.Option(..., "--targets", help="Comma-separated target names."),
    limit: int | None = typer.Option(None, "--limit", help="Replay at most N attacks."),
    sample: bool = typer.Option(
        False, "--sample", help="Take a seeded random sample of --limit attacks, not the first."
    ),
    turns: str = typer.Option(
        "first", "--turns", help="'first': the opener only; 'all': every human turn."
    ),
    variant: str = typer.Option(
        "", "--variant", help="A label that makes this a separate replay of the same attacks."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling replies and for --sample."),
    converter: list[str] | None = CONVERTER,
    candidates: int = CANDIDATES,
    max_tokens: int | None = MAX_TOKENS,
    pm: Path | None = PM,
    workers: int = WORKERS,
    ray: str | None = RAY,
    concurrency: int = CONCURRENCY,
    batch_size: int = BATCH,
) -> None:
    """Replay human attacks against targets: each human turn is sent as written, the
    targets reply, the preference model scores every reply, and each replay is stored as
    an attempt with origin=replay linked to its source attempt.

    Resumable: a replay of the same (source, target, --turns, --variant, --converter) is
    done once, so running the command again continues where it stopped.

    Example: redline replay "$(python -m redline.data)"
    --targets smollm2-135m/plain,smollm2-135m/rs16 --limit 20 --turns first
    --converter base64,roleplay
    """
    from redline.attack.replay import replay
    from redline.attack.sources import attacks_from_store, import_attacks, parse_origins

    st = state(ctx)
    names = split_targets(targets)
    converters = converter_specs(st.settings, converter, DEFAULT_CONVERTER_MODEL)
    runtime = make_runtime(st.settings, pm=pm, max_tokens=max_tokens, candidates=candidates)
    for name in names:
        runtime.targets.info(name)
    sample_seed = seed if sample else None
    if source == "store" or source.startswith("store:"):
        origins = parse_origins(source.partition(":")[2] or "human,imported")
        attacks = attacks_from_store(
            st.store, origins=origins, limit=limit, sample_seed=sample_seed
        )
    else:
        attacks = import_attacks(st.store, Path(source), limit=limit, sample_seed=sample_seed)
    with running("replaying", workers=workers, ray=ray, concurrency=concurrency) as hooks:
        report = replay(
            st.store,
            runtime,
            attacks,
            names,
            turns=turns,
            variant=variant,
            seed=seed,
            converters=converters,
            batch_size=batch_size,
            **hooks,
        )
    print_report(report, f"replayed {len(attacks)} attacks x {len(names)} targets")
