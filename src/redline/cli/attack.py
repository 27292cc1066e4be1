"""``redline attack``: an attacker LM writes red-team attacks against a target."""

from __future__ import annotations

from pathlib import Path

import typer

from redline.attack.strategies.registry import STRATEGIES
from redline.cli.app import app, state
from redline.cli.replay import (
    BATCH,
    CANDIDATES,
    CONCURRENCY,
    CONVERTER,
    MAX_TOKENS,
    PM,
    RAY,
    WORKERS,
    converter_specs,
    make_runtime,
    print_report,
    running,
)


def chosen_goals(goals: str | None, tag: str | None) -> tuple[str, ...]:
    """``--goals``/``--tag`` as goal texts; neither: none (the strategy's own topics)."""
    if goals is None and tag is None:
        return ()
    from redline.attack.goals import load_goals

    return tuple(goal.text for goal in load_goals(goals, tag))


@app.command("attack")
def attack_cmd(
    ctx: typer.Context,
    target: str = typer.Option(..., "--target", help="The target to attack."),
    attacker: str = typer.Option(
        "smollm2-135m",
        "--attacker",
        help="Who writes the attacks: a model (smollm2-135m) or any target name, whose "
        "backend is used without its defence prompt (embedded or OpenAI-compatible).",
    ),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="How the attacker attacks: "
        + ", ".join(STRATEGIES.names())
        + " (default: few-shot with --few-shot K, else zero-shot).",
    ),
    judge: str | None = typer.Option(
        None,
        "--judge",
        help="Judge for a strategy that scores its own steps (redline judge list).",
    ),
    n: int = typer.Option(10, "--n", help="How many attacks (a rerun adds only missing ones)."),
    few_shot: int = typer.Option(
        0,
        "--few-shot",
        help="K > 0: show K successful stored human attacks as examples (0: zero-shot).",
    ),
    pool_factor: int = typer.Option(
        4, "--pool-factor", help="Few-shot examples are drawn from the K x this most successful."
    ),
    turns: int = typer.Option(
        1, "--turns", help="Turns per attack; the attacker sees the conversation each time."
    ),
    attack_tokens: int = typer.Option(
        64, "--attack-tokens", help="Longest attack message the attacker writes (tokens)."
    ),
    budget: str = typer.Option(
        "0",
        "--budget",
        help="Iterative strategies: most target queries per attack, a number or "
        "small/medium/large (6/20/60; 0: the strategy's default).",
    ),
    depth: int = typer.Option(
        0, "--depth", help="Refinement steps (pair, tap, many-shot) or turns (crescendo)."
    ),
    width: int = typer.Option(0, "--width", help="Parallel streams (pair), branching (tap)."),
    shots: int = typer.Option(0, "--shots", help="Many-shot: faux exchanges (default 16)."),
    shots_from: str = typer.Option(
        "file",
        "--shots-from",
        help="Many-shot exchanges: 'file' (packaged) or 'store' (top stored human attacks).",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Judge harm score that reaches a goal (default: 3 on a 0-4 rubric; a "
        "refusal-only judge: any answer).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling attacks and replies."),
    goals: str | None = typer.Option(
        None,
        "--goals",
        help="Goals file (one task description per line, [Tag] groups; 'packaged': the "
        "120 goals shipped with Redline); attack i pursues goal i mod their number. "
        "Without it (and without --tag) zero-shot draws topics as before.",
    ),
    tag: str | None = typer.Option(
        None, "--tag", help="Only the goals of this group (a review tag, e.g. Theft)."
    ),
    converter: list[str] | None = CONVERTER,
    candidates: int = CANDIDATES,
    max_tokens: int | None = MAX_TOKENS,
    pm: Path | None = PM,
    workers: int = WORKERS,
    ray: str | None = RAY,
    concurrency: int = CONCURRENCY,
    batch_size: int = BATCH,
) -> None:
    """Automated red teaming: the attacker LM writes attacks with a strategy (zero-shot
    from instructions, few-shot from the most successful stored human attacks, over one
    or more turns, or one another package registered), the target replies, the PM
    scores, attempts are stored with origin=automated and the attacker as their author
    (pool 'automated').

    The same recipe sends the same opener to every target, so `redline compare
    --origin automated` can pair them. The iterative strategies (pair, tap, crescendo,
    many-shot) steer by a --judge (never the target's own ranker) within --budget
    target queries per attack, and store every query with its lineage.

    Example: redline attack --target smollm2-135m/hhh --attacker gemma3-270m --n 20
    --few-shot 3 --turns 2

    Example: redline attack --strategy pair --target smollm2-135m/hhh --attacker
    gemma3-270m --judge refusal --budget small --n 5
    """
    from redline.attack.attacker import RegistryAttacker
    from redline.attack.automated import RegistryJudge, attack
    from redline.attack.strategies.base import Budget, parse_queries

    st = state(ctx)
    limits = Budget(turns=turns, width=width, depth=depth, queries=parse_queries(budget))
    goal_texts = chosen_goals(goals, tag)
    converters = converter_specs(st.settings, converter, attacker)
    runtime = make_runtime(st.settings, pm=pm, max_tokens=max_tokens, candidates=candidates)
    attacker_recipe = RegistryAttacker(st.settings, attacker)
    with running("attacking", workers=workers, ray=ray, concurrency=concurrency) as hooks:
        report = attack(
            st.store,
            runtime,
            target,
            attacker_recipe,
            n=n,
            strategy=strategy,
            few_shot=few_shot,
            pool_factor=pool_factor,
            budget=limits,
            shots=shots,
            shots_from=shots_from,
            threshold=threshold,
            goals=goal_texts,
            converters=converters,
            seed=seed,
            max_tokens=attack_tokens,
            judge=RegistryJudge(st.settings, judge) if judge else None,
            batch_size=batch_size,
            **hooks,
        )
    mode = strategy or (f"{few_shot}-shot" if few_shot else "zero-shot")
    print_report(report, f"{n} {mode} attacks by {attacker} on {target}")
