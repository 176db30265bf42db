"""The web app's event handlers (`ChatApp`); `layout` places them on the page.

The page never sends file paths: the inspector loads articles from the index database by id,
and added pages are read only from Gradio's own upload folder (see `upload`).
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from qa.answer.pipeline import Archive
from qa.errors import QAError, QueryError
from qa.settings import Settings
from qa.text import clean_text
from qa.types import Article, Citation
from qa.web.details import archive_line, details_html
from qa.web.inspector import answer_block, article_html, citation_list_html, neighbour_choices
from qa.web.page import PageView, page_html, page_view
from qa.web.render import (
    ALL_PAPERS,
    MAX_K,
    WARM_UP_QUESTION,
    bilingual,
    escape_markdown,
    parse_filters,
    refusal,
)
from qa.web.reply import reply_markdown
from qa.web.upload import Library, UploadRefused, progress_html

log = logging.getLogger(__name__)
POLL_S = 0.25  # how often the upload panel's progress is redrawn
ASK_OUTPUTS = 9  # question, chat, asked, citations, current, list, inspector, neighbours, details


def _passages(k) -> int:
    """The passages-to-read slider's value as an int in 1..MAX_K, whatever the client sent."""
    try:
        return min(MAX_K, max(1, int(k)))
    except (TypeError, ValueError, OverflowError):
        return MAX_K // 4


def _message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _index(value, citations: list[Citation]) -> int | None:
    """`value` as a position in `citations`, or None when it is not one."""
    try:
        i = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return i if 0 <= i < len(citations) else None


