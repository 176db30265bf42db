"""Measure words: the units a number is counted in, the unit a question asks for, and a span
completed with the unit that follows its number."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from qa.index.lexical import fold_aligned
from qa.types import Span

UNITS = (
    "平方公里|平方千米|平方米|立方米|标立方米|公里|千米|厘米|毫米|米|公斤|千克|公顷|亩|吨|克|"
    "万千瓦时|千瓦时|千瓦|兆瓦|万元|亿元|元|美元|万|亿|岁|周岁|年|个月|月|天|日|小时|分钟|秒|"
    "人次|架次|班次|车次|艘次|辆次|台次|个|名|人|位|家|项|次|件|辆|台|座|所|户|套|条|场|届|倍|种|类|部|本|篇|张|只|头|株|棵|间|层|"
    "批|支|队|处|栋|千|百|%|％|‰|℃|度|分|点|周|期|轮"
)
# counted in these too, but asked for in another word as often (几趟 → 896列, 多少班 → 15878架次):
# a number keeps them, a question asking in them is not held to them
COUNT_WORDS = "列|趟|班|艘|架|枚|颗|份|例|节|块|对|双|匹|首|幅|册|门|顆|節|塊|對|雙|冊"

# the same words in Traditional script
UNITS += "|車次|輛次|臺次|萬元|億元|萬千瓦時|千瓦時|小時|分鐘|個月|萬|億|歲|週歲|個|項|輛|臺|戶|條|場|屆|種|類|張|隻|頭|間|層|處|棟|週|輪|噸|釐米|公尺"

_NUMERAL = re.compile(r"[\d０-９零〇一二三四五六七八九十百千万亿两萬億兩]")
_ENDS_IN_NUMBER = re.compile(r"[\d０-９零〇一二三四五六七八九十百千万亿两萬億兩余餘多]$")
_ASKED_UNIT = re.compile(rf"(?:多少|几|幾)({UNITS})")
_COUNTED_IN = f"{UNITS}|{COUNT_WORDS}"
_UNIT_AFTER = re.compile(rf"(?:{_COUNTED_IN})(?:[/每](?:{UNITS}))?")
_ABOUT_UNIT_AFTER = re.compile(rf"[多余餘](?:{_COUNTED_IN})(?:[/每](?:{UNITS}))?")  # 460|多人
_UNIT_AT_END = re.compile(rf"(?:{UNITS})$")
_ASKED_ORDINAL = re.compile(r"第(?:多少|几|幾)")
BOUND = re.compile(r"以上|以下|左右")
_ENDS_AS_VALUE = re.compile(rf"(?:[\d０-９零〇一二三四五六七八九十百千万亿两萬億兩多余餘]|{_COUNTED_IN})$")


def asked_unit(question: str) -> str | None:
    """The measure word a count question asks for: 多少家 -> 家, 第几个 -> 个; else None."""
    m = _ASKED_UNIT.search(question)
    return m.group(1) if m else None


def complete_count(question: str, passage: str, span: Span) -> Span:
    """A number keeps the measure word that follows it in the passage (1207 -> 1207个,
    28000 -> 28000标立方米/小时, 1000 -> 1000万美元), the rest of a measure word cut short
    (1.85亿人 -> 1.85亿人次), and 第 when the question asks "第几":
    of CMRC 2018 train's answers that end in a number, 791 include the unit after them and 4
    do not (newsqa_train: 427 and 54)."""
    a, b = span.start, span.end
    for _ in range(3):  # a multiplier, then a unit: 1000|万|美元
        if not (_NUMERAL.search(passage[a:b]) and _ENDS_IN_NUMBER.search(passage[a:b])):
            break
        m = _UNIT_AFTER.match(passage, b) or _ABOUT_UNIT_AFTER.match(passage, b)
        if not m:
            break
        b = m.end()
    # a unit cut short: 1.85亿人|次 -> 1.85亿人次
    if _NUMERAL.search(passage[a:b]) and (tail := _UNIT_AT_END.search(passage, a, b)) \
            and (longer := _UNIT_AFTER.match(passage, tail.start())) and longer.end() > b:
        b = longer.end()
    # a bound is part of the value (80%以上 is not 80%), unless the question says it already
    # (不允许给多大年龄以下的孩子 → 八周岁)
    if _NUMERAL.search(passage[a:b]) and _ENDS_AS_VALUE.search(passage, a, b) and (
            bound := BOUND.match(passage, b)) and bound.group() not in fold_aligned(question):
        b = bound.end()
    if _ASKED_ORDINAL.search(question) and a > 0 and passage[a - 1] == "第" \
            and _NUMERAL.search(passage[a:b]):
        a -= 1
    if (a, b) == (span.start, span.end):
        return span
    return replace(span, start=a, end=b, text=passage[a:b],
                   sentence_start=min(a, span.sentence_start), sentence_end=max(b, span.sentence_end))


# 比例/占比/增幅/…率 ask for a share: a percentage fits, a count does not
SHARE = re.compile(r"比例|比重|占比|百分比|增幅|降幅|增速|涨幅|[^效]率")
PERCENT = re.compile(r"[%％‰]|百分之|成$")
RATIO = re.compile(r"\d\s*[:：比]\s*\d")  # 男女生比例 1：7
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
        # an English question names what it counts; the Chinese answer counts it in its word
        (r"how many (?:[\w'’.–—-]+ ){0,3}trains", r"列|趟"),
        (r"how many (?:[\w'’.–—-]+ ){0,3}flights", r"班|架次"),
        (r"how many (?:[\w'’.–—-]+ ){0,3}(?:people|persons|visitors|tourists|passengers|trips|travell?ers|"
         r"residents|workers|students|children|employees|patients|volunteers)", r"人|名"),
        (r"how many (?:[\w'’.–—-]+ ){0,3}(?:companies|enterprises|firms|businesses)", r"家|户"),
        (r"how many (?:[\w'’.–—-]+ ){0,3}(?:vehicles|cars)", r"辆|台"),
        (r"how many (?:[\w'’.–—-]+ ){0,3}(?:tons|tonnes)", r"吨"),
        (r"how much (?:money|funding|investment|revenue|income)", r"元|美元|欧元"),
    ]
]


def wanted_unit(question: str) -> re.Pattern[str] | None:
    """Units a count must carry for this question (体重 → 公斤…), or None."""
    return next((unit for quantity, unit in _MEASURES if quantity.search(question)), None)


# --- the value the question asks for, inside a span that carries more -----------------------

# a change needs its verb: 100米至2800米 with none is a range, and asked as one
# the verbs of a change and the word before its new value: 从60%|提升到|100%
CHANGE_TO = (r"(?:上调|下调|提高|提升|增加|增长|扩大|缩短|缩小|减少|降低|下降|上升|恢复|延长|调整|攀升|跃升|"
             r"增|升|降)(?:至|到|为)")
_CHANGE = re.compile(rf"^(?:从|由)?(?P<old>.+?){CHANGE_TO}(?P<new>.+)$")
ASKS_OLD = re.compile(r"(?:从|由|原来|原先|原本|此前|之前|以前|过去)[^，。？?]{0,8}(?:多少|几)")
_CLAUSE = re.compile(r"[，；;。]|,(?!\d{3})")  # not the comma of 2,173
_VALUE_END = re.compile(rf"[\d０-９零〇一二三四五六七八九十百千万亿两萬億兩](?:[多余餘]?(?:{_COUNTED_IN}))*"
                        rf"(?:{BOUND.pattern})?")
_ENDS_IN_VALUE = re.compile(r"[\d０-９零〇一二三四五六七八九十百千万亿两萬億兩][^\d，,；;。]{0,4}$")
_STARTS_WITH_VALUE = re.compile(r"(?:第|约|近|(?<!不)超过|超|逾)?[\d０-９零〇一二三四五六七八九十两]")
# what a change goes to, before its value: 减少到现在的27项, 提高到目前的3.5%
_NOW = r"(?:现在|目前|当前|如今|今年|去年|年底|年末)"  # 提升到|现在的|100%
_NEW_LEAD = re.compile(rf"^{_NOW}的")
# a value and nothing else: 12周, 约3200元, 460多人
_BARE_VALUE = re.compile(rf"(?:第|约|近|(?<!不)超过|超|逾)?[\d０-９.．]+(?:[多余餘]|[万亿萬億])*(?:{_COUNTED_IN})*"
                         rf"(?:{BOUND.pattern})?")
DIGIT = re.compile(r"[\d０-９]")
_CODE = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")  # MU|9191: the letters are the code's own


def asked_value(question: str, span: Span, fits: Callable[[str], bool] = lambda _: True) -> Span:
    """The value a number question asks for, when the reader's span holds more: of a span run
    on past its value, the first clause whose value `fits` the question (4.17亿吨，同比增长4.1% →
    4.17亿吨; 27个,办结率为18.8% asked for a share → 18.8%), and in it the new value of a change
    (3个多小时缩短至40分钟 → 40分钟, unless the question asks the old one)."""
    text = span.text
    a, b = _fitting_clause(text, fits)
    a += _new_value(question, text[a:b])
    # words before the value, none of them a number, a unit's 每 or a code's letters:
    # 最长开具不超过12周 → 12周 (第, 约, 近, 超 are the value's own)
    if not _STARTS_WITH_VALUE.match(text, a):
        bare = next((p for p in range(a + 1, b) if _BARE_VALUE.fullmatch(text, p, b)), None)
        if (bare is not None and not DIGIT.search(text, a, bare) and "每" not in text[a:bare]
                and not _CODE.match(text, bare - 1)):
            a = bare
    if (a, b) == (0, len(text)):
        return span
    return replace(span, start=span.start + a, end=span.start + b, text=text[a:b])


def _fitting_clause(text: str, fits: Callable[[str], bool]) -> tuple[int, int]:
    """Where in `text` the first clause whose value fits is, from its value to its last one
    (办结率为18.8% → 18.8%); all of `text` when it is one clause or holds no value."""
    if not _CLAUSE.search(text):
        return 0, len(text)
    clauses, start = [], 0
    for cut in [*_CLAUSE.finditer(text), None]:
        end = cut.start() if cut else len(text)
        ends = [v.end() for v in _VALUE_END.finditer(text, start, end)]
        if ends:
            clauses.append((start, max(ends)))
        start = cut.end() if cut else end
    if not clauses:
        return 0, len(text)
    a, b = next((c for c in clauses if fits(text[c[0]:c[1]])), clauses[0])
    first = _STARTS_WITH_VALUE.search(text, a, b)  # a clause's value, not its lead-in
    return (first.start() if a > 0 and first else a), b


def _new_value(question: str, clause: str) -> int:
    """Where the new value of a change begins in `clause` (从2013年的190项减少到现在的27项 → at
    27项), 0 when it holds no change or the question asks the old value."""
    m = _CHANGE.match(clause)
    if not m or _CLAUSE.search(m["old"]) or not _ENDS_IN_VALUE.search(m["old"]) \
            or ASKS_OLD.search(question):
        return 0
    lead = _NEW_LEAD.match(m["new"])
    new = m.start("new") + (lead.end() if lead else 0)
    return new if _STARTS_WITH_VALUE.match(clause, new) else 0


_TO_NEW = re.compile(rf"{CHANGE_TO}{_NOW}?的?")  # 60%|提升到|100%
_FROM_BEFORE = re.compile(r"(?:从|由)[^，。；;]{0,12}$")


def new_of_change(question: str, passage: str, span: Span, fits: Callable[[str], bool] = lambda _: True
                  ) -> Span:
    """The new value of a change when the span is its old one (从贷款本金的60%提升到100%
    marked at 60% → 100%; 由原来的5%提高到20%以上 → 20%以上), unless the question asks the old
    one or the new value is not the kind asked."""
    if ASKS_OLD.search(question) or not _FROM_BEFORE.search(passage, span.sentence_start, span.start):
        return span
    verb = _TO_NEW.match(passage, span.end, span.sentence_end)
    new = _BARE_VALUE.match(passage, verb.end(), span.sentence_end) if verb else None
    if not new or not DIGIT.search(new.group()) or not fits(new.group()):
        return span
    return replace(span, start=new.start(), end=new.end(), text=new.group(),
                   sentence_end=max(new.end(), span.sentence_end))
