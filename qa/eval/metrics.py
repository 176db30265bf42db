"""Answer and retrieval metrics: CMRC 2018 EM/F1, recall@k, MRR, percentiles.

EM and F1 follow the official `cmrc2018_evaluate.py`: text is lower-cased and stripped,
Chinese characters and the listed punctuation are single tokens, runs of other characters
(Latin words, digits) are tokenised as words; punctuation is removed; F1 uses the longest
common *contiguous* token run; the best score over the gold answers counts. The official
script tokenises non-Chinese runs with `nltk.word_tokenize`; a word/punctuation regex stands
in for it here (identical on digits, Latin words and ASCII punctuation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# The official list ("……" is a two-character entry there and so never matches one char).
PUNCTUATION = frozenset("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CHINESE = re.compile(r"[\u4e00-\u9fa5]")  # the official CMRC 2018 script's range, kept for comparable scores
_WORD = re.compile(r"\w+|[^\w\s]")


def mixed_segmentation(text: str, remove_punctuation: bool = False) -> list[str]:
    """Tokens as the CMRC script counts them: one per Chinese character, words elsewhere."""
    tokens: list[str] = []
    run = ""
    for ch in str(text).lower().strip():
        if remove_punctuation and ch in PUNCTUATION:
            continue
        if _CHINESE.match(ch) or ch in PUNCTUATION:
            tokens.extend(_WORD.findall(run))
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(_WORD.findall(run))
    return tokens


def remove_punctuation(text: str) -> str:
    return "".join(ch for ch in str(text).lower().strip() if ch not in PUNCTUATION)


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of tokens."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                row[j + 1] = prev[j] + 1
                best = max(best, row[j + 1])
        prev = row
    return best


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the prediction equals a gold answer once punctuation is removed.

    With no gold answers (an unanswerable question) an empty prediction is the match.
    """
    pred = remove_punctuation(prediction)
    if not answers:
        return float(not pred)
    return float(any(remove_punctuation(a) == pred for a in answers))


def f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token F1 over the gold answers, CMRC style (longest common run as the overlap)."""
    if not answers:
        return exact_match(prediction, answers)
    pred = mixed_segmentation(prediction, remove_punctuation=True)
    best = 0.0
    for answer in answers:
        gold = mixed_segmentation(answer, remove_punctuation=True)
        common = longest_common_run(gold, pred)
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def recall_at(ranks: Iterable[int | None], k: int) -> float:
    """Share of questions whose first relevant result (1-based rank, None = missed) is in the top k."""
    ranks = list(ranks)
    return sum(r is not None and r <= k for r in ranks) / len(ranks) if ranks else 0.0


def mrr(ranks: Iterable[int | None]) -> float:
    """Mean reciprocal rank of the first relevant result (None counts as 0)."""
    ranks = list(ranks)
    return sum(1 / r for r in ranks if r) / len(ranks) if ranks else 0.0


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation, as numpy's default; NaN if empty."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
