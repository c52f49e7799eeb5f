"""The static HTML QC report: content from the grade rows, and its behaviour in Chromium."""

import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from fixtures.qc_batch import EXPECTED, FAILED, make_qc_batch

from vcfmeasure.batch import qc_report

pytest.importorskip("jinja2")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qc")
    rows = make_qc_batch(folder / "films")
    page = qc_report(folder / "films" / "grades.csv", folder / "report")
    return rows, page


def _cards(html):
    pattern = r'<article class="card[^"]*"[^>]*?data-flags="([^"]*)"[^>]*>\s*<h2 id="title-\d+">(\S+)'
    return re.findall(pattern, html)


def test_one_card_per_graded_image_and_the_failed_inputs_listed(batch):
    rows, page = batch
    html = page.read_text()
    cards = dict((name, set(flags.split())) for flags, name in _cards(html))
    assert cards == EXPECTED
    for name in FAILED:
        assert f"<strong>{name}</strong>" in html
    assert "not a DICOM file" in html and "no landmark file beside the image" in html
    assert 'id="count-failed">2<' in html and 'id="count-flagged">3<' in html


def test_reasons_are_written_per_level(batch):
    html = batch[1].read_text()
    assert "needs review (confidence 0.41)" in html
    assert "L5 is outside T4-L4, where Genant grading was defined" in html
    assert "spacing unknown: lengths in px" in html
    assert "Ha (px)" in html and "Ha (mm)" in html


def test_the_page_is_self_contained(batch):
    _, page = batch
    html = page.read_text()
    assert "http://" not in html and "https://" not in html
    srcs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert srcs and all(s.startswith("images/") for s in srcs)
    for s in srcs:
        assert (page.parent / s).is_file()
    assert all(alt.strip() for alt in re.findall(r'alt="([^"]*)"', html))


def test_columns_the_table_lacks_are_derived_or_skipped(tmp_path):
    rows = pd.DataFrame({"image": ["x.dcm", "x.dcm"], "level": ["T3", "L1"], "unit": ["mm", "mm"],
                         "ha": [20.0, 21.0], "hm": [20.0, 21.0], "hp": [24.0, 25.0],
                         "grade": [1, 0]})
    html = qc_report(rows, tmp_path, thumbnails=False).read_text()
    assert "T3 is outside T4-L4" in html and "L1 is outside" not in html
    # an explicit outside_genant_range column wins over the level rule
    rows["outside_genant_range"] = [False, True]
    html = qc_report(rows, tmp_path, thumbnails=False).read_text()
    assert "T3 is outside" not in html and "L1 is outside" in html


def test_warnings_become_flags_and_text_is_escaped(tmp_path):
    rows = pd.DataFrame({"image": ["<b>odd</b>.png"], "level": ["L1"], "unit": ["mm"], "ha": [20.0],
                         "hm": [20.0], "hp": [24.0], "grade": [1], "provenance": ["detected (level guessed)"],
                         "warnings": ["PlausibilityWarning: L1: Ha 90 mm is implausible | "
                                      "SpacingWarning: detector spacing, no magnification correction"]})
    html = qc_report(rows, tmp_path, thumbnails=False).read_text()
    assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;" in html
    flags = _cards(html)[0][0].split()
    assert set(flags) == {"level-guessed", "plausibility", "warning"}
    assert "Ha 90 mm is implausible" in html


def test_a_table_without_image_column_is_an_error(tmp_path):
    from vcfmeasure import VcfMeasureError

    with pytest.raises(VcfMeasureError, match="no 'image' column"):
        qc_report(pd.DataFrame({"level": ["L1"]}), tmp_path)


# --- the real browser ----------------------------------------------------------------------


def _browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get where it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    return sync_api


def test_report_in_chromium(batch, tmp_path):
    rows, page = batch
    sync_api = _browser()
    profile = tempfile.mkdtemp(prefix="vcfmeasure-chromium-")
    messages = []
    try:
        with sync_api.sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1366, "height": 768})
            try:
                tab = ctx.new_page()
                tab.on("console", lambda m: messages.append((m.type, m.text)))
                tab.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
                tab.goto(page.as_uri())
                tab.wait_for_load_state("load")
                cards = tab.locator(".card")
                assert cards.count() == len(EXPECTED)
                n = len(EXPECTED)
                assert tab.locator("#status").inner_text() == f"Showing {n} of {n} images"
                # flagged first: the flagged cards lead, in a stable order
                order = tab.eval_on_selector_all(".card", "els => els.map(e => e.dataset.flagged)")
                assert order == sorted(order, reverse=True) and order[0] == "1"
                # every thumbnail decoded
                widths = tab.eval_on_selector_all(".thumb img", "els => els.map(e => e.naturalWidth)")
                assert len(widths) == len(EXPECTED) and min(widths) > 0

                tab.get_by_label("Flagged only", exact=True).check()
                assert tab.locator(".card:visible").count() == 3
                tab.get_by_label("Flagged only", exact=True).uncheck()

                graded_2 = {Path(i).stem for i in rows.loc[rows["grade"] == 2, "image"]}
                tab.get_by_label("Grade", exact=True).select_option("2")
                shown = tab.eval_on_selector_all(".card:not([hidden]) h2",
                                                 "els => els.map(e => e.firstChild.textContent.trim())")
                assert set(shown) == graded_2 and len(graded_2) == 2
                tab.get_by_label("Grade", exact=True).select_option("")

                tab.get_by_label("Flag", exact=True).select_option("spacing-unknown")
                assert tab.locator(".card:visible").count() == 1
                assert tab.locator("#status").inner_text() == f"Showing 1 of {len(EXPECTED)} images"
                tab.get_by_label("Flag", exact=True).select_option("")

                # keyboard: j moves to the next card
                tab.locator(".card").first.focus()
                first = tab.evaluate("document.activeElement.id")
                tab.keyboard.press("j")
                assert tab.evaluate("document.activeElement.id") not in (first, "")

                shot = tmp_path / "qc_report.png"
                tab.screenshot(path=str(shot))
                assert shot.stat().st_size > 10_000
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    errors = [m for m in messages if m[0] in ("error", "pageerror")]
    assert errors == []
