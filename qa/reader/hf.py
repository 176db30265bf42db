"""Span readers in the Hugging Face format: windows in, start/end logits, spans out.

`HFReader` runs any extractive-QA model (a name in the local cache, or a folder), offline. The
work is split so that another runtime can stand in for PyTorch: `encode` cuts each passage
into overlapping windows of the question and the passage (with character offsets), a runtime
turns them into start/end logits, and `decode` (NumPy only) turns logits into scored spans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qa.errors import INSTALL_HINT, ModelError
from qa.reader.base import best_first, relative, sentences, tidy
from qa.reader.windows import Windower, Windows
from qa.types import Span


def decode(windows: Windows, starts: np.ndarray, ends: np.ndarray, passages: Sequence[str],
           retrieval_scores: Sequence[float] | None = None, *, max_answer_tokens: int = 30,
           top_n: int = 20, retrieval_weight: float = 1.0) -> list[Span]:
    """Spans from start/end logits (windows x tokens), scored by softmax against no answer.

    A span's logit is its start + end logit plus `retrieval_weight` times its passage's
    retrieval score relative to the best passage (so the top passage keeps its logit). The
    no-answer logit is the [CLS] start + end of the window that believes in an answer most.
    """
    starts, ends = np.asarray(starts, dtype=np.float32), np.asarray(ends, dtype=np.float32)
    rel = relative(retrieval_scores, len(passages)) if retrieval_scores is not None else None
    raw: list[tuple[float, int, int, int]] = []  # (logit, passage, start char, end char)
    null = math.inf
    for f, p in enumerate(windows.owners):
        lo, hi = windows.context[f]
        if lo < 0:
            continue
        null = min(null, float(starts[f, 0] + ends[f, 0]))
        bonus = retrieval_weight * (rel[p] - 1) if rel else 0.0
        n = min(top_n, hi - lo + 1)
        s_top = _top(starts[f, lo : hi + 1], n) + lo
        e_top = _top(ends[f, lo : hi + 1], n) + lo
        offsets = windows.offsets[f]
        for si in s_top.tolist():
            for ei in e_top.tolist():
                if si <= ei < si + max_answer_tokens:
                    a, b = offsets[si][0], offsets[ei][1]
                    if b > a:
                        raw.append((float(starts[f, si] + ends[f, ei]) + bonus, p, a, b))
    return _softmax_spans(raw, null, passages)


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest values, largest first."""
    idx = np.argpartition(-values, n - 1)[:n] if n < len(values) else np.arange(len(values))
    return idx[np.argsort(-values[idx], kind="stable")]


def _softmax_spans(raw: list[tuple[float, int, int, int]], null: float,
                   passages: Sequence[str]) -> list[Span]:
    """Spans from (logit, passage, start, end), scored by their share of the softmax mass
    over all candidates and the no-answer logit `null`; tidied, deduplicated, best first."""
    if not raw:
        return []
    top = max([x[0] for x in raw] + ([null] if null < math.inf else []))
    norm = math.exp(null - top) if null < math.inf else 0.0
    norm += sum(math.exp(x[0] - top) for x in raw)
    out: list[Span] = []
    bounds: dict[int, list[tuple[int, int]]] = {}
    for logit, p, a, b in raw:
        a, b = tidy(passages[p], a, b)
        if b <= a:
            continue
        if p not in bounds:
            bounds[p] = sentences(passages[p])
        ss = next((s for s, e in bounds[p] if s <= a < e), a)
        se = next((e for s, e in bounds[p] if s < b <= e), b)
        out.append(Span(p, a, b, passages[p][a:b], ss, se, math.exp(logit - top) / norm))
    return best_first(out)


class HFReader:
    """Any Hugging Face extractive-QA model, behind the `Answerer` interface (PyTorch)."""

    scale = "softmax share of the span against all candidate spans and no answer"

    def __init__(self, name: str, max_length: int = 384, stride: int = 128,
                 max_answer_tokens: int = 30, top_n: int = 20, device: str | None = None,
                 retrieval_weight: float = 1.0, threshold: float = 0.125):
        try:
            import torch
        except ImportError as exc:
            raise ModelError(f"reader {name!r} needs torch and transformers ({exc.name} is "
                             f"missing): {INSTALL_HINT}") from exc
        self.torch = torch
        self.name = f"hf {name}"
        self.tokenizer, self.model = self._load(name)
        if not self.tokenizer.is_fast:
            raise ModelError(f"reader {name!r} has no fast tokenizer; character offsets need one")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.windower = Windower(self.tokenizer.backend_tokenizer, max_length, stride,
                                 self.tokenizer.pad_token_id)
        self.max_answer_tokens, self.top_n = max_answer_tokens, top_n
        self.retrieval_weight = retrieval_weight
        self.threshold = threshold

    def _load(self, name: str):
        """(fast tokenizer, model whose output has start_logits and end_logits)."""
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"reader {name!r} needs torch and transformers ({exc.name} is "
                             f"missing): {INSTALL_HINT}") from exc
        try:
            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True, use_fast=True)
            model = AutoModelForQuestionAnswering.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"reader model {name!r} is not available offline (a local folder, or a model "
                f"already in the Hugging Face cache): {exc}"
            ) from exc
        return tokenizer, model

    def confidence(self, score: float) -> float:
        return score  # uncalibrated: the softmax share stands in for it

    def logits(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits, (windows, tokens) each, as float32."""
        torch = self.torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(windows.input_ids).to(self.device),
                             attention_mask=torch.from_numpy(windows.attention_mask).to(self.device))
        return (out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy())

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """All passages (and their overlapping windows) go through the model as one batch."""
        if not passages:
            return []
        windows = self.windower.batch(question, passages)
        starts, ends = self.logits(windows)
        return decode(windows, starts, ends, passages, retrieval_scores,
                      max_answer_tokens=self.max_answer_tokens, top_n=self.top_n,
                      retrieval_weight=self.retrieval_weight)
