"""The page (`build_ui`): the chat with its folds on the left, the passage panel on the right
(an overlay on phones), the experts' details below; and `launch` to serve it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from qa.answer.pipeline import Archive
from qa.jobs import Background
from qa.settings import Settings
from qa.web.app import ChatApp
from qa.web.assets import CLOSE_ARTICLE, CSS, FOLD_ON_NARROW, REFS_JS, SCROLL_TO_CITED, SHOW_ANSWER
from qa.web.fair import UploadBudget, release_sessions, share_queue
from qa.web.guard import HostGuard, LoginThrottle, ServedHosts
from qa.web.render import ALL_PAPERS, EXAMPLES, MAX_K
from qa.web.upload import OFF, SUFFIXES

UPLOAD_SWEEP_S = 300  # uploads older than this are deleted, checked as often
UPLOADS_PREFIX = "archive-qa-uploads-"
SESSION_CLOSED_S = 600  # a browser session's memory is released this long after its page closed
SESSION_IDLE_S = 12 * 3600  # or after this long unused

INTRO = (
    "## 报纸档案问答 · Newspaper archive QA\n"
    "答案是档案原文中的一段话，标有可信度；点击 [1] 这样的标记查看原文。"
    '<span class="qa-intro-more"> Ask in Chinese or English; answers are exact words from '
    "the articles, with how likely they are right. Click a marker such as [1] to read the "
    "source.</span>"
)
PANEL_HINT = ('<p class="qa-note">提问后，在这里查看答案的出处。'
              "The source of each answer opens here.</p>")


def build_ui(archive_provider: Callable[[], Archive], settings: Settings,
             warm_up: threading.Event | None = None, allow_uploads: bool = False) -> gr.Blocks:
    """The Blocks app. With `warm_up`, the archive's lazy parts load in the background once
    that event is set (`qa serve` sets it when the page is served: sooner, they would slow the
    start, competing for the CPU and the GIL); with `allow_uploads`, pages can be added from
    the browser."""
    upload_folder()  # before any component: each keeps the folder it was made with
    app = ChatApp(archive_provider, settings, allow_uploads)
    if warm_up is not None:
        def when_served() -> None:
            warm_up.wait()
            app.warm_up()

        Background(when_served, "warm-up")
    with gr.Blocks(title="报纸档案问答 Archive QA", analytics_enabled=False,
                   delete_cache=(UPLOAD_SWEEP_S, UPLOAD_SWEEP_S)) as demo:
        gr.Markdown(INTRO)
        info = gr.Markdown(elem_id="archive-info")
        asked = gr.State([])
        citations = gr.State([])
        current = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                chat = gr.Chatbot(label="对话 Chat", height=540, elem_id="chat",
                                  latex_delimiters=[], feedback_options=None, buttons=["copy"],
                                  autoscroll=False,
                                  placeholder="问一个关于档案的问题 · Ask the archive")
                with gr.Row():
                    question = gr.Textbox(show_label=False, elem_id="question", scale=6,
                                          placeholder="输入问题，回车提问 Type a question, press Enter",
                                          lines=1, max_lines=4, autofocus=True)
                    ask = gr.Button("提问 Ask", variant="primary", elem_id="ask", scale=1,
                                    min_width=90)
                with gr.Accordion("示例问题 Examples", open=True, elem_id="examples",
                                  elem_classes="qa-fold-narrow"):
                    gr.Examples(EXAMPLES, inputs=question, label="点一下即可填入 Click one to use it")
                filters = search_settings(settings)
                upload = upload_panel(settings, allow_uploads)
                new_chat = gr.Button("新对话 New chat", size="sm")
            with gr.Column(scale=4, elem_id="article-panel"):
                close = gr.Button("← 返回对话 Back to chat", elem_id="article-close", size="sm",
                                  variant="primary")
                listing = gr.HTML("", elem_id="citations", js_on_load=REFS_JS)
                neighbours = gr.Dropdown([], label="同版文章 Other articles on this page",
                                         elem_id="neighbours", interactive=True)
                inspector = gr.HTML(PANEL_HINT, elem_id="inspector")
        with gr.Accordion("详细信息 Details (for experts)", open=False, elem_id="details-fold"):
            details = gr.HTML(elem_id="details")

        outputs = [question, chat, asked, citations, current, listing, inspector, neighbours,
                   details]
        # Questions run one at a time (see ChatApp._asking); the queue shows waiting users
        # their place. Opening articles (SQLite reads) is not held up.
        for trigger in (question.submit, ask.click):
            trigger(app.ask, [question, chat, asked, *filters, citations], outputs,
                    concurrency_limit=1, concurrency_id="ask", show_progress="minimal",
                    ).then(None, js=SHOW_ANSWER).then(None, js=SCROLL_TO_CITED)
        listing.click(app.open_cited, [citations], [current, listing, inspector, neighbours]
                      ).then(None, js=SCROLL_TO_CITED)
        neighbours.input(app.open_article, [neighbours, citations, current], inspector)
        close.click(None, js=CLOSE_ARTICLE)
        new_chat.click(
            lambda: ([], [], [], None, "", PANEL_HINT, gr.update(choices=[], value=None)),
            None, [chat, asked, citations, current, listing, inspector, neighbours])
        newspaper = filters[3]
        if upload is not None:  # added as soon as the browser has uploaded them
            files, progress = upload
            files.upload(app.add_files, [files], [progress, files, newspaper, info, details],
                         concurrency_limit=1, concurrency_id="add", show_progress="hidden")
        demo.load(app.status, None, [newspaper, info, details])
        demo.load(None, js=FOLD_ON_NARROW)
    return demo


def search_settings(settings: Settings) -> list:
    """The search settings fold; returns [k, date from, date to, newspaper]."""
    with gr.Accordion("检索设置 Search settings", open=False, elem_id="search-settings",
                      elem_classes="qa-fold-narrow"):
        with gr.Row():
            date_from = gr.Textbox(label="起始日期 From", placeholder="YYYY-MM-DD",
                                   elem_id="date-from")
            date_to = gr.Textbox(label="结束日期 To", placeholder="YYYY-MM-DD", elem_id="date-to")
            newspaper = gr.Dropdown([ALL_PAPERS], value=ALL_PAPERS, label="报纸 Newspaper",
                                    elem_id="newspaper")
        k = gr.Slider(1, MAX_K, value=settings.k, step=1, label="检索段落数 Passages (k)",
                      elem_id="k")
    return [k, date_from, date_to, newspaper]


def upload_panel(settings: Settings, allowed: bool) -> tuple | None:
    """The "add to archive" fold: (file picker, progress), or None (and a note saying why)
    when uploads are off."""
    with gr.Accordion("添加文档 Add to archive", open=False, elem_id="add-fold",
                      elem_classes="qa-fold-narrow"):
        if not allowed:
            gr.Markdown(OFF, elem_id="upload-off")
            return None
        gr.Markdown(
            f"选好文件就开始加入档案，完成后即可提问。格式：{' '.join(SUFFIXES)}，每个文件不超过 "
            f"{settings.max_upload_mb} MB；文件名中的日期（如 20230105.md）作为报道日期。"
            " Files are added as soon as they are chosen, indexed in the background, and "
            "answerable when done.",
            elem_id="upload-help")
        files = gr.File(label="文件 Files", file_count="multiple", file_types=list(SUFFIXES),
                        type="filepath", elem_id="upload-files")
        progress = gr.HTML("", elem_id="upload-progress")
    return files, progress


def upload_folder() -> str:
    """This process's folder for Gradio's uploads, made on first use and removed at exit.

    Gradio reads GRADIO_TEMP_DIR when a component is made (where its files go), when a server
    is made (where uploads go) and whenever it checks that a file an event hands over was
    uploaded, so it is set before the page is built and stays set while the process lives.
    """
    folder = os.environ.get("GRADIO_TEMP_DIR", "")
    if not Path(folder).name.startswith(UPLOADS_PREFIX) or not Path(folder).is_dir():
        folder = tempfile.mkdtemp(prefix=UPLOADS_PREFIX)
        atexit.register(shutil.rmtree, folder, True)
        os.environ["GRADIO_TEMP_DIR"] = folder
    return folder


def app_kwargs(settings: Settings) -> dict[str, Any]:
    """What Gradio's FastAPI app is made with: the guards in front of it (qa.web.guard), and no
    /openapi.json (FastAPI's list of every route, which nothing here reads)."""
    hosts = ServedHosts(settings.host, settings.host_names)
    return {"middleware": [
        Middleware(HostGuard, hosts=hosts, proxied=bool(settings.proxy_addresses)),
        Middleware(LoginThrottle),
        Middleware(UploadBudget, max_bytes=settings.max_upload_mb_per_minute * 2**20)],
        "openapi_url": None}


def launch(demo: gr.Blocks, settings: Settings, auth: tuple[str, str] | None = None, **kwargs: Any):
    """Serve `demo` on settings.host:settings.port behind Gradio's queue.

    Only requests for a host it serves, from no page or its own (HostGuard; more names with
    settings.allowed_hosts), are answered; before a login nothing describes the API (no
    /openapi.json at all, the pages without their API description). Logins are throttled per
    address and per account (LoginThrottle), the address being the socket's peer unless it is
    one of settings.trusted_proxy. A client holds at most a few places in the queue, uploads
    at most settings.max_upload_mb_per_minute, and its session's memory is released when it
    ends (qa.web.fair). Gradio's upload route takes files of at most
    settings.max_upload_mb into this process's upload folder (`upload_folder`), swept every few
    minutes and removed when the process ends; added pages are copied out of it (see
    upload.Library).
    """
    demo.queue(default_concurrency_limit=4, max_size=64)
    share_queue(demo._queue, settings.max_waiting_per_session, settings.max_waiting_per_address)
    upload_folder()
    # Gradio makes uvicorn's Config without a word about proxies, so uvicorn reads which
    # peers' X-Forwarded-For it believes from here (its default is loopback's); "" is no one.
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(settings.proxy_addresses)
    block = not kwargs.pop("prevent_thread_lock", False)
    served = demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        css=CSS,
        show_error=False,
        max_file_size=settings.max_upload_mb * 1024 * 1024,
        app_kwargs=app_kwargs(settings),
        prevent_thread_lock=True,  # the server's session store is made by launch: bounded next
        **kwargs,
    )
    release_sessions(demo.server_app.state_holder, settings.max_sessions,
                     closed_after_s=SESSION_CLOSED_S, idle_after_s=SESSION_IDLE_S)
    if block:
        demo.block_thread()
    return served
