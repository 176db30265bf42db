"""The trained reader on PyTorch: the exported encoder, its adapter and head, as a torch module.

Used for training (LoRA-wrapped, `load_encoder` + `span_model`) and as the `torch` runtime of
`E5Reader` (weight changes merged, `load_reader_model` + `TorchLogits`). Needs the `st` extra.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa.errors import INSTALL_HINT, ModelError
from qa.model.export import cached_export
from qa.reader.adapter import ADAPTER_FILES, HEAD, weight_changes
from qa.reader.bundle import TOKENIZATIONS, split_chars
from qa.reader.windows import Windows


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


def load_encoder(cache_dir: Path, tokenization: str = "sentencepiece", attention: str = "sdpa"):
    """(fast tokenizer, BertModel without pooler) of the exported multilingual-e5-small.

    `attention`: "sdpa" or "eager"; training on a CPU wants eager (its matmuls run in bf16 on
    the matrix units; the fused CPU attention's backward pass takes a third of a step).
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
        split_chars(tokenizer.backend_tokenizer)
    return tokenizer, encoder


def load_reader_model(folder: Path, cache_dir: Path, tokenization: str = "sentencepiece"):
    """(tokenizer, SpanModel) with the reader in `folder` merged into the weights (its LoRA
    updates and fully trained layers: `qa.reader.adapter.weight_changes`)."""
    import torch

    if not all((folder / f).is_file() for f in (HEAD, *ADAPTER_FILES)):
        raise ModelError(f"no trained reader in {folder} (train one: python -m qa train-reader)")
    tokenizer, encoder = load_encoder(cache_dir, tokenization)
    with torch.no_grad():
        for name, change in weight_changes(folder).items():
            try:
                encoder.get_parameter(name).add_(torch.from_numpy(change))
            except (AttributeError, RuntimeError) as exc:
                raise ModelError(f"the reader in {folder} does not fit this encoder ({name}: "
                                 f"{exc})") from exc
    model = span_model(encoder, encoder.config.hidden_size)
    load_head(model, folder / HEAD)
    return tokenizer, model


def load_head(model, path: Path) -> None:
    """Load the start/end head of a reader folder into `model` (a `span_model`)."""
    from safetensors.torch import load_file

    head = load_file(str(path))
    model.qa_outputs.load_state_dict({k.removeprefix("qa_outputs."): v for k, v in head.items()})


def bf16_supported() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX): then bf16 autocast
    reads 2.4x faster than float32 at the same accuracy; elsewhere it would be slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


class TorchLogits:
    """Start/end logits of a `span_model` for a batch of windows, on `device`."""

    name = "torch"

    def __init__(self, model: Any, device: str | None = None, precision: str | None = None):
        import torch

        if precision not in (None, "fp32", "bf16"):
            raise ModelError(f"the PyTorch reader reads in fp32 or bf16, not {precision!r}")
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        if precision is None:
            precision = "bf16" if self.device != "cpu" or bf16_supported() else "fp32"
        self.precision = precision
        self.bf16 = precision == "bf16"

    def __call__(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        ids = torch.from_numpy(windows.input_ids).to(self.device)
        mask = torch.from_numpy(windows.attention_mask).to(self.device)
        with torch.inference_mode(), torch.autocast(self.device.split(":")[0],
                                                     dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(input_ids=ids, attention_mask=mask)
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
