"""Everything a training run is told, recorded in the reader it ships (`reader.json`)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from qa.reader.bundle import ReaderConfig

READER = ReaderConfig()  # a new reader's runtime settings


def hardware() -> str:
    """This machine's CPU and core count, for records of runs and benchmarks."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} CPU cores"


@dataclass
class TrainConfig:
    data: list[Path]
    out: Path
    eval_file: Path | None = None
    cache_dir: Path | None = None
    steps: int | None = None  # overrides epochs
    epochs: float = 1.0
    max_length: int = READER.max_length
    stride: int = READER.stride
    batch_size: int = 16
    lr: float = 5e-4
    warmup: float = 0.06  # share of the steps
    weight_decay: float = 0.01
    rank: int = 16
    alpha: int = 32
    full_layers: int = 0  # top layers trained in full (qa.train.layers), LoRA below them
    full_lr: float = 5e-5  # their peak learning rate
    dropout: float = 0.0  # LoRA dropout: random masks take the slow attention path (2x a step)
    tokenization: str = READER.tokenization  # see qa.reader.bundle.TOKENIZATIONS
    init_from: Path | None = None  # a reader folder (adapter + head) to start from
    negatives: float = 0.5  # "no answer" windows kept per answer-bearing window
    hard_negatives: int = 0  # per question: other passages of its set BM25 ranks high
    # (as many of their windows are kept as `negatives` keeps of the others)
    # "window": each window learns its span or [CLS] on its own; "question": also the answer
    # against every span of the question's windows (its passage's and its hard negatives';
    # `negatives` does not apply: `question_windows` bounds them)
    objective: str = "window"
    question_windows: int = 4  # windows of one question trained together ("question")
    seed: int = 13
    limit: int | None = None  # questions per data file
    eval_limit: int | None = 200  # validation questions during training (None: all)
    checkpoint_every: int = 200
    bf16: bool = True  # bfloat16 autocast (CPU with AVX512-BF16/AMX, or GPU): `native_bf16`
    device: str = "cpu"  # cpu, cuda
    threads: int | None = None  # None: 2 while the other core is idle, else 1 (see Threads)
    resume: bool = False
    # Runtime settings, written to reader.json as they are (see qa.reader.e5.E5Reader)
    max_answer_tokens: int = READER.max_answer_tokens
    retrieval_weight: float = READER.retrieval_weight
    abstain_threshold: float = READER.abstain_threshold
    hardware: str = field(default_factory=hardware)


def native_bf16(device: str) -> bool:
    """Whether bf16 autocast pays on `device`: a GPU, or a CPU with AVX512-BF16 or AMX. Elsewhere
    PyTorch emulates bfloat16, and a training step takes dozens of times as long (AVX2 EPYC)."""
    from qa.reader.torch_reader import bf16_supported

    return device != "cpu" or bf16_supported()
