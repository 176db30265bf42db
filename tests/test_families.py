"""Pages in twelve layout families (qa/testing/families.py), printed from the seed pages' stories
and read back from their text layers: every story's sentences whole and in that story, its
headline, and the page header's fields on every article. The families kept aside while the
layout step was developed are asserted on their own."""

from pathlib import Path

import pytest

from qa.ingest.articles import ingest_file
from qa.testing.families import FAMILIES, TEST_FAMILIES, page_set
from qa.testing.newspaper import chromium_available, degrade, print_html, seed_spec
from qa.testing.truth import (
    Fields,
    StoryRecovery,
    fields,
    page_text,
    read_text,
    recovered,
    story_recovery,
)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_available() is not None, reason=str(chromium_available()))]


@pytest.fixture(scope="module")
def read(tmp_path_factory):
    """{family: (truth, articles)} for one page of each family."""
    from playwright.sync_api import sync_playwright

    from qa.testing.browser import CHROMIUM, CHROMIUM_ARGS

    pool = [s for path in sorted((ROOT / "corpus").glob("*.txt")) for s in seed_spec(path).stories]
    out = tmp_path_factory.mktemp("families")
    pages = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for markup, width, spec in page_set(pool, 1, seed=3):
            pdf = print_html([(markup, width)], out / f"{spec.extra['family']}.pdf", browser)
            pages[spec.extra["family"]] = (spec, ingest_file(pdf).articles, pdf)
        browser.close()
    return pages


def _totals(read, names):
    got, seen = StoryRecovery(*[0] * 7), Fields(*[0] * 5)
    for name in names:
        spec, articles, _ = read[name]
        got, seen = got + story_recovery(spec, articles), seen + fields(spec, articles)
    return got, seen


@pytest.mark.parametrize("split", ["develop", "test"])
def test_stories_come_back_whole_in_their_own_story_with_their_headlines(read, split):
    names = [f.name for f in FAMILIES if (f.name in TEST_FAMILIES) == (split == "test")]
    got, seen = _totals(read, names)
    assert got.sentences > 200
    assert got.in_story / got.sentences >= 0.97, got
    assert got.headlines_exact / got.headlines >= 0.95, got
    assert got.spliced == 0, got
    assert seen.page == seen.date == seen.articles, seen  # every header prints both
    assert seen.newspaper == seen.newspaper_expected, seen


def test_each_family_reads_most_of_its_page(read):
    for name, (spec, articles, _) in read.items():
        got = story_recovery(spec, articles)
        assert got.in_story / got.sentences >= 0.9, (name, got)


def test_a_masthead_set_as_a_picture_leaves_the_paper_unknown_and_says_so(read, tmp_path):
    image_mastheads = [f.name for f in FAMILIES if f.masthead == "image"]
    assert image_mastheads
    for name in image_mastheads:
        spec, articles, _ = read[name]
        assert spec.extra["expect"]["newspaper"] is None
        assert all(a.newspaper is None for a in articles)
        assert all(a.date == spec.extra["expect"]["date"] for a in articles)


def test_a_scanned_broadsheet_comes_back_whole_and_never_spliced(read, tmp_path):
    """A lead story across four columns above stories that start mid-column and run on, read
    as a 200 dpi scan turned by 2° with noise (column rules, a picture, a caption)."""
    pytest.importorskip("rapidocr")
    import pypdfium2 as pdfium

    spec, _, pdf = read["broadsheet-flow"]
    doc = pdfium.PdfDocument(str(pdf))
    image = degrade(doc[0].render(scale=200 / 72, grayscale=True).to_pil().convert("L"), -2.0, 10.0)
    doc.close()
    image.save(tmp_path / "scan.jpg", quality=90)
    articles = ingest_file(tmp_path / "scan.jpg").articles
    got = story_recovery(spec, articles, tolerance=0.1)
    assert recovered(page_text(spec), read_text(articles)) >= 0.95
    assert got.in_story / got.sentences >= 0.9 and got.spliced == 0, got
