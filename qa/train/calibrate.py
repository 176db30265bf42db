"""Calibrate a reader's scores on validation questions: P(right | score) and its threshold.

Questions are asked the way users ask them: retrieval over an index of the set's passages,
the top k read. Each question is asked twice:

- as it is (answerable when its passage is retrieved): right when the best span matches a gold
  answer (F1 >= `RIGHT_F1`, CMRC style) or is a part of one: CMRC's gold answers are often
  whole clauses around the fact asked for ("莫斯科公国在1303年控制了这座城镇" for "in which
  year"), and a reader that says "1303年" has found the answer, which is what abstention
  is about (its edges are measured by EM/F1, not here);
- without its passage (the passage and any passage holding a gold answer are dropped from
  the hits), so the archive does not hold the answer: any answer is wrong.

Platt scaling (a logistic fit of "right" on the logit of the score) turns scores into
probabilities; the threshold is the score at which answering stops being more likely right
than wrong (`MIN_CONFIDENCE`). Both go into reader.json, so the reader owns them.

A second feature joins the fit: how much of what the question names (IDF-weighted words) the
span's passage, its headline and its paper leave unmentioned (`qa.reader.question.absent`). A
reader that finds "the party secretary" in a Wuhai report answers "who is Tongliao's party
secretary" with confidence; the words it lacks say that it should not. Its weight, divided by
the score's, is stored as `absent`: the reader adds `absent × missing` to a span's logit
(`E5Reader.extract`), so the one-feature Platt map and threshold apply to the adjusted score.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qa.eval import metrics
from qa.reader.base import shift
from qa.reader.bundle import CONFIG
from qa.reader.question import analyse, unmentioned
from qa.settings import Settings
from qa.train.card import model_card
from qa.types import Span

RIGHT_F1 = 0.8
MIN_CONFIDENCE = 0.5


class Record(NamedTuple):
    score: float  # the best span's score (0 when there was none)
    right: bool
    answerable: bool  # False: asked without its passage
    missing: float = 0.0  # share of the question's words its passage and headline lack


def is_right(prediction: str, answers: Sequence[str]) -> bool:
    """The span matches a gold answer, or is a part of one (see the module's docstring)."""
    core = metrics.remove_punctuation(prediction)
    return len(core) >= 2 and (metrics.f1(prediction, answers) >= RIGHT_F1
                               or any(core in metrics.remove_punctuation(a) for a in answers))


def fit_platt(scores: Sequence[float], right: Sequence[bool], steps: int = 50,
              weights: Sequence[float] | None = None,
              missing: Sequence[float] | None = None) -> tuple[float, float, float]:
    """(a, b, c) of P(right) = sigmoid(a * logit(score) + c * missing + b): Newton's method on
    the (weighted) log loss; c is 0 without `missing`."""
    s = np.clip(np.asarray(scores, dtype=float), 1e-6, 1 - 1e-6)
    x = np.log(s / (1 - s))
    y = np.asarray(right, dtype=float)
    v = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    columns = [x, np.ones_like(x)] + ([np.asarray(missing, dtype=float)] if missing else [])
    X = np.stack(columns, axis=1)
    w = np.zeros(X.shape[1])
    ridge = 1e-2  # keeps the fit finite when right and wrong scores do not overlap
    for _ in range(steps):
        p = 0.5 * (1 + np.tanh(0.5 * (X @ w)))  # the sigmoid, without overflow
        grad = X.T @ (v * (p - y)) + ridge * w
        hess = X.T @ (X * (v * p * (1 - p))[:, None]) + ridge * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return float(w[0]), float(w[1]), float(w[2]) if missing else 0.0


def threshold_for(a: float, b: float, confidence: float = MIN_CONFIDENCE) -> float:
    """The score whose calibrated probability is `confidence`."""
    if a <= 0:
        return 1.0  # scores say nothing: withhold everything rather than guess
    z = (math.log(confidence / (1 - confidence)) - b) / a
    return 1 / (1 + math.exp(-z))


def collect(answerer, dataset: Path, settings: Settings, limit: int | None,
            log: Callable[[str], None] = print) -> list[Record]:
    """Ask every question of a SQuAD file with and without its passage; one record each."""
    from qa.answer.pipeline import Archive
    from qa.datasets import load_dataset
    from qa.eval.run import squad_archive
    from qa.model.embed import load_embedder

    _, items, contexts = load_dataset(dataset)
    items = [it for it in items if it.answers and it.question.strip()][:limit]
    records: list[Record] = []
    weight, answerer.absent_weight = getattr(answerer, "absent_weight", 0.0), 0.0  # raw scores

    def best_of(question: str, hits) -> tuple[Span | None, float]:
        spans = answerer.extract(question, [h.paragraph.text for h in hits],
                                 [h.score for h in hits], [h.context for h in hits])
        if not spans:
            return None, 0.0
        h = hits[spans[0].passage_index]
        return spans[0], unmentioned(analyse(question), h.paragraph.text, h.context)

    try:
        with tempfile.TemporaryDirectory(prefix="qa-calibrate-") as tmp:
            embedder = load_embedder(settings, "index")
            index_dir, ids = squad_archive(contexts, Path(tmp), embedder, settings)
            archive = Archive.open(settings.with_(index_dir=index_dir), answerer=answerer)
            k = settings.k
            for n, item in enumerate(items, 1):
                hits = archive.retriever.search(item.question, k + 5)
                gold = ids[int(item.gold)]
                best, missing = best_of(item.question, hits[:k])
                right = best is not None and is_right(best.text, item.answers)
                records.append(Record(best.score if best else 0.0, right, True, missing))
                other = [h for h in hits if h.article.id != gold
                         and not any(a in h.paragraph.text for a in item.answers)][:k]
                best, missing = best_of(item.question, other)
                records.append(Record(best.score if best else 0.0, False, False, missing))
                if n % 100 == 0:
                    log(f"calibration: {n}/{len(items)} questions")
    finally:
        answerer.absent_weight = weight
    return records


def adjusted(records: Sequence[Record], absent_weight: float) -> list[Record]:
    """The records with the scores the reader gives once it weighs unmentioned words."""
    return [r._replace(score=shift(r.score, absent_weight * r.missing)) for r in records]


def report(records: Sequence[Record], a: float, b: float) -> list[str]:
    """A table of what each threshold would do on the records."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    lines = ["| threshold | P(right) there | answered (answerable) | right of those | "
             "answered (no passage) |", "|---:|---:|---:|---:|---:|"]
    for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, threshold_for(a, b)):
        kept = [r for r in answerable if r.score >= t]
        lines.append(
            f"| {t:.3f} | {_sigmoid(a, b, t):.2f} | {len(kept) / max(len(answerable), 1):.3f} | "
            f"{sum(r.right for r in kept) / max(len(kept), 1):.3f} | "
            f"{sum(r.score >= t for r in unanswerable) / max(len(unanswerable), 1):.3f} |")
    return lines


def _sigmoid(a: float, b: float, score: float) -> float:
    s = min(max(score, 1e-6), 1 - 1e-6)
    return 1 / (1 + math.exp(-(a * math.log(s / (1 - s)) + b)))


def share_weights(records: Sequence[Record], unanswerable_share: float) -> list[float]:
    """Weights that make the askings without their passage `unanswerable_share` of the whole
    (collect asks half of them so): the share of questions users ask that the archive does not
    answer decides how much a score must say before an answer is more likely right than not."""
    if not 0 < unanswerable_share < 1:
        raise ValueError(f"the unanswerable share must be between 0 and 1, not {unanswerable_share}")
    n = len(records)
    n_un = sum(not r.answerable for r in records)
    if n_un in (0, n):
        return [1.0] * n
    return [n * unanswerable_share / n_un if not r.answerable
            else n * (1 - unanswerable_share) / (n - n_un) for r in records]


def calibrate(folder: Path, records: Sequence[Record], dataset: Path,
              unanswerable_share: float = 0.5) -> dict:
    """Fit, then write the calibration and threshold into the reader's reader.json (and its
    model card); returns the new runtime settings."""
    a, b, c = fit_platt([r.score for r in records], [r.right for r in records],
                        weights=share_weights(records, unanswerable_share),
                        missing=[r.missing for r in records])
    threshold = round(threshold_for(a, b), 4)
    config = json.loads((folder / CONFIG).read_text("utf-8"))
    config["runtime"]["abstain_threshold"] = threshold
    config["runtime"]["calibration"] = {
        "a": round(a, 4), "b": round(b, 4), "absent": round(c / a, 4) if a > 0 else 0.0,
        "questions": sum(r.answerable for r in records),
        "eval_file": Path(dataset).name, "right_f1": RIGHT_F1, "right": "F1 or part of a gold answer", "min_confidence": MIN_CONFIDENCE,
        "unanswerable_share": unanswerable_share}
    (folder / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (folder / "MODEL_CARD.md").write_text(model_card(config), "utf-8")
    return config["runtime"]
