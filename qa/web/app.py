"""The web app's handlers (`ChatApp`) and layout (`build_ui`), and `launch` to serve it.

The page never sends file paths: the inspector loads articles from the index database by id,
and the printed page of a PDF or scan is drawn on the server (qa.web.page).
"""

from __future__ import annotations

import atexit
import html
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from qa.errors import QAError, QueryError
from qa.pipeline import Archive
from qa.settings import Settings
from qa.text import clean_text
from qa.types import Article, Citation
from qa.web.guard import LoginThrottle
from qa.web.page import page_html, page_view
from qa.web.render import (
    ALL_PAPERS,
    EXAMPLES,
    MAX_K,
    WARM_UP_QUESTION,
    article_html,
    citation_label,
    escape_markdown,
    neighbour_choices,
    parse_filters,
    refusal,
    reply_markdown,
    sources_html,
)

log = logging.getLogger(__name__)
UPLOAD_SWEEP_S = 300  # uploads older than this are deleted, checked as often

CSS = """
#inspector { max-height: 62vh; overflow-y: auto !important; }
.qa-page { margin: 0; }
.qa-page summary { list-style: none; cursor: zoom-in; }
.qa-page summary::-webkit-details-marker { display: none; }
.qa-page img { width: 100%; height: auto; border: 1px solid var(--border-color-primary); }
.qa-page-large { position: fixed; top: 4vh; left: 2vw; width: min(1000px, 58vw); max-height: 92vh;
                 overflow: auto; z-index: 1000; box-shadow: 0 4px 24px rgba(0, 0, 0, .35); }
.qa-page figcaption { color: var(--body-text-color-subdued); font-size: .85em; margin-top: .3em; }
.qa-article { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; line-height: 1.8; }
.qa-head { position: sticky; top: 0; background: var(--block-background-fill); padding: .3em 0 .1em; }
.qa-article h3 { margin: 0 0 .2em; font-size: 1.35em; }
.qa-subtitle { margin: 0; color: var(--body-text-color-subdued); }
.qa-meta { color: var(--body-text-color-subdued); font-size: .9em; margin: .3em 0 1em; }
.qa-para { margin: .6em 0; padding: .2em .6em; border-left: 3px solid transparent; }
.qa-cited { border-left-color: #e8a200; background: rgba(232, 162, 0, .08); }
.qa-pno { color: var(--body-text-color-subdued); font-size: .75em; margin-right: .5em; }
.qa-article mark { background: #ffd54f; color: #000; padding: 0 .1em; }
.qa-note { color: #b45309; font-size: .9em; }
.qa-sources td { vertical-align: top; padding: .3em .5em; }
.qa-sources mark { background: #ffd54f; color: #000; }
"""

SCROLL_TO_CITED = """() => {
  const box = document.querySelector('#inspector');
  const p = box && box.querySelector('.qa-cited');
  const head = box && box.querySelector('.qa-head');
  if (p) box.scrollTop += p.getBoundingClientRect().top - box.getBoundingClientRect().top
                          - (head ? head.offsetHeight : 0) - 16;
}"""


# ---------------------------------------------------------------- handlers


_NO_PAGE = gr.update(value="", visible=False)


def _passages(k) -> int:
    """The passages-to-read slider's value as an int in 1..MAX_K, whatever the client sent."""
    try:
        return min(MAX_K, max(1, int(k)))
    except (TypeError, ValueError, OverflowError):
        return MAX_K // 4


def _message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


