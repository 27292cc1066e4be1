"""report.html from a store renders in headless Chromium (Debian's, never a Playwright
download): on a 500-attempt store with hostile text (escaped), on the real 10-record
hh-rlhf sample plus the 1,600 packaged comparison pairs, and on the full-size 38,961
synthetic file. Screenshots go to test-artifacts/report-browser/ for a human to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.synthetic import synthetic_red_team_records, write_synthetic

from chromium import CHROMIUM, CHROMIUM_ARGS
from redline.analysis.report import build_report
from redline.analysis.texts import transcripts_frame
from redline.attack.frame import comparison_frame
from redline.datasets import import_file
from redline.store import Store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "report-browser"
SAMPLE = ROOT / "tests/data/red_team_attempts.sample.json"
HOSTILE = '<script>window.PWNED=1</script><img src=x onerror="window.PWNED=2">'


def _report(store_path: Path, files: list[Path], out: Path, **kwargs: Any) -> Path:
    store = Store(f"sqlite:///{store_path}")
    try:
        for path in files:
            import_file(store, path)
        with store.session() as session:
            frame, texts = comparison_frame(session), transcripts_frame(session)
    finally:
        store.dispose()
    return build_report(frame, texts, out, **kwargs).path


def _render(report: Path, name: str) -> dict[str, Any]:
    """Open the report, check every image loaded and nothing ran, save screenshots of
    the page and of each figure; return what the page says."""
    from playwright.sync_api import sync_playwright

    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        assert images and all(done and width > 100 for _, done, width in images), images
        assert page.evaluate("window.PWNED") is None
        page.screenshot(path=str(folder / "00-top.png"))
        for i, img in enumerate(page.locator("img").all()):
            alt = (img.get_attribute("alt") or "figure").replace(" ", "_")
            img.screenshot(path=str(folder / f"{i + 1:02d}-{alt}.png"))
        text = page.inner_text("body")
        map_page = report.parent / "attack_map.html"
        if map_page.exists():
            page.goto(map_page.as_uri())
            page.wait_for_selector(".plot-container", timeout=30000)
            assert page.evaluate("window.PWNED") is None
            page.screenshot(path=str(folder / "99-attack-map.png"))
        browser.close()
    return {"images": images, "text": text, "folder": folder}


def _drawn(path: Path) -> bool:
    import matplotlib.image as mpimg

    pixels = mpimg.imread(path)
    return pixels.shape[0] > 100 and float(np.std(pixels[..., :3])) > 0.05


@pytest.mark.slow
def test_report_renders_and_escapes(tmp_path: Path) -> None:
    records = synthetic_red_team_records(500, seed=4)
    records[0]["task_description"] = HOSTILE
    records[0]["transcript"] = f"\n\nHuman: {HOSTILE}\n\nAssistant: no"
    records[0]["tags"] = [HOSTILE]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records))
    report = _report(tmp_path / "r.db", [path], tmp_path / "out", n_boot=200)
    html = report.read_text()
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert (tmp_path / "out/plotly.min.js").exists()
    assert "cdn" not in (tmp_path / "out/attack_map.html").read_text().lower()
    seen = _render(report, "synthetic-500")
    assert len(seen["images"]) >= 6
    assert _drawn(seen["folder"] / "01-attack_success_figure.png")


@pytest.mark.slow
def test_real_sample_with_pairs(tmp_path: Path) -> None:
    from redline.data import harmless_base_pairs

    pairs = harmless_base_pairs()
    report = _report(tmp_path / "r.db", [SAMPLE, pairs], tmp_path / "out", n_boot=200)
    text = _render(report, "real-sample")["text"]
    assert "10 red-team attempts" in text
    assert "1,600 records without a target" in text
    assert "Prompted LM" in text and "No attempt carries tags yet" in text


@pytest.mark.slow
def test_full_size_synthetic(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.json.gz"
    write_synthetic(path)
    report = _report(tmp_path / "r.db", [path], tmp_path / "out", n_boot=300)
    seen = _render(report, "synthetic-38961")
    assert "38,961 red-team attempts" in seen["text"]
    assert len(seen["images"]) == 6  # Figure 1, distributions, people, efficacy, tags, map
    assert all(_drawn(p) for p in seen["folder"].glob("0[1-9]-*.png"))
