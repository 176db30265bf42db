"""How well encodings are told apart: the shipped detector (`qa.ingest.decode.decode`) against charset-normalizer.

    python benchmarks/bench_encoding.py [--sizes 40 200 1000]

Samples: the seed pages in corpus/ cut into pieces of each size and encoded as UTF-8, GB18030,
Big5 (after OpenCC Simplified→Traditional), UTF-16 LE and BE without a byte-order mark; and
Japanese and Korean news paragraphs written for this benchmark, as Shift-JIS, EUC-JP and EUC-KR.
A detection is right when the decoded text is the original text; a refusal (an error saying
the encoding cannot be told) is counted apart from garbage (text decoded wrongly, and indexed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.errors import ReadError  # noqa: E402
from qa.ingest.decode import decode  # noqa: E402
from qa.testing.samples import JAPANESE, KOREAN  # noqa: E402


def pieces(text: str, size: int, limit: int = 12) -> list[str]:
    text = " ".join(text.split()) if size < 200 else text
    step = max(size, len(text) // limit)
    return [p for i in range(0, len(text), step) if len(p := text[i : i + size]) >= size // 2][:limit]


def samples(sizes: list[int]) -> list[tuple[str, int, str, bytes]]:
    """(label, size, original text, bytes) for every sample."""
    import opencc

    chinese = "\n".join(p.read_text("utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    traditional = "".join(ch for ch in opencc.OpenCC("s2t").convert(chinese) if _in_big5(ch))
    out = []
    for size in sizes:
        for label, text, encodings in (
            ("Chinese", chinese, ("utf-8", "gb18030", "utf-16-le", "utf-16-be")),
            ("Chinese (Traditional)", traditional, ("big5",)),
            ("Japanese", JAPANESE, ("shift_jis", "euc_jp")),
            ("Korean", KOREAN, ("euc_kr",)),
        ):
            for piece in pieces(text, size):
                for encoding in encodings:
                    try:
                        data = piece.encode(encoding)
                    except UnicodeEncodeError:
                        continue  # a character the table lacks: not a file anyone has
                    out.append((f"{label} {encoding}", size, piece, data))
    return out


def _in_big5(ch: str) -> bool:
    try:
        ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return True


def charset_normalizer(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError("no encoding")
    return str(best)


def shipped(data: bytes) -> str:
    return decode(data)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 200, 1000])
    args = parser.parse_args()
    data = samples(args.sizes)
    detectors = {"qa.ingest.decode.decode": shipped, "charset-normalizer": charset_normalizer}
    results: dict[str, dict[str, Counter]] = {name: defaultdict(Counter) for name in detectors}
    seconds = Counter()
    for name, detect in detectors.items():
        for label, size, text, raw in data:
            start = time.perf_counter()
            try:
                got = detect(raw)
                verdict = "right" if got.replace("\r\n", "\n") == text else "garbage"
            except ReadError:
                verdict = "refused"
            seconds[name] += time.perf_counter() - start
            results[name][f"{label} ({size} chars)"][verdict] += 1
    rows = sorted({row for r in results.values() for row in r}, key=lambda r: (r.split(" (")[0], int(r.split("(")[-1].split()[0])))
    print(f"{len(data)} samples; right / refused / garbage per detector\n")
    header = f"| {'sample':<36} | " + " | ".join(f"{n:>22}" for n in detectors) + " |"
    print(header)
    print("|" + "-" * 38 + "|" + "|".join("-" * 24 for _ in detectors) + "|")
    for row in rows:
        cells = [results[n][row] for n in detectors]
        print(f"| {row:<36} | " + " | ".join(
            f"{c['right']:>8} / {c['refused']:>3} / {c['garbage']:>3}" for c in cells) + " |")
    totals = {n: sum((results[n][r] for r in rows), Counter()) for n in detectors}
    print(f"| {'all':<36} | " + " | ".join(
        f"{t['right']:>8} / {t['refused']:>3} / {t['garbage']:>3}" for t in totals.values()) + " |")
    print("\nms per sample: " + ", ".join(f"{n} {1000 * seconds[n] / len(data):.2f}" for n in detectors))


if __name__ == "__main__":
    main()