class ChatApp:
    """The app's event handlers. Session state (questions asked, the latest citations) lives
    in the browser session; the archive is shared and re-checked for a newer index per call."""

    def __init__(self, archive_provider: Callable[[], Archive], settings: Settings):
        self.archive_provider = archive_provider
        self.settings = settings
        # One question at a time: questions share one embedding engine and the CPU cores.
        self._asking = threading.Lock()

    def warm_up(self) -> None:
        """Ask one throwaway question, so the lazy parts (tokenizer dictionaries, the query
        engine, the reader) are loaded before the first user waits for them."""
        try:
            with self._asking:
                self.archive().ask(WARM_UP_QUESTION)
        except Exception:  # the first real question will report it
            log.warning("warm-up failed", exc_info=True)

    def archive(self) -> Archive:
        """The archive, switched to a newer index version if one was published; when the
        index on disk has gone bad, the version already loaded keeps serving."""
        archive = self.archive_provider()
        try:
            archive.refresh()
        except QAError as exc:
            log.warning("index not refreshed, still serving %s: %s", archive.store.folder.name, exc)
        return archive

    def ask(
        self,
        question: str,
        chat: list,
        asked: list[str],
        k: float,
        date_from: str,
        date_to: str,
        newspaper: str | None,
    ) -> tuple:
        """Answer one chat turn. Outputs: question box, chat, asked, citations, citation list,
        inspector, neighbours, sources, page view."""
        question = clean_text(question if isinstance(question, str) else "")
        try:
            filters = parse_filters(date_from, date_to, newspaper)
            archive = self.archive()
            with self._asking:
                start = time.perf_counter()
                answer = archive.ask(question, history=asked, k=_passages(k), filters=filters)
                seconds = time.perf_counter() - start
        except QueryError as exc:
            gr.Warning(html.escape(refusal(exc, self.settings.max_question_chars, question)))
            return (gr.skip(),) * 9
        except QAError as exc:
            return self._failed(question, chat, f"出错了 (error)：{escape_markdown(str(exc))}")
        except Exception:
            log.exception("answering %r failed", question)
            return self._failed(
                question, chat, "内部错误，请稍后再试 (internal error; see the server log)"
            )
        chat = [
            *chat,
            _message("user", escape_markdown(question.strip())),
            _message("assistant", reply_markdown(answer)),
        ]
        citations = list(answer.citations)
        choices = [(citation_label(c), i) for i, c in enumerate(citations)]
        inspector, neighbours, page = (
            self._open(archive, citations, 0)
            if citations
            else ("", gr.update(choices=[], value=None), _NO_PAGE)
        )
        return (
            "",
            chat,
            [*asked, answer.question],
            citations,
            gr.update(choices=choices, value=0 if citations else None),
            inspector,
            neighbours,
            sources_html(answer, seconds),
            page,
        )

    def _failed(self, question: str, chat: list, text: str) -> tuple:
        chat = [*chat, _message("user", escape_markdown(question.strip())),
                _message("assistant", text)]
        return ("", chat, *(gr.skip(),) * 7)

    def open_citation(self, index: int | None, citations: list[Citation]) -> tuple:
        """Show the article of citation `index` of the latest answer. Outputs: inspector,
        neighbours, page view."""
        if index is None or not 0 <= int(index) < len(citations):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            return self._open(self.archive(), citations, int(index))
        except QAError as exc:
            gr.Warning(f"无法打开文章：{html.escape(str(exc))}")
            return gr.skip(), gr.skip(), gr.skip()

    def open_article(
        self, article_id: str | None, citations: list[Citation], index: int | None
    ) -> tuple:
        """Show another article from the same page; keep the marks if it is the cited one.
        Outputs: inspector, page view."""
        if not article_id:
            return gr.skip(), gr.skip()
        try:
            archive = self.archive()
            article = archive.store.article(str(article_id))
        except QAError as exc:
            gr.Warning(f"无法打开文章：{html.escape(str(exc))}")
            return gr.skip(), gr.skip()
        cited = (
            citations[int(index)]
            if index is not None and 0 <= int(index) < len(citations)
            else None
        )
        return article_html(article, cited), self._page(archive, article, cited)

    def _open(self, archive: Archive, citations: list[Citation], index: int) -> tuple:
        c = citations[index]
        article = archive.store.article(c.article_id)
        page = archive.store.page_articles(article.source) if article else []
        neighbours = gr.update(
            choices=neighbour_choices(page), value=c.article_id if article else None
        )
        return article_html(article, c), neighbours, self._page(archive, article, c)

    def _page(self, archive: Archive, article: Article | None, cited: Citation | None):
        """The page view of the cited paragraph (or the article's first) for PDFs and scans;
        hidden for text sources."""
        if article is None or not article.paragraphs:
            return _NO_PAGE
        if cited is None or cited.article_id != article.id:
            cited = None
        paragraph = next((p for p in article.paragraphs
                          if cited and p.index == cited.paragraph_index), article.paragraphs[0])
        try:
            view = page_view(archive.store, paragraph, cited, self.settings.max_file_bytes,
                             self.settings.read_timeout_s)
        except (QAError, OSError, ValueError):  # a page that cannot be drawn leaves the text
            log.warning("cannot draw the page of %s", paragraph.source, exc_info=True)
            return _NO_PAGE
        return gr.update(value=page_html(view), visible=bool(view.image or view.caption))

    def status(self) -> tuple:
        """On page load: newspapers for the filter, and a line describing the archive."""
        try:
            store = self.archive().store
            papers, (first, last) = store.newspaper_names(), store.date_range()
        except QAError as exc:
            return gr.skip(), f"⚠️ {html.escape(str(exc))}"
        span = f"{first} – {last}" if first else "dates unknown"
        line = (
            f"档案 Archive：{store.manifest.get('files', '?')} 个文件 files · "
            f"{store.size} 段 paragraphs · {span} · index {store.folder.name}"
        )
        return gr.update(choices=[ALL_PAPERS, *papers], value=ALL_PAPERS), line


# ---------------------------------------------------------------- layout


