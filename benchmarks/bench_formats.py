"""Archive formats measured on pages made from real text (qa/testing/newspaper.py).

The seed pages (corpus/*.txt) and a few xwlb transcripts are laid out as e-paper pages and
printed to PDF by headless Chromium; the seed PDFs are rasterized at 200 dpi as scans, some
turned by a degree or so with noise. Then:

- text-layer PDFs: source sentences found whole in one paragraph and in order, headlines
  exact, and reading speed (CPU time per page, one core: pdfium and the layout are single
  threaded);
- scans: character error rate against the PDF's text layer (the same page), sentences whole
  (up to 10% OCR errors) and in order, headlines (spaces and character widths aside), seconds
  per page as `qa index` measured them;
- with --eval: the seed questions answered (`qa eval --answerer rules`) from indexes of the
  text files, the PDFs and the scans;
- with --families N: N pages of each layout family (qa/testing/families.py) from the seed
  stories and xwlb days of 2022-10 to 2022-12, read from their text layers: sentences whole
  and in their own story, headlines, header fields; the families kept aside (TEST_FAMILIES)
  reported apart from those the layout step was developed on; with --family-scans, one page
  of each family scanned at 150, 200 and 300 dpi (turned ±2°, with noise), and as a photo
  (unevenly lit, soft, one edge cut off), read by OCR: characters recovered in reading order,
  CER, sentences in their own story, articles holding two stories, headlines, seconds a page.

    python benchmarks/bench_formats.py --out /tmp/bench-formats --xwlb 3 \\
        --eval ../shared/eval/seed_qa_public.jsonl
    python benchmarks/bench_formats.py --out /tmp/bench-formats --xwlb 0 --scans 0 \\
        --families 4 --family-scans
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.files import source_name  # noqa: E402
from qa.ingest.articles import ingest_file  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.testing.families import FAMILIES, TEST_FAMILIES, page_set  # noqa: E402
from qa.testing.newspaper import (  # noqa: E402
    cer,
    markdown_spec,
    photographed,
    print_html,
    print_pdf,
    recovery,
    scan,
    seed_spec,
)
from qa.testing.truth import fields, page_text, read_text, recovered, story_recovery  # noqa: E402

SCANS = [(0.0, 0.0), (1.2, 10.0), (0.0, 6.0), (-1.5, 12.0), (0.0, 0.0)]  # (skew, noise) per seed
IN_PROCESS = Settings(reader_memory_mb=0)  # read here, so that this process's CPU time is the reading's
PHOTO = 0  # the condition "a photo of the page": 200 dpi, lit unevenly, one edge cut off
SCAN_CONDITIONS = ((150, 1.5, 6.0), (200, -2.0, 10.0), (300, 2.0, 8.0), (PHOTO, 1.0, 4.0))


def build(out: Path, xwlb: int, xwlb_dir: Path) -> tuple[dict[str, object], dict[str, Path]]:
    """Print the pages (once); their specs by file stem, and the PDF of each seed page."""
    (out / "pdf").mkdir(parents=True, exist_ok=True)
    specs: dict[str, object] = {}
    pdfs: dict[str, Path] = {}
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        specs[path.stem] = seed_spec(path)
        pdfs[path.stem] = out / "pdf" / f"{path.stem}.pdf"
    days = sorted(xwlb_dir.glob("*.md"))
    for day in days[:: max(1, len(days) // xwlb)][:xwlb] if xwlb else []:
        specs[f"xwlb_{day.stem}"] = markdown_spec(day, 6)
        pdfs[f"xwlb_{day.stem}"] = out / "pdf" / f"xwlb_{day.stem}.pdf"
    for stem, pdf in pdfs.items():
        if not pdf.exists():
            print_pdf([specs[stem]], pdf)
    return specs, pdfs


def bench_pdfs(specs, pdfs, repeat: int = 3) -> None:
    print("\nText-layer PDFs (pdfium text layer, layout, segmentation; CPU time, one core)")
    print(f"| {'page':<24} | sentences | whole | in order | headlines exact | ms/page (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    total, cpu, pages = None, 0.0, 0
    ingest_file(next(iter(pdfs.values())), settings=IN_PROCESS)  # load pdfium and the fonts once
    for stem, pdf in pdfs.items():
        start = time.process_time()
        for _ in range(repeat):
            result = ingest_file(pdf, settings=IN_PROCESS)
        seconds = (time.process_time() - start) / repeat
        got = recovery(specs[stem], result.articles)
        total = got if total is None else total + got
        cpu, pages = cpu + seconds, pages + len(result.pages)
        print(f"| {stem:<24} | {got.sentences} | {got.whole / got.sentences:.1%} | "
              f"{got.in_order / got.sentences:.1%} | {got.headlines_exact}/{got.headlines} | "
              f"{1000 * seconds / len(result.pages):.0f} |")
    print(f"| **all {pages} pages** | {total.sentences} | {total.whole / total.sentences:.1%} | "
          f"{total.in_order / total.sentences:.1%} | {total.headlines_exact}/{total.headlines} | "
          f"{1000 * cpu / pages:.0f} ({pages / cpu:.1f} pages/s) |")


def make_scans(out: Path, pdfs: dict[str, Path], count: int) -> dict[str, Path]:
    (out / "scan").mkdir(exist_ok=True)
    scans = {}
    for (stem, pdf), (skew, noise) in zip(list(pdfs.items())[:count], SCANS, strict=False):
        path = out / "scan" / f"{stem}.{'jpg' if noise else 'png'}"
        if not path.exists():
            image = scan(pdf, 0, 200, skew, noise, seed=len(scans))
            image.save(path, quality=90) if noise else image.save(path)
        scans[stem] = path
    return scans


def index(paths: list[Path], index_dir: Path) -> float:
    """`qa index` in a fresh process; its wall time."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa", "index", *map(str, paths), "--index-dir",
                    str(index_dir), "--quiet"], check=True, cwd=ROOT)
    return time.perf_counter() - start


