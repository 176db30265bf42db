"""A trained reader's folder: reader.json (its weights: `qa.reader.adapter`), and the tokenization it
reads with."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from qa.errors import ModelError

READER_DIR = Path(str(resources.files("qa").joinpath("data/reader")))
CONFIG = "reader.json"  # runtime settings (windows, threshold, tokenization), training record

# XLM-R's SentencePiece pieces often glue a particle to a word ("的大", "的形式", "90%"), so a
# span that must start or end inside a piece cannot be read out exactly. "chars" splits every
# Han character, punctuation mark and symbol into its own piece (26% more tokens on CMRC).
TOKENIZATIONS = ("sentencepiece", "chars")
_SPLIT_CHARS = r"[\p{Han}\p{P}]|[\p{S}&&[^\x{2581}]]"


def split_chars(tokenizer: Any) -> None:
    """Make a `tokenizers.Tokenizer` cut Han characters, punctuation and symbols into pieces of
    their own (after its own pre-tokenizer)."""
    from tokenizers import Regex, pre_tokenizers

    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        tokenizer.pre_tokenizer,
        pre_tokenizers.Split(Regex(_SPLIT_CHARS), behavior="isolated"),
    ])


@dataclass(frozen=True)
class ReaderConfig:
    """How a trained reader reads: reader.json's "runtime" block. The defaults are a new
    reader's; training (qa.train.config.TrainConfig) and `qa train-reader` take theirs from
    here, and a reader.json that lacks a field reads it from here too."""

    max_length: int = 256  # tokens a window
    stride: int = 96  # overlap of windows
    max_answer_tokens: int = 100  # characters, with chars tokenization
    tokenization: str = "chars"  # see TOKENIZATIONS
    retrieval_weight: float = 8.0  # added to a span's logit per unit of retrieval score
    abstain_threshold: float = 0.1
    calibration: dict | None = None  # Platt scaling and the absent weight (qa.train.calibrate)

    @classmethod
    def from_json(cls, runtime: dict[str, Any]) -> ReaderConfig:
        config = cls(**{f.name: runtime[f.name] for f in fields(cls) if f.name in runtime})
        if config.tokenization not in TOKENIZATIONS:
            raise ModelError(f"unknown reader tokenization {config.tokenization!r}")
        return config


def read_config(folder: Path) -> dict[str, Any]:
    """A reader folder's reader.json."""
    try:
        return json.loads((folder / CONFIG).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"no usable trained reader in {folder} ({exc}); reinstall archive-qa, "
                         "or train one: python -m qa train-reader") from exc
