"""What a question asks for, and where a sentence answers it (for the rule-based answerer).

`analyse` finds the answer type a question wants (person, number, time, place, organisation,
thing, clause), where its question word sits and its IDF-weighted content words; `typed`
finds phrases of a type in a sentence; `align` matches a sentence against the question so
that the gap the question word leaves open can be read off ("…计划实施多少个重点项目" against
"…计划实施296个重点项目" leaves "296个"). All of it works on folded text (`fold_aligned`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

import jieba

from qa.index.lexical import fold, fold_aligned
from qa.reader.base import LIGHT, PUNCT
from qa.reader.measure import BOUND, PERCENT, RATIO, SHARE, UNITS, asked_unit, wanted_unit
from qa.text import HAN

jieba.setLogLevel(logging.WARNING)

@cache
def _idf() -> tuple[dict[str, float], float]:
    """jieba's IDF table and its median, read as `jieba.analyse` reads them: importing that
    module also loads jieba's part-of-speech tagger, which doubles the cost (~1 s here)."""
    idf: dict[str, float] = {}
    text = (Path(jieba.__file__).parent / "analyse" / "idf.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        word, freq = line.strip().split(" ")
        idf[word] = float(freq)
    return idf, sorted(idf.values())[len(idf) // 2]


def _weight(word: str) -> float:
    idf, median = _idf()
    return idf.get(word, median)


# --- question analysis ----------------------------------------------------------------------

PERSON, NUMBER, TIME, PLACE, ORG, THING, CLAUSE = (
    "person", "number", "time", "place", "organisation", "thing", "clause"
)

# Ordered: the first pattern that matches names the answer type; longer forms come first.
# 哪两个/哪三项…: several things, listed with 、 and often followed by their count (…2个千亿级…)
WHICH_N = r"哪[两二三四五六七八九十几]+[个项家条种类方面大批件座所名位]?"
COUNT_TAIL = re.compile(r"(?:\d+|[两二三四五六七八九十]+)[个项家条种类批件座所名位]?$")

_QUESTION_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), kind)
    for p, kind in [
        (r"为什么|为何|什么原因|何故|怎么样|怎样|怎么|如何|\bwhy\b|\bhow\b(?! (many|much|old|long|big|large|high|far))", CLAUSE),
        (r"什么时候|什么时间|何时|哪一年|哪年|哪一天|哪天|哪个月|几月|几号|几点|哪个时期|什么时期|什么年代|\bwhen\b|\bwhat (year|date|time|day)\b|\bwhich (year|date|day|month)\b", TIME),
        (r"哪个单位|哪家|什么单位|哪个部门|什么部门|哪个机构|什么机构|哪个公司|什么公司|哪所|哪个组织|什么组织|哪个企业|什么企业|\bwhich (company|organi[sz]ation|unit|department|agency|firm)\b", ORG),
        (r"哪里|哪儿|何处|何地|哪个地方|什么地方|哪个(?:国家|省|市|县|区|城市|地区)|哪国|哪些地区|\bwhere\b|\bwhich (country|city|province|place|district)\b", PLACE),
        (r"谁|哪位|哪些人|什么人|何人|\bwho(m|se)?\b", PERSON),
        (r"多少|多大|多高|多长|多远|多重|多久|多深|多宽|第几|几|\bhow (many|much|old|long|big|large|high|far)\b"
         # an English question for a figure: "what was the export value", "what share"
         r"|\bwhat (?:share|percentage|proportion)\b|\bwhat (?:was|is|were|are|will be) (?:the )?"
         r"(?:[\w'’-]+ ){0,4}?(?:value|number|amount|total|share|rate|index|volume|output|percentage|"
         r"proportion|population|price|cost|growth|revenue|income|turnover|capacity|investment)\b", NUMBER),
        (rf"{WHICH_N}|什么|哪个|哪些|哪一|啥|何|\bwhat\b|\bwhich\b", THING),
    ]
]
_HAN_WORD = re.compile(f"[{HAN}]")
_TRAILER = re.compile(r"[吗呢呀啊]*[？?。！!\s]*$")
_CLAUSE_CUT = re.compile(r"[，；;：:。]|,(?!\d{3})")  # not the comma of 2,173


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

    @property
    def clause(self) -> str:
        """The clause that holds the question word: what is asked, without the context around
        it (…降幅超过26%,这折合节约了多少标准煤 → 这折合节约了多少标准煤)."""
        cuts = [m.end() for m in _CLAUSE_CUT.finditer(self.text, 0, self.wh_start)]
        after = _CLAUSE_CUT.search(self.text, self.wh_end)
        return self.text[cuts[-1] if cuts else 0 : after.start() if after else len(self.text)]


@lru_cache(maxsize=512)
def analyse(question: str) -> Question:
    """Answer type, question-word position and weighted content words of a question (kept for
    the latest questions: every answerer, and every reread of a passage, asks it again)."""
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
    return bool(word) and not all(ch in LIGHT or ch in PUNCT or ch.isspace() for ch in word)


# --- typed phrases --------------------------------------------------------------------------

