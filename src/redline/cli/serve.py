"""``redline serve``: the red-team web platform (FastAPI on uvicorn) over the store."""

from __future__ import annotations

import gc
import logging
import re

import typer

from redline.cli.app import app, console, state
from redline.config import Settings

_TOKEN_IN_PATH = re.compile(r"(/invite/)[A-Za-z0-9_-]+")


class _RedactTokens(logging.Filter):
    """Access logs must not carry invite or login tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_PATH.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def _default_targets(settings: Settings, names: list[str]) -> list[str] | None:
    """Without a configured pool: every built-in target, rejection sampling included (one
    of the paper's four conditions). rs16 draws 16 samples per reply; cross-request
    batching decodes them in the same steps as everyone else's replies, and the chat page
    shows their progress, so they no longer make the pool unusable."""
    if names or settings.raw.get("campaign", {}).get("targets"):
        return names or None
    return None


def _freeze_startup_objects() -> None:
    """Put everything built before serving (modules, the app, compiled pages: about 95,000
    objects) out of the cyclic garbage collector's reach.

    Why: none of it ever becomes garbage, yet every full collection walks it all while
    holding the GIL, stopping every request in flight: 55-90 ms pauses during the scripted
    50-user benchmark, each one landing in the p99 of pages and polls; frozen, a full
    collection takes 5-6 ms (measured with gc.callbacks, 2026-12-02).
    """
    gc.collect()
    gc.freeze()


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    target: list[str] = typer.Option(
        [], "--target", "-t", help="A campaign target (repeatable); default: [campaign] targets."
    ),
    scripted: bool = typer.Option(
        False, "--scripted", help="Only the instant scripted target (demos, load tests)."
    ),
    new_admin_link: bool = typer.Option(
        False, "--new-admin-link", help="Print a fresh one-time login link for the first admin."
    ),
    secure_cookies: bool = typer.Option(
        False, "--secure-cookies", help="Send cookies over HTTPS only (behind a TLS proxy)."
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    batching: bool = typer.Option(
        True,
        "--batching/--no-batching",
        help="Decode turns that arrive together in one model batch (off: one at a time).",
    ),
) -> None:
    """Start the red-team web platform.

    On first start (no admin yet) it creates an admin and prints a one-time login URL.
    Models load on the first turn that needs them, in a model worker process: a crash
    there fails that one turn (the red teamer can retry), never the server. Turns that
    arrive while a model is busy join its running batch (--no-batching: one at a time,
    for comparison). Before it listens, a self-check makes sure llama.cpp runs on this CPU.

    Example: redline serve --port 8000
    """
    import os

    import uvicorn

    from redline import accounts
    from redline.platform import create_app
    from redline.targets.backends.switch import BATCHING_ENV
    from redline.targets.scripted import SCRIPTED_INFO

    # Before the app exists: the model worker process reads it when it starts.
    os.environ[BATCHING_ENV] = "1" if batching else "0"
    st = state(ctx)
    settings, store = st.settings, st.store
    if scripted:
        names: list[str] | None = [SCRIPTED_INFO.name]
    else:
        names = _default_targets(settings, list(target))
    web = create_app(store, settings, target_names=names, secure_cookies=secure_cookies)
    pool = web.state.platform.campaign.config.targets
    if any(t.name != SCRIPTED_INFO.name for t in pool):
        # Fail at start, not at a red teamer's first message, if llama.cpp cannot run here.
        from redline.targets.selfcheck import ensure_llama_runs

        ensure_llama_runs()
    token = accounts.ensure_first_admin(store)
    if token is None and new_admin_link:
        admin_id = accounts.first_admin_id(store)
        token = accounts.login_link_token(store, admin_id) if admin_id is not None else None
    shown = "localhost" if host in {"0.0.0.0", "::"} else host
    console.print(
        f"Redline on http://{shown}:{port}/ with targets: " + ", ".join(t.name for t in pool)
    )
    if not batching:
        console.print("(cross-request batching is off: each turn is decoded on its own)")
    if token is not None:
        console.print(
            f"Admin login (one-time, valid 24 h): http://{shown}:{port}/invite/{token}",
            markup=False,
            highlight=False,
        )
    console.file.flush()
    logging.getLogger("uvicorn.access").addFilter(_RedactTokens())
    _freeze_startup_objects()
    uvicorn.run(web, host=host, port=port, log_level=log_level)
