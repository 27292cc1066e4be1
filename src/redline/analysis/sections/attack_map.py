"""Section 9: the attack map (the paper's Figure 3), computed while the others run.

The map (embedding, UMAP, HDBSCAN) is the longest step and needs nothing the other
sections compute: :meth:`AttackMapSection.start` launches it in its own process before
any section builds, so the two cores of a small machine both work (UMAP's JIT overlaps
the mixed models); :meth:`AttackMapSection.build` collects it.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from redline.analysis import figures as figs
from redline.analysis.attack_map import MIN_POINTS, ORIGIN_COLUMNS, AttackMap, attack_map
from redline.analysis.embeddings import Embedder
from redline.analysis.formatting import percent, table
from redline.analysis.sections.base import SectionContent, SectionContext, captured

MAP_COLUMNS = ["attempt_id", "rating", "model_type", "size_label", "member"]
ORIGIN_MAP = "attack_map_origin"
CLUSTER_COLUMNS = {
    "cluster": "cluster",
    "n": "n",
    "label": "words",
    "success_share": "share >= 3",
    "mean_rating": "mean rating",
}


class AttackMapSection:
    """Transcripts embedded and laid out in 2-D, clusters labelled by their words, and an
    interactive page beside the report."""

    name = "attack map"
    title = "Attack map"
    order = 90
    anchor = "map"
    template = "sections/attack_map.html"

    def __init__(self) -> None:
        self._pending: _Pending | None = None

    def start(self, context: SectionContext) -> None:
        self._pending = _start_map(context)
        context.cancel_on_failure.append(self._pending.cancel)

    def build(self, context: SectionContext) -> SectionContent:
        pending = self._pending or _start_map(context)
        amap, map_cpu, map_warnings = pending.result()
        context.section_notes.setdefault(self.name, []).extend(map_warnings)
        context.cpu["attack map (its process)"] = map_cpu
        context.notes.extend(amap.notes)
        if not len(amap.points):
            return SectionContent(values={"map": None})
        from redline.analysis.interactive import write_interactive_map

        context.figure(
            figs.attack_map_figure(amap.points, amap.clusters, amap.embedding), "attack_map"
        )
        origins = by_origin(amap.points)
        if origins:
            context.figure(figs.attack_map_origin_figure(amap.points, amap.embedding), ORIGIN_MAP)
        shown = write_interactive_map(
            amap.points,
            amap.clusters,
            context.out / "attack_map.html",
            max_points=context.max_map_points,
            seed=context.seed,
        )
        for key, value in amap.timings.items():
            context.timings[f"attack map: {key}"] = value
        return SectionContent(
            values={
                "map": {
                    "embedding": amap.embedding,
                    "n": len(amap.points),
                    "shown": shown,
                    "clusters": table(
                        amap.clusters,
                        CLUSTER_COLUMNS,
                        limit=30,
                        formats={"success_share": percent},
                    ),
                    "timings": {k: f"{v:.1f} s" for k, v in amap.timings.items()},
                    "throughput": getattr(pending.embed, "throughput", None),
                    "origins": origins,
                }
            }
        )


def by_origin(points: pd.DataFrame) -> dict[str, int] | None:
    """Points per origin (human, replay, each strategy) when the map holds more than one,
    for the map coloured by origin; None when there is nothing to tell apart."""
    if "attack_origin" not in points.columns:
        return None
    counts = points["attack_origin"].astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()} if len(counts) > 1 else None


def _map_job(
    texts: pd.DataFrame, frame: pd.DataFrame, embed: Embedder | None, seed: int
) -> tuple[AttackMap, float, list[str]]:
    """The attack map with its CPU seconds and the warnings it raised (run in a worker)."""
    notes: dict[str, list[str]] = {}
    start = time.process_time()
    with captured(notes, "map"):
        amap = attack_map(texts, frame, embed=embed, seed=seed)
    return amap, time.process_time() - start, notes.get("map", [])


@dataclass
class _Pending:
    """An attack map being computed: in a worker process, or at ``result()`` time."""

    texts: pd.DataFrame
    frame: pd.DataFrame
    embed: Embedder | None
    seed: int
    future: Any = None
    executor: Any = None

    def cancel(self) -> None:
        """Stop the worker now (the report failed; its map is not wanted)."""
        if self.executor is not None:
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.terminate()  # no public API stops a running job
            self.executor.shutdown(wait=False, cancel_futures=True)

    def result(self) -> tuple[AttackMap, float, list[str]]:
        if self.future is None:
            return _map_job(self.texts, self.frame, self.embed, self.seed)
        try:
            return self.future.result()
        finally:
            self.executor.shutdown()


def _start_map(context: SectionContext) -> _Pending:
    """Start the attack map in a spawned worker when it pays (enough texts, an embedder
    that can be sent to another process); otherwise it runs when its result is asked for.
    The LM embedder stays in this process: it reports progress to this process's bar."""
    texts = context.texts[["attempt_id", "transcript"]]
    columns = MAP_COLUMNS + [c for c in ORIGIN_COLUMNS if c in context.frame.columns]
    frame = context.frame[columns] if len(context.frame) else context.frame
    embed, seed = context.embed, context.seed
    pending = _Pending(texts, frame, embed, seed)
    if not context.parallel or len(texts) < MIN_POINTS:
        return pending
    try:
        pickle.dumps(embed)
    except Exception:  # anything unpicklable runs in this process
        return pending
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pending.executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    pending.future = pending.executor.submit(_map_job, texts, frame, embed, seed)
    return pending
