"""A JSONL question set's answerable questions of one split as SQuAD-format JSON, each with the
whole paragraph that holds its evidence: validation data for `qa train-reader --eval-file`.

    python benchmarks/questions_to_squad.py benchmarks/data/user_dev.jsonl --split calibration \
        --archive ../shared/corpora/xwlb --archive corpus --out /tmp/user_dev_calibration.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.ingest.articles import ingest_file  # noqa: E402

_SQUASH = re.compile(r"[\s\"'“”‘’「」『』]")


def paragraph_of(path: Path, evidence: str) -> str | None:
    want = _SQUASH.sub("", evidence)
    for article in ingest_file(path).articles:
        for p in article.paragraphs:
            if want in _SQUASH.sub("", p.text):
                return p.text
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--split", required=True)
    parser.add_argument("--archive", type=Path, action="append", required=True,
                        help="A folder holding the questions' source files (repeatable).")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.questions.read_text("utf-8").splitlines() if line]
    paragraphs, missing = [], 0
    for row in rows:
        if row.get("split") != args.split or not row["answers"]:
            continue
        source = next((f / row["source"] for f in args.archive if (f / row["source"]).is_file()),
                      None)
        context = paragraph_of(source, row["evidence"]) if source else None
        answer = next((a for a in row["answers"] if context and a in context), None)
        if answer is None:
            missing += 1
            continue
        paragraphs.append({"context": context, "qas": [{
            "id": row["id"], "question": row["question"],
            "answers": [{"text": a, "answer_start": context.index(a)}
                        for a in row["answers"] if a in context]}]})
    args.out.write_text(json.dumps({"data": [{"title": args.questions.stem,
                                              "paragraphs": paragraphs}]}, ensure_ascii=False))
    print(f"{len(paragraphs)} questions written to {args.out}; {missing} without their paragraph")


if __name__ == "__main__":
    main()