_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二三四五六七八九十百千万亿两]+)"
_NUMBER = re.compile(
    rf"(?:近|约|逾|超过|超|达|共|计|仅|将近|大约|接近|不到|不足|多达|高达)?"
    rf"(?:百分之{_NUM}|第?{_NUM}(?:多|余)?(?:[万亿千百](?!米))*(?:{UNITS})?"
    rf"(?:/(?:{UNITS})|(?:多|余)?(?:{UNITS}))?)"
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
_AFTER_TITLE = re.compile(rf"(?:{_TITLES})([{HAN}]{{2,3}}?)(?=[，,、。；\s（(]|主持|表示|说|指出|强调|介绍|出席|参加|带领|率|一行|等|和|与|及|在|$)")
# digits, or a Chinese numeral beyond a bare 一 (一种, 一个 are articles more than counts)
NUMERAL = re.compile(r"\d|[二三四五六七八九十百千万亿两]|一[一二三四五六七八九十百千万亿]")
_FOREIGN_NAME = re.compile(rf"[{HAN}]{{2,6}}(?:[·•][{HAN}]{{2,6}}){{1,3}}")
_NAME_TAGS = ("nr", "nrfg", "nrt")
_NOT_A_NAME = set("的了是在和与及或也都就为于以由对被把将着过并该这那有")


def typed(kind: str, piece: str) -> list[tuple[int, int]]:
    """Spans of `piece` that look like an answer of type `kind`, left to right."""
    found: list[tuple[int, int]] = []
    if kind == NUMBER:
        found = [m.span() for m in _NUMBER.finditer(piece)
                 if NUMERAL.search(m.group()) and not re.fullmatch(r"\d", m.group())]
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
                    if all(ch in LIGHT or ch in PUNCT for ch in sub):
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


def unmentioned(q: Question, passage: str, context: str = "") -> float:
    """`absent` over a passage and its context (headline, paper), counting the question's
    Chinese words only: English words cannot be looked for in Chinese text, so an English
    question gets 0."""
    han = [(w, x) for w, x in zip(q.words, q.weights, strict=True) if _HAN_WORD.search(w)]
    if not han:
        return 0.0
    words, weights = zip(*han, strict=True)
    return absent(replace(q, words=words, weights=weights), fold(passage) + "\n" + fold(context))


# --- does an answer fit the question --------------------------------------------------------

_ENDING_UNIT = re.compile(rf"(?:{UNITS})(?=(?:{BOUND.pattern})?$)")  # 70%以上 ends in %
# a question about how much something grew or fell: a percentage answers it, whatever is counted
# (营业收入同比增长了多少 → 5.2%; 按不变价格计算增长了多少 → 5.4%)
_CHANGE_ASKED = re.compile(
    r"(?:增长|增加|上涨|上升|提高|提升|下降|下跌|减少|降低|回落|涨|降)了?(?:多少|几)"
    r"|\bby how much\b|\bhow much (?:did|has|have|was|were)\b.*\b(?:grow|grew|grown|rise|rose|risen|"
    r"increase|fall|fell|fallen|drop|decline)", re.IGNORECASE)


def asks_measure(question: Question | str) -> bool:
    """Whether a question asks for a number in a known measure: a count in a measure word
    (多少家), a share (比例, 增幅) or a quantity with its units (面积, 多久)."""
    q = analyse(question) if isinstance(question, str) else question
    return q.kind == NUMBER and bool(asked_unit(q.text) or SHARE.search(q.clause)
                                     or wanted_unit(q.clause))


def fits(question: Question | str, text: str) -> bool:
    """Whether `text` is the kind of answer `question` asks for: a numeral for a number, in the
    measure asked for when there is one (not 7个 for 多少家, a percentage for 比例, a length in
    米 for 多长; a ratio may answer 比例; a change asked takes a percentage), a date for a time, no
    digits in a name. Other kinds are not checked."""
    q = analyse(question) if isinstance(question, str) else question
    folded = fold_aligned(text)
    if q.kind == NUMBER:
        if not NUMERAL.search(folded):
            return False
        if SHARE.search(q.clause):  # 降幅超过26%,这折合节约了多少标准煤 asks no share
            return bool(PERCENT.search(folded) or RATIO.search(folded))
        unit, ending = asked_unit(q.text), _ENDING_UNIT.search(folded)
        if not unit and _CHANGE_ASKED.search(q.text) and PERCENT.search(folded):
            return True
        if unit:
            return not (ending and not ending.group().endswith(unit) and unit not in folded)
        measure = wanted_unit(q.clause)
        return not (measure and ending and not measure.search(folded))
    if q.kind == TIME:
        return bool(typed(TIME, folded))
    if q.kind == PERSON:
        return not re.search(r"\d", folded) and len(text) <= 12
    return True


# what a count is counted in: 个 is the general word, and a count in another one may still be
# what was asked (多少个事项 → 583项)
_COUNTED = re.compile(
    r"(?:个|個|名|人|位|家|项|項|次|件|辆|輛|台|臺|座|所|户|戶|套|条|條|场|場|届|屆|种|種|类|類|部|"
    r"本|篇|张|張|只|头|株|棵|间|層|层|批|支|队|处|處|栋|艘|架|列|趟|班|人次|架次|班次|车次|艘次)"
    rf"(?:{BOUND.pattern})?$")


def another_measure(question: Question | str, text: str) -> bool:
    """Whether `text` is plainly not the number a measure question asks for: not in its measure
    (a length for 总投资, a count for 比例, 人次 for "how many trains"), unless the question
    counts in 个 and the text is a count in another measure word."""
    q = analyse(question) if isinstance(question, str) else question
    if not asks_measure(q) or fits(q, text):
        return False
    return not (asked_unit(q.text) in ("个", "個") and _COUNTED.search(fold_aligned(text)))
