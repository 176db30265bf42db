"""Dense and lexical search at archive scale: 100k, 1M and 5M paragraphs on this machine.

    python benchmarks/bench_scale.py INDEX_DIR [--sizes 100000,1000000,5000000]
        [--memory-mb 1024] [--work DIR] [--bm25-max 1000000]

INDEX_DIR is a built index of real text (e.g. a few months of ../shared/corpora/xwlb): its
vectors are the real model's and its paragraphs' BM25 terms real. Each size repeats them:
copy c of vector i is vector i moved off itself (Gaussian noise of a norm 0.1–0.4 drawn per
copy, then unit length), so an archive of near-identical reports is searched, as four years of
one daily's are. Questions are the real questions of benchmarks/data/user_dev.jsonl embedded
by the question encoder. Each size is built and measured in a process of its own (its RSS is
the index's), through `qa.index.vectors` and `qa.index.bm25` as `qa index` builds and
`Store` opens them; recall@10 is against exact search over the same vectors.

    python benchmarks/bench_scale.py INDEX_DIR --work DIR --store 1000000 --archive XWLB

builds a whole index of that many paragraphs with `qa.index.build` (the archive's files copied
until there are enough, their vectors the scaled ones above, replayed in order), then times
`Store.open`, hybrid `Retriever.search` with the real questions, and adding one more day.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.index import vectors as vectors_  # noqa: E402
from qa.index.bm25 import BM25  # noqa: E402
from qa.index.store import Store  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "data" / "user_dev.jsonl"


def _rss_mb() -> tuple[float, float]:
    """(anonymous, file-backed) resident MB: the index's own memory, and the pages of
    memory-mapped files it has touched (the kernel may drop those under pressure)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("RssAnon:", "RssFile:")):
                found[line.split(":")[0]] = int(line.split()[1]) / 1024
    return found.get("RssAnon", 0.0), found.get("RssFile", 0.0)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def prepare(index_dir: Path, work: Path, skip: str | None) -> None:
    """The real vectors, BM25 terms and question vectors, once, into `work`; paragraphs of
    sources matching the regular expression `skip` left out."""
    from qa.model.embed import load_embedder
    from qa.settings import Settings

    store = Store.open(index_dir)
    rows = store.db.execute("SELECT id, source, terms FROM paragraphs ORDER BY id").fetchall()
    kept = [(i, terms) for i, source, terms in rows if not (skip and re.search(skip, source))]
    np.save(work / "real.npy", np.asarray(store.vectors[[i for i, _ in kept]], dtype=np.float32))
    with open(work / "terms.txt", "w", encoding="utf-8") as out:
        for _, terms in kept:
            out.write((terms or "") + "\n")
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    embedder = load_embedder(Settings.from_env(), "query")
    np.save(work / "queries.npy", embedder.embed_queries(questions))


def scaled(work: Path, n: int) -> np.ndarray:
    """vectors.npy of `n` rows in `work`: the real vectors, then perturbed copies."""
    path = work / f"vectors-{n}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    real = np.load(work / "real.npy")
    out = np.lib.format.open_memmap(path.with_suffix(".tmp"), "w+", np.float32, (n, real.shape[1]))
    rng = np.random.default_rng(0)
    dim = real.shape[1]
    for lo in range(0, n, len(real)):
        rows = real[: min(len(real), n - lo)]
        if lo == 0:
            out[: len(rows)] = rows
            continue
        noise = rng.normal(0, 1, rows.shape).astype(np.float32)
        noise *= (rng.uniform(0.1, 0.4, (len(rows), 1)) / np.sqrt(dim)).astype(np.float32)
        moved = rows + noise
        out[lo : lo + len(rows)] = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    out.flush()
    del out
    os.replace(path.with_suffix(".tmp"), path)
    return np.load(path, mmap_mode="r")


def measure(work: Path, n: int, memory_mb: int, bm25_max: int) -> dict:
    """Build, reopen and search one size (run in a process of its own)."""
    vectors = scaled(work, n)
    folder = work / f"index-{n}-{memory_mb}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    t = time.perf_counter()
    info = vectors_.build(vectors, folder, memory_mb)
    row = {"n": n, "type": info["type"], "build_s": time.perf_counter() - t,
           "build_peak_mb": _peak_mb(), "recall_sampled": info.get("recall_at_10"),
           "width": info.get("ef_search") or info.get("nprobe"),
           "disk_mb": _du_mb(folder / vectors_.FILE, work / f"vectors-{n}.npy")}
    if n <= bm25_max:
        terms = (work / "terms.txt").read_text("utf-8").splitlines()
        t = time.perf_counter()
        bm25 = BM25.build(terms[i % len(terms)].split(" ") if terms[i % len(terms)] else []
                          for i in range(n))
        bm25.save(folder)
        row["bm25_build_s"] = time.perf_counter() - t
        row["bm25_disk_mb"] = _du_mb(*(folder / f for f in BM25.FILES))
        del bm25
    (folder / "info.json").write_text(json.dumps(info))
    np.save(folder / "truth.npy", vectors_.exact_top(vectors, np.load(work / "queries.npy"), 10))
    return row


