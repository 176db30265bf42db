"""Archive formats on fixtures made here from the seed pages: e-paper PDFs printed by headless
Chromium (qa/testing/newspaper.py), scans rasterized from them, saved web pages, broken files."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.files import source_name
from qa.ingest.articles import article_json, ingest_file, ingest_paths
from qa.ingest.formats.boxes import span_boxes
from qa.ingest.formats.document import read_pdf
from qa.settings import Settings
from qa.testing.newspaper import (
    cer,
    chromium_available,
    degrade,
    print_pdf,
    recovery,
    scan,
    seed_spec,
)
from tests.seeds import CORPUS

SEEDS = {p.name[:3]: p for p in CORPUS.glob("*.txt")}
LIMITS = (Settings().max_file_bytes, Settings().read_timeout_s)
NO_PRINTER = chromium_available()


def _ocr_missing() -> str | None:
    try:
        import rapidocr  # noqa: F401  (imports OpenCV)
    except ImportError as exc:
        return f"OCR cannot run here ({exc}): pip install rapidocr==3.10.0"
    return None


needs_ocr = pytest.mark.skipif(_ocr_missing() is not None, reason=_ocr_missing() or "")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def specs():
    return [seed_spec(SEEDS["003"]), seed_spec(SEEDS["004"])]


@pytest.fixture(scope="module")
def printed(tmp_path_factory, specs) -> Path:
    """Seed pages 003 and 004 as a two-page e-paper PDF."""
    if NO_PRINTER:
        pytest.skip(NO_PRINTER)
    return print_pdf(specs, tmp_path_factory.mktemp("printed") / "pages.pdf")


@pytest.fixture(scope="module")
def pdf_result(printed):
    return ingest_file(printed)


def test_pdf_pages_come_back_in_reading_order_with_headlines_and_page_headers(pdf_result, specs):
    assert pdf_result.error is None and pdf_result.encoding == "pdf"
    assert [p.number for p in pdf_result.pages] == [1, 2] and not any(p.ocr for p in pdf_result.pages)
    got = recovery(specs, pdf_result.articles)
    assert got.in_order >= 0.98 * got.sentences and got.headlines_exact == got.headlines == 17
    by_page = {}
    for a in pdf_result.articles:
        by_page.setdefault(a.paragraphs[0].boxes[0].page, set()).add(
            (a.newspaper, a.date, a.page, a.section))
    # Page 1 prints its header (paper, date, 版次, section); page 2 only its paper's name.
    assert by_page == {1: {("乌海日报", "2022-11-22", "3", "经济")}, 2: {("通辽日报", None, "2", None)}}


def test_pdf_paragraphs_keep_their_lines_boxes_and_offsets(printed, pdf_result):
    document = read_pdf(printed, Settings())
    lines = document.text.split("\n")
    for p in (p for a in pdf_result.articles for p in a.paragraphs):
        assert p.boxes and all(0 <= b.x0 < b.x1 <= 1 and 0 <= b.y0 < b.y1 <= 1 for b in p.boxes)
        assert squash(p.text) in squash("".join(b.text for b in p.boxes))
        assert squash(p.text) in squash("".join(lines[p.line_start - 1 : p.line_end]))
        assert squash(document.text[p.char_start : p.char_end]).startswith(squash(p.text)[:4])
    json = article_json(pdf_result.articles[0])["paragraphs"][0]
    assert json["page"] == 1 and len(json["boxes"]) == len(pdf_result.articles[0].paragraphs[0].boxes)


def test_an_answer_span_maps_to_the_characters_on_the_page(pdf_result):
    p = next(p for a in pdf_result.articles for p in a.paragraphs if "279个" in p.text)
    start = p.text.index("279个")
    boxes = span_boxes(p.text, start - 4, start + 4, list(p.boxes))
    assert squash("".join(b.text for b in boxes)) == squash(p.text[start - 4 : start + 4])
    line = next(b for b in p.boxes if b.line == boxes[0].line)
    assert line.x0 <= boxes[0].x0 < boxes[0].x1 <= line.x1 and boxes[0].x1 - boxes[0].x0 < line.x1 - line.x0


def crop(printed: Path, pdf_result, text: str, skew: float, noise: float):
    """A scan (200 dpi) of the lines of one column that print `text`, and those lines' text."""
    p = next(p for a in pdf_result.articles for p in a.paragraphs if text in p.text)
    hit = next(b for b in p.boxes if text[:4] in b.text)
    column = [b for b in p.boxes if abs(b.x0 - hit.x0) < 0.05]
    page = scan(printed, hit.page - 1, 200)
    width, height = page.size
    x0, y0 = min(b.x0 for b in column), min(b.y0 for b in column)
    x1, y1 = max(b.x1 for b in column), max(b.y1 for b in column)
    box = (int(x0 * width) - 30, int(y0 * height) - 12, int(x1 * width) + 30, int(y1 * height) + 12)
    return degrade(page.crop(box), skew, noise, seed=7), "".join(b.text for b in column)


