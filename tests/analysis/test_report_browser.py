"""report.html from a store: every figure loads in headless Chromium, hostile text is
escaped, and the screenshot is not blank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chromium import CHROMIUM, CHROMIUM_ARGS
from redline.analysis import attempts_frame
from redline.analysis.report import build_report
from redline.analysis.texts import transcripts_frame
from redline.datasets import import_file
from redline.datasets.synthetic import synthetic_red_team_records
from redline.store import Store

HOSTILE = '<script>window.PWNED=1</script><img src=x onerror="window.PWNED=2">'


@pytest.mark.slow
def test_report_renders_in_chromium(tmp_path: Path) -> None:
    records = synthetic_red_team_records(500, seed=4)
    records[0]["task_description"] = HOSTILE
    records[0]["transcript"] = f"\n\nHuman: {HOSTILE}\n\nAssistant: no"
    records[0]["tags"] = [HOSTILE]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records))
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    import_file(store, path)
    with store.session() as session:
        frame, texts = attempts_frame(session), transcripts_frame(session)
    store.dispose()
    result = build_report(frame, texts, tmp_path / "out", n_boot=200)
    html = result.path.read_text()
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert (tmp_path / "out/attack_map.html").exists() and (tmp_path / "out/plotly.min.js").exists()
    assert "cdn" not in (tmp_path / "out/attack_map.html").read_text().lower()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(result.path.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        assert len(images) >= 6
        assert all(done and width > 100 for _, done, width in images), images
        assert page.evaluate("window.PWNED") is None
        shot = tmp_path / "shot.png"
        page.locator("img").first.screenshot(path=str(shot))
        page.goto((tmp_path / "out/attack_map.html").as_uri())
        page.wait_for_selector(".plot-container", timeout=20000)
        assert page.evaluate("window.PWNED") is None
        browser.close()
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[0] > 100 and np.std(pixels[..., :3]) > 0.05  # a drawn figure