def stored(index_dir: Path, source: str):
    """Articles, lines and pages of one source as the index holds them."""
    version = (index_dir / (index_dir / "CURRENT").read_text().strip()) / "archive.sqlite"
    db = sqlite3.connect(version)
    articles = []
    for aid, title in db.execute("SELECT id, title FROM articles WHERE source = ? ORDER BY ordinal",
                                 (source,)):
        paragraphs = [SimpleNamespace(text=t) for (t,) in db.execute(
            "SELECT text FROM paragraphs WHERE article_id = ? ORDER BY idx", (aid,))]
        articles.append(SimpleNamespace(title=title, paragraphs=paragraphs))
    lines = [t for (t,) in db.execute("SELECT text FROM lines WHERE source = ? ORDER BY line", (source,))]
    seconds = [s for (s,) in db.execute("SELECT seconds FROM pages WHERE source = ?", (source,))]
    db.close()
    return articles, lines, seconds


def bench_scans(specs, pdfs, scans: dict[str, Path], index_dir: Path) -> None:
    wall = index(list(scans.values()), index_dir)
    print(f"\nScans at 200 dpi through RapidOCR (`qa index` of {len(scans)} pages: {wall:.0f} s wall, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print("| page | skew, noise | CER (width folded) | CER (raw) | sentences whole | in order | "
          "headlines | s/page |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (stem, path), (skew, noise) in zip(scans.items(), SCANS, strict=False):
        truth = "".join(line.text for line in ingest_file(pdfs[stem]).lines)
        articles, lines, seconds = stored(index_dir, source_name(path))
        got = recovery(specs[stem], articles, tolerance=0.1)
        text = "".join(lines)
        print(f"| {stem} | {skew:+.1f}°, σ={noise:.0f} | {cer(truth, text):.2%} | "
              f"{cer(truth, text, fold=False):.2%} | {got.whole / got.sentences:.1%} | "
              f"{got.in_order / got.sentences:.1%} | {got.headlines_exact}/{got.headlines} | "
              f"{sum(seconds):.0f} |")


def evaluate(dataset: Path, indexes: dict[str, Path]) -> None:
    print(f"\nSeed questions ({dataset.name}, `qa eval --answerer rules`)")
    print("| archive | questions | EM | F1 | gold passage R@5 | abstained |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, index_dir in indexes.items():
        out = subprocess.run([sys.executable, "-m", "qa", "eval", str(dataset), "--index-dir",
                              str(index_dir), "--answerer", "rules", "--json"], check=True,
                             capture_output=True, text=True, cwd=ROOT)
        s = json.loads(out.stdout)
        print(f"| {name} | {s['questions']} | {s['em']:.3f} | {s['f1']:.3f} | {s['recall@5']:.3f} | "
              f"{s['abstained']} |")


def family_pages(out: Path, per_family: int, xwlb_dir: Path):
    """[(PDF, truth)]: `per_family` pages of every family, printed once."""
    pool = [story for path in sorted((ROOT / "corpus").glob("*.txt")) for story in seed_spec(path).stories]
    for day in sorted(xwlb_dir.glob("20221[012]*.md"))[::6]:
        pool += markdown_spec(day, 12).stories
    (out / "families").mkdir(parents=True, exist_ok=True)
    pages = []
    for n, (markup, width, spec) in enumerate(page_set(pool, per_family)):
        pdf = out / "families" / f"{n:02d}-{spec.extra['family']}.pdf"
        if not pdf.exists():
            print_html([(markup, width)], pdf)
        pages.append((pdf, spec))
    return pages


def _family_row(name: str, got, seen, pages: int, cpu: float | None = None) -> str:
    speed = f" {pages / cpu:.1f} |" if cpu else ""
    return (f"| {name} | {pages} | {got.sentences} | {got.whole / got.sentences:.1%} | "
            f"{got.in_story / got.sentences:.1%} | {got.spliced} | {got.headlines_exact}/{got.headlines} | "
            f"{seen.page}/{seen.articles} | {seen.date}/{seen.articles} | "
            f"{seen.newspaper}/{seen.newspaper_expected} |{speed}")


def bench_families(pages) -> None:
    print("\nLayout families, text-layer PDFs (sentences whole / in their own story; articles with "
          "the page's 版次, date, paper)")
    print("| family | pages | sentences | whole | in own story | spliced articles | headlines | "
          "版次 | date | paper | pages/s (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    totals: dict[str, list] = {}
    for family in FAMILIES:
        mine = [(pdf, spec) for pdf, spec in pages if spec.extra["family"] == family.name]
        got = seen = None
        start = time.process_time()
        for pdf, spec in mine:
            articles = ingest_file(pdf, settings=IN_PROCESS).articles
            r, f = story_recovery(spec, articles), fields(spec, articles)
            got, seen = (r, f) if got is None else (got + r, seen + f)
        cpu = time.process_time() - start
        print(_family_row(family.name + (" (test)" if family.name in TEST_FAMILIES else ""), got, seen,
                          len(mine), cpu))
        split = "test" if family.name in TEST_FAMILIES else "develop"
        previous = totals.get(split)
        totals[split] = [got, seen, len(mine), cpu] if previous is None else [
            previous[0] + got, previous[1] + seen, previous[2] + len(mine), previous[3] + cpu]
    for split in ("develop", "test"):
        if split in totals:
            print(_family_row(f"**{split} families**", *totals[split]))


def bench_family_scans(pages, out: Path) -> None:
    print("\nLayout families scanned (one page each; OCR; characters of the truth recovered in reading "
          "order, CER against it; headlines with spaces and widths folded)")
    print("| family | scan | skew, noise | recovered in order | CER | sentences in own story (≤10% "
          "errors) | spliced articles | headlines | s/page |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    (out / "family-scans").mkdir(exist_ok=True)
    firsts = {}
    for pdf, spec in pages:
        firsts.setdefault(spec.extra["family"], (pdf, spec))
    sums: dict[tuple[str, int], dict[str, float]] = {}
    for name, (pdf, spec) in firsts.items():
        for n, (dpi, skew, noise) in enumerate(SCAN_CONDITIONS):
            path = out / "family-scans" / f"{pdf.stem}-{dpi}{'-photo' if dpi == PHOTO else ''}.jpg"
            if not path.exists():
                image = scan(pdf, 0, 200 if dpi == PHOTO else dpi, skew, noise, seed=n)
                (photographed(image, n) if dpi == PHOTO else image).save(path, quality=90)
            start = time.perf_counter()
            articles = ingest_file(path).articles
            seconds = time.perf_counter() - start
            truth, text = page_text(spec), read_text(articles)
            got = story_recovery(spec, articles, tolerance=0.1)
            share, error = recovered(truth, text), cer(truth, text)
            print(f"| {name} | {_condition(dpi)} | {skew:+.1f}°, σ={noise:.0f} | {share:.1%} | {error:.2%} | "
                  f"{got.in_story / got.sentences:.1%} | {got.spliced} | {got.headlines_exact}/{got.headlines} | "
                  f"{seconds:.0f} |", flush=True)
            total = sums.setdefault(("test" if name in TEST_FAMILIES else "develop", dpi), {})
            for key, value in (("found", share * len(truth)), ("errors", error * len(truth)),
                               ("chars", len(truth)), ("story", got.in_story), ("sentences", got.sentences),
                               ("exact", got.headlines_exact), ("heads", got.headlines),
                               ("spliced", got.spliced),
                               ("seconds", seconds), ("pages", 1)):
                total[key] = total.get(key, 0) + value
    for (split, dpi), t in sorted(sums.items()):
        print(f"| **{split} families** | {_condition(dpi)} | | {t['found'] / t['chars']:.1%} | "
              f"{t['errors'] / t['chars']:.2%} | {t['story'] / t['sentences']:.1%} | {t['spliced']:.0f} | "
              f"{t['exact']:.0f}/{t['heads']:.0f} | {t['seconds'] / t['pages']:.0f} |")


def _condition(dpi: int) -> str:
    return "photo, 200 dpi" if dpi == PHOTO else f"{dpi} dpi"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-formats"))
    parser.add_argument("--xwlb", type=int, default=3, help="xwlb days laid out as pages")
    parser.add_argument("--xwlb-dir", type=Path, default=ROOT.parent / "shared" / "corpora" / "xwlb")
    parser.add_argument("--scans", type=int, default=5, help="seed pages scanned and OCR'd")
    parser.add_argument("--eval", type=Path, help="seed questions (JSONL) to answer from each version")
    parser.add_argument("--families", type=int, default=0, help="pages of each layout family")
    parser.add_argument("--family-scans", action="store_true", help="one page a family scanned and OCR'd")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.eval = args.eval.resolve() if args.eval else None
    os.chdir(ROOT)  # source names in the indexes are given from here
    if args.families:
        pages = family_pages(args.out, args.families, args.xwlb_dir.resolve())
        bench_families(pages)
        if args.family_scans:
            bench_family_scans(pages, args.out)
    specs, pdfs = build(args.out, args.xwlb, args.xwlb_dir.resolve())
    bench_pdfs(specs, pdfs)
    seeds = {stem: pdf for stem, pdf in pdfs.items() if not stem.startswith("xwlb")}
    scans = make_scans(args.out, seeds, args.scans)
    if scans:
        bench_scans(specs, pdfs, scans, args.out / "index-scan")
    if args.eval:
        index([ROOT / "corpus"], args.out / "index-text")
        index(list(seeds.values()), args.out / "index-pdf")
        evaluate(args.eval, {"text files (corpus/)": args.out / "index-text",
                             "PDFs": args.out / "index-pdf", "scans": args.out / "index-scan"})


if __name__ == "__main__":
    main()
