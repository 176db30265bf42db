"""Answer-extraction quality by question type, score calibration and latency.

    python benchmarks/tune_answer.py                      # CMRC trial, gold passage
    python benchmarks/tune_answer.py --mode paragraphs    # gold passage cut into paragraphs
    python benchmarks/tune_answer.py --mode open          # BM25 top-k over all passages
    python benchmarks/tune_answer.py --dataset ../shared/eval/seed_qa_public.jsonl  # open mode
    python benchmarks/tune_answer.py --fit                # refit the score calibration
    python benchmarks/tune_answer.py --mode open --fit \
        --negatives ../shared/train/chinesesquad_v2_dev.json  # …with unanswerable questions

Reads the answerer only (no embedder or index), so it isolates span extraction from
retrieval; `qa eval` measures the whole pipeline. Prints EM/F1 per question type (as
`qa.reader.question.analyse` classifies it), how well the score separates right from wrong answers,
and per-question latency.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.datasets import read_squad  # noqa: E402
from qa.eval import metrics  # noqa: E402
from qa.index.bm25 import BM25  # noqa: E402
from qa.index.lexical import tokenize  # noqa: E402
from qa.reader import load_answerer  # noqa: E402
from qa.reader.base import sentences  # noqa: E402
from qa.reader.question import analyse  # noqa: E402
from qa.reader.rules import FEATURES, RuleAnswerer  # noqa: E402
from qa.settings import Settings  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"


def chunks(text: str, limit: int = 400) -> list[str]:
    """Consecutive whole sentences of at most `limit` characters (a long sentence stays whole)."""
    out, cur = [], ""
    for s, e in sentences(text):
        if cur and len(cur) + e - s > limit:
            out.append(cur)
            cur = ""
        cur += text[s:e]
    return out + [cur] if cur else out


def page_text(path: Path) -> str:
    """A seed page as running text: hard-wrapped lines joined, blank lines as breaks, and the
    stray spaces print line breaks left next to Chinese characters removed (as ingest does)."""
    blocks = path.read_text("utf-8").split("\n\n")
    text = "\n".join("".join(line.strip() for line in b.splitlines()) for b in blocks)
    return re.sub(r"(?<=[\u4e00-\u9fff]) +| +(?=[\u4e00-\u9fff])", "", text)


def load(dataset: Path, corpus: Path) -> tuple[list[dict], list[str]]:
    """Questions as {question, answers, gold (passage ids)} and the passage pool."""
    if dataset.suffix == ".jsonl":
        pool, owner = [], []
        for f in sorted(corpus.glob("*.txt")):
            for c in chunks(page_text(f)):
                pool.append(c)
                owner.append(f.name)
        rows = [json.loads(line) for line in dataset.read_text("utf-8").splitlines() if line.strip()]
        items = [{"question": r["question"], "answers": r["answers"], "type": r["type"],
                  "gold": [i for i, o in enumerate(owner) if o == r.get("source")]} for r in rows]
        return items, pool
    items, pool = [], []
    for para in read_squad(dataset):
        ids = [len(pool)]
        items += [{"question": q.text, "answers": [t for t, _ in q.answers],
                   "context": para.context, "gold": ids} for q in para.questions]
        pool.append(para.context)
    return items, pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=SHARED / "cmrc2018_trial.json")
    ap.add_argument("--corpus", type=Path, default=Path("corpus"))
    ap.add_argument("--mode", choices=["gold", "paragraphs", "open"], default="gold")
    ap.add_argument("--answerer", default="rules")
    ap.add_argument("-k", type=int, default=5, help="passages given to the answerer (open mode)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--misses", type=int, default=0, help="print this many wrong answers")
    ap.add_argument("--fit", action="store_true", help="fit the score calibration, print it")
    ap.add_argument("--negatives", type=Path,
                    help="SQuAD v2 file: its unanswerable questions, asked of their own passage, "
                         "are wrong answers for the calibration and the threshold table")
    ap.add_argument("--negatives-limit", type=int, default=1000)
    args = ap.parse_args()

    items, pool = load(args.dataset, args.corpus)
    mode = "open" if args.dataset.suffix == ".jsonl" else args.mode
    items = items[: args.limit] if args.limit else items
    answerer = load_answerer(args.answerer, Settings.from_env().cache_dir)
    pieces = [chunks(p) for p in pool]
    bm25 = BM25.build(tokenize(c) for cs in pieces for c in cs) if mode == "open" else None
    flat = [(i, c) for i, cs in enumerate(pieces) for c in cs]

    if args.negatives:
        items += unanswerable(args.negatives, args.negatives_limit)
    rows, feats, labels = [], [], []
    for it in items:
        start = time.perf_counter()
        if "passages" in it:  # an unanswerable question with its own passage
            passages = it["passages"]
            scores = BM25.build(tokenize(c) for c in passages).scores(tokenize(it["question"]))
            scores = [float(x) for x in scores]
        elif mode == "gold":
            passages, scores = [pool[it["gold"][0]]], None
        elif mode == "paragraphs":
            passages, scores = pieces[it["gold"][0]], None
        else:
            s = bm25.scores(tokenize(it["question"]))
            top = np.argsort(-s)[: args.k]
            passages, scores = [flat[i][1] for i in top], [float(s[i]) for i in top]
        spans = answerer.extract(it["question"], passages, scores)
        seconds = time.perf_counter() - start
        pred = spans[0].text if spans else ""
        score = spans[0].score if spans else 0.0
        em = metrics.exact_match(pred, it["answers"]) if it["answers"] else None
        f1 = metrics.f1(pred, it["answers"]) if it["answers"] else None
        rows.append({**it, "pred": pred, "score": score, "em": em, "f1": f1, "seconds": seconds,
                     "kind": it.get("type") if it["answers"] == [] else analyse(it["question"]).kind})
        if args.fit and isinstance(answerer, RuleAnswerer):
            for c in answerer.candidates(it["question"], passages, scores):
                feats.append(c.features)
                labels.append(bool(it["answers"]) and metrics.f1(
                    passages[c.passage][c.start : c.end], it["answers"]) >= 0.5)

    report(rows, args.misses)
    if args.fit:
        fit(np.array(feats, dtype=float), np.array(labels, dtype=float))


def unanswerable(path: Path, limit: int) -> list[dict]:
    """The first `limit` unanswerable questions of a SQuAD v2 file, each with its own passage
    (cut into paragraphs): text on the question's topic that does not hold the answer."""
    out = []
    for para in read_squad(path):
        for q in para.questions:
            if (q.impossible or not q.answers) and len(out) < limit:
                out.append({"question": q.text, "answers": [], "gold": [],
                            "type": "unanswerable", "passages": chunks(para.context)})
    return out


