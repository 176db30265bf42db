"""The web app in headless Chromium, as a reader uses it: a confident answer with its level and
source markers, a guess said as one, no answer at all, answers over time, a page added from
the browser and then answered, and a phone-sized screen.

With QA_SCREENSHOTS=DIR each flow also saves a screenshot in DIR (docs/ holds the README's).
"""

import os
import socket
from pathlib import Path

import pytest

from qa.testing.browser import CHROMIUM, CHROMIUM_ARGS
from qa.testing.newspaper import PageSpec, StorySpec, print_pdf
from qa.web import EXAMPLES, NOT_FOUND, build_ui, launch
from tests.archives import TIMELINE_PAGES, TIMELINE_QUESTION, build, open_archive

# Gradio's queue trips pandas deprecation warnings that are not ours.
pytestmark = [
    pytest.mark.slow,  # drives a real Chromium
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

# Questions written for these tests from the seed pages (not the evaluation set).
CONFIDENT, CONFIDENT_ANSWER = "全市有多少家大型家政企业加入了家政服务行业协会？", "34家"
GUESS = "乌海市委书记是谁？"  # the rules read 唐毅 with low confidence: a guess
ABSENT = "乌海市今年的降雨量是多少毫米？"
NEW_PAGE = ("# 我市开通首条城际公交\n\n"
            "本报讯 11月1日，我市开通首条城际公交线路，全程68公里，每天往返24个班次。\n")
NEW_QUESTION, NEW_ANSWER = "城际公交线路全程多少公里？", "68公里"
SHOTS = Path(os.environ["QA_SCREENSHOTS"]) if os.environ.get("QA_SCREENSHOTS") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    settings = build(tmp_path_factory.mktemp("app"), TIMELINE_PAGES, seeds=True,
                     port=free_port())
    archive = open_archive(settings)
    demo = build_ui(lambda: archive, settings, allow_uploads=True)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield f"http://{settings.host}:{settings.port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    pytest.importorskip("playwright", reason="the browser test needs the dev extra (playwright)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, url: str, width: int, height: int):
    """The app in a new tab, in a Chinese reader's browser (Gradio's own words follow it)."""
    page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    page.set_default_timeout(30_000)
    page.goto(url)
    page.locator("#archive-info").filter(has_text="paragraphs").wait_for()
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = open_page(browser, app_url, 1400, 1000)
    yield page
    page.close()


def ask(page, question: str):
    """Send a question; the reply once it is there."""
    replies = page.locator("#chat .message.bot")
    before = replies.count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    replies.nth(before).wait_for()
    return replies.nth(before)


def marker(reply, rank: int):
    return reply.locator("a[href^='#qa-cite-']").filter(has_text=f"[{rank}]").first


def shot(page, name: str, full_page: bool = False) -> None:
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(300)  # let the scroll settle: for the picture, not the test
        page.screenshot(path=str(SHOTS / name), full_page=full_page)


def test_browser_confident_answer_with_its_level_and_clickable_markers(page):
    from playwright.sync_api import expect

    reply = ask(page, CONFIDENT)
    expect(reply.locator("strong").first).to_have_text(CONFIDENT_ANSWER)
    expect(reply.locator(".qa-level.qa-high")).to_contain_text("可信度 高")
    cited = page.locator("#inspector .qa-cited mark")
    expect(cited).to_have_text(CONFIDENT_ANSWER)  # the source opened at the answer
    evidence = page.locator("#citations a.qa-cite").first
    expect(evidence).to_have_attribute("aria-current", "true")
    expect(page.locator("#citations .qa-related-head")).to_contain_text("不含答案")
    shot(page, "answer-confident.png")

    marker(reply, 2).click()  # a related passage: no answer to mark
    expect(page.locator("#citations a.qa-cite[aria-current]")).to_contain_text("[2]")
    expect(page.locator("#inspector mark")).to_have_count(0)
    marker(reply, 1).click()
    expect(cited).to_have_text(CONFIDENT_ANSWER)
    headline = page.locator("#inspector h3")
    cited_title = headline.inner_text()

    # The other articles on the same page open from the dropdown, and back again.
    options = page.locator("#neighbours [role=option]")
    page.locator("#neighbours input").click()
    expect(options.nth(1)).to_be_visible()
    other = next(
        i for i in range(options.count()) if cited_title not in options.nth(i).inner_text()
    )
    options.nth(other).click()
    expect(headline).not_to_have_text(cited_title)
    page.locator("#neighbours input").click()
    options.filter(has_text=cited_title).first.click()
    expect(cited).to_have_text(CONFIDENT_ANSWER)