def search(work: Path, n: int, memory_mb: int) -> dict:
    """Open the index of one size in a fresh process and search it with the real questions."""
    folder = work / f"index-{n}-{memory_mb}"
    info = json.loads((folder / "info.json").read_text())
    queries, truth = np.load(work / "queries.npy"), np.load(folder / "truth.npy")
    before = _rss_mb()
    t = time.perf_counter()
    vectors = np.load(work / f"vectors-{n}.npy", mmap_mode="r")
    dense = vectors_.load(folder, info, vectors)
    bm25 = BM25.load(folder) if (folder / BM25.FILES[0]).exists() else None
    row = {"open_s": time.perf_counter() - t}
    for q in queries[:10]:
        dense.search(q[None], 100)  # warm up
    times = []
    for q in queries:
        t = time.perf_counter()
        dense.search(q[None], 100)
        times.append(1000 * (time.perf_counter() - t))
    row["p50_ms"], row["p95_ms"] = (float(v) for v in np.percentile(times, [50, 95]))
    row["recall_at_10"] = vectors_.recall_at_10(dense, queries, truth)
    if bm25 is not None:
        terms = (work / "terms.txt").read_text("utf-8").splitlines()[:200]
        times = []
        for line in terms:
            t = time.perf_counter()
            scores = bm25.scores(line.split(" ")[:8])
            np.argpartition(-scores, 100)[:100]
            times.append(1000 * (time.perf_counter() - t))
        row["bm25_p50_ms"] = float(np.percentile(times, 50))
    after = _rss_mb()
    row["anon_mb"], row["file_mb"] = after[0] - before[0], after[1] - before[1]
    return row


class Replay:
    """Passages get the scaled vectors in order (no model: the vectors are the real model's,
    repeated); questions the real question encoder."""

    def __init__(self, vectors: np.ndarray):
        from qa.model.weights import DIM, MODEL_NAME

        self.vectors, self.done, self.name, self.dim = vectors, 0, MODEL_NAME, DIM

    def identity(self) -> dict:
        return {"model": self.name, "dim": self.dim, "normalize": True}

    def info(self) -> dict:
        return {**self.identity(), "runtime": "replayed vectors (benchmarks/bench_scale.py)"}

    def embed_passages(self, texts, progress=None) -> np.ndarray:
        out = np.asarray(self.vectors[self.done : self.done + len(texts)], dtype=np.float32)
        self.done += len(texts)
        return out


