"""The web app: a chat that answers from the archive, beside a panel that opens each source
inside its whole article. `reply` writes the chat's answers, `inspector` the passage panel,
`details` the experts' fold and `render` what they share; `app` holds the handlers, `layout`
the page and `launch`, `upload` adds pages from the browser, `assets` is the style sheet and
scripts, `guard` throttles logins.
"""

from qa.web.app import ChatApp
from qa.web.details import details_html
from qa.web.inspector import article_html, citation_list_html
from qa.web.layout import build_ui, launch
from qa.web.render import (
    ALL_PAPERS,
    EXAMPLES,
    NOT_FOUND,
    escape_markdown,
    highlight,
    parse_filters,
)
from qa.web.reply import reply_markdown

__all__ = ["ALL_PAPERS", "EXAMPLES", "NOT_FOUND", "ChatApp", "article_html", "build_ui",
           "citation_list_html", "details_html", "escape_markdown", "highlight", "launch",
           "parse_filters", "reply_markdown"]