def test_browser_unanswerable_question_shows_no_bold_answer(page):
    from playwright.sync_api import expect

    reply = ask(page, ABSENT)
    expect(reply).to_contain_text(NOT_FOUND)
    expect(reply).to_contain_text("检索了全部")
    expect(reply).to_contain_text("可以试试")
    expect(reply.locator("strong")).to_have_count(0)
    expect(reply.locator(".qa-level")).to_have_count(0)
    expect(page.locator("#citations .qa-cites-head")).to_have_text(["最接近的段落 Nearest passages"])
    shot(page, "answer-not-found.png")


def test_browser_low_confidence_answer_is_phrased_as_a_guess(page):
    from playwright.sync_api import expect

    reply = ask(page, GUESS)
    expect(reply).to_contain_text("可能是「唐毅」")
    expect(reply.locator(".qa-level.qa-low")).to_contain_text("可信度 低")
    expect(reply.locator("strong")).to_have_count(0)
    text = reply.inner_text()
    assert text.index("唐毅主持") < text.index("可能是")  # the evidence first
    shot(page, "answer-low-confidence.png")


def test_browser_dated_figures_answer_with_a_timeline(page):
    from playwright.sync_api import expect

    reply = ask(page, TIMELINE_QUESTION)
    expect(reply).to_contain_text("不同日期的报道给出了不同的答案")
    entries = reply.locator("li")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("2023-01-05")
    expect(entries.nth(0).locator("strong")).to_have_text("4120个")
    expect(entries.nth(1)).to_contain_text("2022-01-06")
    expect(entries.nth(1).locator("strong")).to_have_text("2860个")
    entries.nth(1).locator("a").click()
    expect(page.locator("#inspector .qa-cited mark")).to_have_text("2860个")
    shot(page, "answer-timeline.png")


def test_browser_an_added_page_is_then_answered(page, tmp_path):
    from playwright.sync_api import expect

    reply = ask(page, NEW_QUESTION)
    expect(reply.locator("strong")).not_to_have_text([NEW_ANSWER])
    upload = tmp_path / "城际公交.md"
    upload.write_text(NEW_PAGE, "utf-8")
    page.locator("#add-fold").get_by_text("添加文档 Add to archive").click()
    page.locator("#upload-files input[type=file]").set_input_files(str(upload))  # starts it
    progress = page.locator("#upload-progress")
    expect(progress).to_contain_text("已加入档案", timeout=120_000)
    expect(progress).to_contain_text("城际公交.md（1 篇文章，1 段）")
    reply = ask(page, NEW_QUESTION)
    expect(reply.locator("strong").first).to_have_text(NEW_ANSWER)
    expect(page.locator("#inspector .qa-cited mark")).to_have_text(NEW_ANSWER)
    shot(page, "add-to-archive.png", full_page=True)


PDF_STORY = StorySpec(
    "我市城市书房建设提速", ["本报讯 今年以来，我市在社区和公园新建城市书房12座，藏书总量达到8.6万册，"
                         "全部免费向市民开放。", "城市书房实行24小时自助借阅，市民凭身份证即可借书。"],
    byline="本报记者 王丽")
PDF_QUESTION, PDF_ANSWER = "我市在社区和公园新建了多少座城市书房？", "12座"


