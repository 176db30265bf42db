"""Question/passage pairs cut into model windows, with character offsets: for training and reading.

A passage longer than a window is cut into windows that overlap by `stride` tokens; each window
holds the whole question, so the model always sees what is asked. Offsets map every passage
token back to its characters, which is what a citation needs. Works on a `tokenizers.Tokenizer`
(the Rust tokenizer inside every fast Hugging Face tokenizer), so reading needs no PyTorch and
no transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


class Window(NamedTuple):
    owner: int  # index of the pair it was cut from
    ids: list[int]
    offsets: list[tuple[int, int]]  # per token, (start, end) in its own text
    context: tuple[int, int]  # first and last token of the passage; (-1, -1) when none


class Windows(NamedTuple):
    """A batch of windows as model input, padded to the longest, with what decoding needs."""

    input_ids: np.ndarray  # (windows, tokens) int64
    attention_mask: np.ndarray  # (windows, tokens) int64
    owners: list[int]  # window -> passage index
    offsets: list[list[tuple[int, int]]]
    context: list[tuple[int, int]]


class Windower:
    """Cuts (question, passage) pairs into windows of `max_length` tokens."""

    def __init__(self, tokenizer: Any, max_length: int, stride: int, pad_id: int | None = None):
        # Truncation is tokenizer state: set here, and again before a call if someone else (a
        # transformers tokenizer wrapping the same one) changed it. Copying the tokenizer
        # instead would cost seconds: building its 250k-piece vocabulary is slow.
        self.tokenizer = tokenizer
        self.max_length, self.stride = max_length, stride
        self._configure()
        if pad_id is None:
            pad_id = self.tokenizer.token_to_id("<pad>")
        self.pad_id = 0 if pad_id is None else pad_id

    def _configure(self) -> None:
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length, stride=self.stride,
                                         strategy="only_second")
        self._truncation = self.tokenizer.truncation

    def split(self, pairs: Sequence[tuple[str, str]]) -> list[Window]:
        """Every window of every pair, pair by pair, in passage order."""
        if self.tokenizer.truncation != self._truncation or self.tokenizer.padding:
            self._configure()
        out = []
        pairs = [(self._fit(q), p) for q, p in pairs]
        for owner, enc in enumerate(self.tokenizer.encode_batch(pairs)):
            for piece in [enc, *enc.overflowing]:
                context = [i for i, sid in enumerate(piece.sequence_ids) if sid == 1]
                out.append(Window(owner, piece.ids, piece.offsets,
                                  (context[0], context[-1]) if context else (-1, -1)))
        return out

    def _fit(self, question: str) -> str:
        """The question, cut so that it leaves at least two thirds of a window to the passage."""
        limit = self.max_length // 3
        # at most two tokens a character (a lone "▁" before each), so this needs no truncation
        question = question[: self.max_length // 2]
        enc = self.tokenizer.encode(question, add_special_tokens=False)
        if len(enc.ids) <= limit:
            return question
        return question[: enc.offsets[limit - 1][1]]

    def batch(self, question: str, passages: Sequence[str]) -> Windows:
        """All windows of `question` over `passages`, padded to the longest window."""
        windows = self.split([(question, p) for p in passages])
        width = max((len(w.ids) for w in windows), default=0)
        ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, w in enumerate(windows):
            ids[row, : len(w.ids)] = w.ids
            mask[row, : len(w.ids)] = 1
        return Windows(ids, mask, [w.owner for w in windows], [w.offsets for w in windows],
                       [w.context for w in windows])
