"""Training windows: question/passage pairs cut to the model's length, with answer positions.

Passages longer than a window are cut into overlapping windows (`stride` tokens of overlap);
a window that does not hold the whole answer is a "no answer" window (label 0, the [CLS]
position), and such windows are subsampled to `negatives` per answer-bearing window. Each
window keeps the index of the question it was cut for (`owners`), so that the windows of one
question can be trained together (`question_groups`, `group_batches`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from qa.datasets import Example
from qa.reader.windows import Windower


class Features(NamedTuple):
    input_ids: list[list[int]]
    starts: list[int]  # token index; 0 ([CLS]) = no answer in this window
    ends: list[int]
    owners: list[int]  # the question (its example's index) the window was cut for


def featurize(tokenizer: Any, examples: Sequence[Example], max_length: int,
              stride: int, owners: Sequence[int] | None = None) -> Features:
    """Windows of every example with the answer's token positions (0, 0 when not inside).

    `tokenizer` is a `tokenizers.Tokenizer`; the windows are cut as the reader cuts them
    (`qa.reader.windows.Windower`), so training and reading see the same tokens. `owners`:
    each example's question (default: the example's own index).
    """
    windower = Windower(tokenizer, max_length, stride)
    ids, starts, ends, owner_of = [], [], [], []
    for chunk in range(0, len(examples), 1000):
        part = examples[chunk : chunk + 1000]
        for w in windower.split([(e.question, e.context) for e in part]):
            e = part[w.owner]
            lo, hi = w.context
            if lo < 0:
                continue
            s = t = 0
            end = e.start + len(e.text)
            if e.start >= 0 and w.offsets[lo][0] <= e.start and end <= w.offsets[hi][1]:
                s = next(i for i in range(lo, hi + 1) if w.offsets[i][1] > e.start)
                t = next(i for i in range(hi, lo - 1, -1) if w.offsets[i][0] < end)
            ids.append(w.ids)
            starts.append(s)
            ends.append(t)
            owner_of.append(owners[chunk + w.owner] if owners is not None else chunk + w.owner)
    return Features(ids, starts, ends, owner_of)


def join(*parts: Features) -> Features:
    """The windows of all `parts`, in order."""
    return Features(*([x for part in columns for x in part] for columns in zip(*parts, strict=True)))


def balance(features: Features, negatives: float, seed: int) -> Features:
    """All answer-bearing windows plus `negatives` times as many no-answer windows."""
    pos = [i for i, s in enumerate(features.starts) if s > 0]
    neg = [i for i, s in enumerate(features.starts) if s == 0]
    rng = np.random.default_rng(seed)
    keep = min(len(neg), math.ceil(negatives * len(pos)))
    chosen = sorted(pos + rng.choice(neg, keep, replace=False).tolist())
    return Features(*([column[i] for i in chosen] for column in features))


def sample(features: Features, n: int, seed: int) -> Features:
    """At most `n` of the windows, drawn at random (in their order)."""
    if n >= len(features.starts):
        return features
    chosen = sorted(np.random.default_rng(seed).choice(len(features.starts), n,
                                                       replace=False).tolist())
    return Features(*([column[i] for i in chosen] for column in features))


def batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """An epoch's batches: shuffled, then windows of similar length grouped (within pools of 64
    batches) so that little padding is computed, then the batches shuffled again."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = 64 * batch_size
    out = []
    for i in range(0, len(order), pool):
        part = sorted(order[i : i + pool].tolist(), key=lambda j: lengths[j])
        out += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def question_groups(features: Features, per_question: int, seed: int) -> list[list[int]]:
    """The windows of each question (first-seen order), at most `per_question` of them: every
    window holding the answer, then no-answer windows drawn at random."""
    mine: dict[int, list[int]] = {}
    for i, owner in enumerate(features.owners):
        mine.setdefault(owner, []).append(i)
    rng = np.random.default_rng(seed)
    out = []
    for windows in mine.values():
        pos = [i for i in windows if features.starts[i] > 0][:per_question]
        neg = [i for i in windows if features.starts[i] == 0]
        keep = min(len(neg), per_question - len(pos))
        out.append(sorted(pos + rng.choice(neg, keep, replace=False).tolist()) if keep else pos)
    return out


def group_batches(groups: Sequence[Sequence[int]], lengths: Sequence[int], batch_size: int,
                  seed: int, epoch: int) -> list[list[list[int]]]:
    """An epoch's batches of whole questions: as many a batch as make `batch_size` windows on
    average (a fixed count, so every epoch has as many steps), grouped by length as `batches`."""
    mean = sum(map(len, groups)) / max(len(groups), 1)
    per_batch = max(round(batch_size / max(mean, 1.0)), 1)
    longest = [max(lengths[i] for i in g) for g in groups]
    order = batches(longest, per_batch, seed, epoch)
    return [[list(groups[g]) for g in batch] for batch in order]

