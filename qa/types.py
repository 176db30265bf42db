"""Data passed between pipeline stages. Offsets are character offsets, end exclusive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


class LineBox(NamedTuple):
    """A printed line of a page (PDF or scan): where it sits, as fractions of the page's width
    and height from its top left corner, and what was read there."""

    line: int  # 1-based line number in the file's text (the page's lines in reading order)
    page: int  # 1-based page of the source file
    x0: float
    y0: float
    x1: float
    y1: float
    text: str = ""
    confidence: float | None = None  # OCR recognition confidence, None for a text layer
    edges: tuple[float, ...] = ()  # each character's left edge, then the right end (fractions)


class PageInfo(NamedTuple):
    """A page of a PDF or a scanned image: what the inspector needs to draw it."""

    number: int  # 1-based page of the source file
    width: float  # in PDF points, or pixels for an image
    height: float
    label: str | None = None  # the page of the paper it is (版次), when known
    ocr: bool = False  # read by OCR (no text layer)
    skew: float = 0.0  # degrees the scan is turned; boxes are given for the straightened page
    seconds: float = 0.0  # time taken to read it


@dataclass(frozen=True)
class Paragraph:
    """One retrieval unit: a paragraph of an article, with its place in the source file."""

    article_id: str
    index: int  # 0-based position within the article
    text: str  # normalised text, as indexed and shown
    source: str  # source file, relative to the corpus root
    line_start: int  # 1-based, inclusive
    line_end: int  # 1-based, inclusive
    char_start: int = 0  # offsets into the decoded source text
    char_end: int = 0
    boxes: tuple[LineBox, ...] = ()  # the printed lines it was read from (PDF and scans)


@dataclass(frozen=True)
class Article:
    """A story on a page, with the metadata a citation needs."""

    id: str
    source: str
    newspaper: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    page: str | None = None
    section: str | None = None
    title: str | None = None
    subtitle: str | None = None
    byline: str | None = None
    paragraphs: tuple[Paragraph, ...] = ()


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


@dataclass(frozen=True)
class Hit:
    """A retrieved paragraph with its fused score and the ranks that produced it."""

    chunk_id: int
    score: float
    paragraph: Paragraph
    article: Article  # metadata only; `paragraphs` may be empty
    dense_rank: int | None = None  # 1-based, None when not retrieved by that side
    lexical_rank: int | None = None
    dense_score: float | None = None  # cosine similarity
    lexical_score: float | None = None  # BM25
    copies: tuple[int, ...] = ()  # paragraph ids of near-duplicates collapsed into this hit

    @property
    def context(self) -> str:
        """What frames the paragraph for an answerer: its paper and headline."""
        return f"{self.article.newspaper or ''} {self.article.title or ''}"


@dataclass(frozen=True)
class Citation:
    """Where an answer came from, down to the characters of the paragraph."""

    rank: int
    article_id: str
    newspaper: str | None
    date: str | None
    page: str | None
    title: str | None
    paragraph_index: int
    passage: str
    answer_start: int | None
    answer_end: int | None
    source: str
    line_start: int
    line_end: int
    score: float
    # "answer": the passage the answer was read from; "agrees": another passage that gives
    # the same answer; "timeline": a dated passage that gives another answer; "conflict":
    # another article of the answer's own date that gives another answer; "related":
    # retrieved and read, but it does not hold the answer.
    role: str = "related"
    # the paragraph's place in the file's decoded text (a story may stand on one line)
    char_start: int = 0
    char_end: int = 0


@dataclass(frozen=True)
class Dated:
    """One entry of an answer over time: what a passage of that date says, and its citation."""

    date: str  # ISO yyyy-mm-dd
    text: str
    rank: int  # of the citation that holds it
    confidence: float  # probability that it is right
    level: str  # "high" | "medium" | "low"


@dataclass(frozen=True)
class Searched:
    """What a question searched: the text, the filters, and how many articles they let through."""

    query: str  # the question, preceded by the previous one for a follow-up
    date_from: str | None = None
    date_to: str | None = None
    newspaper: str | None = None
    articles: int = 0  # articles in the index
    admitted: int = 0  # articles the filters let through (all of them without filters)
    undated: int = 0  # articles without a date that a date filter left out
    read: int = 0  # passages the answerer read
    period: str | None = None  # the time the question asks about, as resolved (2023年, 今年（2026年）)
    period_reports: bool = True  # whether the archive has reports that can be about it
    later: int = 0  # admitted articles published after the day of asking, not read


@dataclass(frozen=True)
class Answer:
    """An extractive answer (or an abstention) with its citations, best first."""

    question: str
    text: str | None  # None when abstaining
    score: float
    abstained: bool
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    # What the answer was read from: the retrieved passages, best first (more than were read
    # when the caller asked for a deeper search, as `qa eval` does for recall@10).
    hits: tuple[Hit, ...] = field(default=(), repr=False, compare=False)
    # The probability that the answer is right (the answerer's calibration of `score`) and its
    # level, "high" | "medium" | "low", raised one step when other articles agree; None when
    # abstaining.
    confidence: float | None = None
    level: str | None = None
    agreeing: int = 0  # articles whose passages give this answer (the answer's own included)
    timeline: tuple[Dated, ...] = ()  # different answers by date, newest first; () when none
    searched: Searched | None = None
    answerer: str = ""  # the answerer's name
    # the absolute date a relative one in the answer means (今天 in a report of 2024-06-01 →
    # 2024-06-01), read from its report's date; None when it names none
    resolved_date: str | None = None
    # what the answer stage measured of the answer (qa.answer.confidence.signals); {} when
    # abstaining
    signals: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)
    # why it was withheld, or why its confidence was lowered, when a rule decided it (the
    # passage is about another place; the same day's reports disagree); None otherwise
    reason: str | None = None
