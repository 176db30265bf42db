import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cite import format_citation
from qa.cli import main
from qa.embed import FakeEmbedder
from qa.errors import QueryError
from qa.evaluate import citation_violations
from qa.indexer import build_index
from qa.pipeline import Archive, is_follow_up, retrieval_query
from qa.settings import Settings
from qa.types import Citation

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ask")
    shutil.copytree(CORPUS, tmp / "corpus")
    build_index([tmp / "corpus"], tmp / "index", FakeEmbedder(), progress=False, log=lambda _: None)
    return Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus", model="fake",
                    answerer="rules")


@pytest.fixture(scope="module")
def archive(settings):
    return Archive.open(settings)


# Questions written for these tests from the seed pages (not the evaluation set).
ASKED = [
    ("团队先后完成了多少项创新、创效项目？", "30多项"),
    ("乌海军分区坚持把什么作为当前和今后一个时期的首要政治任务？", "学习贯彻党的二十大精神"),
]


@pytest.mark.parametrize(("question", "expected"), ASKED)
def test_answers_are_spans_of_the_cited_paragraph(archive, question, expected):
    answer = archive.ask(question)
    assert not answer.abstained
    assert answer.text == expected
    first = answer.citations[0]
    assert first.passage[first.answer_start : first.answer_end] == answer.text
    assert [c.rank for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert citation_violations([answer]) == 0


def test_citation_points_at_the_source_lines(archive, settings):
    answer = archive.ask(ASKED[0][0])
    c = answer.citations[0]
    lines = (settings.corpus_dir / c.source.split("/")[-1]).read_text("utf-8").splitlines()
    cited = "".join(lines[c.line_start - 1 : c.line_end]).replace(" ", "")
    assert answer.text.replace(" ", "") in cited


def test_abstains_when_the_archive_has_nothing(archive):
    answer = archive.ask("火星基地的氧气储量是多少立方米？")
    assert answer.abstained and answer.text is None
    assert answer.citations and all(c.answer_start is None for c in answer.citations)


@pytest.mark.parametrize("bad", ["", "   ", "？？？", "🙂🙂", "问" * 5000])
def test_bad_questions_raise_query_error(archive, bad):
    with pytest.raises(QueryError):
        archive.ask(bad)


def test_sql_and_html_are_just_text(archive):
    size = archive.store.size
    for q in ("'; DROP TABLE paragraphs; --", "<script>alert(1)</script>乌海"):
        answer = archive.ask(q)
        assert answer.question == q.strip()  # asked as typed, not interpreted
        assert answer.citations and all(c.passage for c in answer.citations)
        if answer.text is not None:  # any answer is words of a cited paragraph, never the markup
            assert answer.text in answer.citations[0].passage and "<script>" not in answer.text
    assert archive.store.size == size
    assert archive.store.paragraphs([0])  # the database still answers
    assert archive.ask(ASKED[0][0]).text == ASKED[0][1]


def test_follow_up_uses_previous_question():
    first = "乌海市2023年要实施几个重点项目？"
    assert is_follow_up("那新建项目有多少个？")
    assert not is_follow_up(first)
    assert retrieval_query("那新建项目有多少个？", [first]).startswith(first)
    assert retrieval_query(first, ["别的问题"]) == first


def test_format_citation():
    c = Citation(1, "a", "乌海日报", "2022-11-22", "3", "标题", 3, "文本", None, None, "x.txt", 1, 2, 0.5)
    assert format_citation(c) == "《乌海日报》2022-11-22 第3版〈标题〉第4段"


def test_cli_ask_json_schema(settings, monkeypatch):
    monkeypatch.setenv("QA_MODEL", "fake")
    monkeypatch.setenv("QA_ANSWERER", "rules")
    result = CliRunner().invoke(main, ["ask", ASKED[0][0], "--json", "--index-dir",
                                       str(settings.index_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"question", "answer", "score", "abstained", "citations", "answerer"}
    assert data["answerer"] == {"name": "rules", "threshold": 0.125}
    assert set(data["citations"][0]) == {
        "rank", "article_id", "newspaper", "date", "page", "title", "paragraph_index", "passage",
        "answer_start", "answer_end", "source", "line_start", "line_end", "score"}
    c = data["citations"][0]
    assert c["passage"][c["answer_start"] : c["answer_end"]] == data["answer"]


def test_cli_reports_errors_without_traceback(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("QA_MODEL", "fake")
    result = CliRunner().invoke(main, ["ask", "", "--index-dir", str(settings.index_dir)])
    assert result.exit_code == 2 and "empty" in result.output
    result = CliRunner().invoke(main, ["ask", "乌海", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no index" in result.output
    assert "Traceback" not in result.output
