"""The web app: a chat that answers from the archive, beside an inspector that opens each cited
passage inside its whole article.

`build_ui` makes the Gradio Blocks and `launch` serves it. The page never sends file paths:
the inspector loads articles from the index database by id, and every piece of archive text
is escaped before it becomes HTML or Markdown.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from qa.errors import QAError, QueryError
from qa.pipeline import Archive, format_citation
from qa.retrieve import Filters
from qa.settings import Settings
from qa.types import Answer, Article, Citation

log = logging.getLogger(__name__)

NOT_FOUND = "在档案中没有找到答案"
ALL_PAPERS = "全部报纸 All papers"
MAX_K = 20
WARM_UP_QUESTION = "档案里有哪些新闻？"
CONTEXT_CHARS = 40  # characters shown on each side of the answer in the chat
EXCERPT_CHARS = 90  # characters of a passage shown in lists
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|~$]")

# Written for the sample archive in corpus/ (one per seed page); any question works.
EXAMPLES = [
    "全市有多少家大型家政企业加入了家政服务行业协会？",
    "通辽市确定了多少个乡村振兴重点帮扶嘎查村？",
    "市委组织部以推动什么建设提质升级为目标？",
    "乌海军分区把什么作为首要政治任务？",
    "乌海市今年的降雨量是多少毫米？",  # not in the archive: the app says so
]

CSS = """
#inspector { max-height: 62vh; overflow-y: auto !important; }
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


# ---------------------------------------------------------------- rendering (pure functions)


def escape_markdown(text: str) -> str:
    """Archive text as literal Markdown: HTML escaped, Markdown punctuation backslashed."""
    flat = " ".join(text.split())
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", html.escape(flat, quote=False))


def valid_span(text: str, start: int | None, end: int | None) -> bool:
    return start is not None and end is not None and 0 <= start < end <= len(text)


def highlight(text: str, start: int | None, end: int | None) -> str:
    """`text` as HTML with characters [start, end) in <mark>; invalid offsets mark nothing."""
    if not valid_span(text, start, end):
        return html.escape(text)
    return (
        f"{html.escape(text[:start])}<mark>{html.escape(text[start:end])}</mark>"
        f"{html.escape(text[end:])}"
    )


def opening(text: str, width: int = EXCERPT_CHARS) -> str:
    return text[:width] + ("…" if len(text) > width else "")


