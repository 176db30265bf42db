"""`qa eval`: answer quality (EM/F1), retrieval (recall@k, MRR), abstention and latency."""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from qa.answer.pipeline import Archive
from qa.datasets import Context, Item, load_dataset
from qa.errors import DatasetError, QueryError
from qa.eval import metrics
from qa.index.build import build_index
from qa.ingest.articles import article_id, source_name
from qa.model.embed import Embedder
from qa.settings import Settings
from qa.types import Answer, Hit

RECALL_AT = (1, 5, 10)


class Result(NamedTuple):
    item: Item
    answer: Answer
    hits: list[Hit]
    gold_rank: int | None  # 1-based rank of the first retrieved passage that is the gold one
    seconds: float


def _squash(text: str) -> str:
    return re.sub(r"[\s\"'“”‘’「」『』]", "", text)


def evaluate(
    items: Iterable[Item],
    archive: Archive,
    is_gold: Callable[[Item, Hit], bool],
    k: int,
) -> list[Result]:
    """Ask every item as users do (`Archive.ask`), reading the top k passages; the search goes
    10 deep so that recall@10 can be measured."""
    results = []
    depth = max(max(RECALL_AT), k)
    for item in items:
        start = time.perf_counter()
        try:
            answer = archive.ask(item.question, k=k, depth=depth, asked_on=(
                date.fromisoformat(item.asked_on) if item.asked_on else None))
        except QueryError:  # e.g. an empty question (CMRC trial has two): the user is told so
            answer = Answer(item.question, None, 0.0, True)
        seconds = time.perf_counter() - start
        rank = next((r for r, h in enumerate(answer.hits, 1) if is_gold(item, h)), None)
        results.append(Result(item, answer, list(answer.hits), rank, seconds))
    return results


SQUAD_CORPUS = "contexts.jsonl"


def squad_archive(contexts: list[Context], folder: Path, embedder: Embedder,
                  settings: Settings) -> tuple[Path, list[str]]:
    """Index each context as one article of a JSONL archive in `folder`: (the index dir, the
    article id of each context)."""
    corpus = folder / SQUAD_CORPUS
    with open(corpus, "w", encoding="utf-8") as f:
        for i, (title, text) in enumerate(contexts):
            row = {"id": f"ctx-{i}", "title": title or f"context {i}", "text": text}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    index_dir = folder / "index"
    build_index([corpus], index_dir, embedder, settings=settings, progress=False,
                log=lambda _: None)
    source = source_name(corpus)
    return index_dir, [article_id(source, i) for i in range(len(contexts))]


def run(path: Path, settings: Settings, limit: int | None = None,
        embedder: Embedder | None = None, log: Callable[[str], None] = lambda _: None,
        predictions: Path | None = None, split: str | None = None) -> dict:
    """Evaluate on a dataset file (only its questions of `split` when given); returns the
    metrics as a dict (see `summarise`). With `predictions`, every question's answer is also
    written there, one JSON object a line."""
    kind, items, contexts = load_dataset(path)
    if split:
        items = [it for it in items if it.split == split]
        if not items:
            raise DatasetError(f"{path} has no questions of split {split!r}")
    items = items[:limit] if limit else items
    if kind == "squad":
        with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
            from qa.model.embed import load_embedder

            embedder = embedder or load_embedder(settings, "index")
            index_dir, ids = squad_archive(contexts, Path(tmp), embedder, settings)
            archive = Archive.open(settings.with_(index_dir=index_dir), log=log)
            results = evaluate(items, archive, lambda it, h: h.article.id == ids[int(it.gold)],
                               settings.k)
    else:
        archive = Archive.open(settings, embedder=embedder, log=log)
        results = evaluate(
            items, archive,
            lambda it, h: bool(it.gold) and _squash(it.gold) in _squash(h.paragraph.text),
            settings.k,
        )
    if predictions:
        write_predictions(results, predictions)
    return summarise(kind, results, settings.k)


def write_predictions(results: list[Result], path: Path) -> None:
    """One line per question: what was asked, what is right, what was answered, and how."""
    with open(path, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps({
                "id": r.item.id, "question": r.item.question, "type": r.item.type,
                "gold": r.item.answers, "answer": r.answer.text, "score": round(r.answer.score, 4),
                "abstained": r.answer.abstained, "confidence": None if r.answer.confidence is None
                else round(r.answer.confidence, 4),
                "level": r.answer.level, "agreeing": r.answer.agreeing,
                "signals": {k: round(v, 4) for k, v in r.answer.signals.items()},
                "gold_rank": r.gold_rank,
                "em": metrics.exact_match(r.answer.text or "", r.item.answers),
                "f1": round(metrics.f1(r.answer.text or "", r.item.answers), 4),
                "ms": round(1000 * r.seconds, 1)}, ensure_ascii=False) + "\n")


