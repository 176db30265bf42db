"""The training loop: LoRA on the bundled encoder (and its top layers in full, if asked) plus a
start/end head, on a CPU or a GPU.

Every `checkpoint_every` steps, at each epoch's end and at the last step the reader is scored
(EM/F1, CMRC style) on validation questions with their gold passage; the best one is written to
`out/best/` (what ships in `qa/data/reader/`), and `out/checkpoint/` holds everything needed to
resume (see `qa.train.checkpoint`).

Speed on a CPU (measured on this project's 2-core Xeon with AMX, benchmarks/bench_train.py):
no dropout anywhere (its masks cost a third of a step and force the slow attention path),
bf16 autocast with the frozen matrices stored in bf16, eager attention, and batches of windows
of similar length.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from qa.errors import INSTALL_HINT, ModelError
from qa.eval import metrics
from qa.reader.bundle import ReaderConfig
from qa.reader.e5 import E5Reader
from qa.reader.torch_reader import load_encoder, span_model
from qa.train.checkpoint import (
    load_checkpoint,
    load_weights,
    parent_record,
    save_checkpoint,
    save_reader,
)
from qa.train.config import TrainConfig
from qa.train.data import Validation, load_training_data, load_validation
from qa.train.features import (
    balance,
    batches,
    featurize,
    group_batches,
    join,
    question_groups,
    sample,
)
from qa.train.layers import FullLayers

LORA_TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense",
                "output.dense"]


def build_model(cfg: TrainConfig, cache_dir: Path):
    """(tokenizer, span model) with fresh LoRA adapters (and the top `cfg.full_layers` layers
    trainable in full, instead of LoRA), or the weights of `cfg.init_from`."""
    try:
        import torch
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ModelError(f"training needs torch and peft ({exc.name}): {INSTALL_HINT}") from exc
    tokenizer, encoder = load_encoder(cache_dir, cfg.tokenization, attention="eager")
    total = encoder.config.num_hidden_layers
    if not 0 <= cfg.full_layers < total:
        raise ModelError(f"--full-layers takes 0 to {total - 1}, not {cfg.full_layers}")
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                      target_modules=LORA_TARGETS,
                      layers_to_transform=list(range(total - cfg.full_layers)) if cfg.full_layers
                      else None)
    encoder = get_peft_model(encoder, lora)  # freezes everything but the adapters
    torch.manual_seed(cfg.seed)
    model = span_model(encoder, encoder.config.hidden_size)
    if cfg.full_layers:
        model.full_layers = FullLayers(encoder.get_base_model(), cfg.full_layers)
    torch.nn.init.normal_(model.qa_outputs.weight, std=0.02)
    torch.nn.init.zeros_(model.qa_outputs.bias)
    if cfg.init_from:
        load_weights(model, Path(cfg.init_from))
    if cfg.bf16:
        # Frozen matrices stored in bf16: autocast then has nothing to cast at every step
        # (a tenth of a step); the adapters and the head train in float32.
        for param in model.parameters():
            if not param.requires_grad and param.dim() == 2:
                param.data = param.data.to(torch.bfloat16)
    return tokenizer, model.to(cfg.device)


class Threads:
    """torch threads sized to what else runs: both cores while the other one is idle, one when
    another process keeps it busy (then two threads wait on each other and run 4-6x slower)."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed
        self.last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float]:
        """(jiffies all CPUs spent busy, jiffies this process spent) since boot."""
        try:
            cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            busy = sum(map(int, cpu)) - int(cpu[3]) - int(cpu[4])
            own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
            return float(busy), float(int(own[11]) + int(own[12]))
        except (OSError, ValueError, IndexError):
            return 0.0, 0.0

    def adjust(self, seconds: float) -> int:
        """Set and return the thread count for the next stretch of `seconds`-long work."""
        import torch

        if self.fixed:
            torch.set_num_threads(self.fixed)
            return self.fixed
        busy, own = self._sample()
        others = (busy - self.last[0] - (own - self.last[1])) / max(seconds * 100, 1e-9)
        self.last = (busy, own)
        n = 1 if others > 0.35 and (os.cpu_count() or 1) <= 2 else max(min(os.cpu_count() or 1, 2), 1)
        torch.set_num_threads(n)
        return n


def validate(reader: Any, items: Sequence[Validation],
             rivals: Sequence[Sequence[str]] | None = None) -> dict[str, float]:
    """EM/F1 of the best span with the gold passage (and each item's `rivals`, other passages
    read with it), no abstention, and the mean top score."""
    em = f1 = conf = 0.0
    for k, item in enumerate(items):
        spans = reader.extract(item.question, [item.context, *(rivals[k] if rivals else ())])
        pred = spans[0].text if spans else ""
        em += metrics.exact_match(pred, item.answers)
        f1 += metrics.f1(pred, item.answers)
        conf += spans[0].score if spans else 0.0
    n = max(len(items), 1)
    return {"em": em / n, "f1": f1 / n, "mean_score": conf / n, "n": len(items)}