def around(c: Citation, width: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(before, answer, after) from the cited passage, `width` characters each side, with
    ellipses where the passage was cut. Without an answer span: the passage's opening."""
    text = c.passage
    if not valid_span(text, c.answer_start, c.answer_end):
        return opening(text, 2 * width), "", ""
    lo, hi = max(0, c.answer_start - width), min(len(text), c.answer_end + width)
    before = ("…" if lo else "") + text[lo : c.answer_start]
    after = text[c.answer_end : hi] + ("…" if hi < len(text) else "")
    return before, text[c.answer_start : c.answer_end], after


def reply_markdown(answer: Answer) -> str:
    """The chat reply: the answer span in bold with its context and numbered citations, or
    the abstention with the nearest passages."""
    if answer.abstained:
        lines = [f"**{NOT_FOUND}**（No answer in the archive）", ""]
        if answer.citations:
            lines.append("最接近的段落 Nearest passages：")
        for c in answer.citations:
            lines.append(f"{c.rank}. {escape_markdown(format_citation(c))}")
            lines.append(f"   > {escape_markdown(opening(c.passage))}")
        return "\n".join(lines)
    before, span, after = around(answer.citations[0])
    lines = [
        f"**{escape_markdown(answer.text or '')}**",
        "",
        f"> {escape_markdown(before)}**{escape_markdown(span)}**{escape_markdown(after)}",
        "",
        "出处 Citations：",
    ]
    lines += [f"{c.rank}. {escape_markdown(format_citation(c))}" for c in answer.citations]
    return "\n".join(lines)


def citation_label(c: Citation) -> str:
    return f"[{c.rank}] {format_citation(c)}"


def page_label(page: str | None) -> str | None:
    if not page:
        return None
    return f"第{page}版" if page.isdigit() else page


def _as_cited(c: Citation, note: str) -> str:
    """The passage as it was when cited, for when the index has changed since."""
    body = highlight(c.passage, c.answer_start, c.answer_end)
    return f'<p class="qa-note">{note} (as cited):</p><p class="qa-para qa-cited">{body}</p>'


def article_html(article: Article | None, citation: Citation | None = None) -> str:
    """The whole article as HTML, the cited paragraph marked and its answer span in <mark>.

    When the index was rebuilt since the answer and the article is gone or its paragraph
    changed, the passage as it was cited is shown instead of a highlight in the wrong place.
    """
    if article is None:
        if citation is None:
            return '<p class="qa-note">找不到这篇文章 (article not found)</p>'
        note = "这篇文章已不在当前索引中（索引已更新）；以下是引用时的段落"
        return f'<div class="qa-article">{_as_cited(citation, note)}</div>'
    cited = citation if citation and citation.article_id == article.id else None
    meta = [
        f"《{article.newspaper}》" if article.newspaper else None,
        article.date,
        page_label(article.page),
        article.section,
        article.byline,
    ]
    parts = [
        '<div class="qa-article"><header class="qa-head">',
        f"<h3>{html.escape(article.title or '（无标题 untitled）')}</h3>",
    ]
    if article.subtitle:
        parts.append(f'<p class="qa-subtitle">{html.escape(article.subtitle)}</p>')
    meta_line = " · ".join(html.escape(m) for m in meta if m)
    parts.append(f'<p class="qa-meta">{meta_line}</p></header>')
    found = False
    for p in article.paragraphs:
        number = f'<span class="qa-pno">{p.index + 1}</span>'
        if cited and p.index == cited.paragraph_index and p.text == cited.passage:
            found = True
            body = highlight(p.text, cited.answer_start, cited.answer_end)
            css = "qa-para qa-cited"
        else:
            body, css = html.escape(p.text), "qa-para"
        parts.append(f'<p class="{css}" data-paragraph="{p.index}">{number}{body}</p>')
    if cited and not found:
        parts.append(_as_cited(cited, "引用的段落在索引更新后已改变；引用时的原文"))
    parts.append("</div>")
    return "\n".join(parts)


def sources_html(answer: Answer, seconds: float) -> str:
    """Every retrieved passage with its retrieval score, so a reader can see why."""
    verdict = "abstained" if answer.abstained else f"answer score {answer.score:.3f}"
    rows = []
    for c in answer.citations:
        before, span, after = around(c, EXCERPT_CHARS // 2)
        text = html.escape(before) + (f"<mark>{html.escape(span)}</mark>" if span else "")
        rows.append(
            f"<tr><td>{c.rank}</td><td>{html.escape(format_citation(c))}</td>"
            f"<td>{c.score:.4f}</td><td>{text}{html.escape(after)}</td></tr>"
        )
    return (
        f"<p>{len(answer.citations)} 段 passages · {verdict} · {seconds:.2f} s</p>"
        '<table class="qa-sources"><thead><tr><th>#</th><th>出处 Citation</th>'
        "<th>检索分 Score</th><th>段落 Passage</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def neighbour_choices(articles: Sequence[Article]) -> list[tuple[str, str]]:
    """Dropdown choices (label, article id) for the articles on one page, in page order."""
    return [(f"{i}. {a.title or '（无标题 untitled）'}", a.id) for i, a in enumerate(articles, 1)]


def parse_filters(date_from: str, date_to: str, newspaper: str | None) -> Filters:
    """Filters from the search controls, or QueryError saying what is wrong."""
    dates = []
    for label, value in (("起始日期", date_from), ("结束日期", date_to)):
        value = (value or "").strip()
        if value and not DATE.fullmatch(value):
            raise QueryError(f"{label}应为 YYYY-MM-DD 格式 (date must be YYYY-MM-DD): {value!r}")
        dates.append(value or None)
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise QueryError("起始日期晚于结束日期 (date_from is after date_to)")
    paper = None if not newspaper or newspaper == ALL_PAPERS else newspaper
    return Filters(dates[0], dates[1], paper)


def refusal(exc: QueryError, max_chars: int, question: str) -> str:
    """A polite message for a question that cannot be asked."""
    if len(question.strip()) > max_chars:
        return f"问题太长了（{len(question.strip())} 字），请缩短到 {max_chars} 字以内再问。"
    return f"无法提问：{exc}"


# ---------------------------------------------------------------- handlers


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
        archive = self.archive_provider()
        archive.refresh()
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
        inspector, neighbours, sources."""
        question = question or ""
        try:
            filters = parse_filters(date_from, date_to, newspaper)
            archive = self.archive()
            with self._asking:
                start = time.perf_counter()
                answer = archive.ask(question, history=asked, k=int(k), filters=filters)
                seconds = time.perf_counter() - start
        except QueryError as exc:
            gr.Warning(refusal(exc, self.settings.max_question_chars, question))
            return (gr.skip(),) * 8
        except QAError as exc:
            return self._failed(question, chat, f"出错了 (error)：{exc}")
        except Exception:
            log.exception("answering %r failed", question)
            return self._failed(
                question, chat, "内部错误，请稍后再试 (internal error; see the server log)"
            )
        chat = [
            *chat,
            _message("user", question.strip()),
            _message("assistant", reply_markdown(answer)),
        ]
        citations = list(answer.citations)
        choices = [(citation_label(c), i) for i, c in enumerate(citations)]
        inspector, neighbours = (
            self._open(archive, citations, 0)
            if citations
            else ("", gr.update(choices=[], value=None))
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
        )

    def _failed(self, question: str, chat: list, text: str) -> tuple:
        chat = [*chat, _message("user", question.strip()), _message("assistant", text)]
        return ("", chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())

    def open_citation(self, index: int | None, citations: list[Citation]) -> tuple:
        """Show the article of citation `index` of the latest answer. Outputs: inspector,
        neighbours."""
        if index is None or not 0 <= int(index) < len(citations):
            return gr.skip(), gr.skip()
        try:
            return self._open(self.archive(), citations, int(index))
        except QAError as exc:
            gr.Warning(f"无法打开文章：{exc}")
            return gr.skip(), gr.skip()

    def open_article(
        self, article_id: str | None, citations: list[Citation], index: int | None
    ) -> str:
        """Show another article from the same page; keep the marks if it is the cited one."""
        if not article_id:
            return gr.skip()
        try:
            article = self.archive().store.article(str(article_id))
        except QAError as exc:
            gr.Warning(f"无法打开文章：{exc}")
            return gr.skip()
        cited = (
            citations[int(index)]
            if index is not None and 0 <= int(index) < len(citations)
            else None
        )
        return article_html(article, cited)

    def _open(self, archive: Archive, citations: list[Citation], index: int) -> tuple:
        c = citations[index]
        article = archive.store.article(c.article_id)
        page = archive.store.page_articles(article.source) if article else []
        neighbours = gr.update(
            choices=neighbour_choices(page), value=c.article_id if article else None
        )
        return article_html(article, c), neighbours

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
    with gr.Blocks(title="报纸档案问答 Archive QA", analytics_enabled=False) as demo:
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
                inspector = gr.HTML(
                    '<p class="qa-note">提问后，在这里查看引用的原文。 '
                    "The cited article opens here.</p>",
                    elem_id="inspector",
                )
        with gr.Accordion("检索结果 Sources (all retrieved passages)", open=True):
            sources = gr.HTML(elem_id="sources")

        outputs = [question, chat, asked, citations, choose, inspector, neighbours, sources]
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
        choose.input(app.open_citation, [choose, citations], [inspector, neighbours]).then(
            None, js=SCROLL_TO_CITED
        )
        neighbours.input(app.open_article, [neighbours, citations, choose], inspector)
        new_chat.click(
            lambda: (
                [],
                [],
                [],
                gr.update(choices=[], value=None),
                "",
                gr.update(choices=[], value=None),
                "",
            ),
            None,
            [chat, asked, citations, choose, inspector, neighbours, sources],
        )
        demo.load(app.status, None, [newspaper, info])
    return demo


def launch(demo: gr.Blocks, settings: Settings, auth: tuple[str, str] | None = None, **kwargs: Any):
    """Serve `demo` on settings.host:settings.port behind Gradio's queue."""
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        css=CSS,
        show_error=False,
        **kwargs,
    )
