"""The web app: HTML/Markdown rendering (escaping, highlight offsets) and a real browser session."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main as cli_main
from qa.embed import FakeEmbedder
from qa.errors import QAError, QueryError
from qa.indexer import build_index
from qa.pipeline import Archive
from qa.serve import parse_auth
from qa.settings import Settings
from qa.types import Answer, Article, Citation, Paragraph
from qa.web import (
    ALL_PAPERS,
    NOT_FOUND,
    ChatApp,
    article_html,
    build_ui,
    escape_markdown,
    highlight,
    launch,
    parse_filters,
    reply_markdown,
    sources_html,
)
from tests.browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
# Written for this test from seed page 004 (not the evaluation set).
QUESTION, EXPECTED = "通辽市确定了多少个乡村振兴重点帮扶嘎查村？", "279个"

# Gradio's queue trips pandas deprecation warnings that are not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

EVIL = "<script>alert(1)</script> & **bold** [x](y)"


def paragraph(index: int, text: str) -> Paragraph:
    return Paragraph("a1", index, text, "page.txt", index + 1, index + 1)


def cite(
    text: str,
    start: int | None,
    end: int | None,
    rank: int = 1,
    index: int = 1,
    title: str = "标题",
) -> Citation:
    return Citation(
        rank,
        "a1",
        "乌海日报",
        "2022-11-22",
        "3",
        title,
        index,
        text,
        start,
        end,
        "page.txt",
        2,
        2,
        0.0312,
    )


ARTICLE = Article(
    "a1",
    "page.txt",
    "乌海日报",
    "2022-11-22",
    "3",
    "经济",
    EVIL,
    None,
    "本报记者 <b>路静</b>",
    (paragraph(0, "第一段。"), paragraph(1, "全市新建5G基站1207个，同比增长<12%>。")),
)


# ---------------------------------------------------------------- rendering


def test_highlight_marks_the_span_and_escapes_every_part():
    assert highlight("a<b>c&d", 1, 4) == "a<mark>&lt;b&gt;</mark>c&amp;d"
    assert highlight("甲乙丙", 0, 3) == "<mark>甲乙丙</mark>"


@pytest.mark.parametrize(("start", "end"), [(None, None), (2, 2), (3, 1), (-1, 2), (0, 99)])
def test_highlight_ignores_offsets_outside_the_text(start, end):
    assert highlight("<甲乙>", start, end) == "&lt;甲乙&gt;"


def test_article_marks_the_cited_paragraph_and_highlights_the_answer():
    text = ARTICLE.paragraphs[1].text
    start = text.index("1207个")
    out = article_html(ARTICLE, cite(text, start, start + 5))
    assert out.count("<mark>") == 1 and "<mark>1207个</mark>" in out
    assert out.count("qa-cited") == 1
    assert 'data-paragraph="1">' in out.split("qa-cited")[1][:30]
    assert "&lt;12%&gt;" in out and "<12%>" not in out
    assert "《乌海日报》 · 2022-11-22 · 第3版 · 经济" in out


def test_article_escapes_headline_and_byline():
    out = article_html(ARTICLE)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<b>" not in out and "&lt;b&gt;路静" in out
    assert "<mark>" not in out and "qa-cited" not in out


def test_article_changed_since_the_answer_shows_the_passage_as_cited():
    stale = cite("旧的段落，答案在这里。", 7, 9)
    out = article_html(ARTICLE, stale)
    assert "已改变" in out and "<mark>在这</mark>" in out
    gone = article_html(None, stale)
    assert "不在当前索引中" in gone and "<mark>在这</mark>" in gone


def test_reply_bolds_the_answer_and_numbers_the_citations():
    text = ARTICLE.paragraphs[1].text
    start = text.index("1207个")
    answer = Answer(
        "q",
        "1207个",
        0.9,
        False,
        (cite(text, start, start + 5), cite("别的段落", None, None, rank=2, title=EVIL)),
    )
    out = reply_markdown(answer)
    assert out.startswith("**1207个**")
    assert "1. 《乌海日报》2022\\-11\\-22 第3版〈标题〉第2段" in out
    assert "\n2. 《乌海日报》" in out
    assert "<script>" not in out and "\\*\\*bold\\*\\*" in out


def test_abstention_lists_the_nearest_passages():
    answer = Answer("q", None, 0.01, True, (cite("最接近的一段话", None, None),))
    out = reply_markdown(answer)
    assert out.startswith(f"**{NOT_FOUND}**")
    assert "1. 《乌海日报》" in out and "> 最接近的一段话" in out


def test_escape_markdown_keeps_text_literal():
    assert escape_markdown("a*b_c\n<d>") == "a\\*b\\_c &lt;d&gt;"


def test_sources_list_every_passage_with_its_score():
    answer = Answer("q", None, 0.0, True, (cite(EVIL, None, None), cite("二", None, None, rank=2)))
    out = sources_html(answer, 0.25)
    assert out.count("<tr><td>") == 2 and "0.0312" in out and "0.25 s" in out
    assert "<script>" not in out


def test_filters_from_the_search_controls():
    assert parse_filters("", " ", ALL_PAPERS) == (None, None, None)
    assert parse_filters("2022-11-01", "2022-12-31", "乌海日报") == (
        "2022-11-01",
        "2022-12-31",
        "乌海日报",
    )
    for bad in (("2022/11/01", ""), ("2023-01-01", "2022-01-01")):
        with pytest.raises(QueryError):
            parse_filters(*bad, None)


# ---------------------------------------------------------------- handlers and app.py


def index_copy(tmp_path: Path) -> Settings:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    build_index(
        [tmp_path / "corpus"],
        tmp_path / "index",
        FakeEmbedder(),
        progress=False,
        log=lambda _: None,
    )
    return Settings(
        index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus", model="fake", answerer="rules"
    )


def ask_once(app: ChatApp, question: str) -> tuple:
    return app.ask(question, [], [], 5, "", "", ALL_PAPERS)


def test_index_rebuild_while_serving_keeps_sessions_working(tmp_path):
    settings = index_copy(tmp_path)
    archive = Archive.open(settings, embedder=FakeEmbedder())
    app = ChatApp(lambda: archive, settings)
    _, chat, asked, citations, *_ = ask_once(app, QUESTION)
    assert asked == [QUESTION] and f"**{EXPECTED}**" in chat[-1]["content"]
    before = archive.store.folder

    # The page that held the answer is withdrawn and the index rebuilt while the app serves.
    (settings.corpus_dir / Path(citations[0].source).name).unlink()
    build_index(
        [settings.corpus_dir],
        settings.index_dir,
        FakeEmbedder(),
        progress=False,
        log=lambda _: None,
    )
    inspector, _, _ = app.open_citation(0, citations)
    assert "不在当前索引中" in inspector and f"<mark>{EXPECTED}</mark>" in inspector
    _, chat, *_ = ask_once(app, QUESTION)
    assert archive.store.folder != before
    assert f"**{EXPECTED}**" not in chat[-1]["content"]


def test_unexpected_errors_become_a_chat_message(tmp_path):
    def broken():
        raise RuntimeError("secret detail")

    _, chat, *rest = ask_once(ChatApp(broken, Settings()), QUESTION)
    assert chat[-1]["role"] == "assistant" and "内部错误" in chat[-1]["content"]
    assert "secret" not in chat[-1]["content"]


def test_app_refuses_bad_auth_and_missing_corpus(tmp_path, capsys):
    assert parse_auth("ann:pw") == ("ann", "pw")
    for bad in ("ann", "ann:", ":pw"):
        with pytest.raises(QAError):
            parse_auth(bad)
    result = CliRunner().invoke(cli_main, ["serve", "--index-dir", str(tmp_path / "index"),
                                           "--corpus", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no corpus" in result.output
    app = subprocess.run([sys.executable, str(ROOT / "app.py"), "--index-dir",
                          str(tmp_path / "index"), "--corpus", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=120)
    assert app.returncode == 2 and "no corpus" in app.stderr and "Traceback" not in app.stderr


# ---------------------------------------------------------------- browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    shutil.copytree(CORPUS, tmp / "corpus")
    build_index([tmp / "corpus"], tmp / "index", FakeEmbedder(), progress=False, log=lambda _: None)
    settings = Settings(
        index_dir=tmp / "index",
        corpus_dir=tmp / "corpus",
        model="fake",
        answerer="rules",
        port=free_port(),
    )
    archive = Archive.open(settings, embedder=FakeEmbedder())
    demo = build_ui(lambda: archive, settings)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield f"http://{settings.host}:{settings.port}/"
    demo.close()


@pytest.fixture(scope="module")
def page(app_url):
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    pytest.importorskip("playwright", reason="the browser test needs the dev extra (playwright)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(app_url)
        yield page
        browser.close()


def ask(page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    page.locator("#ask").click()


@pytest.mark.browser
def test_browser_answer_citation_and_highlighted_passage(page):
    from playwright.sync_api import expect

    expect(page.locator("#archive-info")).to_contain_text("paragraphs")
    ask(page, QUESTION)
    bot = page.locator("#chat .message.bot").last
    expect(bot.locator("strong").first).to_have_text(EXPECTED)
    expect(bot).to_contain_text("《通辽日报》")

    choices = page.locator("#citations label")
    expect(choices.first).to_contain_text("[1] 《通辽日报》")
    choices.nth(1).click()
    expect(page.locator("#inspector mark")).to_have_count(0)
    choices.first.click()
    mark = page.locator("#inspector .qa-cited mark")
    expect(mark).to_have_text(EXPECTED)
    headline = page.locator("#inspector h3")
    cited_title = headline.inner_text()

    # The other articles on the same page open from the dropdown, and back again.
    options = page.locator("#neighbours [role=option]")
    page.locator("#neighbours input").click()
    expect(options.nth(1)).to_be_visible()
    assert options.count() > 1
    other = next(
        i for i in range(options.count()) if cited_title not in options.nth(i).inner_text()
    )
    options.nth(other).click()
    expect(headline).not_to_have_text(cited_title)
    page.locator("#neighbours input").click()
    options.filter(has_text=cited_title).first.click()
    expect(mark).to_have_text(EXPECTED)


@pytest.mark.browser
def test_browser_refuses_an_overlong_question_politely(page):
    from playwright.sync_api import expect

    before = page.locator("#chat .message").count()
    ask(page, "问" * 600)
    expect(page.get_by_text("问题太长了")).to_be_visible()
    assert page.locator("#chat .message").count() == before
