"""Issue 14: end of input at ``redline chat``'s pick prompt ends the attempt cleanly."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from redline.cli import app
from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Candidate


def test_eof_at_the_pick_prompt_abandons_the_attempt(tmp_path: Path, db_url: str) -> None:
    args = ["--data-dir", str(tmp_path / "data"), "--db-url", db_url]
    # A task description and one message, then the input ends where a pick is asked for.
    result = CliRunner().invoke(
        app, [*args, "chat", "scripted-0m/plain", "--as", "tester"], input="goal\nhello\n"
    )
    assert "Reply 1" in result.output  # it got as far as the pick prompt
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert "Input ended before a reply was picked" in result.output
    assert "abandoned" in result.output
    store = Store(db_url)
    try:
        with store.session() as session:
            attempt = session.scalars(select(Attempt)).one()
            assert attempt.status is AttemptStatus.ABANDONED
            assert attempt.rating is None
            assert not session.scalars(select(Candidate).where(Candidate.picked)).all()
    finally:
        store.dispose()
    # The next session starts a fresh attempt, not the abandoned one.
    again = CliRunner().invoke(
        app, [*args, "chat", "scripted-0m/plain", "--as", "tester"], input="goal\n/quit\n"
    )
    assert again.exit_code == 0, again.output
