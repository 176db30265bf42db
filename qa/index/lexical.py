"""Terms for BM25: jieba search-mode words, Traditional folded to Simplified, stop-words dropped."""

from __future__ import annotations

import logging
import unicodedata
from functools import cache
from importlib import resources

import jieba

jieba.setLogLevel(logging.WARNING)


@cache
def _stopwords() -> frozenset[str]:
    text = resources.files("qa").joinpath("data/stopwords.txt").read_text("utf-8")
    return frozenset(w for w in text.split("\n") if w and not w.startswith("#"))


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Text as matched (never as shown): NFKC, lower case, Traditional -> Simplified."""
    return _t2s().convert(unicodedata.normalize("NFKC", text).lower())


def simplified(text: str) -> str:
    """Traditional -> Simplified, character for character: offsets carry over."""
    return _aligned(_t2s().convert, text)


def fold_aligned(text: str) -> str:
    """`fold(text)` with the same length as `text`, so offsets carry over between them."""
    return _aligned(fold, text)


def _aligned(convert, text: str) -> str:
    out = convert(text)
    if len(out) == len(text):
        return out
    return "".join(c if len(c := convert(ch)) == 1 else ch for ch in text)


def _is_term(word: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in word)


TOKENIZER = "jieba.lcut_for_search + t2s fold + stopwords"  # recorded in the manifest


def tokenize(text: str) -> list[str]:
    """BM25 terms of `text`, in order, repeats kept."""
    stop = _stopwords()
    words = jieba.lcut_for_search(fold(text))
    return [w for w in (w.strip() for w in words) if w and w not in stop and _is_term(w)]
