"""Whom or where a question is about, and whether a passage is about them too.

A story often gives one figure for several places (the Yangtze delta's total, then Shanghai's,
Zhejiang's shares): a passage that never names the place asked about cannot answer for it, and
its figure must not join a timeline of that place's figures. Places are found by name (China's
provinces and regions, the main countries and blocs, in Chinese, Traditional script or English)
and by form (a name ending in 省, 市, 县, 州, 盟, 旗 or 自治区 after a word boundary); a passage or
its headline (or the first paragraph of its story, whose dateline names the place the rest
takes for granted) must name each of them (the short form is enough: 浙江 for 浙江省). China's stock
exchanges count as places: their figures are reported side by side (上交所 beside 深交所).
"""

from __future__ import annotations

import re

from qa.index.lexical import fold

# Chinese name (short form) -> English names: China's provinces and regions, then places abroad
_HOME = {
    "北京": "beijing", "天津": "tianjin", "上海": "shanghai", "重庆": "chongqing",
    "河北": "hebei", "山西": "shanxi", "辽宁": "liaoning", "吉林": "jilin",
    "黑龙江": "heilongjiang", "江苏": "jiangsu", "浙江": "zhejiang", "安徽": "anhui",
    "福建": "fujian", "江西": "jiangxi", "山东": "shandong", "河南": "henan", "湖北": "hubei",
    "湖南": "hunan", "广东": "guangdong", "海南": "hainan", "四川": "sichuan",
    "贵州": "guizhou", "云南": "yunnan", "陕西": "shaanxi", "甘肃": "gansu", "青海": "qinghai",
    "台湾": "taiwan", "内蒙古": "inner mongolia", "广西": "guangxi", "西藏": "tibet|xizang",
    "宁夏": "ningxia", "新疆": "xinjiang", "香港": "hong kong", "澳门": "macao|macau",
    "长三角": "yangtze river delta", "京津冀": "beijing-tianjin-hebei", "粤港澳大湾区": "greater bay area",
}
_ABROAD = {
    "美国": "united states|u\\.s\\.|america", "日本": "japan", "俄罗斯": "russia", "英国": "britain|uk",
    "法国": "france", "德国": "germany", "印度": "india", "韩国": "south korea", "欧盟": "european union|eu",
    "东盟": "asean", "巴西": "brazil", "澳大利亚": "australia", "加拿大": "canada",
    "意大利": "italy", "西班牙": "spain", "荷兰": "netherlands", "瑞士": "switzerland",
    "墨西哥": "mexico", "阿根廷": "argentina", "南非": "south africa", "埃及": "egypt",
    "土耳其": "turkey|türkiye", "伊朗": "iran", "以色列": "israel", "乌克兰": "ukraine",
    "沙特": "saudi", "越南": "vietnam", "泰国": "thailand", "新加坡": "singapore",
    "印度尼西亚": "indonesia", "马来西亚": "malaysia", "巴基斯坦": "pakistan",
    "哈萨克斯坦": "kazakhstan", "新西兰": "new zealand", "波兰": "poland", "朝鲜": "dprk",
}
# China's stock exchanges, reported side by side (深交所 beside 上交所): short form -> full name
# and English name
_EXCHANGES = {
    "上交所": ("上海证券交易所", "shanghai stock exchange"),
    "深交所": ("深圳证券交易所", "shenzhen stock exchange|szse"),
    "北交所": ("北京证券交易所", "beijing stock exchange"),
    "港交所": ("香港交易所|香港联合交易所", "hong kong (?:stock )?exchange|hkex"),
}
_FULL_NAMES = [(re.compile(full), short) for short, (full, _) in _EXCHANGES.items()]
PLACES = _HOME | _ABROAD | {short: english for short, (_, english) in _EXCHANGES.items()}
ABROAD = frozenset(_ABROAD)  # a number question about China is not answered from them
_NAMES = re.compile("|".join(sorted(PLACES, key=len, reverse=True)))
_ENGLISH = [(name, re.compile(rf"\b(?:{english})\b", re.I))
            for name, english in sorted(PLACES.items(), key=lambda p: p[0] not in _EXCHANGES)]
