"""The admin side: live dashboard, invites, an attempt in full, hh-rlhf exports."""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from redline import accounts
from redline.campaign.dashboard import dashboard_data, export_records, full_attempt
from redline.errors import RedlineError
from redline.platform.web import platform, redirect, render, require
from redline.store import Role

router = APIRouter(prefix="/admin")


@router.get("")
def dashboard(request: Request) -> Response:
    require(request, Role.ADMIN)
    return render(
        request, "admin_dashboard.html", {"data": dashboard_data(platform(request).store)}
    )


@router.get("/dashboard.json")
def dashboard_json(request: Request) -> JSONResponse:
    """Polled by the dashboard page to stay live (our own JS, no external assets)."""
    require(request, Role.ADMIN)
    return JSONResponse(dashboard_data(platform(request).store))


@router.get("/invites")
def invites(request: Request) -> Response:
    require(request, Role.ADMIN)
    store = platform(request).store
    return render(
        request,
        "admin_invites.html",
        {"invites": accounts.list_invites(store), "new_link": None, "roles": list(Role)},
    )


@router.post("/invites")
def create_invite(
    request: Request,
    role: str = Form(...),
    pool: str = Form("staff"),
    max_uses: int = Form(1),
    note: str = Form(""),
) -> Response:
    who = require(request, Role.ADMIN)
    try:
        chosen = Role(role)
    except ValueError:
        raise RedlineError(f"unknown role {role!r}") from None
    store = platform(request).store
    token = accounts.create_invite(
        store, chosen, pool, max_uses=max_uses, note=note, created_by=who.person_id
    )
    link = str(request.url_for("invite_page", token=token))
    return render(
        request,
        "admin_invites.html",
        {"invites": accounts.list_invites(store), "new_link": link, "roles": list(Role)},
    )


@router.post("/invites/{invite_id}/revoke")
def revoke_invite(request: Request, invite_id: int) -> Response:
    require(request, Role.ADMIN)
    accounts.revoke_invite(platform(request).store, invite_id)
    return redirect("/admin/invites")


@router.get("/attempt/{attempt_id}")
def attempt(request: Request, attempt_id: int) -> Response:
    """An attempt in full, with its target and author (admins only)."""
    require(request, Role.ADMIN)
    found = full_attempt(platform(request).store, attempt_id)
    return render(request, "admin_attempt.html", {"a": found})


@router.get("/export/{kind}.jsonl")
def download(request: Request, kind: str) -> StreamingResponse:
    """The hh-rlhf export as JSON lines, streamed (large stores never sit in memory)."""
    require(request, Role.ADMIN)
    records = export_records(platform(request).store, kind)
    lines = ((json.dumps(record, ensure_ascii=False) + "\n").encode() for record in records)
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="{kind}.jsonl"'},
    )


@router.get("/export/{kind}")
def preview(request: Request, kind: str) -> Response:
    """The first records of an export, shown as text before downloading."""
    require(request, Role.ADMIN)
    records = export_records(platform(request).store, kind, limit=10)
    first = [json.dumps(r, ensure_ascii=False, indent=2) for r in records]
    return render(request, "admin_export.html", {"kind": kind, "records": first})
