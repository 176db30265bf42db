"""The encoder's top layers trained in full (`qa train-reader --full-layers N`), LoRA below.

LoRA (rank 32 on every projection) gives the reader 2.65M weights to learn with; the top four
layers in full are 7.1M (7 MB in int8: what ships may be 20 MiB). A layer trained in full is
kept, saved and shipped as its change from the base weights (`qa.reader.adapter.LAYERS`), as
the adapter is, so every runtime adds both to the same base (`weight_changes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.errors import ModelError
from qa.reader.adapter import read_layers, weight_changes


class FullLayers:
    """The parameters of the top `n` layers of `bert` (a BertModel), made trainable, and the
    base weights their change is measured from."""

    def __init__(self, bert: Any, n: int) -> None:
        total = bert.config.num_hidden_layers
        self.first = total - n
        self.params = {f"encoder.layer.{i}.{name}": p for i in range(self.first, total)
                       for name, p in bert.encoder.layer[i].named_parameters()}
        self.base = {k: p.detach().float().clone() for k, p in self.params.items()}
        for p in self.params.values():
            p.requires_grad_(True)

    def changes(self) -> dict[str, Any]:
        """Parameter name -> its change from the base (float32 tensors)."""
        return {k: (p.detach().float() - self.base[k]).contiguous() for k, p in self.params.items()}

    def owns(self, lora_key: str) -> bool:
        """Whether a peft adapter key is of a layer trained here in full."""
        layer = lora_key.split("encoder.layer.", 1)[1].split(".", 1)[0] if "encoder.layer." in \
            lora_key else ""
        return layer.isdigit() and int(layer) >= self.first

    def load(self, folder: Path) -> None:
        """Set these layers to the base plus what the reader or checkpoint in `folder` changes
        in them: its fully trained layers' changes, and its LoRA updates of them (a reader
        trained with LoRA alone starts these layers where it left them)."""
        import torch

        with torch.no_grad():
            for name, change in weight_changes(folder).items():
                if name in self.params:
                    self.params[name].copy_(self.base[name] + torch.from_numpy(change))


def refuse_full_layers(folder: Path) -> None:
    """A run with LoRA alone cannot continue a reader whose top layers were trained in full."""
    layers = {name.split(".")[2] for name in read_layers(folder)}
    if layers:
        raise ModelError(f"the reader in {folder} has {len(layers)} layers trained in full: "
                         f"continue it with --full-layers {len(layers)}")
