"""Hard negatives: for a training question, passages of the same set that retrieval ranks high
but that do not hold its answer, so "no answer here" is learned where the app needs it (a
report of the same event, another year's figure, another city's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from qa.datasets import Example
from qa.index.bm25 import BM25
from qa.index.lexical import fold, tokenize


class HardNegative(NamedTuple):
    owner: int  # index of the question's own example in the examples given
    example: Example  # its question over another passage, unanswerable


def hard_negatives(examples: Sequence[Example], per_question: int) -> list[HardNegative]:
    """For each answerable example, its question over the `per_question` other passages of
    `examples` that BM25 ranks first and that do not contain its answer (folded)."""
    if per_question <= 0:
        return []
    contexts = list(dict.fromkeys(e.context for e in examples))
    folded = [fold(c) for c in contexts]
    index = BM25.build(tokenize(c) for c in contexts)
    out = []
    for owner, e in enumerate(examples):
        if e.start < 0:
            continue
        answer = fold(e.text)
        scores = index.scores(tokenize(e.question))
        taken = 0
        for i in np.argsort(-scores, kind="stable")[: per_question + 10]:
            if scores[i] <= 0 or taken == per_question:
                break
            if contexts[i] != e.context and answer not in folded[i]:
                out.append(HardNegative(owner, Example(e.question, contexts[i], -1, "")))
                taken += 1
    return out
