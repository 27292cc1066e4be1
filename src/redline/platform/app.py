"""The web app factory: ``create_app(store, settings, resolve_target=..., target_names=...)``.

Importing this module loads no model: targets are resolved lazily on first use through
the ``resolve_target`` function (by default the registry's targets in a model worker
process, which may crash without taking the server down), and model
calls run in the threadpool (route handlers are plain functions), so the event loop
keeps serving other people while a model thinks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redline.campaign import CampaignService, ResolveTarget, campaign_config
from redline.campaign.targets import target_infos, worker_resolver
from redline.campaign.timing import model_seconds
from redline.config import Settings
from redline.errors import RedlineError
from redline.platform.security import load_or_create_secret
from redline.platform.web import (
    HERE,
    Platform,
    check_csrf,
    compile_templates,
    reject_unstorable_text,
    render,
)
from redline.store import Store
from redline.targets.base import TargetInfo

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class TimingAndHeaders:
    """Pure ASGI middleware: security headers on every response, and a Server-Timing
    header splitting server time into ``app`` (excluding the model) and ``model``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sink: list[float] = []
        token = model_seconds.set(sink)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = time.perf_counter() - started
                model = sum(sink)
                headers = list(message.get("headers", []))
                headers += [
                    (
                        b"server-timing",
                        f"app;dur={(total - model) * 1000:.2f}, "
                        f"model;dur={model * 1000:.2f}".encode(),
                    ),
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    # Our own origin in Origin/Referer (checked on every POST), nothing
                    # for other sites.
                    (b"referrer-policy", b"same-origin"),
                ]
                # Pages carry personal data and CSRF tokens: never cached. Our own static
                # files may be.
                static = scope["path"].startswith("/static/")
                cache = b"public, max-age=3600" if static else b"no-store"
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", cache))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            model_seconds.reset(token)


def _wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json") or "application/json" in request.headers.get(
        "accept", ""
    )


def _error_response(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def create_app(
    store: Store,
    settings: Settings,
    resolve_target: ResolveTarget | None = None,
    target_names: Sequence[str] | None = None,
    *,
    targets: Sequence[TargetInfo] | None = None,
    secret: bytes | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The red-team platform over ``store``.

    ``resolve_target`` builds a target by name (default: the registry's targets, run in
    a model worker process so that a crash in model code fails one request only);
    ``target_names`` selects the campaign's targets (default: ``[campaign] targets`` in
    redline.toml, else every available target); ``targets`` gives their identities
    directly (tests with scripted targets).
    """
    compile_templates()
    resolve = resolve_target or worker_resolver(settings)
    infos = list(targets) if targets is not None else target_infos(settings, resolve, target_names)
    config = campaign_config(settings, infos, target_names)
    state = Platform(
        store=store,
        settings=settings,
        campaign=CampaignService(store, config, resolve),
        secret=secret or load_or_create_secret(settings.data_dir),
        secure_cookies=secure_cookies,
    )
    app = FastAPI(
        title="Redline",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(check_csrf), Depends(reject_unstorable_text)],
    )
    app.state.platform = state
    app.add_middleware(TimingAndHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(RedlineError)
    async def redline_error(request: Request, exc: RedlineError) -> Response:
        return _error_response(request, exc.http_status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "there is no such page", 405: "this page does not take that request"}
        return _error_response(request, exc.status_code, message.get(exc.status_code, "error"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug, not the person's doing: log it with its traceback, show a calm page.
        route = getattr(request.scope.get("route"), "path", "?")  # the template: no tokens
        log.error("unhandled error on %s %s", request.method, route, exc_info=exc)
        return _error_response(request, 500, "an unexpected error happened; it was logged")

    @app.exception_handler(RequestValidationError)
    async def invalid_form(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()})
        return _error_response(request, 400, f"the form is incomplete or wrong: {fields}")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # Browsers ask for it on every page that names none (JSON, downloads): answer it.
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    from redline.platform.routes import admin, auth, redteam, review

    for module in (auth, redteam, admin, review):
        app.include_router(module.router)
    return app


def app_context(app: FastAPI) -> Any:
    """The :class:`Platform` behind an app (tests reach the store and service through it)."""
    return app.state.platform
