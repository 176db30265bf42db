"""Property-based: arbitrary Unicode and bytes at the reader boundary and at Archive.ask never
raise anything but the project's own errors, and what comes out is clean text."""

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answer.pipeline import Archive
from qa.errors import QAError, ReadError
from qa.index.build import build_index
from qa.ingest.articles import ingest_file
from qa.ingest.decode import decode
from qa.reader.question import analyse
from qa.reader.shape import shaped
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from qa.text import check_question, clean
from qa.types import Span

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
UNSAFE = set(map(chr, [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85),
                       *range(0x86, 0xA0), *range(0xD800, 0xE000)]))

# Every kind of character, with the hostile ones over-represented: lone surrogates, controls,
# format characters (bidi overrides, zero-width), right-to-left scripts, emoji, CJK.
HOSTILE = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.characters(categories=["Cc", "Cf", "Zl", "Zp"]),
    st.characters(min_codepoint=0x0590, max_codepoint=0x08FF),  # Hebrew, Arabic, Syriac…
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from("\u202e\u2066\u200b\ufeff\ufffd\x00\x1b\n\r\t，。？"),
)
SHORT = st.text(HOSTILE, max_size=300)
# Up to 10,000 characters: a hostile piece repeated (generating 10k at random is slow).
LONG = st.builds(lambda piece, n: (piece * n)[:10_000], st.text(HOSTILE, min_size=1, max_size=200),
                 st.integers(1, 200))
ANY_TEXT = st.one_of(SHORT, LONG)
SUFFIXES = st.sampled_from([".txt", ".md", ".jsonl", ".csv"])
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _strings(result) -> list[str]:
    out = [result.source, *(result.warnings), result.error or ""]
    for a in result.articles:
        out += [a.title or "", a.subtitle or "", a.byline or "", a.newspaper or "", a.section or ""]
        out += [p.text for p in a.paragraphs]
    return out


@PROPERTY
@given(data=st.binary(max_size=4000))
def test_decode_any_bytes(data):
    try:
        text, encoding = decode(data)
    except ReadError:
        return
    assert isinstance(text, str) and encoding


@PROPERTY
@given(text=ANY_TEXT)
def test_clean_leaves_nothing_unsafe(text):
    cleaned = clean(text)
    assert len(cleaned.text) == len(text)
    assert not UNSAFE & set(cleaned.text)
    assert cleaned.replaced == sum(ch in UNSAFE for ch in text)


@PROPERTY
@given(text=ANY_TEXT, suffix=SUFFIXES, encoding=st.sampled_from(["utf-8", "utf-16", "gb18030"]))
def test_ingest_any_file(tmp_path, text, suffix, encoding):
    """Whatever a page holds (surrogates written as raw bytes), ingest returns a result whose
    strings are clean and storable, or names the error; it never raises."""
    path = tmp_path / f"page{suffix}"
    path.write_bytes(text.encode(encoding, "surrogatepass" if encoding != "gb18030" else "replace"))
    result = ingest_file(path)
    for s in _strings(result):
        s.encode("utf-8")  # what SQLite needs
        assert not UNSAFE & set(s) or s in (result.source,), repr(s)


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(["title", "text", "date", "newspaper", "byline", "x"]),
                              st.one_of(ANY_TEXT, st.lists(SHORT, max_size=3), st.integers(),
                                        st.none()), max_size=6))
def test_ingest_any_jsonl_record(tmp_path, fields):
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(fields) + "\n" + json.dumps({"text": "一条正常的记录，足够长的一句话。"}) + "\n",
                    "utf-8")
    result = ingest_file(path)
    assert result.error is None and result.articles  # the good record always survives
    for s in _strings(result):
        s.encode("utf-8")
        assert not UNSAFE & set(s), repr(s)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("properties")
    shutil.copytree(CORPUS, tmp / "corpus")
    build_index([tmp / "corpus"], tmp / "index", FakeEmbedder(), progress=False, log=lambda _: None)
    return Archive.open(Settings(index_dir=tmp / "index", model="qa.testing.fake:FakeEmbedder", answerer="rules"),
                        embedder=FakeEmbedder())


@PROPERTY
@given(question=ANY_TEXT, history=st.lists(SHORT, max_size=2))
def test_ask_anything(archive, question, history):
    try:
        answer = archive.ask(question, history=history)
    except QAError:
        return
    assert not UNSAFE & set(answer.question)
    if answer.text is not None:
        c = answer.citations[0]
        assert c.passage[c.answer_start:c.answer_end] == answer.text


@PROPERTY
@given(query=ANY_TEXT, k=st.integers(-5, 10**9))
def test_search_anything(archive, query, k):
    """What `qa search` does with any typed text: the edge's check, then the search."""
    try:
        hits = archive.retriever.search(check_question(query, 500), k)
    except QAError:
        return
    assert len(hits) <= max(k, 0)


NEWSY = st.text(st.sampled_from("哪个座家桥的说凭以第约超过不每12.345万亿元人次多余年现在减少到谁MU，。"), min_size=1,
                max_size=40)


@PROPERTY
@given(question=NEWSY, passage=NEWSY, data=st.data())
def test_a_shaped_span_stays_a_span_of_its_passage(question, passage, data):
    a = data.draw(st.integers(0, len(passage) - 1))
    b = data.draw(st.integers(a + 1, len(passage)))
    span = Span(0, a, b, passage[a:b], 0, len(passage), 0.5)
    for got in shaped(question, analyse(question), [passage], [span]):
        assert 0 <= got.start < got.end <= len(passage) and passage[got.start:got.end] == got.text
