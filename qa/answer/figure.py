"""Which of a sentence's figures a question asks for.

A story gives several figures of one thing side by side: the trade total, then exports and
imports (进出口总值10.3万亿元，其中出口6万亿元，进口4.3万亿元); a price index against the month
before and against the same month a year earlier (CPI环比上涨0.4%，同比上涨0.6%). The figure a
question asks for is the one after its own word, so the last such word before an answer in its
sentence must be the kind the question names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from qa.answer.subject import folded


class Aspect(NamedTuple):
    """One way the figures of a thing differ: its kinds, the Chinese words that name each (one
    pattern, a group per kind) and an English question's words for each."""

    kinds: tuple[str, ...]
    words: re.Pattern[str]  # group k0 names kinds[0], k1 kinds[1], …
    english: tuple[tuple[str, re.Pattern[str]], ...]

    def named(self, text: str) -> list[str]:
        """The kinds folded `text` names, in order (进出口 once, not also 出口)."""
        return [self.kinds[int(m.lastgroup[1:])] for m in self.words.finditer(text)]


def _aspect(chinese: tuple[tuple[str, str], ...], english: tuple[tuple[str, str], ...]) -> Aspect:
    words = re.compile("|".join(f"(?P<k{i}>{w})" for i, (_, w) in enumerate(chinese)))
    return Aspect(tuple(k for k, _ in chinese), words,
                  tuple((k, re.compile(rf"\b(?:{w})", re.I)) for k, w in english))


_LAST_YEAR = r"(?:比|较|与|和|同)(?:上年|去年)同(?:期|月)"
_LAST_MONTH = r"(?:比|较|与|和)上(?:个)?(?:月|季度)"
FLOW = _aspect(
    (("进出口", "进出口"), ("出口", "出口"), ("进口", "进口")),
    (("进出口", r"imports? and exports?|exports? and imports?|foreign trade|total trade"),
     ("出口", r"export"), ("进口", r"import")),
)
BASIS = _aspect(
    (("同比", rf"同比|{_LAST_YEAR}"), ("环比", rf"环比|{_LAST_MONTH}")),
    (("同比", r"year[- ]on[- ]year|from a year (?:earlier|ago)|same (?:month|period|quarter) "
              r"(?:of |in )?last year"),
     ("环比", r"(?:month|quarter)[- ]on[- ](?:month|quarter)|from the previous (?:month|quarter)")),
)
ASPECTS = (FLOW, BASIS)


@lru_cache(maxsize=512)  # asked again for every span of the same question
def asked(question: str, aspect: Aspect) -> str | None:
    """The one kind of `aspect` the question asks for (出口 for 外贸出口额, 同比 for 和去年同月相比,
    进口 for "how much did China import"), or None when it names none or several."""
    found = set(aspect.named(folded(question)))
    if not found:  # an English question
        found = {kind for kind, words in aspect.english if words.search(question)}
        if "进出口" in found:
            found = {"进出口"}
    return found.pop() if len(found) == 1 else None


def other_kind(question: str, before: str) -> str | None:
    """The kind the question asks for (出口, 同比) when the words before an answer in its
    sentence last name another kind of the same aspect (the 进出口 total, 环比); else None."""
    text = None
    for aspect in ASPECTS:
        if want := asked(question, aspect):
            text = folded(before) if text is None else text
            named = aspect.named(text)
            if named and named[-1] != want:
                return want
    return None
