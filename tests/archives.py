"""Small archives built in a test's tmp_path: pages written for the tests, indexed with the
FakeEmbedder and read by the rules, so every test stays fast and offline."""

from __future__ import annotations

import shutil
from pathlib import Path

from qa.answer.pipeline import Archive
from qa.index.build import build_index
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from qa.types import Span
from tests.seeds import CORPUS

# Two dated versions of one figure: the file names give the dates.
TIMELINE_PAGES = {
    "20220106.md": "# 我市新能源汽车充电设施建设提速\n\n"
                   "本报讯 截至去年底，全市共有公共充电桩2860个，城区主要街道和商业区实现全覆盖。\n",
    "20230105.md": "# 充电网络覆盖持续扩大\n\n"
                   "本报讯 截至去年底，全市共有公共充电桩4120个，所有旗县区实现充电设施全覆盖。\n",
}
TIMELINE_QUESTION = "全市共有多少个公共充电桩？"

# Two undated reports of one fact, and a third that only mentions the topic.
AGREEING_PAGES = {
    "a.md": "# 我市教育项目建设加快推进\n\n"
            "本报讯 今年全市新建中小学校12所，新增学位8000个，一批老旧校舍完成改造。\n",
    "b.md": "# 教育投入持续加大\n\n据市教育局介绍，今年全市新建中小学校12所，总投资5.6亿元。\n",
    "c.md": "# 我市召开教育工作会议\n\n会议指出，要办好人民满意的教育，全市新建中小学校要按期投入使用。\n",
}
AGREEING_QUESTION = "今年全市新建了多少所中小学校？"


def write_pages(folder: Path, pages: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (folder / name).write_text(text, "utf-8")
    return folder


def build(tmp: Path, pages: dict[str, str] | None = None, seeds: bool = False,
          **settings) -> Settings:
    """An index in tmp/index of `pages` (and the seed pages of corpus/ with `seeds`) in
    tmp/corpus; the settings that open it."""
    corpus = tmp / "corpus"
    if seeds:
        shutil.copytree(CORPUS, corpus)
    write_pages(corpus, pages or {})
    build_index([corpus], tmp / "index", FakeEmbedder(), progress=False, log=lambda _: None)
    return Settings(index_dir=tmp / "index", corpus_dir=corpus, model="qa.testing.fake:FakeEmbedder", answerer="rules",
                    **settings)


def open_archive(settings: Settings) -> Archive:
    return Archive.open(settings, embedder=FakeEmbedder())


class Stub:
    """An answerer that finds a fixed text in the passages, with a fixed score."""

    def __init__(self, name: str, answers: dict[str, tuple[str, float]], scale: float = 1.0):
        self.name, self.answers, self.scale_by = name, answers, scale
        self.threshold, self.scale = 0.5, "stub"

    def confidence(self, score: float) -> float:
        return min(1.0, score * self.scale_by)

    def extract(self, question, passages, retrieval_scores=None, contexts=None):
        text, score = self.answers.get(question, ("", 0.0))
        for p, passage in enumerate(passages):
            i = passage.find(text) if text else -1
            if i >= 0:
                return [Span(p, i, i + len(text), text, 0, len(passage), score)]
        return []


def sure_of(settings: Settings, readings: dict[str, str]) -> Archive:
    """The archive of `settings`, its answerer reading each question's fixed text, sure of it
    (0.9): what the answer stage then makes of that reading is what a test looks at."""
    sure = Stub("stub", {question: (text, 0.9) for question, text in readings.items()})
    return Archive.open(settings, embedder=FakeEmbedder(), answerer=sure)
