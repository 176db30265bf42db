"""Text that is safe to store, search and show: the one place that says which characters are not.

`clean` runs at every boundary where text enters the library (decoded files, JSON record
fields, questions and queries): lone surrogates become U+FFFD and control characters a space,
one for one, so character offsets into the source stay true. `printable` and `json_text` are
for terminals: archive text may hold escape sequences that a terminal would obey.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import NamedTuple

from qa.errors import QueryError

# Character classes, for regular expressions ("[" + HAN + "]") and tests: the one place each is
# written.
HAN = "\u4e00-\u9fff"  # CJK Unified Ideographs: every Han character of a modern newspaper
HAN_EXTENSION_A = "\u3400-\u4dbf"  # rare characters, in names and old texts
SENTENCE_ENDS = "。！？!?；;"  # what ends a sentence in Chinese and Latin punctuation

# C0 controls but tab, line feed, vertical tab, form feed and carriage return (line
# structure); DEL; C1 controls but NEL (a line break).
CONTROL = "\x00-\x08\x0e-\x1f\x7f\x80-\x84\x86-\x9f"
SURROGATE = "\ud800-\udfff"
_BAD = re.compile(f"[{CONTROL}{SURROGATE}]")
# What a terminal must not receive raw: every control but tab and line feed, surrogates
# (unencodable), and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile(f"[{CONTROL}\x0b\x0c\r\x85{SURROGATE}\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{SURROGATE}\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Cleaned(NamedTuple):
    text: str
    replaced: int  # characters replaced


def clean(text: str) -> Cleaned:
    """`text` with lone surrogates as U+FFFD and control characters as spaces, same length."""
    if not _BAD.search(text):
        return Cleaned(text, 0)
    count = 0

    def swap(m: re.Match) -> str:
        nonlocal count
        count += 1
        return "\ufffd" if m.group() >= "\ud800" else " "

    return Cleaned(_BAD.sub(swap, text), count)


def clean_text(text: str) -> str:
    """`clean` without the count."""
    return clean(text).text


def printable(text: str) -> str:
    """`text` for a terminal: control and bidi-override characters shown as `\\x1b`, `\\u202e`."""
    return _UNPRINTABLE.sub(_escape, text)


def json_text(obj, **kwargs) -> str:
    """JSON with non-ASCII text kept readable, but characters a terminal obeys as escapes."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}",
                               json.dumps(obj, ensure_ascii=False, **kwargs))


def _escape(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def check_question(question: str, max_chars: int) -> str:
    """The question (or search query) cleaned and stripped, or QueryError saying why it cannot
    be asked: the one check of what a user typed, for `ask`, `search` and the app."""
    q = clean_text(question or "").strip()
    if not q:
        raise QueryError("the question is empty")
    if len(q) > max_chars:
        raise QueryError(f"the question is {len(q)} characters long; the limit is {max_chars}")
    if not any(ch.isalnum() for ch in q):
        raise QueryError("the question has no words in it")
    return q


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_date(value: str) -> bool:
    """Whether `value` is a day written YYYY-MM-DD (2026-13-01 and 2023-02-30 are not): the
    one check of a date filter, for `ask`, `search` and the app."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_han(ch: str) -> bool:
    """Whether `ch` is a (modern) Han character."""
    return "\u4e00" <= ch <= "\u9fff"


def is_cjk(ch: str) -> bool:
    """Han characters, CJK and full-width punctuation: the script that needs no spaces."""
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3000 <= o <= 0x303F
            or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x2FFFF or o in (0x2014, 0x2026, 0x201C,
                                                                     0x201D, 0x2018, 0x2019, 0xB7))
