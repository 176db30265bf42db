"""A trained reader's folder: reader.json (its weights: `qa.reader.adapter`), and the tokenization it
reads with."""

from __future__ import annotations

import json
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


def read_config(folder: Path) -> dict[str, Any]:
    """A reader folder's reader.json."""
    try:
        return json.loads((folder / CONFIG).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"no usable trained reader in {folder} ({exc}); reinstall archive-qa, "
                         "or train one: python -m qa train-reader") from exc
