"""Ask the archive: retrieve paragraphs, extract an answer span, cite it, or abstain."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

from qa.answer.cite import citation
from qa.answer.confidence import Calibration, family, signals
from qa.answer.explain import searched
from qa.answer.figure import other_kind
from qa.answer.subject import about, about_china, abroad, elsewhere, subjects
from qa.answer.support import agreeing, level, timeline, unconfirmed
from qa.answer.when import absolute, asked_day, narrowed, published_by
from qa.index.search import Filters, Retriever
from qa.index.store import Store, current_version
from qa.model.embed import Embedder, load_embedder
from qa.reader import Answerer, load_answerer
from qa.reader.question import NUMBER, analyse, another_measure, fits
from qa.settings import Settings
from qa.text import check_question, clean_text
from qa.types import Answer, Dated, Hit, Span

# A follow-up leans on the previous question: it points back (那/这/它/其…, "what about"),
# or is too short to stand alone.
FOLLOW_UP = re.compile(
    r"^(那|那么|那个|那些|这|这个|这些|它|它们|他|她|他们|其|该|此|另外|还有|并且|而且|同时)"
    r"|呢[？?]?$|^(and|what about|how about|then)\b",
    re.IGNORECASE,
)
SHORT_QUESTION = 8
CONFLICT_CEILING = 0.3  # the most an answer is trusted when its own day's reports disagree


def is_follow_up(question: str) -> bool:
    """Whether a question needs the previous turn to be understood."""
    q = question.strip()
    return bool(FOLLOW_UP.search(q)) or len(re.sub(r"\W", "", q)) < SHORT_QUESTION


def retrieval_query(question: str, history: Sequence[str] = ()) -> str:
    """The text to search for: the question, preceded by the last question when it is a follow-up."""
    if history and is_follow_up(question):
        return f"{history[-1]} {question}"
    return question


class Archive:
    """An opened index with its query embedder and answerer; follows index rebuilds.

    Answers scoring below the answerer's own threshold are withheld, unless the settings
    name a threshold (`abstain_threshold`), which then applies on that answerer's scale.
    """

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, answerer: Answerer,
                 calibration: Calibration | None = None):
        """`calibration` turns what is known of an answer into the probability that it is
        right (qa.answer.confidence); it applies only to the answerer family it was fitted
        for, other answerers keep their own probability."""
        self.settings = settings
        self.embedder = embedder
        self.answerer = answerer
        self.calibration = calibration if calibration and calibration.answerer == family(
            answerer.name) else None
        self.retriever = Retriever(store, embedder)
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        given = self.settings.abstain_threshold
        return self.answerer.threshold if given is None else given

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None,
             answerer: Answerer | None = None, log: Callable[[str], None] = lambda _: None
             ) -> Archive:
        """Open the live index in settings.index_dir; `log` hears about first-use builds."""
        store = Store.open(settings.index_dir)
        # side by side: the reader and the question encoder load their graphs at once (their
        # shared vocabulary is parsed by whichever comes first)
        with ThreadPoolExecutor(2, thread_name_prefix="open") as pool:
            loading = None if answerer else pool.submit(
                load_answerer, settings.answerer, settings.cache_dir, settings.device,
                runtime=settings.reader_runtime, log=log)
            embedder = embedder or load_embedder(settings, "query", log=log)
            answerer = answerer or loading.result()
        return cls(settings, store, embedder, answerer, Calibration.load())

    @property
    def store(self) -> Store:
        return self.retriever.store

    def refresh(self) -> bool:
        """Switch to a newer index version if one was published; running calls keep the old."""
        live = current_version(self.settings.index_dir)
        if live is None or live == self.store.folder:
            return False
        with self._lock:
            if live != self.store.folder:
                self.retriever = Retriever(Store(live), self.embedder, self.retriever.fusion)
        return True

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None,
            filters: Filters | None = None, depth: int | None = None,
            asked_on: date | None = None) -> Answer:
        """Answer `question` with a span from the archive, or abstain with the closest passages.

        Only reports published by the day of asking (`asked_on`, by default the settings' or
        today) are read. A time the question names (2023年, 今年 on that day) narrows it to the
        reports that can be about that time (qa.answer.when); when there are none, the answer is
        withheld, saying so, with the other times' reports cited. The answer is read from the
        best `k` passages; `depth` retrieves more for the record (`Answer.hits`), as evaluation
        does to measure recall beyond k.
        """
        q = check_question(question, self.settings.max_question_chars)
        k = k or self.settings.k
        query = retrieval_query(q, [clean_text(h) for h in history])  # typed earlier, unchecked
        retriever = self.retriever  # one version for the whole question, even if refreshed
        store = retriever.store
        day = asked_on or self.asked_on
        filtered = (filters or Filters()).mask(store)
        known = published_by(store.dates, day, filtered)  # what had been reported by then
        unread = ~known if filtered is None else filtered & ~known
        asked, mask = narrowed(q, day, store.dates, known)  # undated reports may be about it too
        hits = retriever.search_within(query, max(k, depth or 0), mask)
        label = asked.label if asked else None
        if asked and not hits:  # nothing of that time: say so, and show the other times'
            others = retriever.search_within(query, max(k, depth or 0), known)
            answer = self._withheld(q, others[:k], tuple(others), 0.0)
            return replace(answer, searched=searched(store, query, filters, 0, filtered, label,
                                                     False, unread))
        answer = self.answer(q, hits, k, latest=asked is None or asked.as_of)
        return replace(answer, searched=searched(store, query, filters, min(k, len(hits)),
                                                 filtered, label, unread=unread))

    @property
    def asked_on(self) -> date:
        """The day questions are asked on: the settings' `asked_on`, else today."""
        return asked_day(self.settings.asked_on)

    def answer(self, question: str, hits: Sequence[Hit], k: int | None = None,
               latest: bool = False) -> Answer:
        """The best-supported span in the first `k` hits, cited with the passages that agree
        (and, when dated passages differ, with its timeline), or an abstention citing them.

        A passage that never names the place the question is about (nor does its story's first
        paragraph) answers nothing; with
        `latest` (the question names no time, or asks "as of" one), the newest report of a
        figure that changed is the answer and the older ones its timeline.
        """
        everything = tuple(hits)
        hits = everything[: k or len(everything)]
        spans = self._extract(question, hits, range(len(hits)))
        places = subjects(question)
        passage_about = [about(places, f"{h.context} {h.paragraph.text}")
                         or about(places, f"{h.context} {self._lead(h)} {h.paragraph.text}")
                         for h in hits]
        number = analyse(question).kind == NUMBER
        home = about_china(question) and number  # a figure of China's

        def objection(s: Span, measure: bool = True) -> str | None:
            """Why `s` is no answer to the question, said to the reader; None when it may be."""
            text = hits[s.passage_index].paragraph.text
            before = text[s.sentence_start : s.start]
            # the sentence around the answer: an answer that is a place (马来西亚 for 哪个国家)
            # says nothing of whom the sentence is about
            around = f"{before}□{text[s.end : s.sentence_end]}"
            if not passage_about[s.passage_index] or elsewhere(places, around) or (
                    home and abroad(around)):
                named = "、".join(places or ("中国",))
                return (f"读到的答案出自没有讲{named}的句子或段落（讲的是别处），"
                        f"档案里没有找到关于{named}的答案")
            # 出口额 is not the 进出口 total, a 同比 rise not the 环比 one
            if number and (kind := other_kind(question, before)):
                return f"读到的答案（{s.text}）不是{kind}的数值，档案里没有找到所问的{kind}数值"
            if measure and another_measure(question, s.text):  # 总投资 is not answered with a length
                return f"读到的答案（{s.text}）不是问题所问的那种数量，档案里没有找到所问的数值"
            return None

        best = next((s for s in spans if objection(s) is None), None)
        if spans and best is not spans[0] and spans[0].score >= self.threshold and (
                best is None or best.score < self.threshold):
            return self._withheld(question, hits, everything, spans[0].score,
                                  reason=objection(spans[0]))
        name = self.answerer.name
        if best is None or best.score < self.threshold:
            return self._withheld(question, hits, everything, best.score if best else 0.0)
        dates, ids = [h.article.date for h in hits], [h.article.id for h in hits]

        def comparable(s: Span) -> bool:
            return objection(s, measure=False) is None and fits(question, s.text)

        dated = timeline(best, spans, dates, ids, self.threshold, comparable)
        read = best  # the reader's own best reading: what the confidence is measured on
        if latest and dated.entries and dated.entries[0] is not best:
            best = dated.entries[0]  # the newest report
            dated = timeline(best, spans, dates, ids, self.threshold, comparable)
        passages = [h.paragraph.text for h in hits]
        same = agreeing(best, spans, self.threshold)
        if again := unconfirmed(best, passages, same):  # the second, closer read
            same = agreeing(best, [*spans, *self._extract(question, hits, again)], self.threshold)
        held = {best.passage_index: (best, "answer")}
        held.update((i, (s, "agrees")) for i, s in sorted(same.items()))
        for s in dated.entries:
            held.setdefault(s.passage_index, (s, "timeline"))
        for s in dated.conflicts:
            held.setdefault(s.passage_index, (s, "conflict"))
        order = [*held, *(i for i in range(len(hits)) if i not in held)]
        cites = tuple(citation(r, hits[i], *held.get(i, (None, "related")))
                      for r, i in enumerate(order, 1))
        rank = {i: r for r, i in enumerate(order, 1)}
        articles = len({hits[i].article.id for i in (best.passage_index, *same)})
        probability = self.answerer.confidence(read.score)
        rivals = spans if read is best else [s for s in spans if s is read or s not in dated.entries]
        found = signals(question, read, probability, rivals, hits, articles,
                        self.answerer.confidence)
        shown = level(probability, articles)
        if self.calibration:  # agreement is one of its signals: no extra step for it
            probability = self.calibration.probability(found)
            shown = self.calibration.level(probability)
            if probability < self.calibration.withhold_below:
                return self._withheld(question, hits, everything, best.score, found)
        reason = None
        if dated.conflicts:  # the same day's reports disagree: neither is sure
            probability, shown = min(probability, CONFLICT_CEILING), "low"
            others = "、".join(dict.fromkeys(s.text for s in dated.conflicts))
            reason = (f"同一天（{dates[best.passage_index]}）的报道给出了不同的答案：{best.text}，"
                      f"还有 {others}")
        entries = []
        for s in dated.entries:
            p = self.answerer.confidence(s.score)
            entries.append(Dated(hits[s.passage_index].article.date or "", s.text,
                                 rank[s.passage_index], p, level(p)))
        return Answer(question, best.text, best.score, False, cites, everything,
                      confidence=probability, level=shown,
                      agreeing=articles, timeline=tuple(entries), answerer=name, signals=found,
                      resolved_date=absolute(best.text, hits[best.passage_index].article.date),
                      reason=reason)

    def _lead(self, hit: Hit) -> str:
        """The first paragraph of the hit's story, where its dateline names the place
        (在广东江门，…) that the later paragraphs take for granted; "" for the first itself."""
        if hit.paragraph.index == 0:
            return ""
        article = self.store.article(hit.article.id)
        return article.paragraphs[0].text if article and article.paragraphs else ""

    def _withheld(self, question: str, hits: Sequence[Hit], everything: tuple[Hit, ...],
                  score: float, found: Mapping[str, float] | None = None,
                  reason: str | None = None) -> Answer:
        """An abstention citing the passages that were read (and why, when it is not only a
        low score)."""
        cites = tuple(citation(r, h) for r, h in enumerate(hits, 1))
        return Answer(question, None, score, True, cites, everything, answerer=self.answerer.name,
                      signals=found or {}, reason=reason)

    def _extract(self, question: str, hits: Sequence[Hit], which: Sequence[int]) -> list[Span]:
        """The answerer's spans in the passages of `hits` numbered `which`, best first, with
        `passage_index` numbering `hits`."""
        chosen = list(which)
        spans = self.answerer.extract(
            question, [hits[i].paragraph.text for i in chosen], [hits[i].score for i in chosen],
            [hits[i].context for i in chosen],
        )
        return [replace(s, passage_index=chosen[s.passage_index]) for s in spans]