class ChatApp:
    """The app's event handlers. Session state (questions asked, every citation of the
    conversation, the one open) lives in the browser session; the archive is shared and
    re-checked for a newer index per call.

    `allow_uploads` turns on adding pages (`add_files`); `qa serve` allows it on loopback or
    behind a login only.
    """

    def __init__(self, archive_provider: Callable[[], Archive], settings: Settings,
                 allow_uploads: bool = False):
        self.archive_provider = archive_provider
        self.settings = settings
        # One question at a time: questions share one embedding engine and the CPU cores
        # (a build adding pages takes its turn between questions, see upload.SharedEmbedder).
        self._asking = threading.Lock()
        self.library = Library(settings, self.archive, self._asking, allow_uploads)

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

    def ask(self, question: str, chat: list, asked: list[str], k: float, date_from: str,
            date_to: str, newspaper: str | None, citations: list[Citation] | None = None
            ) -> tuple:
        """Answer one chat turn. Outputs: question box, chat, asked, citations, the open
        citation, citation list, inspector, neighbours, details."""
        question = clean_text(question if isinstance(question, str) else "")
        citations = list(citations or [])
        try:
            filters = parse_filters(date_from, date_to, newspaper)
        except QueryError as exc:
            _warn(str(exc))
            return (gr.skip(),) * ASK_OUTPUTS
        try:
            archive = self.archive()
            with self._asking:
                start = time.perf_counter()
                answer = archive.ask(question, history=asked, k=_passages(k), filters=filters)
                seconds = time.perf_counter() - start
        except QueryError as exc:
            _warn(refusal(exc, self.settings.max_question_chars, question))
            return (gr.skip(),) * ASK_OUTPUTS
        except QAError as exc:
            return self._failed(question, chat, bilingual("出错了，没能回答这个问题",
                                                          escape_markdown(str(exc))))
        except Exception:
            log.exception("answering %r failed", question)
            return self._failed(question, chat, bilingual("内部错误，请稍后再试",
                                                          "internal error; see the server log"))
        first = len(citations)
        chat = [
            *chat,
            _message("user", escape_markdown(question.strip())),
            _message("assistant", reply_markdown(answer, first)),
        ]
        citations += answer.citations
        current = first if answer.citations else None
        shown = (self._show(archive, citations, current) if current is not None
                 else ("", "", gr.update(choices=[], value=None)))
        details = details_html(answer, seconds, archive.store.folder.name, archive.threshold)
        return ("", chat, [*asked, answer.question], citations, current, *shown, details)

    def _failed(self, question: str, chat: list, text: str) -> tuple:
        chat = [*chat, _message("user", escape_markdown(question.strip())),
                _message("assistant", text)]
        return ("", chat, *(gr.skip(),) * (ASK_OUTPUTS - 2))

    def open_cited(self, citations: list[Citation], evt: gr.EventData) -> tuple:
        """Open the citation whose marker was clicked (`evt.cite`: its number in the
        conversation). Outputs: the open citation, citation list, inspector, neighbours."""
        data = getattr(evt, "_data", None)
        index = _index(data.get("cite") if isinstance(data, dict) else None, citations)
        if index is None:
            return (gr.skip(),) * 4
        try:
            return (index, *self._show(self.archive(), citations, index))
        except QAError as exc:
            _warn(bilingual("无法打开文章", str(exc)))
            return (gr.skip(),) * 4

    def open_article(self, article_id: str | None, citations: list[Citation],
                     current: int | None) -> str:
        """Show another article from the same page; keep the marks if it is the cited one."""
        if not article_id:
            return gr.skip()
        try:
            article = self.archive().store.article(str(article_id))
        except QAError as exc:
            _warn(bilingual("无法打开文章", str(exc)))
            return gr.skip()
        index = _index(current, citations)
        cited = citations[index] if index is not None else None
        return self._article(self.archive(), article, cited)

    def _show(self, archive: Archive, citations: list[Citation], index: int) -> tuple:
        """The answer's citation list with `index` open, its article, and the page's others."""
        start, end = answer_block(citations, index)
        listing = citation_list_html(citations[start:end], start, index)
        c = citations[index]
        article = archive.store.article(c.article_id)
        page = archive.store.page_articles(article.source) if article else []
        neighbours = gr.update(choices=neighbour_choices(page),
                               value=c.article_id if article else None)
        return listing, self._article(archive, article, c), neighbours

    def _article(self, archive: Archive, article: Article | None, cited: Citation | None) -> str:
        """The article's text, and beside it, for a PDF or scan, its printed page with the
        cited paragraph (or the article's first) and the answer boxed (qa.web.page)."""
        text = article_html(article, cited)
        if article is None or not article.paragraphs:
            return text
        cited = cited if cited is not None and cited.article_id == article.id else None
        paragraph = next((p for p in article.paragraphs
                          if cited and p.index == cited.paragraph_index), article.paragraphs[0])
        try:
            view = page_view(archive.store, paragraph, cited, self.settings.max_file_bytes,
                             self.settings.read_timeout_s)
            picture = page_html(view) if view.image is not None or view.caption else ""
        except Exception:  # noqa: BLE001 - a page that cannot be drawn: the text stands alone
            log.warning("cannot draw the page of %s", paragraph.source, exc_info=True)
            picture = page_html(PageView(None, "无法显示原页面，下面是文字 (the page could not be "
                                               "drawn; its text is below)"))
        return picture + text

    def status(self) -> tuple:
        """On page load and after pages were added: newspapers for the filter, the line
        describing the archive, and the index version for the details fold."""
        try:
            archive = self.archive()
            store = archive.store
            papers, (first, last) = store.newspaper_names(), store.date_range()
        except QAError as exc:
            return gr.skip(), f"⚠️ {html.escape(str(exc))}", gr.skip()
        line = archive_line(store.manifest.get("files", "?"), store.size, first, last)
        details = details_html(None, 0.0, store.folder.name, archive.threshold)
        return gr.update(choices=[ALL_PAPERS, *papers]), line, details

    def add_files(self, files: list | None, request: gr.Request | None = None) -> Iterator[tuple]:
        """Add uploaded files to the archive, showing progress until they are answerable.
        Outputs: progress, the file picker, newspapers, archive line, details."""
        try:
            job = self.library.add(list(files or []), _upload_root(request),
                                   getattr(request, "session_hash", None) or "")
        except UploadRefused as exc:
            _warn(str(exc))
            yield (gr.skip(),) * 5
            return
        while not job.wait(POLL_S):
            yield progress_html(job.progress), *(gr.skip(),) * 4
        yield progress_html(job.progress), None, *self.status()


def _warn(text: str) -> None:
    """A toast, in the app's languages (its text is escaped: it may echo what was typed)."""
    gr.Warning(html.escape(text), title="提示 Notice")


def _upload_root(request: gr.Request | None) -> Path:
    """The folder Gradio stores this server's uploads in (the only files the app reads)."""
    server = getattr(request, "app", None) if request is not None else None
    folder = getattr(server, "uploaded_file_dir", None)
    if folder is None:
        from gradio.utils import get_upload_folder

        folder = get_upload_folder()
    return Path(folder)
