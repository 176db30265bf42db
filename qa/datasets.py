"""Question sets on disk: SQuAD-format JSON (training data, CMRC, DRCD…) and JSONL question
sets (the seed and user sets), read for evaluation (`qa eval`) and training alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from qa.errors import DatasetError


class Question(NamedTuple):
    id: str
    text: str
    answers: list[tuple[str, int]]  # (text, answer_start); answer_start -1 when unknown
    impossible: bool  # SQuAD 2.0: the passage does not answer it


class Passage(NamedTuple):
    title: str
    context: str
    questions: list[Question]


def read_squad(path: Path) -> list[Passage]:
    """The passages of a SQuAD-format JSON file, in file order; DatasetError if it is not one."""
    try:
        data = json.loads(Path(path).read_text("utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise DatasetError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetError(f"{path}: not a SQuAD-format file (no top-level \"data\" list)")
    passages = []
    try:
        for article in data["data"]:
            title = str(article.get("title") or "")
            for para in article["paragraphs"]:
                questions = [
                    Question(str(qa.get("id", "")), qa["question"],
                             [(a["text"], int(a.get("answer_start", -1)))
                              for a in qa.get("answers") or [] if str(a.get("text", "")).strip()],
                             bool(qa.get("is_impossible")))
                    for qa in para["qas"]
                ]
                passages.append(Passage(title, para["context"], questions))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DatasetError(f"{path}: broken SQuAD structure ({exc!r})") from exc
    return passages


class Item(NamedTuple):
    """One question: acceptable answers (empty = unanswerable) and what marks the right passage."""

    id: str
    question: str
    answers: list[str]
    type: str
    gold: str  # SQuAD: article ordinal as text; seed: the evidence text
    split: str | None = None  # a question set's half ("calibration", "test"), when it has them
    asked_on: str | None = None  # the day it is taken to be asked (what 今年 means), ISO


def load_dataset(path: Path) -> tuple[str, list[Item], list[Context]]:
    """("squad", items, contexts) or ("seed", items, []) from a SQuAD JSON or seed JSONL file."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return ("squad", *_squad(path))
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(Item(str(row["id"]), row["question"], list(row["answers"]),
                              row.get("type", "factoid"), row.get("evidence", ""),
                              row.get("split"), row.get("asked_on")))
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"{path}:{n}: not a SQuAD-format JSON file nor a JSONL file of "
                f'{{"id", "question", "answers", ...}} objects ({exc})'
            ) from exc
    if not items:
        raise DatasetError(f"{path} holds no questions")
    return "seed", items, []


class Context(NamedTuple):
    """A SQuAD passage as an archive article: its article's title is the headline."""

    title: str
    text: str


def _squad(path: Path) -> tuple[list[Item], list[Context]]:
    passages = read_squad(path)
    contexts = [Context(p.title, p.context) for p in passages]
    items = [Item(q.id, q.text, [t for t, _ in q.answers],
                  "factoid" if q.answers else "unanswerable", str(ordinal))
             for ordinal, p in enumerate(passages) for q in p.questions]
    if not items:
        raise DatasetError(f"{path} holds no questions")
    return items, contexts


class Example(NamedTuple):
    """One training question over one passage; `start` -1 when the passage does not answer it."""

    question: str
    context: str
    start: int  # character offset; -1 = unanswerable
    text: str
