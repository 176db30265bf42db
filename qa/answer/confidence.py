"""How likely an answer is right where it is given: asked of a whole archive, read from the
passages retrieval found, unanswerable questions among them.

An answerer's own probability was calibrated on its validation questions, each with its gold
passage; asked of a real archive it is sure of answers that are another year's figure or
another city's. The answer stage measures what it knows at answer time (`signals`) and a
logistic model fitted on questions asked of an archive the way readers ask
(`qa calibrate-confidence`, stored as `qa/data/confidence.json`) turns them into the
probability that the answer is right.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from qa.answer.explain import mostly_latin
from qa.answer.support import answer_key, level
from qa.errors import ModelError
from qa.reader.question import analyse, fits, unmentioned
from qa.types import Hit, Span

SHIPPED = Path(str(resources.files("qa").joinpath("data/confidence.json")))
SIGNALS = ("logit", "agreeing", "margin", "rank", "fits", "english", "absent")
# What the levels mean once answers are calibrated: 高 right at least 9 times in 10, 中 at
# least 6 in 10; below that a guess, said as one.
HIGH, MEDIUM = 0.9, 0.6
WRONG_SHARE = 0.94  # answers are withheld below the probability under which this share is wrong
WITHHOLD_GRID = tuple(x / 100 for x in range(5, 55, 5))
_RUNTIME = re.compile(r"\s*\([^)]*\)")


def family(answerer_name: str) -> str:
    """An answerer's name without its runtime: "reader (onnx int8) + rules" → "reader + rules"
    (the runtimes read the same spans; a calibration holds for all of them)."""
    return _RUNTIME.sub("", answerer_name)


def signals(question: str, best: Span, probability: float, spans: Sequence[Span],
            hits: Sequence[Hit], agreeing: int, answerer_probability) -> dict[str, float]:
    """What the answer stage knows of an answer: the answerer's probability (as a logit), the
    articles that agree, its margin over the best different answer, its passage's rank, whether
    it is the kind of answer asked, whether the question is in English, and the share of the
    question's words its passage and headline never mention."""
    key = answer_key(best.text)
    other = max((answerer_probability(s.score) for s in spans
                 if answer_key(s.text) != key), default=0.0)
    q = analyse(question)
    hit = hits[best.passage_index]
    p = min(max(probability, 1e-4), 1 - 1e-4)
    return {
        "logit": math.log(p / (1 - p)),
        "agreeing": float(min(agreeing, 3)),
        "margin": probability - other,
        "rank": float(min(best.passage_index, 5)),
        "fits": float(fits(q, best.text)),
        "english": float(mostly_latin(question)),
        "absent": unmentioned(q, hit.paragraph.text, hit.context),
    }


@dataclass(frozen=True)
class Calibration:
    """A logistic model of P(right | signals), fitted for one answerer family."""

    answerer: str  # the family it was fitted for (see `family`)
    weights: dict[str, float]
    bias: float
    fitted_on: str  # what it was fitted on, and the command that did it
    withhold_below: float = 0.0  # answers less likely right than this are withheld
    high: float = HIGH
    medium: float = MEDIUM

    def level(self, probability: float) -> str:
        """The level of a calibrated probability (agreement is already one of its signals)."""
        return level(probability, 1, self.high, self.medium)

    def probability(self, found: Mapping[str, float]) -> float:
        z = self.bias + sum(w * found[name] for name, w in self.weights.items())
        return 1 / (1 + math.exp(-max(min(z, 30.0), -30.0)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n", "utf-8")

    @classmethod
    def load(cls, path: Path = SHIPPED) -> Calibration | None:
        """The calibration in `path`; None when there is none. ModelError when it is broken."""
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
            found = cls(str(data["answerer"]), {k: float(v) for k, v in data["weights"].items()},
                        float(data["bias"]), str(data["fitted_on"]),
                        float(data.get("withhold_below", 0.0)), float(data.get("high", HIGH)),
                        float(data.get("medium", MEDIUM)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"the confidence calibration {path} is unreadable: {exc}") from exc
        if set(found.weights) - set(SIGNALS):
            raise ModelError(f"the confidence calibration {path} names unknown signals")
        return found


def fit(rows: Sequence[Mapping[str, float]], right: Sequence[bool], answerer: str,
        fitted_on: str, l2: float = 1.0, steps: int = 50) -> Calibration:
    """Logistic regression by Newton's method with an L2 penalty (the bias not penalised):
    small question sets, a handful of signals."""
    x = np.array([[row[name] for name in SIGNALS] for row in rows], dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.diag([l2] * len(SIGNALS) + [0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + penalty @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[:-1] / scale  # back to the signals' own units
    bias = float(w[-1] - (weights * mean).sum())
    fitted = Calibration(answerer, {n: round(float(v), 6) for n, v in zip(SIGNALS, weights,
                                                                            strict=True)},
                         round(bias, 6), fitted_on)
    probabilities = [fitted.probability(row) for row in rows]
    return replace(fitted, withhold_below=withhold_below(probabilities, right))


def withhold_below(probabilities: Sequence[float], right: Sequence[bool]) -> float:
    """The highest probability of the grid under which at least WRONG_SHARE of the answers are
    wrong: withholding those costs few right answers and stops most wrong ones."""
    best = 0.0
    for cut in WITHHOLD_GRID:
        below = [ok for p, ok in zip(probabilities, right, strict=True) if p < cut]
        if below and 1 - sum(below) / len(below) >= WRONG_SHARE:
            best = cut
    return best
