"""The web app: a chat that answers from the archive, beside an inspector that opens each cited
passage inside its whole article. `render` turns answers into HTML and Markdown; `app` holds
the handlers, the Gradio layout and `launch`.
"""

from qa.web.app import ChatApp, build_ui, launch
from qa.web.render import (
    ALL_PAPERS,
    EXAMPLES,
    NOT_FOUND,
    article_html,
    escape_markdown,
    highlight,
    parse_filters,
    reply_markdown,
    sources_html,
)

__all__ = ["ALL_PAPERS", "EXAMPLES", "NOT_FOUND", "ChatApp", "article_html", "build_ui", "escape_markdown",
           "highlight", "launch", "parse_filters", "reply_markdown", "sources_html"]