def test_browser_a_pdf_chosen_in_the_file_dialog_is_added_and_answered(browser, page, tmp_path):
    """The file control offers every format the archive reads (a PDF too), and a printed page
    chosen there is read from its text layer, indexed and answered."""
    from playwright.sync_api import expect

    pdf = print_pdf([PageSpec("乌海日报", [PDF_STORY], "2022-12-01", "2")], tmp_path / "书房.pdf",
                    browser=browser)
    page.locator("#add-fold").get_by_text("添加文档 Add to archive").click()
    picker = page.locator("#upload-files input[type=file]")
    accepted = [s.strip() for s in (picker.get_attribute("accept") or "").split(",")]
    assert {".pdf", ".png", ".jpg", ".html", ".md", ".txt"} <= set(accepted), accepted
    picker.set_input_files(str(pdf))
    progress = page.locator("#upload-progress")
    expect(progress).to_contain_text("已加入档案", timeout=120_000)
    expect(progress).to_contain_text("书房.pdf（1 篇文章")
    reply = ask(page, PDF_QUESTION)
    expect(reply.locator("strong").first).to_have_text(PDF_ANSWER)


def test_browser_phone_keeps_the_answer_in_view_and_opens_the_article_over_it(browser, app_url):
    from playwright.sync_api import expect

    phone = open_page(browser, app_url, 400, 800)
    try:
        expect(phone.get_by_text(EXAMPLES[0])).to_be_hidden()  # examples folded away
        expect(phone.locator("#date-from")).to_be_hidden()  # and the search settings
        reply = ask(phone, CONFIDENT)
        answer = reply.locator("strong").first
        expect(answer).to_have_text(CONFIDENT_ANSWER)
        expect(answer).to_be_in_viewport()
        expect(phone.locator("#inspector")).to_be_hidden()  # the chat comes first
        shot(phone, "phone-answer.png")

        marker(reply, 1).click()
        cited = phone.locator("#inspector .qa-cited mark")
        expect(cited).to_have_text(CONFIDENT_ANSWER)
        expect(cited).to_be_in_viewport()
        shot(phone, "phone-article.png")
        phone.locator("#article-close").click()
        expect(phone.locator("#inspector")).to_be_hidden()
        expect(answer).to_be_in_viewport()
    finally:
        phone.close()


def test_browser_refuses_an_overlong_question_politely(page):
    from playwright.sync_api import expect

    before = page.locator("#chat .message").count()
    page.locator("#question textarea").fill("问" * 600)
    page.locator("#ask").click()
    expect(page.get_by_text("问题太长了（600 字），请缩短到 500 字以内再问")).to_be_visible()
    assert page.locator("#chat .message").count() == before


def test_browser_the_login_page_works_without_the_api_described(browser, tmp_path):
    """Behind a login the page a visitor first gets has no API description in it, yet its
    login form works, and after it the app answers (its requests pass the host and origin
    checks as a real browser sends them)."""
    from playwright.sync_api import expect

    settings = build(tmp_path, seeds=True, port=free_port())
    archive = open_archive(settings)
    demo = build_ui(lambda: archive, settings, allow_uploads=True)
    launch(demo, settings, auth=("ann", "right"), prevent_thread_lock=True, quiet=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(30_000)
    try:
        page.goto(f"http://localhost:{settings.port}/")
        assert page.evaluate("Object.keys(window.gradio_api_info.named_endpoints).length") == 0
        page.locator("input[type=password]").wait_for()
        page.locator("input[type=text]").first.fill("ann")
        page.locator("input[type=password]").fill("right")
        page.locator("button[type=submit], button:has-text('Login'), button:has-text('登录')"
                     ).first.click()
        page.locator("#archive-info").filter(has_text="paragraphs").wait_for()
        reply = ask(page, CONFIDENT)
        expect(reply.locator("strong").first).to_have_text(CONFIDENT_ANSWER)
    finally:
        page.close()
        demo.close()
