"""Two answerers as one: each span scored by the probability that it is right.

Both answerers' scores are turned into probabilities by their own calibration
(`Answerer.confidence`), so they can be compared. A span that both answerers find (the same
characters of the same passage, or one inside the other) is more likely right than either
alone says (`agree`): the two are combined as independent evidence (noisy-or), and where
their edges differ the first answerer's are kept. The ensemble's score is that probability,
so its threshold is a probability too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from qa.reader.base import Answerer
from qa.types import Span

TOP = 5  # spans taken from each answerer


SLACK = 3  # characters one answer may add to the other and still agree (个, 第, 约, 万元)


def agree(a: Span, b: Span) -> bool:
    """The same answer in the same place: one span inside the other, a few characters apart."""
    if a.passage_index != b.passage_index:
        return False
    short, long = sorted((a, b), key=lambda s: s.end - s.start)
    return (long.start <= short.start and short.end <= long.end
            and (long.end - long.start) - (short.end - short.start) <= SLACK)


class Ensemble:
    """`first` and `second` answer; agreement raises a span's probability."""

    scale = "probability that the span is right (calibrated, agreement combined)"

    def __init__(self, first: Answerer, second: Answerer, threshold: float = 0.5):
        self.first, self.second = first, second
        self.name = f"{first.name} + {second.name}"
        self.threshold = threshold

    def confidence(self, score: float) -> float:
        return score

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        one = [(s, self.first.confidence(s.score))
               for s in self.first.extract(question, passages, retrieval_scores, contexts)[:TOP]]
        two = [(s, self.second.confidence(s.score))
               for s in self.second.extract(question, passages, retrieval_scores, contexts)[:TOP]]
        best: dict[tuple[int, int, int], tuple[int, Span]] = {}
        for rank, (own, others) in enumerate(((one, two), (two, one))):
            for span, p in own:
                # the other answerer's most confident span that agrees with this one
                q = max((p2 for s2, p2 in others if agree(span, s2)), default=0.0)
                key = (span.passage_index, span.start, span.end)
                combined = replace(span, score=1 - (1 - p) * (1 - q))
                if key not in best or best[key][1].score < combined.score:
                    best[key] = (rank, combined)
        # Two spans that agree get the same probability; the tie goes to the first answerer's
        # (the trained reader's edges: the rules' often lack the unit, as in 4 / 4分钟; on the 94
        # such pairs of CMRC trial the reader's span was exact in 48, the rules' in 37, as
        # `python -m qa eval ../shared/eval/cmrc2018_trial.json --predictions F` shows).
        ranked = sorted(best.values(), key=lambda rs: (-rs[1].score, rs[0],
                                                       rs[1].end - rs[1].start, rs[1].passage_index))
        return [span for _, span in ranked]
