"""The seed pages in corpus/, for tests that need their text."""

import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def page(name: str) -> str:
    """A seed page as running text: hard-wrapped lines joined, stray print spaces dropped."""
    path = next(CORPUS.glob(f"{name}_*.txt"))
    text = "".join(line.strip() for line in path.read_text("utf-8").splitlines())
    return re.sub(r"(?<=[\u4e00-\u9fff]) +| +(?=[\u4e00-\u9fff])", "", text)
