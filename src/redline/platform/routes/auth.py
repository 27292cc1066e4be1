"""Getting in and out: invites and login links, logout, the front door, health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from redline import accounts
from redline.platform.security import signed_cookie
from redline.platform.web import (
    PRE_COOKIE,
    SESSION_COOKIE,
    platform,
    redirect,
    render,
    viewer,
)
from redline.store import Role

router = APIRouter()

HOME = {Role.ADMIN: "/admin", Role.REVIEWER: "/review", Role.REDTEAMER: "/redteam"}


@router.get("/")
def front_door(request: Request) -> Response:
    """Signed-in people go to their work; others learn how to get in."""
    who = viewer(request)
    if who is None:
        return render(request, "signed_out.html")
    return redirect(HOME[who.role])


@router.api_route("/healthz", methods=["GET", "HEAD"])
def health() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/invite/{token}")
def invite_page(request: Request, token: str) -> Response:
    """Show what the link grants; joining is a POST (link previews must not use it up)."""
    info = accounts.describe_invite(platform(request).store, token)
    return render(request, "invite.html", {"invite": info, "token": token})


@router.post("/invite/{token}")
def accept_invite(request: Request, token: str) -> Response:
    p = platform(request)
    session_token = accounts.redeem_invite(p.store, token)
    response = redirect("/")
    response.set_cookie(
        SESSION_COOKIE,
        signed_cookie(p.secret, session_token),
        max_age=accounts.SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=p.secure_cookies,
    )
    response.delete_cookie(PRE_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    who = viewer(request)
    if who is not None:
        accounts.end_session(platform(request).store, who.session_hash)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE)
    return response