def build_ui(
    archive_provider: Callable[[], Archive], settings: Settings, warm_up: bool = False
) -> gr.Blocks:
    """The Blocks app: chat with search controls on the left, the passage inspector right.
    With `warm_up`, the archive's lazy parts load in the background from now on."""
    app = ChatApp(archive_provider, settings)
    if warm_up:
        threading.Thread(target=app.warm_up, name="warm-up", daemon=True).start()
    with gr.Blocks(title="报纸档案问答 Archive QA", analytics_enabled=False,
                   delete_cache=(UPLOAD_SWEEP_S, UPLOAD_SWEEP_S)) as demo:
        gr.Markdown(
            "## 报纸档案问答 · Newspaper archive QA\n"
            "提问后，答案是档案原文中的一段话（加粗），并附出处；点击右侧的引用即可在整篇文章中查看。"
            " Ask in Chinese or English; answers are exact words from the articles."
        )
        info = gr.Markdown(elem_id="archive-info")
        asked = gr.State([])
        citations = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                chat = gr.Chatbot(
                    label="对话 Chat",
                    height=540,
                    elem_id="chat",
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=["copy"],
                    placeholder="问一个关于档案的问题 · Ask the archive",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="输入问题，回车提问 Type a question, press Enter",
                        elem_id="question",
                        scale=6,
                        lines=1,
                        max_lines=4,
                        autofocus=True,
                    )
                    ask = gr.Button(
                        "提问 Ask", variant="primary", elem_id="ask", scale=1, min_width=90
                    )
                gr.Examples(EXAMPLES, inputs=question, label="示例问题 Examples")
                with gr.Accordion("检索设置 Search settings", open=False):
                    with gr.Row():
                        date_from = gr.Textbox(
                            label="起始日期 From", placeholder="YYYY-MM-DD", elem_id="date-from"
                        )
                        date_to = gr.Textbox(
                            label="结束日期 To", placeholder="YYYY-MM-DD", elem_id="date-to"
                        )
                        newspaper = gr.Dropdown(
                            [ALL_PAPERS],
                            value=ALL_PAPERS,
                            label="报纸 Newspaper",
                            elem_id="newspaper",
                        )
                    k = gr.Slider(
                        1,
                        MAX_K,
                        value=settings.k,
                        step=1,
                        label="检索段落数 Passages (k)",
                        elem_id="k",
                    )
                new_chat = gr.Button("新对话 New chat", size="sm")
            with gr.Column(scale=4):
                choose = gr.Radio(
                    [], label="引用 Citations · 点击查看原文", type="value", elem_id="citations"
                )
                neighbours = gr.Dropdown(
                    [],
                    label="同版文章 Other articles on this page",
                    elem_id="neighbours",
                    interactive=True,
                )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=240):
                        inspector = gr.HTML(
                            '<p class="qa-note">提问后，在这里查看引用的原文。 '
                            "The cited article opens here.</p>",
                            elem_id="inspector",
                        )
                    with gr.Column(scale=1, min_width=240):
                        page_image = gr.HTML(visible=False, elem_id="page-view")
        with gr.Accordion("检索结果 Sources (all retrieved passages)", open=True):
            sources = gr.HTML(elem_id="sources")

        outputs = [question, chat, asked, citations, choose, inspector, neighbours, sources,
                   page_image]
        # Questions run one at a time (see ChatApp._asking); the queue shows waiting users
        # their place. Opening articles (SQLite reads) is not held up.
        for trigger in (question.submit, ask.click):
            trigger(
                app.ask,
                [question, chat, asked, k, date_from, date_to, newspaper],
                outputs,
                concurrency_limit=1,
                concurrency_id="ask",
                show_progress="minimal",
            ).then(None, js=SCROLL_TO_CITED)
        choose.input(
            app.open_citation, [choose, citations], [inspector, neighbours, page_image]
        ).then(None, js=SCROLL_TO_CITED)
        neighbours.input(
            app.open_article, [neighbours, citations, choose], [inspector, page_image]
        )
        new_chat.click(
            lambda: (
                [],
                [],
                [],
                gr.update(choices=[], value=None),
                "",
                gr.update(choices=[], value=None),
                "",
                _NO_PAGE,
            ),
            None,
            [chat, asked, citations, choose, inspector, neighbours, sources, page_image],
        )
        demo.load(app.status, None, [newspaper, info])
    return demo


def launch(demo: gr.Blocks, settings: Settings, auth: tuple[str, str] | None = None, **kwargs: Any):
    """Serve `demo` on settings.host:settings.port behind Gradio's queue.

    Logins are throttled per address (LoginThrottle). Gradio's upload route, which the app
    itself never uses, takes files of at most settings.max_upload_mb into a folder of this
    server's own, swept every few minutes and removed when the process ends.
    """
    demo.queue(default_concurrency_limit=4, max_size=64)
    uploads = tempfile.mkdtemp(prefix="archive-qa-uploads-")
    atexit.register(shutil.rmtree, uploads, True)
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = uploads  # read once, when Gradio creates its server
    try:
        return demo.launch(
            server_name=settings.host,
            server_port=settings.port,
            auth=auth,
            css=CSS,
            show_error=False,
            max_file_size=settings.max_upload_mb * 1024 * 1024,
            app_kwargs={"middleware": [Middleware(LoginThrottle)]},
            **kwargs,
        )
    finally:
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
