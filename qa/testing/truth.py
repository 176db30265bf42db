"""What a reader of a generated page gave back, measured against the page's truth (a PageSpec):
sentences whole and in their own story, headlines, header fields, characters in reading order."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import NamedTuple

from qa.testing.newspaper import CREDIT, _find, _plain, split_sentences


class StoryRecovery(NamedTuple):
    sentences: int  # of the source
    whole: int  # found whole inside one paragraph of some article
    in_story: int  # whole, in the article that holds its story, after the story's sentence before it
    headlines: int
    headlines_exact: int
    stories: int
    spliced: int  # articles holding whole sentences of two or more stories

    def __add__(self, other):  # noqa: D105
        return StoryRecovery(*(a + b for a, b in zip(self, other, strict=True)))


class Fields(NamedTuple):
    """Articles carrying each header field the page prints, of those that should."""

    articles: int
    page: int
    date: int
    newspaper: int
    newspaper_expected: int  # articles that should carry it (the masthead is printed as text)

    def __add__(self, other):  # noqa: D105
        return Fields(*(a + b for a, b in zip(self, other, strict=True)))


def _story_sentences(story) -> list[str]:
    texts = story.paragraphs + ([CREDIT.sub("", story.caption)] if story.caption else [])
    return [s for text in texts for s in split_sentences(text)]


def story_recovery(spec, articles, tolerance: float = 0.0) -> StoryRecovery:
    """Each story is matched to the article that holds most of its sentences (one article per
    story); a sentence counts in its story when found whole in that article's paragraphs, after
    the story's previous sentence found there."""
    paragraphs = [[_plain(p.text, tolerance) for p in a.paragraphs] for a in articles]
    found: list[list[list[tuple[int, int, int]]]] = []  # story -> sentence -> places
    for story in spec.stories:
        places = []
        for sentence in _story_sentences(story):
            s = _plain(sentence, tolerance)
            places.append([(a, i, j) for a, paras in enumerate(paragraphs)
                           for i, p in enumerate(paras) if (j := _find(s, p, tolerance)) >= 0])
        found.append(places)
    votes = sorted(((sum(any(a == k for k, _, _ in pl) for pl in places), -n, a)
                    for n, places in enumerate(found) for a in range(len(articles))), reverse=True)
    owner: dict[int, int] = {}
    taken: set[int] = set()
    for count, neg, a in votes:
        if count and -neg not in owner and a not in taken:
            owner[-neg] = a
            taken.add(a)
    whole = in_story = 0
    holders: dict[int, set[int]] = {}
    told = Counter(s for story in spec.stories for s in set(_story_sentences(story)))
    for n, places in enumerate(found):
        at = (-1, -1)
        for sentence, pl in zip(_story_sentences(spec.stories[n]), places, strict=True):
            whole += bool(pl)
            for a, _, _ in pl if told[sentence] == 1 else ():  # a sentence two stories share proves nothing
                holders.setdefault(a, set()).add(n)
            mine = sorted((i, j) for a, i, j in pl if a == owner.get(n) and (i, j) > at)
            if mine:
                in_story += 1
                at = mine[0]
    # white space aside: a headline broken over lines may or may not have had a space there,
    # which the printed page does not show
    titles = [_plain(st.title, 1.0) for st in spec.stories if st.title]
    got = [_plain(a.title, 1.0) for a in articles if a.title]
    return StoryRecovery(sum(map(len, found)), whole, in_story, len(titles),
                         sum(t in got for t in titles), len(spec.stories),
                         sum(len(stories) > 1 for stories in holders.values()))


def fields(spec, articles) -> Fields:
    """Articles with the page's 版次, date and paper as its header prints them."""
    expect = spec.extra["expect"]
    paper = expect.get("newspaper")
    return Fields(len(articles), sum(a.page == expect["page"] for a in articles),
                  sum(a.date == expect["date"] for a in articles),
                  sum(a.newspaper == paper for a in articles) if paper else 0,
                  len(articles) if paper else 0)


def page_text(spec) -> str:
    """The page's text in reading order: each story's headline, paragraphs and caption."""
    parts = []
    for story in spec.stories:
        parts += [story.title or "", *story.paragraphs, CREDIT.sub("", story.caption or "")]
    return "".join(parts)


def read_text(articles) -> str:
    """What a reader gave back, in its order: each article's headline and paragraphs."""
    return "".join((a.title or "") + "".join(p.text for p in a.paragraphs) for a in articles)


def recovered(truth: str, text: str) -> float:
    """Share of the truth's characters found in `text` in the same order (longest common
    subsequence; white space ignored, character widths folded)."""
    import numpy as np

    a = re.sub(r"\s+", "", unicodedata.normalize("NFKC", truth))
    b = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if not a:
        return 1.0
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    row = np.zeros(len(b) + 1, dtype=np.int32)
    for ch in a:
        match = np.concatenate(([0], row[:-1] + (codes == ord(ch))))
        row = np.maximum.accumulate(np.maximum(match, row))
    return float(row[-1]) / len(a)