def report(rows: list[dict], misses: int) -> None:
    answerable = [r for r in rows if r["answers"]]
    by_kind = defaultdict(list)
    for r in answerable:
        by_kind[r["kind"]].append(r)
    print(f"{'type':<14} {'n':>5} {'EM':>6} {'F1':>6}")
    for kind, rs in sorted(by_kind.items(), key=lambda x: -len(x[1])):
        print(f"{kind:<14} {len(rs):>5} {_mean(rs, 'em'):>6.3f} {_mean(rs, 'f1'):>6.3f}")
    print(f"{'all':<14} {len(answerable):>5} {_mean(answerable, 'em'):>6.3f} "
          f"{_mean(answerable, 'f1'):>6.3f}")
    ms = [1000 * r["seconds"] for r in rows]
    print(f"\nlatency per question: p50 {metrics.percentile(ms, 50):.1f} ms, "
          f"p95 {metrics.percentile(ms, 95):.1f} ms")

    # Right = F1 >= 0.5 (CMRC gold spans are often longer than the fact asked for).
    print("\nthreshold  answered  right-of-answered  right-kept  wrong-kept  unanswerable-kept")
    right = [r for r in answerable if r["f1"] >= 0.5]
    wrong = [r for r in answerable if r["f1"] < 0.5]
    unans = [r for r in rows if not r["answers"]]
    for t in (0.0, 0.05, 0.1, 0.125, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6):
        kept = [r for r in answerable if r["score"] >= t]
        ok = sum(r["f1"] >= 0.5 for r in kept)
        print(f"{t:>9.3f}  {len(kept) / max(len(answerable), 1):>8.3f}  "
              f"{ok / max(len(kept), 1):>17.3f}  "
              f"{sum(r['score'] >= t for r in right) / max(len(right), 1):>10.3f}  "
              f"{sum(r['score'] >= t for r in wrong) / max(len(wrong), 1):>10.3f}  "
              f"{sum(r['score'] >= t for r in unans):>4}/{len(unans)}")
    scores = np.array([r["score"] for r in answerable])
    truth = np.array([r["f1"] >= 0.5 for r in answerable])
    if truth.any() and (~truth).any():
        # AUC: chance that a right answer outscores a wrong one
        auc = (scores[truth][:, None] > scores[~truth][None, :]).mean()
        print(f"AUC right vs wrong: {auc:.3f}")
    for r in [r for r in rows if (r["em"] or 0) < 1][:misses]:
        print(f"  [{r['kind']}] {r['question']}  gold {r['answers'][:2]}  got {r['pred']!r} "
              f"({r['score']:.2f})")


def fit(x: np.ndarray, y: np.ndarray, steps: int = 3000, lr: float = 0.5) -> None:
    """Plain logistic regression by gradient descent; prints coefficients to paste in answer.py."""
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= lr * (x.T @ (p - y) / len(y) + 1e-3 * w)
        b -= lr * float(np.mean(p - y))
    print(f"\nfit on {len(y)} candidates ({int(y.sum())} right), features {FEATURES}:")
    print(f"_COEF = ({', '.join(f'{v:.2f}' for v in w)})\n_BIAS = {b:.2f}")


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else float("nan")


if __name__ == "__main__":
    main()