@pytest.fixture(scope="module")
def scanned(printed, pdf_result, tmp_path_factory) -> tuple[Path, str]:
    """A skewed, noisy scan of a few lines of the printed page, and their text."""
    image, truth = crop(printed, pdf_result, "279个乡村振兴重点帮扶嘎查村", 1.5, 10)
    path = tmp_path_factory.mktemp("scanned") / "crop.png"
    image.save(path)
    return path, truth


@needs_ocr
def test_ocr_reads_a_scanned_crop_with_boxes_and_confidence(scanned):
    path, truth = scanned
    result = ingest_file(path)
    assert result.error is None and result.encoding == "ocr" and result.pages[0].ocr
    assert abs(abs(result.pages[0].skew) - 1.5) < 0.5
    text = "".join(p.text for a in result.articles for p in a.paragraphs)
    assert len(truth) > 60 and cer(truth, text) <= 0.03
    assert all(0.5 <= b.confidence <= 1 for b in result.lines)


@needs_ocr
@pytest.mark.slow
def test_a_pdf_page_without_text_layer_is_read_by_ocr(printed, pdf_result, tmp_path):
    image, truth = crop(printed, pdf_result, "申报库伦旗为国家乡村振兴重点帮扶县", 0, 0)
    image.save(tmp_path / "scan.pdf", resolution=200)  # an image only, no text layer
    result = ingest_file(tmp_path / "scan.pdf")
    assert result.encoding == "ocr" and result.pages[0].ocr
    assert cer(truth, "".join(p.text for a in result.articles for p in a.paragraphs)) <= 0.03


@needs_ocr
@pytest.mark.slow
def test_a_whole_scanned_page(printed, specs, tmp_path):
    scan(printed, 0, 200, -1.0, 8, seed=3).save(tmp_path / "page.png")
    result = ingest_file(tmp_path / "page.png")
    got = recovery(specs[0], result.articles, tolerance=0.1)  # OCR: a few characters may be off
    assert got.in_order >= 0.9 * got.sentences and got.headlines_exact >= got.headlines - 2
    assert {(a.date, a.page) for a in result.articles} == {("2022-11-22", "3")}


