"""Report sections are plugins: every registered one meets the contract, and a section
installed from another distribution appears in the report, numbered, escaped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.support.distributions import installed_distribution

from redline.analysis.report import _environment, build_report
from redline.analysis.sections import SECTIONS, anchor, ordered, steps
from redline.analysis.sections.base import SectionContent
from redline.errors import ConfigError

HOSTILE = '<script>window.PWNED=1</script><img src=x onerror="window.PWNED=2">'


@pytest.mark.parametrize("name", SECTIONS.names())
def test_every_registered_section_meets_the_contract(name: str) -> None:
    section = SECTIONS.load(name)
    assert section.name == name
    assert section.title is None or section.title.strip()
    assert isinstance(section.order, int)
    assert anchor(section).replace("-", "").isalnum()
    template = getattr(section, "template", None)
    if template is not None:
        _environment().get_template(template)  # the layout it names exists and parses
    assert callable(section().build)


def test_order_anchors_and_steps_come_from_the_registry() -> None:
    sections = ordered()
    assert [s.order for s in sections] == sorted(s.order for s in sections)
    assert sections[0].title is not None  # a continuation needs a section before it
    anchors = [anchor(s) for s in sections]
    assert len(anchors) == len(set(anchors))
    assert sorted(steps()) == sorted([*SECTIONS.names(), "render"])


SECTION_SOURCE = """
    from redline.analysis.sections.base import SectionContent

    HOSTILE = {hostile!r}


    class AcmeSection:
        name = "acme findings"
        title = "Acme findings " + HOSTILE
        order = 95

        def build(self, context):
            n = len(context.frame)
            table = {{"header": ["what", "n"], "rows": [[HOSTILE, str(n)]], "total": 1}}
            return SectionContent(notes=["Seen: " + HOSTILE], tables=[("Acme table", table)])
"""


def _texts(frame: pd.DataFrame) -> pd.DataFrame:
    head = frame.head(5)
    return pd.DataFrame(
        {
            "attempt_id": head["attempt_id"],
            "transcript": "\n\nHuman: hi\n\nAssistant: hello",
            "first_human": "hi",
            "task_description": head["task_description"],
        }
    )


def test_a_section_from_another_distribution_is_built_numbered_and_escaped(
    tmp_path: Path, frame_2k: pd.DataFrame
) -> None:
    frame = frame_2k.head(300)
    done: list[str] = []
    with installed_distribution(
        tmp_path / "site",
        "acme-report",
        {"acme_report.section": SECTION_SOURCE.format(hostile=HOSTILE)},
        {"redline.report_sections": {"acme findings": "acme_report.section:AcmeSection"}},
    ):
        assert "acme findings" in steps()
        result = build_report(
            frame, _texts(frame), tmp_path / "r", n_boot=100, parallel=False, progress=done.append
        )
    assert "acme findings" not in SECTIONS.names()  # gone with its distribution
    html = result.path.read_text(encoding="utf-8")
    escaped = "&lt;script&gt;window.PWNED=1&lt;/script&gt;"
    # Built-in sections 1-9 come first (order 10-90), so it is number 10 and Methods 11.
    assert f'<h2 id="acme-findings">10. Acme findings {escaped}' in html
    assert f"<p>Seen: {escaped}" in html and "<h3>Acme table</h3>" in html
    assert f"<td>{escaped}" in html and "<td>300</td>" in html
    assert HOSTILE not in html
    assert '<a href="#acme-findings">' in html and "11. Methods" in html
    assert (
        done[-3:] == ["acme findings", "target comparison", "render"]
        and "acme findings" in result.timings
    )


def test_a_section_with_nothing_to_show_is_left_out(tmp_path: Path, frame_2k: pd.DataFrame) -> None:
    class Empty:
        name = "empty"
        title = "Never shown"
        order = 5

        def build(self, context: object) -> SectionContent | None:
            return None

    SECTIONS.register("empty", Empty)
    try:
        frame = frame_2k.head(300)
        result = build_report(frame, _texts(frame), tmp_path / "r", n_boot=100, parallel=False)
    finally:
        SECTIONS.unregister("empty")
    html = result.path.read_text(encoding="utf-8")
    assert "Never shown" not in html and '<h2 id="cells">1. Attempts by model type' in html


def test_a_section_without_its_metadata_is_refused_by_name() -> None:
    class NoOrder:
        name = "no order"
        title = "No order"

        def build(self, context: object) -> None:
            return None

    SECTIONS.register("no order", NoOrder)
    try:
        with pytest.raises(ConfigError, match=r"report section plugin 'no order'.*'order'"):
            SECTIONS.load("no order")
    finally:
        SECTIONS.unregister("no order")