def store_build(work: Path, n: int, archive: Path, memory_mb: int) -> dict:
    """A whole index of about `n` paragraphs from copies of `archive`, and a day added."""
    from qa.index.build import build_index
    from qa.settings import Settings

    files = sorted(archive.glob("*.md"))
    copies = work / f"archive-{n}"
    if not copies.exists():
        tmp = work / f"archive-{n}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        per_copy = 89_432 * len(files) / 1_423  # paragraphs per copy, about
        for c in range(int(np.ceil(n / per_copy))):
            (tmp / f"c{c:02}").mkdir(parents=True)
            for f in files:
                shutil.copy(f, tmp / f"c{c:02}" / f.name)
        os.replace(tmp, copies)
    day = work / f"day-{n}"
    shutil.rmtree(day, ignore_errors=True)
    index_dir = work / f"store-{n}"
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = Settings(index_memory_mb=memory_mb)
    vectors = scaled(work, n + 200_000)  # room for the copies' rounding and the day
    t = time.perf_counter()
    report = build_index([copies], index_dir, Replay(vectors), settings=settings,
                         progress=False, log=lambda _: None)
    built = time.perf_counter() - t
    day.mkdir()
    shutil.copy(files[len(files) // 2], day / "added.md")
    replay = Replay(vectors)
    replay.done = report.paragraphs
    t = time.perf_counter()
    added = build_index([copies, day], index_dir, replay, settings=settings, progress=False,
                        log=lambda _: None)
    return {"paragraphs": report.paragraphs, "build_s": built, "peak_mb": _peak_mb(),
            "add_s": time.perf_counter() - t, "added": added.paragraphs - report.paragraphs,
            "disk_mb": _du_mb(*(added.version.iterdir()))}


def store_search(work: Path, n: int) -> dict:
    """Open the whole index in a fresh process and ask the real questions of it."""
    from qa.index.search import Retriever
    from qa.model.embed import load_embedder
    from qa.settings import Settings

    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    embedder = load_embedder(Settings.from_env(), "query")
    embedder.embed_queries(["热身"])
    before = _rss_mb()
    t = time.perf_counter()
    store = Store.open(work / f"store-{n}")
    opened = time.perf_counter() - t
    retriever = Retriever(store, embedder)
    for q in questions[:10]:
        retriever.search(q, 10)
    times = []
    for q in questions:
        t = time.perf_counter()
        retriever.search(q, 10)
        times.append(1000 * (time.perf_counter() - t))
    after = _rss_mb()
    return {"open_s": opened, "p50_ms": float(np.percentile(times, 50)),
            "p95_ms": float(np.percentile(times, 95)), "type": store.manifest["faiss"]["type"],
            "anon_mb": after[0] - before[0], "file_mb": after[1] - before[1]}


def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--memory-mb", type=int, default=vectors_.MEMORY_MB)
    parser.add_argument("--bm25-max", type=int, default=1_000_000,
                        help="build BM25 postings up to this size")
    parser.add_argument("--work", type=Path, help="keep the scaled vectors here between runs")
    parser.add_argument("--skip", metavar="REGEX",
                        help="leave out the paragraphs of sources matching it (held-out months)")
    parser.add_argument("--store", type=int, metavar="N",
                        help="build a whole index of N paragraphs from copies of --archive")
    parser.add_argument("--archive", type=Path, default=ROOT.parent / "shared/corpora/xwlb")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, n, memory_mb = args.child
        work, n, memory_mb = args.index_dir, int(n), int(memory_mb)
        row = {"build": lambda: measure(work, n, memory_mb, args.bm25_max),
               "search": lambda: search(work, n, memory_mb),
               "store": lambda: store_build(work, n, args.archive, memory_mb),
               "ask": lambda: store_search(work, n)}[what]()
        print(json.dumps(row))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "queries.npy").exists():
        prepare(args.index_dir, work, args.skip)
    if args.store:
        built = _child(str(work), "--archive", str(args.archive), "--child", "store",
                       str(args.store), str(args.memory_mb))
        found = _child(str(work), "--child", "ask", str(args.store), str(args.memory_mb))
        print("| paragraphs | index | build | peak RSS | disk | add a day | Store.open | RAM own + "
              "mapped | Retriever.search p50 / p95 |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {built['paragraphs']:,} | {found['type']} | {built['build_s']:.0f} s | "
              f"{built['peak_mb']:,.0f} MB | {built['disk_mb']:,.0f} MB | {built['add_s']:.1f} s "
              f"({built['added']} paragraphs) | {found['open_s']:.2f} s | {found['anon_mb']:,.0f} "
              f"+ {found['file_mb']:,.0f} MB | {found['p50_ms']:.0f} / {found['p95_ms']:.0f} ms |")
        return
    real = np.load(work / "real.npy", mmap_mode="r")
    print(f"{len(real):,} real vectors from {args.index_dir}, {len(np.load(work / 'queries.npy'))} "
          f"real questions; memory budget {args.memory_mb} MB; {os.cpu_count()} CPUs\n")
    print("| paragraphs | index | build s | build peak MB | disk MB | open s | RAM MB (own + "
          "mapped) | search p50 ms | p95 ms | recall@10 | BM25 build s | BM25 MB | BM25 p50 ms |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        built = _child(str(work), "--bm25-max", str(args.bm25_max), "--child", "build", str(n),
                       str(args.memory_mb))
        found = _child(str(work), "--child", "search", str(n), str(args.memory_mb))
        width = f" ({'ef' if built['type'] == 'IndexHNSWFlat' else 'nprobe'} {built['width']})" \
            if built["width"] else ""
        bm25 = (f"{built['bm25_build_s']:.0f} | {built['bm25_disk_mb']:.0f} | "
                f"{found['bm25_p50_ms']:.1f}") if "bm25_build_s" in built else "– | – | –"
        print(f"| {n:,} | {built['type']}{width} | {built['build_s']:.0f} | "
              f"{built['build_peak_mb']:.0f} | {built['disk_mb']:.0f} | {found['open_s']:.2f} | "
              f"{found['anon_mb']:.0f} + {found['file_mb']:.0f} | {found['p50_ms']:.1f} | {found['p95_ms']:.1f} | "
              f"{found['recall_at_10']:.3f} | {bm25} |", flush=True)


if __name__ == "__main__":
    main()
