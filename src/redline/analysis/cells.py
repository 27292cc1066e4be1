"""Table 1 straight from the database: attempts per model type x size, for ``redline stats``.

Why a second path beside :func:`redline.analysis.tables.cell_summary`: ``stats`` must
answer in under a second, and importing pandas alone takes half of that. The numbers are
the same by construction of the query and by test (``tests/analysis/test_cells.py``
compares both paths on the real sample and on synthetic data).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.datasets.hhrlhf import MODEL_TYPES
from redline.store.models import Attempt, Target


@dataclass(frozen=True)
class Cell:
    """One row of Table 1: a model type at one size."""

    model_type: str
    num_params: int
    size_label: str
    n: int
    mean_rating: float | None
    mean_min_harmlessness: float | None
    n_scored: int


@dataclass(frozen=True)
class TableOne:
    """Table 1's rows, the origins of the attempts it counts, and what it leaves out."""

    cells: list[Cell]
    origins: dict[str, int]  # of the red-team attempts (those with a target)
    without_target: int  # imported comparison pairs and the like: counted by no analysis


def table_one(session: Session) -> TableOne:
    """Red-team attempts (those with a known target) per model type x size, in the
    paper's order of model types and by parameter count."""
    rows = session.execute(
        select(
            Target.model_type,
            Target.num_params,
            Target.size_label,
            func.count(Attempt.id),
            func.avg(Attempt.rating),
            func.avg(Attempt.min_harmlessness),
            func.count(Attempt.min_harmlessness),
        )
        .join(Target, Attempt.target_id == Target.id)
        .group_by(Target.model_type, Target.num_params, Target.size_label)
    ).all()
    order = {label: i for i, label in enumerate(MODEL_TYPES)}
    cells = sorted(
        (
            Cell(
                model_type=model_type,
                num_params=int(num_params),
                size_label=size_label,
                n=int(n),
                mean_rating=None if rating is None else float(rating),
                mean_min_harmlessness=None if harm is None else float(harm),
                n_scored=int(scored),
            )
            for model_type, num_params, size_label, n, rating, harm, scored in rows
        ),
        key=lambda c: (order.get(c.model_type, len(order)), c.num_params, c.model_type),
    )
    origins = dict(
        session.execute(
            select(Attempt.origin, func.count())
            .join(Target, Attempt.target_id == Target.id)
            .group_by(Attempt.origin)
        ).all()
    )
    total = session.scalar(select(func.count()).select_from(Attempt)) or 0
    counted = sum(c.n for c in cells)
    return TableOne(
        cells=cells,
        origins={str(getattr(k, "value", k)): int(v) for k, v in origins.items()},
        without_target=int(total) - counted,
    )
