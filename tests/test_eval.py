"""`qa eval`: dataset formats, metrics end to end on tiny fixtures, and bad dataset files."""

import json

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.datasets import load_dataset
from qa.errors import DatasetError

# Two short articles written for this test (SQuAD v1 layout, CMRC style).
SQUAD = {
    "version": "v1.0",
    "data": [
        {"title": "平沟煤矿", "id": "a1", "paragraphs": [{
            "context": "平沟煤矿利用余热取暖，每个采暖季能为企业节省300多万元。平沟煤矿矿长邢永亮介绍了改造过程。",
            "qas": [
                {"id": "q1", "question": "谁是平沟煤矿矿长？",
                 "answers": [{"text": "邢永亮", "answer_start": 33}]},
                {"id": "q2", "question": "余热取暖每个采暖季能节省多少钱？",
                 "answers": [{"text": "300多万元", "answer_start": 22}]},
            ]}]},
        {"title": "5G基站", "id": "a2", "paragraphs": [{
            "context": "通辽市今年新建5G基站1207个，已累计建设2798个，基本实现主城区全覆盖。",
            "qas": [
                {"id": "q3", "question": "今年通辽新建5G基站多少个？",
                 "answers": [{"text": "1207个", "answer_start": 11}]},
            ]}]},
    ],
}


@pytest.fixture
def squad_file(tmp_path):
    path = tmp_path / "tiny_squad.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), "utf-8")
    return path


def test_squad_contexts_keep_their_titles(squad_file):
    kind, items, contexts = load_dataset(squad_file)
    assert kind == "squad" and [it.id for it in items] == ["q1", "q2", "q3"]
    assert [c.title for c in contexts] == ["平沟煤矿", "5G基站"]
    assert [it.gold for it in items] == ["0", "0", "1"]  # the passage each question was written on


def test_an_empty_question_counts_as_withheld(tmp_path, monkeypatch):
    """Real sets hold empty questions (CMRC 2018 trial has two): asked as users ask, they are
    refused, and the evaluation counts them as withheld instead of stopping."""
    data = json.loads(json.dumps(SQUAD))
    data["data"][1]["paragraphs"][0]["qas"].append(
        {"id": "q4", "question": " ", "answers": [{"text": "2798个", "answer_start": 22}]})
    path = tmp_path / "with_empty.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    monkeypatch.setenv("QA_MODEL", "qa.testing.fake:FakeEmbedder")
    result = CliRunner().invoke(main, ["eval", str(path), "--json", "--answerer", "rules"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["questions"] == 4 and out["abstained"] == 1 and out["em"] == 0.75


def test_eval_json_on_a_tiny_squad_archive(squad_file, monkeypatch, tmp_path):
    monkeypatch.setenv("QA_MODEL", "qa.testing.fake:FakeEmbedder")
    written = tmp_path / "predictions.jsonl"
    result = CliRunner().invoke(main, ["eval", str(squad_file), "--json", "--answerer", "rules",
                                       "--predictions", str(written)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["dataset"] == "squad" and out["questions"] == 3
    assert out["recall@1"] == 1.0 and out["citation_invariant_violations"] == 0
    assert out["em"] == 1.0 and out["f1"] == 1.0 and out["abstained"] == 0
    assert out["by_type"]["factoid"]["questions"] == 3
    rows = [json.loads(line) for line in written.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    assert all(r["answer"] in r["gold"] and r["em"] == 1.0 and r["gold_rank"] == 1 for r in rows)


def test_seed_jsonl_rows_and_their_errors(tmp_path):
    good = tmp_path / "qs.jsonl"
    good.write_text('{"id": "x", "question": "谁？", "answers": ["甲"], "type": "factoid"}\n', "utf-8")
    kind, items, _ = load_dataset(good)
    assert kind == "seed" and items[0].answers == ["甲"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "谁？"}\n', "utf-8")
    with pytest.raises(DatasetError, match=r"bad.jsonl:1"):
        load_dataset(bad)


@pytest.mark.parametrize("content", [b"", b"file,newspaper\na.txt,x\n", b"\x89PNG\r\n\x1a\n\x00\x00",
                                     b'{"data": [{"paragraphs": [{"qas": "?"}]}]}'])
def test_not_a_dataset_is_a_clear_error(tmp_path, content):
    path = tmp_path / "dataset.json"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["eval", str(path)])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
