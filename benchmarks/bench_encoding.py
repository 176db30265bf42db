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

JAPANESE = (
    "東京都は十日、大規模な防災訓練を来月実施すると発表した。訓練には約三千人の住民が参加し、"
    "地震や津波を想定した避難経路の確認を行う。都の担当者は「日頃の備えが命を守る」と話している。"
    "また、区内の小学校では児童が消火器の使い方を学び、地域の消防団員が指導にあたった。"
    "参加した子どもたちは真剣な表情で説明を聞き、実際に水を使った放水も体験した。"
    "一方、大阪府では新しい観光案内所が駅前に開設され、外国人旅行者への対応を強化する。"
    "案内所には英語や中国語を話せる職員が常駐し、交通機関の乗り換えや宿泊施設の紹介を行う。"
    "府の観光局によると、昨年の訪日客数は前年を大きく上回り、地元の商店街にも活気が戻りつつある。"
    "農林水産省は今年の米の作柄について、全国的に平年並みとの見通しを示した。"
    "ただし、一部の地域では夏の高温の影響で品質の低下が心配されており、引き続き調査を進めるという。"
)
KOREAN = (
    "서울시는 10일 새로운 교통 정책을 발표했다. 이번 정책은 대중교통 이용을 늘리고 도심의 교통 "
    "혼잡을 줄이는 것을 목표로 한다. 시 관계자는 시민들의 의견을 적극적으로 반영하겠다고 말했다. "
    "부산에서는 국제 영화제가 열려 많은 관객이 몰렸다. 올해 영화제에는 세계 각국에서 온 작품이 "
    "상영되었으며, 감독과 배우들이 관객과 대화하는 시간도 마련되었다. 정부는 내년 예산안을 국회에 "
    "제출했다. 예산안에는 일자리 창출과 복지 확대를 위한 항목이 크게 늘어났다. 전문가들은 경제 "
    "회복을 위해 재정의 역할이 중요하다고 지적하면서도 재정 건전성을 함께 고려해야 한다고 강조했다. "
    "한편 농촌 지역에서는 가을 수확이 한창이다. 농민들은 올해 날씨가 좋아 풍년이 들었다며 기뻐했다."
)


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
