"""Fit the answer stage's confidence (`qa calibrate-confidence`): ask the questions of one split
of a question set over its archive, as `qa ask` would, and fit the probability that an answer
is right from what was known when it was given (qa.answer.confidence)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from qa.answer.confidence import Calibration, family, fit
from qa.answer.pipeline import Archive
from qa.datasets import load_dataset
from qa.errors import DatasetError
from qa.eval.run import Result, evaluate, right
from qa.settings import Settings


def calibrate_confidence(sets: Sequence[tuple[Path, Path]], settings: Settings, split: str,
                         out: Path, log: Callable[[str], None] = lambda _: None
                         ) -> tuple[Calibration, dict]:
    """Fit on the answers given to `split`'s questions of each (question file, index folder)
    pair and write the calibration to `out`; returns it with a report (answers, right, the
    fitted probability's reliability)."""
    given: list[Result] = []
    answerer = None
    for path, index_dir in sets:
        kind, items, _ = load_dataset(path)
        items = [it for it in items if it.split == split]
        if kind != "seed" or not items:
            raise DatasetError(f"{path} has no JSONL questions of split {split!r}")
        archive = Archive.open(settings.with_(index_dir=index_dir), answerer=answerer, log=log)
        answerer = archive.answerer  # loaded once, shared by every set
        archive.calibration = None  # fit on the answerer's own probability
        results = evaluate(items, archive, lambda it, h: False, settings.k)
        given += [r for r in results if not r.answer.abstained]
    if len({right(r) for r in given}) < 2:
        raise DatasetError("the answers are all right or all wrong: nothing to fit")
    names = " ".join(f"{p.name}" for p, _ in sets)
    fitted = fit([r.answer.signals for r in given], [right(r) for r in given],
                 family(answerer.name),
                 f"{len(given)} answers to the {split} questions of {names} "
                 f"(python -m qa calibrate-confidence {names} --split {split})")
    out.parent.mkdir(parents=True, exist_ok=True)
    fitted.save(out)
    return fitted, _report(fitted, given)


def _report(fitted: Calibration, given: list[Result]) -> dict:
    rows = sorted(((fitted.probability(r.answer.signals), right(r)) for r in given),
                  reverse=True)
    bins = {}
    for a, b in ((0.9, 1.01), (0.7, 0.9), (0.5, 0.7), (0.3, 0.5), (0.0, 0.3)):
        inside = [ok for p, ok in rows if a <= p < b]
        bins[f"{a:.1f}-{min(b, 1.0):.1f}"] = {"answers": len(inside), "right": sum(inside)}
    return {"answers": len(given), "right": sum(ok for _, ok in rows), "by_probability": bins}