def summarise(kind: str, results: list[Result], k: int) -> dict:
    """EM/F1 over answerable items, recall@k/MRR, abstention, latency, breakdown by type."""
    answerable = [r for r in results if r.item.answers]
    unanswerable = [r for r in results if not r.item.answers]
    out = {"dataset": kind, "questions": len(results), "k": k, **_scores(answerable)}
    ranks = [r.gold_rank for r in answerable]
    for n in RECALL_AT:
        out[f"recall@{n}"] = round(metrics.recall_at(ranks, n), 4) if ranks else None
    out["mrr"] = round(metrics.mrr(ranks), 4) if ranks else None
    abstained = [r for r in results if r.answer.abstained]
    out["abstained"] = len(abstained)
    out["abstention_precision"] = _mean(not r.item.answers for r in abstained)
    out["abstention_recall"] = _mean(r.answer.abstained for r in unanswerable)
    seconds = sorted(r.seconds for r in results)
    out["latency_p50_ms"] = round(1000 * metrics.percentile(seconds, 50), 1)
    out["latency_p95_ms"] = round(1000 * metrics.percentile(seconds, 95), 1)
    by_type = defaultdict(list)
    for r in results:
        by_type[r.item.type].append(r)
    out["by_type"] = {
        t: {"questions": len(rs), **_scores([r for r in rs if r.item.answers]),
            "abstained": sum(r.answer.abstained for r in rs),
            f"passage@{k}": _mean(r.gold_rank is not None and r.gold_rank <= k for r in rs
                                  if r.item.answers)}
        for t, rs in sorted(by_type.items())
    }
    out["reliability"] = reliability(results)
    out["citation_invariant_violations"] = citation_violations(r.answer for r in results)
    out["misses"] = [
        {"id": r.item.id, "question": r.item.question, "gold": r.item.answers,
         "answer": r.answer.text, "score": round(r.answer.score, 3), "gold_rank": r.gold_rank}
        for r in sorted(results, key=lambda r: _f1(r))
        if _f1(r) < 1.0
    ]
    return out


def right(r: Result) -> bool:
    """An answer is right when it matches a gold answer exactly; any answer to an unanswerable
    question is wrong."""
    return bool(r.item.answers) and bool(metrics.exact_match(r.answer.text or "", r.item.answers))


BINS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)


def reliability(results: list[Result]) -> dict:
    """How often the answers given were right, by level and by confidence bin: what 高 means."""
    given = [r for r in results if not r.answer.abstained]
    levels = {lv: [right(r) for r in given if r.answer.level == lv]
              for lv in ("high", "medium", "low")}
    bins = {f"{a:.1f}-{min(b, 1.0):.1f}": [right(r) for r in given
                                           if a <= (r.answer.confidence or 0.0) < b]
            for a, b in pairwise(BINS)}
    return {"by_level": {k: {"answers": len(v), "right": sum(v)} for k, v in levels.items()},
            "by_confidence": {k: {"answers": len(v), "right": sum(v)} for k, v in bins.items()
                              if v}}


def _f1(r: Result) -> float:
    if not r.item.answers:
        return 1.0 if r.answer.abstained else 0.0
    return metrics.f1(r.answer.text or "", r.item.answers)


def _scores(rs: list[Result]) -> dict:
    return {
        "em": _mean(metrics.exact_match(r.answer.text or "", r.item.answers) for r in rs),
        "f1": _mean(metrics.f1(r.answer.text or "", r.item.answers) for r in rs),
    }


def _mean(values: Iterable[float]) -> float | None:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else None


def citation_violations(answers: Iterable[Answer]) -> int:
    """Answers whose first citation does not contain the answer at the cited offsets."""
    bad = 0
    for a in answers:
        if a.abstained:
            continue
        c = a.citations[0] if a.citations else None
        if c is None or c.answer_start is None or c.passage[c.answer_start : c.answer_end] != a.text:
            bad += 1
    return bad


def format_table(summary: dict, worst: int = 10) -> str:
    """A readable report: headline metrics, per-type breakdown and the worst misses."""
    keys = ["questions", "em", "f1", "recall@1", "recall@5", "recall@10", "mrr", "abstained",
            "abstention_precision", "abstention_recall", "latency_p50_ms", "latency_p95_ms",
            "citation_invariant_violations"]
    lines = [f"dataset: {summary['dataset']}  (answers from top {summary['k']})"]
    lines += [f"  {key:<30} {_fmt(summary[key])}" for key in keys]
    lines.append("")
    lines.append(f"  {'type':<14} {'n':>4} {'EM':>6} {'F1':>6} {'abst':>5} {'passage':>8}")
    passage_key = f"passage@{summary['k']}"
    for t, row in summary["by_type"].items():
        lines.append(f"  {t:<14} {row['questions']:>4} {_fmt(row['em']):>6} {_fmt(row['f1']):>6} "
                     f"{row['abstained']:>5} {_fmt(row[passage_key]):>8}")
    rel = summary.get("reliability")
    if rel:
        lines.append("")
        lines.append(f"  {'level':<14} {'answers':>7} {'right':>6}")
        for lv, row in rel["by_level"].items():
            lines.append(f"  {lv:<14} {row['answers']:>7} {row['right']:>6}")
    if summary["misses"]:
        lines.append("")
        lines.append(f"worst misses (of {len(summary['misses'])}):")
        for m in summary["misses"][:worst]:
            lines.append(f"  {m['id']}: {m['question']}")
            lines.append(f"      gold {m['gold']}  got {m['answer']!r} "
                         f"(score {m['score']}, passage rank {m['gold_rank']})")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
