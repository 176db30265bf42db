"""Readers: find the answer span in retrieved passages, or say there is none.

`load_answerer` is the one place that names them: "rules" (`rules.RuleAnswerer`, no model),
"reader" (the bundled trained reader, `e5.E5Reader`), "auto" (the default: the reader with the
rules as a second opinion, "reader+rules", when the reader can run, else the rules), a folder
of a reader trained by `qa train-reader`, any Hugging Face extractive-QA model name or folder
(`hf.HFReader`), or two of these joined by "+" (`ensemble.Ensemble`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qa.reader.base import Answerer
from qa.reader.bundle import CONFIG

NAMES = ("auto", "reader", "rules")


def load_answerer(name: str, cache_dir: Path, device: str | None = None,
                  threshold: float | None = None, runtime: str = "auto",
                  log: Callable[[str], None] = lambda _: None) -> Answerer:
    """The answerer called `name`; `threshold`, when given, replaces its own calibrated one.

    `cache_dir` holds what the trained reader builds on first use; `runtime` (auto, onnx,
    torch) is what it reads with, `device` (cpu, cuda) where PyTorch runs; `log` hears about a
    first-use build.
    """
    if "+" in name:  # two answerers as one, e.g. "reader+rules" (qa.reader.ensemble)
        from qa.reader.ensemble import Ensemble

        first, second = (load_answerer(part.strip(), cache_dir, device, runtime=runtime, log=log)
                         for part in name.split("+", 1))
        answerer: Answerer = Ensemble(first, second)
    elif name in ("rules", ""):
        from qa.reader.rules import RuleAnswerer

        answerer = RuleAnswerer()
    elif name in ("auto", "reader"):
        from qa.reader.e5 import E5Reader, reader_available

        if name == "auto" and not reader_available(runtime=runtime):
            from qa.reader.rules import RuleAnswerer

            log("the trained reader cannot run here (pip install onnxruntime, or the st extra "
                "for PyTorch): answering with the rules")
            answerer = RuleAnswerer()
        elif name == "auto":
            return load_answerer("reader+rules", cache_dir, device, threshold, runtime, log)
        else:
            answerer = E5Reader(cache_dir=cache_dir, device=device, runtime=runtime, log=log)
    elif (Path(name) / CONFIG).is_file():  # a reader folder: train-reader's OUT/best
        from qa.reader.e5 import E5Reader

        answerer = E5Reader(Path(name), cache_dir=cache_dir, device=device, runtime=runtime,
                            log=log)
    else:
        from qa.reader.hf import HFReader

        answerer = HFReader(name, device=device)
    if threshold is not None:
        answerer.threshold = threshold
    return answerer


__all__ = ["NAMES", "Answerer", "load_answerer"]
