"""A span cut to the shape of what the question asks: a number with its measure word and only
the value asked (qa.reader.measure; of a 分别 list, the one whose thing the question names:
qa.reader.listed), a person's name without the words after it, an
organisation's without the verb before it, the thing a 哪座桥 / 哪个气田 question names ending in
that noun. Every answerer's spans go through `shaped`.

A reader marks the right place but often takes in the words around the answer
(程耳凭借影片《无名》 for 谁; 海南岛海域的东方1-1气田 for 哪个气田; 大连石油交易 cut short of
交易所). Each rule only cuts or completes a span by the question's own words; a span that does
not hold them is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache, partial

from qa.index.lexical import fold_aligned
from qa.reader.listed import listed_value
from qa.reader.measure import asked_value, complete_count, new_of_change
from qa.reader.question import NUMBER, ORG, PERSON, PLACE, THING, Question, fits
from qa.types import Span

# after a person's name: the verb of what they did or said (程耳凭借…, 俞忠波说)
_AFTER_NAME = re.compile(r"(?:凭借|凭|因|以|说|表示|介绍|指出|认为|获得|荣获|担任|当选|带领|率领|等人)")
_NAME = re.compile(r"[\u4e00-\u9fff·]{2,8}")
# 哪座桥, 哪个气田, 哪家交易所: the noun the answer is a name of
_WHICH = re.compile(r"哪(?:一)?(?:个|座|家|所|条|片|处|款|只|部|种|项|届|位|艘|架|颗)?")


def shaped(question: str, asked: Question, passages: Sequence[str], spans: Sequence[Span]
           ) -> list[Span]:
    """`spans` (of `passages`) cut or completed to the kind of answer `asked` wants."""
    out = [complete_count(question, passages[s.passage_index], s) for s in spans]
    if asked.kind == NUMBER:
        kind = partial(fits, asked)
        out = [new_of_change(question, passages[s.passage_index], asked_value(question, s, kind), kind)
               for s in out]
        return [listed_value(question, passages[s.passage_index], s, kind) for s in out]
    if asked.kind == PERSON:
        return [person_name(s) for s in out]
    if asked.kind == ORG:
        out = [org_name(s) for s in out]
    if asked.kind in (THING, ORG, PLACE):
        return [named_thing(question, passages[s.passage_index], s) for s in out]
    return out


@lru_cache(maxsize=256)
def asked_noun(question: str) -> str | None:
    """The noun a 哪+measure word question names (哪座桥 → 桥, 哪家交易所 → 交易所), or None
    when it names none or names a general one (哪个单位, 哪个地方)."""
    from jieba import posseg

    folded = fold_aligned(question)
    m = _WHICH.search(folded)
    if not m or m.end() == m.start() + 1:
        return None
    noun = ""
    for word in posseg.lcut(folded[m.end():m.end() + 12]):  # the nouns right after it: 漫画公司
        if not word.flag.startswith("n") or not re.fullmatch(r"[\u4e00-\u9fff]+", word.word):
            break
        noun += word.word
    return noun if 1 <= len(noun) <= 6 and noun not in _GENERAL else None


_GENERAL = frozenset({"单位", "地方", "国家", "城市", "地区", "部门", "机构", "组织", "企业", "公司",
                      "方面", "时候", "人", "是", "一", "个", "些"})


def named_thing(question: str, passage: str, span: Span) -> Span:
    """A name asked by 哪+noun ends with that noun: cut after it when the span runs on
    (钦江大桥桥面… → 钦江大桥), complete it when the span stops short (大连石油交易 → …交易所),
    and drop a modifier before 的 (海南岛海域的东方1-1气田 → 东方1-1气田)."""
    noun = asked_noun(question)
    if not noun:
        return span
    a, b = span.start, span.end
    folded = fold_aligned(passage)
    at = folded.find(noun, a, b)
    if at >= 0:
        b = at + len(noun)
    else:
        for k in range(1, len(noun)):
            if folded[a:b + k].endswith(noun):
                b += k
                break
        else:
            return span
    de = folded.rfind("的", a, b - len(noun))
    if de >= 0 and b - de - 1 >= len(noun) + 2:
        a = de + 1
    if (a, b) == (span.start, span.end) or b - a <= len(noun):
        return span
    return replace(span, start=a, end=b, text=passage[a:b],
                   sentence_start=min(a, span.sentence_start), sentence_end=max(b, span.sentence_end))


# before an organisation's name: the verb that hands it the work (委托中国劳动关系学院…评估)
_BEFORE_ORG = re.compile(r"(?:委托|交由|由|经|邀请|联合|会同|授权)(?=[\u4e00-\u9fff]{4})")


def org_name(span: Span) -> Span:
    """An organisation without the verb before its name: 委托中国劳动关系学院 → 中国劳动关系学院."""
    m = _BEFORE_ORG.match(span.text)
    if not m:
        return span
    return replace(span, start=span.start + m.end(), text=span.text[m.end():])


def person_name(span: Span) -> Span:
    """A name without what follows it: 程耳凭借影片《无名》 → 程耳, 俞忠波说 → 俞忠波."""
    m = _AFTER_NAME.search(span.text, 2)
    if not m or not _NAME.fullmatch(span.text[: m.start()]):
        return span
    return replace(span, end=span.start + m.start(), text=span.text[: m.start()])