def runtime_settings(cfg: TrainConfig) -> dict[str, Any]:
    """reader.json's "runtime" block: what the reader needs to run as it was trained."""
    return {f.name: getattr(cfg, f.name) for f in fields(ReaderConfig) if f.name != "calibration"}


class Trainer:
    """One run: data, model and optimizer set up once; `run` trains to the last step."""

    def __init__(self, cfg: TrainConfig, cache_dir: Path, log: Callable[[str], None] = print):
        import torch

        self.cfg, self.log, self.torch = cfg, log, torch
        self.threads = Threads(cfg.threads if cfg.device == "cpu" else None)
        self.threads.adjust(1.0)
        self.out = Path(cfg.out)
        self.ckpt = self.out / "checkpoint"
        if not cfg.resume and self.ckpt.exists():
            raise ModelError(f"{self.ckpt} exists: pass --resume to continue it, or choose a new "
                             "--out")
        if cfg.objective not in ("window", "question") or cfg.question_windows < 1:
            raise ModelError(f"--objective takes window or question (not {cfg.objective!r}) and "
                             f"--question-windows at least 1 (not {cfg.question_windows})")
        self.cache_dir = cache_dir
        self.tokenizer, self.model = build_model(cfg, cache_dir)
        self.examples, hard = load_training_data(cfg.data, cfg.limit, log, cfg.hard_negatives)
        tokenizer = self.tokenizer.backend_tokenizer
        windows = featurize(tokenizer, self.examples, cfg.max_length, cfg.stride)
        hard_windows = featurize(tokenizer, [h.example for h in hard], cfg.max_length,
                                 cfg.stride, owners=[h.owner for h in hard])
        self.groups: list[list[int]] | None = None
        if cfg.objective == "question":
            self.features = join(windows, hard_windows)
            self.groups = question_groups(self.features, cfg.question_windows, cfg.seed)
            used = sum(map(len, self.groups))
        else:
            self.features = balance(windows, cfg.negatives, cfg.seed)
            # as many hard no-answer windows again as the easy ones kept
            n_pos = sum(s > 0 for s in self.features.starts)
            self.features = join(self.features, sample(hard_windows,
                                                       math.ceil(cfg.negatives * n_pos), cfg.seed))
            used = len(self.features.starts)
        n_pos = sum(s > 0 for s in self.features.starts)
        log(f"{len(self.examples)} questions -> {len(windows.starts)} windows; training on "
            f"{used} ({n_pos} with the answer)"
            + (f" in {len(self.groups)} questions" if self.groups else ""))
        self.lengths = [len(x) for x in self.features.input_ids]
        self.per_epoch = max(len(self.plan(0)), 1)
        self.total = cfg.steps or max(math.ceil(cfg.epochs * self.per_epoch), 1)
        self.validation = load_validation(cfg.eval_file, cfg.eval_limit) if cfg.eval_file else []
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        log(f"trainable parameters: {sum(p.numel() for p in self.params):,}; {self.total} steps "
            f"({self.per_epoch} a epoch) of batch {cfg.batch_size}")
        full = getattr(self.model, "full_layers", None)
        in_full = {id(p) for p in full.params.values()} if full else set()
        # the fully trained layers learn at their own rate (`lr_scale` of the schedule's)
        groups = [{"params": [p for p in self.params if id(p) not in in_full], "lr_scale": 1.0}]
        if full:
            groups.append({"params": list(full.params.values()), "lr_scale": cfg.full_lr / cfg.lr})
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.state: dict[str, Any] = {"step": 0, "seconds": 0.0, "best": None, "history": []}
        if cfg.resume and self.ckpt.exists():
            self.state = load_checkpoint(self.ckpt, self.model, self.optimizer)
            log(f"resumed from {self.ckpt} at step {self.state['step']}")
        if "parent" not in self.state:
            # read once, when the run starts: by a resume, init_from may hold this run's reader
            self.state["parent"] = parent_record(Path(cfg.init_from)) if cfg.init_from else None
        self.reader: E5Reader | None = None

    def plan(self, epoch: int) -> list[list[list[int]]]:
        """The epoch's batches, each a list of questions' windows (a window alone under the
        "window" objective)."""
        cfg = self.cfg
        if self.groups is not None:
            return group_batches(self.groups, self.lengths, cfg.batch_size, cfg.seed, epoch)
        return [[[i] for i in b] for b in batches(self.lengths, cfg.batch_size, cfg.seed, epoch)]

    def lr(self, step: int) -> float:
        """Linear warm-up, then linear decay to 0 at the last step."""
        warmup = max(int(self.cfg.warmup * self.total), 1)
        return self.cfg.lr * min((step + 1) / warmup,
                                 max(0.0, (self.total - step) / max(self.total - warmup, 1)))

    def loss(self, batch: list[list[int]]):
        """Cross-entropy of each window's start and end (the answer's tokens or [CLS]); under the
        "question" objective plus, for each question with the answer in a window, that of the
        answer against every start (end) in all its windows but their [CLS]."""
        torch, f = self.torch, self.features
        rows = [i for group in batch for i in group]
        pad = self.tokenizer.pad_token_id
        # widths rounded up to a multiple of 32: a few shapes instead of hundreds, so the
        # kernels' per-shape caches stay small (memory grew by GBs over a run otherwise)
        longest = max(len(f.input_ids[i]) for i in rows)
        width = min(-(-longest // 32) * 32, max(self.cfg.max_length, longest))
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        for row, i in enumerate(rows):
            ids[row, : len(f.input_ids[i])] = torch.tensor(f.input_ids[i])
        ids = ids.to(self.cfg.device)
        mask = (ids != pad).long()
        out = self.model(input_ids=ids, attention_mask=mask)
        starts = torch.tensor([f.starts[i] for i in rows], device=ids.device)
        ends = torch.tensor([f.ends[i] for i in rows], device=ids.device)
        ce = torch.nn.functional.cross_entropy
        logits = [out.start_logits.masked_fill(mask == 0, -1e4),
                  out.end_logits.masked_fill(mask == 0, -1e4)]
        loss = (ce(logits[0], starts) + ce(logits[1], ends)) / 2
        if self.groups is None:
            return loss
        shared, first = [], 0
        for group in batch:
            mine = range(first, first + len(group))
            first += len(group)
            hits = [r for r in mine if f.starts[rows[r]] > 0]
            if not hits:
                continue
            for side, gold in zip(logits, (starts, ends), strict=True):
                every = torch.logsumexp(side[mine.start : mine.stop, 1:].reshape(-1), 0)
                shared.append(every - torch.logsumexp(side[hits, gold[hits]], 0))
        return loss + torch.stack(shared).mean() if shared else loss

    def step(self, batch: list[list[int]]) -> float:
        torch = self.torch
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr(self.state["step"]) * group.get("lr_scale", 1.0)
        with torch.autocast(self.cfg.device, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            loss = self.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state["step"] += 1
        return loss.item()

    def evaluate(self) -> None:
        """Validate, record, and write `best/` when this step is the best so far."""
        cfg, state, step = self.cfg, self.state, self.state["step"]
        if self.reader is None:
            self.reader = E5Reader(cache_dir=self.cache_dir, device=cfg.device, model=self.model,
                                   tokenizer=self.tokenizer, config=runtime_settings(cfg),
                                   precision="bf16" if cfg.bf16 else "fp32")
        self.reader.forget()  # logits kept from the last validation are of older weights
        self.model.eval()
        scores = validate(self.reader, self.validation) if self.validation else None
        self.model.train()
        epoch = step / self.per_epoch
        record = {"step": step, "epoch": round(epoch, 3), "seconds": round(state["seconds"], 1),
                  "loss": state.get("loss"), "validation": scores}
        state["history"].append(record)
        if scores:
            self.log(f"step {step} epoch {epoch:.2f}: validation EM {scores['em']:.3f} "
                     f"F1 {scores['f1']:.3f} (n={scores['n']}, mean top score "
                     f"{scores['mean_score']:.2f})")
        best = state["best"]
        if best is None or not scores or (scores["em"] + scores["f1"] >
                                          best["validation"]["em"] + best["validation"]["f1"]):
            state["best"] = record
            save_reader(self.out / "best", self.model, cfg, runtime_settings(cfg), {
                **record, "total_steps": self.total, "examples": len(self.examples),
                "windows": len(self.features.starts)}, state["history"], state["parent"])
            self.log(f"best reader so far -> {self.out / 'best'}")

    def run(self) -> dict[str, Any]:
        """Train to the last step, validating and checkpointing as it goes; the final state."""
        cfg, state = self.cfg, self.state
        self.model.train()
        order: tuple[int, list[list[list[int]]]] = (-1, [])
        losses: list[float] = []
        tick = mark = time.perf_counter()
        n_threads = self.torch.get_num_threads()
        while state["step"] < self.total:
            epoch, i = divmod(state["step"], self.per_epoch)
            if order[0] != epoch:
                order = (epoch, self.plan(epoch))
            losses.append(self.step(order[1][i]))
            step = state["step"]
            now = time.perf_counter()
            state["seconds"] += now - tick
            tick = now
            if step % 10 == 0 or step == self.total:
                state["loss"] = round(sum(losses) / len(losses), 4)
                self.log(f"step {step}/{self.total} epoch {step / self.per_epoch:.2f} loss "
                         f"{state['loss']:.4f} lr {self.lr(step - 1):.2e} "
                         f"{state['seconds'] / 60:.1f} min ({n_threads} threads)")
                losses.clear()
                n_threads = self.threads.adjust(now - mark)
                mark = now
            if step % cfg.checkpoint_every == 0 or step % self.per_epoch == 0 or step == self.total:
                self.evaluate()
                save_checkpoint(self.ckpt, self.model, self.optimizer, state)
                tick = time.perf_counter()  # validation time is not training time
        if not state["history"]:  # resumed a finished run
            self.evaluate()
        return state


def train(cfg: TrainConfig, cache_dir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a reader as `cfg` says; returns the final state record (history, best step)."""
    return Trainer(cfg, cache_dir, log).run()
