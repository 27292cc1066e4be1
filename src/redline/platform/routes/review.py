"""The review task in the browser (issue 6): the reviewer's queue with a preview and a
choice to skip or review, the review form, the well-being survey every 10 reviews, and
the admin page (assign reviews, agreement, tags, well-being).

Every POST redirects (303) to a page rendered from committed rows. Reviewers never see
the target or the author: the service's views do not carry them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from redline.errors import ConflictError, RedlineError
from redline.platform.web import platform, redirect, render, require
from redline.review import (
    FEELINGS,
    RATING_LABELS,
    RATING_QUESTION,
    ReviewConfig,
    ReviewService,
    agreement_report,
    assign_reviews,
    review_config,
    target_names,
    wellbeing_summary,
)
from redline.review.report import review_notes
from redline.store import Role

router = APIRouter(prefix="/review")

# The admin page recomputes agreement on each view: fewer replicates keep it quick;
# `redline agreement` uses 1000.
PAGE_BOOTSTRAP = 200


def service(request: Request) -> ReviewService:
    """One service per app, built on first use from the app's settings ([review])."""
    state = request.app.state
    found = getattr(state, "review_service", None)
    if found is None:
        p = platform(request)
        found = ReviewService(p.store, review_config(p.settings))
        state.review_service = found
    return found


def _reviewer(request: Request) -> int:
    return require(request, Role.REVIEWER).person_id


@router.get("")
def queue(request: Request, notice: str = "") -> Response:
    who = _reviewer(request)
    svc = service(request)
    view = svc.queue(who, limit=1)
    return render(
        request,
        "review/queue.html",
        {
            "queue": view,
            "item": view.pending[0] if view.pending else None,
            "survey_every": svc.config.survey_every,
            "notice": {"skipped": "Skipped. It will not come back to you."}.get(notice, ""),
        },
    )


def _item_page(
    request: Request,
    review_id: int,
    who: int,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    svc = service(request)
    config: ReviewConfig = svc.config
    return render(
        request,
        "review/item.html",
        {
            "item": svc.item(who, review_id),
            "question": RATING_QUESTION,
            "labels": RATING_LABELS,
            "tags": config.tags,
            "max_tags": config.max_tags,
            "note_max": config.note_max_chars,
            "error": error,
            "form": form or {"rating": None, "tags": [], "note": ""},
        },
        status=status,
    )


@router.get("/wellbeing")
def wellbeing_page(request: Request) -> Response:
    _reviewer(request)
    return render(
        request,
        "review/wellbeing.html",
        {"feelings": FEELINGS, "survey_every": service(request).config.survey_every, "error": None},
    )


@router.post("/wellbeing")
async def save_wellbeing(request: Request) -> Response:
    from fastapi.concurrency import run_in_threadpool

    form = await request.form()
    who = await run_in_threadpool(_reviewer, request)
    svc = service(request)
    if form.get("skip"):
        answers: dict[str, str] = {}
        comment = None
    else:
        answers = {f: str(form.get(f) or "") for f in FEELINGS}
        comment = str(form.get("comment") or "")
    await run_in_threadpool(svc.record_survey, who, answers, comment)
    return redirect("/review")


@router.get("/admin")
def admin_page(request: Request) -> Response:
    require(request, Role.ADMIN)
    return _admin(request)


@router.get("/admin/summary.json")
def admin_summary(request: Request) -> JSONResponse:
    """The review panels as JSON (progress, agreement, tags, well-being), for the live
    admin dashboard to poll or embed."""
    require(request, Role.ADMIN)
    p = platform(request)
    report = agreement_report(p.store, service(request).config.tags, n_boot=PAGE_BOOTSTRAP)
    names = service(request).config.wellbeing_names
    return JSONResponse(report | {"wellbeing": wellbeing_summary(p.store, names=names)})


def _admin(
    request: Request,
    *,
    notice: str | None = None,
    error: str | None = None,
    assignment: Any = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    p = platform(request)
    svc = service(request)
    return render(
        request,
        "review/admin.html",
        {
            "report": agreement_report(p.store, svc.config.tags, n_boot=PAGE_BOOTSTRAP),
            "wellbeing": wellbeing_summary(p.store, names=svc.config.wellbeing_names),
            "notes": review_notes(p.store),
            "target_names": target_names(p.store),
            "assignment": assignment,
            "form": form or {"per_target": 500, "reviewers": 3, "seed": "", "targets": []},
            "notice": notice,
            "error": error,
        },
        status=status,
    )


@router.post("/admin/assign")
def assign(
    request: Request,
    per_target: int = Form(500),
    reviewers: int = Form(3),
    seed: str = Form(""),
    targets: Annotated[list[str] | None, Form()] = None,
) -> Response:
    require(request, Role.ADMIN)
    # What the admin typed, shown again with the error, not the defaults.
    form = {
        "per_target": per_target,
        "reviewers": reviewers,
        "seed": seed,
        "targets": targets or [],
    }
    try:
        chosen_seed = int(seed) if seed.strip() else None
    except ValueError:
        return _admin(request, error="the seed must be a whole number", form=form, status=400)
    try:
        report = assign_reviews(
            platform(request).store,
            per_target=per_target,
            reviewers=reviewers,
            targets=targets or None,
            seed=chosen_seed,
        )
    except RedlineError as exc:
        return _admin(request, error=str(exc), form=form, status=exc.http_status)
    notice = f"{report.added_reviews} reviews assigned."
    if report.short:
        notice += f" {report.short} places stay empty: invite more reviewers and assign again."
    return _admin(request, notice=notice, assignment=report)


@router.get("/{review_id}")
def item(request: Request, review_id: int) -> Response:
    who = _reviewer(request)
    view = service(request).item(who, review_id)
    if view.skipped:
        return redirect("/review")
    return _item_page(request, review_id, who)


@router.post("/{review_id}/skip")
def skip(request: Request, review_id: int) -> Response:
    who = _reviewer(request)
    service(request).skip(who, review_id)
    return redirect("/review?notice=skipped")


@router.post("/{review_id}")
def submit(
    request: Request,
    review_id: int,
    rating: str = Form(""),
    tags: Annotated[list[str] | None, Form()] = None,
    note: str = Form(""),
) -> Response:
    who = _reviewer(request)
    svc = service(request)
    tags = tags or []
    form: dict[str, Any] = {"rating": None, "tags": tags, "note": note}
    try:
        value = int(rating) if rating.strip() else None
        form["rating"] = value
        svc.submit(who, review_id, value, tags, note)
    except ValueError:
        return _item_page(
            request, review_id, who, error="the rating must be 0 to 4", form=form, status=400
        )
    except ConflictError:
        raise
    except RedlineError as exc:
        return _item_page(request, review_id, who, error=str(exc), form=form, status=400)
    if svc.survey_due(who):
        return redirect("/review/wellbeing")
    return redirect("/review")
