"""SQuAD-format question sets, read once for training, validation, `qa eval` and benchmarks.

`read_squad` parses the file; the rest shapes it for training: answers whose `answer_start` is
missing, -1 or wrong are found in the context by their text (the occurrence nearest the given
start), questions without answers (SQuAD 2.0 style) teach "no answer", and a set written in
Traditional characters is trained on as is and again folded to Simplified (same offsets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from qa.datasets import Example, read_squad
from qa.errors import DatasetError
from qa.index.lexical import simplified
from qa.train.negatives import HardNegative, hard_negatives

# --- training examples ----------------------------------------------------------------------

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
    pairs = [(q, p.context) for p in read_squad(path) for q in p.questions]
    out, skipped = [], 0
    for q, context in pairs[:limit]:
        if q.impossible or not q.answers:
            out.append(Example(q.text, context, -1, ""))
            continue
        text, given = q.answers[0]
        start = locate(context, text, given)
        if start < 0:
            skipped += 1
        else:
            out.append(Example(q.text, context, start, text))
    return out, skipped


def is_traditional(examples: Sequence[Example], share: float = 0.01) -> bool:
    """Whether folding to Simplified changes at least `share` of the contexts' characters."""
    sample = "".join(dict.fromkeys(e.context for e in examples[:500]))
    changed = sum(a != b for a, b in zip(sample, simplified(sample), strict=True))
    return bool(sample) and changed >= share * len(sample)


def fold_examples(examples: Sequence[Example]) -> list[Example]:
    """The examples folded to Simplified characters (offsets unchanged)."""
    out = []
    for e in examples:
        context = simplified(e.context)
        text = context[e.start : e.start + len(e.text)] if e.start >= 0 else ""
        out.append(Example(simplified(e.question), context, e.start, text))
    return out


def load_training_data(paths: Sequence[Path], limit: int | None,
                       log: Callable[[str], None], hard: int = 0
                       ) -> tuple[list[Example], list[HardNegative]]:
    """Every file's examples (Traditional ones also folded), with a line of counts per file,
    and `hard` hard negatives per answerable question (qa.train.negatives), mined per file
    (their `owner` an index into the examples returned)."""
    examples, negatives = [], []
    for path in paths:
        part, skipped = load_examples(path, limit)
        unanswerable = sum(e.start < 0 for e in part)
        line = (f"{Path(path).name}: {len(part)} questions ({unanswerable} unanswerable, "
                f"{skipped} skipped: answer not in context)")
        if is_traditional(part):
            part = part + fold_examples(part)
            line += ", Traditional: also folded to Simplified"
        found = hard_negatives(part, hard)
        if found:
            line += f", {len(found)} hard negatives"
        log(line)
        negatives += [n._replace(owner=n.owner + len(examples)) for n in found]
        examples += part
    if not examples:
        raise DatasetError("no training questions")
    return examples, negatives


# --- validation -----------------------------------------------------------------------------

class Validation(NamedTuple):
    question: str
    context: str
    answers: list[str]


def load_validation(path: Path, limit: int | None) -> list[Validation]:
    """Answerable questions with their gold passage, `limit` of them spread over the file."""
    items = [Validation(q.text, p.context, [text for text, _ in q.answers])
             for p in read_squad(path) for q in p.questions if q.answers]
    if limit and limit < len(items):
        items = items[:: len(items) // limit][:limit]
    return items
