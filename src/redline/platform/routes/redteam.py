"""The red-team task in the browser: instructions and consent, the optional survey, a
task of attempts, the chat with two candidates per message, the rating, the break.

Every POST redirects (303) to a page rendered from committed rows, so what a person sees
is what the store holds; a reload never resubmits. The target is never rendered here.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from redline import accounts
from redline.accounts import Viewer
from redline.campaign import AttemptView
from redline.errors import BackendError, NotFoundError, PermissionDenied, RedlineError
from redline.platform.progress import BOARD
from redline.platform.survey import QUESTIONS, answers_from_form
from redline.platform.web import platform, redirect, render, require
from redline.store import Role
from redline.targets.progress import reporting

router = APIRouter(prefix="/redteam")

ALLOWED = (Role.REDTEAMER, Role.ADMIN)


def _who(request: Request) -> Viewer:
    return require(request, *ALLOWED)


@router.get("")
def home(request: Request) -> Response:
    """Send the person to the next thing to do."""
    who = _who(request)
    if not who.consented:
        return redirect("/redteam/instructions")
    if not who.survey_done:
        return redirect("/redteam/survey")
    task = platform(request).campaign.open_task(who.person_id)
    if task is None:
        return render(request, "task_start.html")
    if task.current_attempt_id is not None:
        return redirect(f"/redteam/attempt/{task.current_attempt_id}")
    return redirect("/redteam/attempt/new")


@router.get("/instructions")
def instructions(request: Request) -> Response:
    _who(request)
    return render(request, "instructions.html")


@router.post("/consent")
def consent(request: Request, agree: str = Form("")) -> Response:
    who = _who(request)
    if agree != "yes":
        raise RedlineError("tick the box to agree before you start, or simply close the page")
    accounts.record_consent(platform(request).store, who.person_id)
    return redirect("/redteam")


@router.get("/survey")
def survey(request: Request) -> Response:
    _who(request)
    return render(request, "survey.html", {"questions": QUESTIONS})


@router.post("/survey")
async def save_survey(request: Request) -> Response:
    form = await request.form()
    from fastapi.concurrency import run_in_threadpool

    who = await run_in_threadpool(_who, request)
    if form.get("skip"):
        answers: dict[str, str] = {"skipped": "yes"}
    else:
        answers = answers_from_form({k: str(v) for k, v in form.items()})
    await run_in_threadpool(accounts.record_survey, platform(request).store, who.person_id, answers)
    return redirect("/redteam")


@router.post("/task")
def start_task(request: Request) -> Response:
    who = _who(request)
    platform(request).campaign.start_task(who.person_id)
    return redirect("/redteam")


@router.get("/attempt/new")
def new_attempt(request: Request) -> Response:
    who = _who(request)
    task = platform(request).campaign.open_task(who.person_id)
    if task is None:
        return redirect("/redteam")
    if task.current_attempt_id is not None:
        return redirect(f"/redteam/attempt/{task.current_attempt_id}")
    return render(request, "attempt_new.html", {"task": task, "key": uuid.uuid4().hex})


@router.post("/attempt")
def start_attempt(
    request: Request,
    task_id: int = Form(...),
    task_description: str = Form(""),
    key: str = Form(""),
) -> Response:
    who = _who(request)
    attempt = platform(request).campaign.start_attempt(
        task_id, who.person_id, task_description, key
    )
    return redirect(f"/redteam/attempt/{attempt.id}")


def _chat(
    request: Request,
    attempt: AttemptView,
    *,
    error: str | None = None,
    problem: str = "model",
    draft: str = "",
    key: str | None = None,
    status: int = 200,
) -> Response:
    campaign = platform(request).campaign
    task = campaign.task(attempt.task_id, attempt.person_id) if attempt.task_id else None  # type: ignore[arg-type]
    return render(
        request,
        "chat.html",
        {
            "attempt": attempt,
            "task": task,
            "error": error,
            "problem": problem,
            "draft": draft,
            "key": key or uuid.uuid4().hex,
        },
        status=status,
    )


@router.get("/attempt/{attempt_id}")
def chat(request: Request, attempt_id: int) -> Response:
    who = _who(request)
    attempt = platform(request).campaign.attempt(attempt_id, who.person_id)
    if attempt.finished:
        return redirect("/redteam")
    return _chat(request, attempt)


@router.post("/attempt/{attempt_id}/turn")
def send_turn(
    request: Request, attempt_id: int, text: str = Form(""), key: str = Form("")
) -> Response:
    """Generate two candidates and commit them before the page shows them.

    Progress goes to :data:`BOARD` (the page polls ``/progress``). Any problem with the
    message (empty, the chat moved on in another tab, the model failed) re-shows the chat
    with the draft and the reason: nothing typed is lost."""
    who = _who(request)
    campaign = platform(request).campaign
    progress_key = (who.person_id, attempt_id, key)
    try:
        with reporting(BOARD.callback(progress_key)):
            turn = campaign.add_turn(attempt_id, who.person_id, text, key)
    except (NotFoundError, PermissionDenied):
        raise  # not this person's chat: nothing to re-show
    except RedlineError as exc:
        # Nothing was written: offer the same message (with the same key after a model
        # failure, so a retry cannot duplicate; a fresh key after a form problem).
        attempt = campaign.attempt(attempt_id, who.person_id)
        model = isinstance(exc, BackendError)
        return _chat(
            request,
            attempt,
            error=str(exc),
            problem="model" if model else "form",
            draft=text,
            key=key if model else None,
            status=exc.http_status,
        )
    finally:
        BOARD.forget(progress_key)
    return redirect(f"/redteam/attempt/{attempt_id}#turn-{turn.index}")


@router.get("/attempt/{attempt_id}/progress")
def turn_progress(request: Request, attempt_id: int, key: str = "") -> JSONResponse:
    """How far the turn sent with ``key`` has got (``{"stage": "unknown"}`` when this
    process knows nothing of it: not started, done, or sent to another web process)."""
    who = _who(request)
    found = BOARD.get((who.person_id, attempt_id, key))
    body = found.as_json() if found else {"stage": "unknown", "done": 0, "total": 0}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/attempt/{attempt_id}/pick")
def pick(
    request: Request, attempt_id: int, turn: int = Form(...), candidate: int = Form(...)
) -> Response:
    who = _who(request)
    platform(request).campaign.pick(attempt_id, who.person_id, turn, candidate)
    return redirect(f"/redteam/attempt/{attempt_id}#compose")


@router.get("/attempt/{attempt_id}/finish")
def finish_page(request: Request, attempt_id: int) -> Response:
    who = _who(request)
    attempt = platform(request).campaign.attempt(attempt_id, who.person_id)
    if attempt.finished:
        return redirect("/redteam")
    return render(request, "finish.html", {"attempt": attempt})


def _score(raw: str, name: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise RedlineError(f"the {name} must be a number from 0 to 4") from None


@router.post("/attempt/{attempt_id}/finish")
def finish(
    request: Request,
    attempt_id: int,
    rating: str = Form(""),
    harmfulness: str = Form(""),
    actionability: str = Form(""),
) -> Response:
    who = _who(request)
    task = platform(request).campaign.finish(
        attempt_id,
        who.person_id,
        _score(rating, "rating"),
        _score(harmfulness, "harmfulness"),
        _score(actionability, "actionability"),
    )
    if task is not None and task.finished:
        return redirect(f"/redteam/break?task={task.id}")
    return redirect("/redteam")


@router.get("/break")
def take_a_break(request: Request, task: int) -> Response:
    who = _who(request)
    view = platform(request).campaign.task(task, who.person_id)
    return render(request, "break.html", {"task": view})


@router.post("/heartbeat")
def heartbeat(request: Request) -> JSONResponse:
    """The chat page is open and visible: count the time as active."""
    who = _who(request)
    task = platform(request).campaign.heartbeat(who.person_id)
    return JSONResponse({"active_seconds": round(task.active_seconds) if task else 0})
