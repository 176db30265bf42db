"""Span readers in the Hugging Face format: windows in, start/end logits, spans out.

`HFReader` runs any extractive-QA model (a name in the local cache, or a folder), offline. The
work is split so that another runtime can stand in for PyTorch: `encode` cuts each passage
into overlapping windows of the question and the passage (with character offsets), a runtime
turns them into start/end logits, and `decode` (NumPy only) turns logits into scored spans.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.errors import INSTALL_HINT, ModelError
from qa.reader.decode import decode
from qa.reader.question import analyse
from qa.reader.shape import shaped
from qa.reader.windows import Windower, Windows
from qa.types import Span


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
        spans = decode(windows, starts, ends, passages, retrieval_scores,
                       max_answer_tokens=self.max_answer_tokens, top_n=self.top_n,
                       retrieval_weight=self.retrieval_weight)
        return shaped(question, analyse(question), passages, spans)
