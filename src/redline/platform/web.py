"""What every route shares: templates, the current viewer, role checks and CSRF.

Templates autoescape everything (``autoescape=True`` for every file, never ``|safe`` on
people's or models' text): adversarial text is the normal input here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape
from starlette.datastructures import FormData

from redline import accounts
from redline.accounts import Viewer
from redline.accounts.tokens import new_token, token_hash
from redline.campaign import CampaignService
from redline.config import Settings
from redline.errors import PermissionDenied, RedlineError
from redline.platform.security import csrf_ok, csrf_token, unsign_cookie
from redline.store import Role, Store
from redline.store.text import text_problem

HERE = Path(__file__).parent
SESSION_COOKIE = "redline_session"
PRE_COOKIE = "redline_pre"  # binds the CSRF token of the sign-in form before a session exists

#: Characters that reorder the text around them (embeddings, overrides, isolates, marks):
#: "hi \u202eevil" would show as "hi live". Shown as visible markers instead.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def user_text(value: object) -> Markup:
    """People's and models' text for a page: escaped, isolated from the text around it
    (``<bdi>``, so right-to-left text cannot spill over the page's labels), and with bidi
    control characters replaced by visible markers, so reviewers and admins read what was
    typed, not what it was made to look like."""
    escaped = str(escape("" if value is None else str(value)))
    marked = BIDI_CONTROLS.sub(
        lambda m: (
            f'<span class="ctl" title="invisible direction control">[U+{ord(m.group()):04X}]</span>'
        ),
        escaped,
    )
    return Markup(f"<bdi>{marked}</bdi>")


#: The pages are package files that change only with a new install: no stat() of the
#: template file on every render (``auto_reload``), and every page compiled once when the
#: app is created (:func:`compile_templates`), not in the first person's request.
templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
templates.filters["usertext"] = user_text


def compile_templates() -> int:
    """Compile every page into the environment's cache; returns how many there are."""
    names = templates.list_templates(extensions=["html"])
    for name in names:
        templates.get_template(name)
    return len(names)


@dataclass
class Platform:
    """Everything the routes need, kept on ``app.state.platform``."""

    store: Store
    settings: Settings
    campaign: CampaignService
    secret: bytes
    secure_cookies: bool = False


class NotSignedIn(RedlineError):
    """No valid session: the person must open their invite or login link."""

    http_status = 401


def platform(request: Request) -> Platform:
    return request.app.state.platform


def viewer(request: Request) -> Viewer | None:
    """The signed-in person (looked up once per request), or None."""
    try:
        return request.state.viewer
    except AttributeError:
        pass
    p = platform(request)
    token = unsign_cookie(p.secret, request.cookies.get(SESSION_COOKIE))
    found = accounts.viewer_for(p.store, token) if token else None
    request.state.viewer = found
    return found


def require(request: Request, *roles: Role) -> Viewer:
    """The viewer if they hold one of ``roles``; 401 when signed out, 403 otherwise."""
    who = viewer(request)
    if who is None:
        raise NotSignedIn("you are not signed in; open the invite or login link you were given")
    if who.role not in roles:
        raise PermissionDenied(f"this page is not for the {who.role.value} role")
    return who


def csrf_binding(request: Request) -> str | None:
    """What the CSRF token is bound to: the session token's hash (from the signed cookie,
    no database read), or before sign-in the pre-session cookie. Whether the session is
    still valid is the route's business (``require``)."""
    p = platform(request)
    token = unsign_cookie(p.secret, request.cookies.get(SESSION_COOKIE))
    if token is not None:
        return token_hash(token)
    return request.cookies.get(PRE_COOKIE)


def cross_site(request: Request) -> str | None:
    """The other site a state-changing request came from, or None when it is ours.

    A second line of defence behind the CSRF token: browsers name the page a request
    came from in ``Origin`` (``Referer`` where they omit it). Our pages send both for our
    own origin only (``Referrer-Policy: same-origin``). Hosts are compared, not schemes,
    so a TLS proxy in front of the server changes nothing. A request with neither header
    (a script, not a browser) is left to the token.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return None
    host = urlsplit(source).netloc if source != "null" else ""
    return None if host and host == request.headers.get("host") else source


async def check_csrf(request: Request) -> None:
    """Reject a state-changing request from another site, or without the token of this
    browser's session."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    other = cross_site(request)
    if other is not None:
        raise CsrfRejected(
            f"this form was sent from another site ({other[:100]}); open Redline's own page "
            "and send it from there"
        )
    supplied = request.headers.get("x-csrf-token")
    if supplied is None:
        form: FormData = await request.form()
        value = form.get("csrf_token")
        supplied = value if isinstance(value, str) else None
    if not csrf_ok(platform(request).secret, csrf_binding(request), supplied):
        raise CsrfRejected("the form expired or came from another site; reload the page")


class CsrfRejected(RedlineError):
    http_status = 403


async def reject_unstorable_text(request: Request) -> None:
    """Refuse a form whose text the store cannot keep (NUL, lone surrogates).

    Why here, for every form: one rule on SQLite and PostgreSQL (:mod:`redline.store.text`),
    checked before any route writes, so PostgreSQL never fails half-way through a request.
    """
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return
    form: FormData = await request.form()
    for name, value in form.multi_items():
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                raise RedlineError(f"the form field '{name}' {problem}, then send it again")


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page with the viewer and a CSRF token for its forms."""
    p = platform(request)
    who = viewer(request)
    binding = csrf_binding(request)
    pre_cookie = None
    if binding is None:
        binding = pre_cookie = new_token()
    html = templates.get_template(name).render(
        viewer=who,
        csrf=csrf_token(p.secret, binding),
        **(context or {}),
    )
    response = HTMLResponse(html, status_code=status)
    if pre_cookie is not None:
        response.set_cookie(
            PRE_COOKIE, pre_cookie, httponly=True, samesite="lax", secure=p.secure_cookies
        )
    return response


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST, the browser GETs the page (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)


def form_int(form: FormData, name: str, *, required: bool = True) -> int | None:
    raw = form.get(name)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if required:
            raise RedlineError(f"the form is missing '{name}'")
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise RedlineError(f"'{name}' must be a whole number") from None


def form_str(form: FormData, name: str) -> str:
    raw = form.get(name)
    return raw if isinstance(raw, str) else ""