# a place by its form: two to four characters before its kind, after punctuation, 的, 在, 和, 与,
# 及 or the start (a name run on from other words is not found, rather than found wrong)
_BY_FORM = re.compile(r"(?:^|(?<=[的在和与及，、：\s]))([\u4e00-\u9fff]{2,4}?)(?:省|市|县|自治区|盟|旗)")
_NOT_A_NAME = re.compile(r"[哪几什多这那各每本该全同某]")
# an edition (第137届广交会) names one event of a series: a passage about another edition is not
# about it
_EDITION = re.compile(r"第\s*(\d+|[一二三四五六七八九十百]+)\s*届")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def folded(text: str) -> str:
    """`text` folded (Simplified, lower case), lone surrogates first made spaces: they are no
    part of a name, and `fold` cannot take them."""
    return fold(_SURROGATE.sub(" ", text))

# a question about China names it (or its statistics office); a sentence is about China when it
# says so, or names China with a partner (中美, 对华)
_CHINA_ASKED = re.compile(r"我国|中国|全国|国内|国家统计局|\bchina\b|\bchinese\b")
_CHINA_SAID = re.compile(r"中国|我国|全国|中方|国内|[对在来访赴]华|中[美欧日俄英法德印韩非东]")
_NOT_PLACES = {"全国", "全市", "全省", "全县", "本市", "我市", "我省", "城市", "超市", "股市", "上市",
               "各省", "各市", "城乡", "直辖"}


def subjects(question: str) -> tuple[str, ...]:
    """The places `question` is about, as short forms (浙江, 通辽), and the edition it names
    (第137届), in the order found."""
    question = _SURROGATE.sub(" ", question)  # no part of a name, and fold cannot take them
    q = _short(fold(question))
    found = [m.group() for m in _NAMES.finditer(q)]
    for name, english in _ENGLISH:  # exchanges first: "Shanghai Stock Exchange" is no city
        if english.search(question):
            found.append(name)
            question = english.sub(" ", question)
    found += [f"第{m.group(1)}届" for m in _EDITION.finditer(q)]
    for m in _BY_FORM.finditer(q):
        name = m.group(1)
        if (name not in _NOT_PLACES and not _NOT_A_NAME.search(name)
                and not any(name in f or f in name for f in found)):
            found.append(name)
    return tuple(dict.fromkeys(found))


def _short(text: str) -> str:
    """An exchange's full name as its short form (上海证券交易所 → 上交所), the name asked for."""
    for full, short in _FULL_NAMES:
        text = full.sub(short, text)
    return text


def about(places: tuple[str, ...], text: str) -> bool:
    """Whether `text` (a passage with its headline) names every one of `places`."""
    if not places:
        return True
    text = re.sub(r"第\s*(\d+)\s*届", r"第\1届", folded(text))
    both = f"{text}\n{_short(text)}"  # 上海 and 上交所 are both named by 上海证券交易所
    return all(place in both for place in places)


def about_china(question: str) -> bool:
    """Whether `question` asks about China (我国, 全国, 国家统计局, China) and about no place abroad."""
    return bool(_CHINA_ASKED.search(folded(question))) and not any(
        p in ABROAD for p in subjects(question))


def abroad(sentence: str) -> bool:
    """Whether the sentence that holds an answer is about a country abroad and not China:
    英国国家统计局…英国4月CPI同比上涨8.7% is no answer to 国家统计局公布的CPI."""
    return not _CHINA_SAID.search(folded(sentence)) and any(
        p in ABROAD for p in subjects(sentence))


def elsewhere(places: tuple[str, ...], sentence: str) -> bool:
    """Whether the sentence that holds an answer is about somewhere else: it names a place, or
    全国 (the whole country), and none of the places asked about (editions aside). A story about
    one place's figure names others around it ("全国共1.85亿人次出入境；上海口岸…"): its
    passage is about 上海 too, the figure's sentence is not."""
    asked = [p for p in places if not p.startswith("第")]
    if not asked:
        return False
    text = folded(sentence)
    if any(place in f"{text}\n{_short(text)}" for place in asked):
        return False
    return "全国" in text or any(not p.startswith("第") for p in subjects(sentence))