WEB_PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="{charset}">
<title>{title}_乌海新闻网</title><meta property="og:site_name" content="乌海新闻网">
<meta property="article:published_time" content="2023-01-17T08:00:00+08:00"></head><body>
<div class="top"><a href="/">首页</a> | <a href="/news">新闻中心</a> | <a href="/login">登录</a></div>
<nav><ul><li><a href="/a">本地新闻</a></li><li><a href="/b">国内新闻</a></li></ul></nav>
<div class="main"><div class="article"><h1>{title}</h1>
<div class="info">2023-01-17 08:00 来源：乌海日报 作者：路静</div>
{paragraphs}
<div class="share">分享到：微信 微博 QQ空间</div><div class="editor">责任编辑：刘雨佳</div></div>
<aside><h3>热点新闻</h3><ul><li><a href="/1">乌海召开经济工作会议</a></li>
<li><a href="/2">通辽新建5G基站1207个</a></li></ul></aside>
<div class="comments"><h3>网友评论</h3><p>网友甲：辛苦了！向环卫工人致敬！</p></div></div>
<footer>版权所有 © 乌海新闻网 蒙ICP备12345678号 联系我们</footer></body></html>"""
CHROME = ("首页", "新闻中心", "本地新闻", "热点新闻", "乌海召开经济工作会议", "网友", "版权所有", "分享到",
          "责任编辑", "来源")


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_saved_web_page_gives_its_article_and_metadata_never_the_chrome(tmp_path, encoding):
    article = ingest_file(SEEDS["002"]).articles[1]  # 环卫工人坚守岗位 保“春洁”
    body = "\n".join(f"<p>{p.text}</p>" for p in article.paragraphs)
    page = tmp_path / f"{encoding}.html"
    page.write_bytes(WEB_PAGE.format(charset=encoding, title=article.title, paragraphs=body)
                     .encode(encoding))
    result = ingest_file(page)
    assert result.error is None and result.encoding == "html" and len(result.articles) == 1
    got = result.articles[0]
    assert (got.title, got.newspaper, got.date, got.byline) == (article.title, "乌海日报", "2023-01-17",
                                                                 "路静")
    assert [p.text for p in got.paragraphs] == [p.text for p in article.paragraphs]
    assert not any(word in p.text for p in got.paragraphs for word in CHROME)
    source = page.read_bytes().decode(encoding).splitlines()
    assert all(p.text[:6] in source[p.line_start - 1] for p in got.paragraphs)


def test_broken_pdfs_images_and_pages_are_skipped_and_named(tmp_path):
    (tmp_path / "a_empty.pdf").write_bytes(b"")
    (tmp_path / "b_broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" * 3)
    (tmp_path / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    (tmp_path / "d_chrome.html").write_text("<html><body><nav><a href='/'>首页</a></nav></body></html>",
                                            "utf-8")
    (tmp_path / "e_good.txt").write_text("乌海市召开会议，研究部署下一步工作。", "utf-8")
    results = {Path(r.source).name: r for r in ingest_paths([tmp_path])}
    assert list(results) == ["a_empty.pdf", "b_broken.pdf", "c_broken.png", "d_chrome.html", "e_good.txt"]
    assert "empty" in results["a_empty.pdf"].error
    assert "not a readable PDF" in results["b_broken.pdf"].error
    assert "not a readable image" in results["c_broken.png"].error
    assert "no article text" in results["d_chrome.html"].error
    assert results["e_good.txt"].error is None and results["e_good.txt"].articles


def test_ingest_reads_a_folder_of_old_and_new_formats(printed, tmp_path):
    (tmp_path / "pages.pdf").write_bytes(printed.read_bytes())
    (tmp_path / "003.txt").write_bytes(SEEDS["003"].read_bytes())
    out = CliRunner().invoke(main, ["ingest", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "[pdf]  17 articles" in out.output and "pages: 2 (0 by OCR)" in out.output
    assert "[utf-8]  9 articles" in out.output


@needs_ocr
def test_the_index_keeps_pages_and_the_inspector_boxes_the_answer_on_them(printed, scanned, tmp_path):
    import base64
    import io

    import numpy as np
    from PIL import Image

    from qa.answer.pipeline import Archive
    from qa.index.build import build_index
    from qa.testing.fake import FakeEmbedder
    from qa.web import ALL_PAPERS, ChatApp
    from qa.web.page import ANSWER, page_view

    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    (archive_dir / "pages.pdf").write_bytes(printed.read_bytes())
    (archive_dir / "scan.png").write_bytes(scanned[0].read_bytes())
    (archive_dir / "001.txt").write_bytes(SEEDS["001"].read_bytes())
    settings = Settings(index_dir=tmp_path / "index", model="qa.testing.fake:FakeEmbedder", answerer="rules")
    report = build_index([archive_dir], settings.index_dir, FakeEmbedder(), settings=settings,
                         progress=False, log=lambda _: None)
    assert report.failed == [] and report.pages == 3 and len(report.added) == 3
    app = ChatApp(lambda: Archive.open(settings, embedder=FakeEmbedder()), settings)
    out = app.ask("通辽市确定了多少个乡村振兴重点帮扶嘎查村？", [], [], 5, "", "", ALL_PAPERS)
    citations, inspector = out[3], out[6]
    assert re.search(r"<mark[^>]*>279个</mark>", inspector)
    assert "第2版" in inspector and "pages.pdf" in inspector  # the page view, beside the text
    data = re.search(r'src="data:image/jpeg;base64,([^"]+)"', inspector).group(1)
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), dtype=int)
    answer_ink = (np.abs(picture - ANSWER).max(axis=-1) < 40).sum()
    assert answer_ink > 50  # the answer's box is drawn (red)

    store = Archive.open(settings, embedder=FakeEmbedder()).store
    scan_article = store.page_articles(source_name(archive_dir / "scan.png"))[0]
    paragraph = store.article(scan_article.id).paragraphs[0]
    view = page_view(store, paragraph, None, *LIMITS)
    assert view.image is not None and "OCR" in view.caption
    text_article = store.page_articles(source_name(archive_dir / "001.txt"))[0]
    assert page_view(store, store.article(text_article.id).paragraphs[0], None, *LIMITS).image is None

    with open(archive_dir / "pages.pdf", "ab") as f:
        f.write(b"\n% changed after indexing\n")
    p = store.article(citations[0].article_id).paragraphs[citations[0].paragraph_index]
    assert page_view(store, p, citations[0], *LIMITS).image is None  # boxes would point at the old page
    again = build_index([archive_dir], settings.index_dir, FakeEmbedder(), settings=settings,
                        progress=False, log=lambda _: None)
    assert again.updated and again.unchanged == 2  # only the changed PDF was read again

