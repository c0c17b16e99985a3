"""The report in a real browser (headless Chromium): images decode, no console error, tables hold numbers."""

from __future__ import annotations

import re

import pytest

from tests.pipelines.reporting.browser import inspect_page


def test_report_renders_in_headless_chromium(built_report, tmp_path, chromium):
    from matplotlib.image import imread

    screenshot = tmp_path / "report.png"
    page = inspect_page(chromium, built_report["html"].resolve().as_uri(), tmp_path / "profile", screenshot=screenshot)

    assert page["errors"] == []
    assert len(page["images"]) >= 9
    broken = [i["alt"] for i in page["images"] if not (i["complete"] and i["naturalWidth"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert {"Data", "Model comparison", "Per galaxy", "Calibration", "Light curves", "Predictions", "How it was made"} <= set(page["headings"])
    assert len(page["cells"]) >= 6
    for cells in page["cells"]:
        assert cells and sum(bool(re.search(r"\d", c)) for c in cells) >= len(cells) / 3, "a table without numbers"
    number = re.compile(r"^[−+-]?\d+\.\d{3} ± \d+\.\d{3}$")
    assert any(number.match(c) for cells in page["cells"] for c in cells), "no 'mean ± sd' cell in the comparison tables"
    pixels = imread(screenshot)
    assert pixels.shape[:2] == (900, 1400) and pixels[..., :3].std() > 0.05


def test_the_browser_check_catches_a_broken_image_and_a_console_error(built_report, tmp_path, chromium):
    """The check can fail: a page with a broken image and a script error is caught."""
    broken = tmp_path / "broken.html"
    broken.write_text(built_report["html"].read_text().replace(
        "</main>", '<img alt="broken" src="data:image/png;base64,AAAA"><script>console.error("boom"); undefinedCall();</script></main>'))
    page = inspect_page(chromium, broken.as_uri(), tmp_path / "profile")
    assert [i["alt"] for i in page["images"] if i["naturalWidth"] == 0] == ["broken"]
    assert any("boom" in e for e in page["errors"]) and any("exception" in e for e in page["errors"])
