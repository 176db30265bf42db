"""The fields of a printed page header: the paper's name, the date, the 版次 and the section.

Headers print them in many forms, often several on one line (`2023年3月12日 星期日 第3版
要闻 责任编辑：王明`): dates as 2023年3月12日, 2023-03-12, 2023.03.12, 2023/3/12 or
二〇二三年三月十二日; 版次 as 第3版, 第三版, 3版, A3版, A03 or A3 alone; the paper's name as
the masthead (the largest type at the top of the page) or as a paper's name (…日报, …晚报,
…都市报, in either script). Each
field is searched for on every line, in simplified or traditional script.
"""

from __future__ import annotations

import re
from datetime import date

from qa.ingest.segment import Meta
from qa.text import HAN

_CN = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_CN_NUM = "〇零一二三四五六七八九十两"
DATE = re.compile(
    rf"((?:19|20)\d{{2}})\s*(?:年\s*(\d{{1,2}})\s*月\s*(\d{{1,2}})\s*日|([-./])\s*(\d{{1,2}})\s*\4\s*(\d{{1,2}})(?!\d))"
    rf"|([〇零一二三四五六七八九]{{4}})\s*年\s*([{_CN_NUM}]{{1,2}})\s*月\s*([{_CN_NUM}]{{1,3}})\s*日")
PAGE = re.compile(rf"第\s*([0-9{_CN_NUM}百]{{1,4}})\s*版|(?<![A-Za-z0-9])([A-Z]?\d{{1,3}})\s*版"
                  r"|^([A-Z]\d{1,3})$")
SECTION = re.compile(rf"^[·•|｜:：\s]*([{HAN}]{{2,6}})(?![{HAN}])")
PAPER = re.compile(rf"[{HAN}]{{1,8}}(?:[日晚早晨时時商快周週导導]|都市|青年|法治|法制|经济|經濟|农民|農民|工人|"
                   rf"参考|參考|科技|文汇|文匯|侨|僑|画|畫)[报報]$")
EDITOR = re.compile(r"(?:责任|本版|美术|图片)?(?:编辑|編輯)|校对|校對|美编|美編|审校|審校|值班|版式|组版|組版|排版|制图|製圖")
WEEKDAY = re.compile(r"(?:星期|周|週|礼拜|禮拜)[一二三四五六日天]")
MASTHEAD = 2.0  # the masthead is set at least this many times the header's other type


def chinese_number(text: str) -> int | None:
    """十三 -> 13, 二十 -> 20, 一〇三 -> 103 (digit by digit); None when it is no number."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN and ch not in "十百" for ch in text):
        return None
    if "十" not in text and "百" not in text:
        return int("".join(str(_CN[ch]) for ch in text))
    total, unit_value = 0, 0
    for ch in text:
        if ch in "十百":
            total += (unit_value or 1) * (10 if ch == "十" else 100)
            unit_value = 0
        else:
            unit_value = _CN[ch]
    return total + unit_value


def find_date(text: str) -> str | None:
    """The first date printed in `text`, ISO."""
    for m in DATE.finditer(text):
        if m.group(7):
            year = int("".join(str(_CN[ch]) for ch in m.group(7)))
            month, day = chinese_number(m.group(8)), chinese_number(m.group(9))
        else:
            year = int(m.group(1))
            month, day = int(m.group(2) or m.group(5)), int(m.group(3) or m.group(6))
        try:
            return date(year, month, day).isoformat()
        except (TypeError, ValueError):
            continue
    return None


def find_page(text: str) -> tuple[str, str | None] | None:
    """(版次, the section printed after it) from `text`: 第三版 -> 3, A03 -> A3."""
    m = PAGE.search(text.strip())
    if not m:
        return None
    raw = m.group(1) or m.group(2) or m.group(3)
    prefix = raw[0] if raw[0].isalpha() and raw[0].isascii() else ""
    number = chinese_number(raw[len(prefix):])
    if number is None or not 0 < number < 1000:
        return None
    section = SECTION.match(text[m.end():])
    name = section.group(1) if section else None
    if name and (EDITOR.match(name) or WEEKDAY.match(name)):
        name = None
    return f"{prefix}{number}", name


def is_field(text: str) -> bool:
    """A line of page furniture: fields (a date, a 版次 and section, editors, a paper's name)
    and little else, no sentence's punctuation. A line of text that mentions a date
    (`2023年1月1日出版的第1期《求是》`, `2022年11月5日，时任`) is no field."""
    text = text.strip()
    if not 0 < len(text) <= 60 or re.search("[，。；！？]", text):  # a sentence's
        return False
    found = bool(find_date(text) or find_page(text) or EDITOR.search(text)
                 or PAPER.fullmatch(text.replace(" ", "")))
    return found and len(_LEFT.sub("", _FIELDS.sub("", text))) <= MAX_LEFT


_EDITORS = rf"(?:{EDITOR.pattern})\s*[:：]?\s*(?:[{HAN}·]{{2,4}}(?:[\s、，,]+[{HAN}·]{{2,4}})*)?"
_FIELDS = re.compile(rf"{DATE.pattern}|{WEEKDAY.pattern}|{_EDITORS}|(?:{PAGE.pattern})\s*[·•|｜:：\s]*"
                     rf"(?:[{HAN}]{{2,6}}(?![{HAN}]))?|[{HAN}]{{1,8}}[报報]")
_LEFT = re.compile(r"[\s·•|｜:：/\-—()（）\[\]【】]+")
MAX_LEFT = 4  # characters a furniture line may hold beside its fields


def read_fields(texts: list[str], sizes: list[float] | None = None, read_by_ocr: bool = False) -> Meta:
    """The page's fields from its header lines (and their type sizes, for the masthead). On a
    scan (`read_by_ocr`) a masthead is a name only where it reads as a paper's (…日报, …晚报):
    a misread one (乌海日汉) is no name, and the catalog may give it."""
    meta = Meta()
    for text in texts:
        text = text.strip()
        meta.date = meta.date or find_date(text)
        if meta.page is None and (found := find_page(text)):
            meta.page, meta.section = found
        if meta.newspaper is None:
            for token in text.split():
                if PAPER.fullmatch(token) and not EDITOR.search(token):
                    meta.newspaper = token
                    break
    if meta.newspaper is None and sizes:
        name = _masthead(texts, sizes)
        meta.newspaper = name if name and (not read_by_ocr or PAPER.fullmatch(name)) else None
    return meta


def _masthead(texts: list[str], sizes: list[float]) -> str | None:
    """The paper's name set in large type: a short run of Han characters, alone on its line,
    in type at least `MASTHEAD` times the size of the header's smallest."""
    small = min(sizes)
    for text, size in sorted(zip(texts, sizes, strict=True), key=lambda pair: -pair[1]):
        name = text.replace(" ", "")
        if size >= MASTHEAD * small and re.fullmatch(rf"[{HAN}]{{2,10}}", name) and not find_date(name):
            return name
    return None
