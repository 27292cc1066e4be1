"""A judge from another package: one module and an entry point make it a judge that
``redline judge list`` shows and ``redline judge eval`` calibrates."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.distributions import installed_distribution
from typer.testing import CliRunner

from redline.cli import app

SHOUT_JUDGE = '''
    from redline.judges.base import JudgeInfo, Verdict, identity_hash


    class ShoutJudge:
        """Calls a reply a refusal when it opens with "no" (a third party's judge)."""

        name = "shout"
        description = "refusal when a reply opens with no"
        measures = ("refusal",)

        def __init__(self):
            self.info = JudgeInfo(self.name, self.description, self.measures)
            self.identity = identity_hash("shout", {"word": "no"})

        @classmethod
        def build(cls, settings=None, **options):
            return cls()

        def judge(self, items):
            return [Verdict(refusal=reply.lower().startswith("no")) for _, reply in items]
'''


def test_an_installed_judge_is_listed_and_calibrated(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    out = tmp_path / "shout.json"
    with installed_distribution(
        tmp_path / "site",
        "acme-judges",
        {"acme_judges.shout": SHOUT_JUDGE},
        {"redline.judges": {"shout": "acme_judges.shout:ShoutJudge"}},
    ):
        listed = runner.invoke(app, [*data, "judge", "list"], terminal_width=200)
        assert listed.exit_code == 0, listed.output
        assert "shout" in listed.output and "never calibrated" in listed.output
        args = ["judge", "eval", "--judge", "shout", "--limit", "20", "--no-reviews"]
        evaluated = runner.invoke(app, [*data, *args, "--json", str(out)])
        assert evaluated.exit_code == 0, evaluated.output
    record = json.loads(out.read_text())
    assert record["judge"] == "shout" and record["identity"].startswith("shout:")
    assert record["pairs"]["n"] == 20
    detection = record["benign"]["refusal_detection"]
    assert detection["n"] == 2 * record["benign"]["n"]
    # none of the benign refusals opens with "no": the helpful answers are all "not
    # refusals", so detection is right on exactly half the items
    assert detection["value"] == 0.5
