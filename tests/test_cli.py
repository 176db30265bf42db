"""The command line checks its arguments where they come in: impossible dates, reversed ranges,
unknown newspapers and empty questions are usage errors (exit 2) that name the argument; a
missing index says which folder was looked in; Ctrl-C stops `qa serve` at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.index.store import complete_versions
from tests.seeds import CORPUS

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "QA_MODEL": "qa.testing.fake:FakeEmbedder",
       "QA_ANSWERER": "rules"}


@pytest.fixture
def run(seed_archive, monkeypatch):
    monkeypatch.setenv("QA_MODEL", "qa.testing.fake:FakeEmbedder")
    monkeypatch.setenv("QA_ANSWERER", "rules")
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)

    def invoke(*args: str, index: bool = True, input: str | None = None):
        extra = ["--index-dir", str(seed_archive.index_dir)] if index else []
        return CliRunner().invoke(main, [*args, *extra], input=input)

    return invoke


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize(("option", "value"), [("--date-from", "2026-13-01"),
                                               ("--date-to", "2023-02-30"),
                                               ("--date-from", "20230101"),
                                               ("--date-to", "yesterday")])
def test_an_impossible_date_is_a_usage_error_naming_the_option(run, command, option, value):
    result = run(command, "乌海市召开了什么会议？", option, value)
    assert result.exit_code == 2, result.output
    assert option in result.output and value in result.output
    assert "0 篇" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["ask", "search"])
def test_a_reversed_range_is_a_usage_error(run, command):
    result = run(command, "乌海市召开了什么会议？", "--date-from", "2023-02-01",
                 "--date-to", "2023-01-01")
    assert result.exit_code == 2
    assert "--date-from" in result.output and "--date-to" in result.output


@pytest.mark.parametrize("command", ["ask", "search"])
def test_an_unknown_newspaper_lists_the_known_ones(run, command, seed_archive):
    from qa.index.store import Store

    known = Store.open(seed_archive.index_dir).newspaper_names()
    assert known
    result = run(command, "乌海市召开了什么会议？", "--newspaper", "每日邮报")
    assert result.exit_code == 2 and "--newspaper" in result.output
    assert "每日邮报" in result.output and all(name in result.output for name in known)
    assert run(command, "乌海市召开了什么会议？", "--newspaper", known[0]).exit_code == 0


def test_an_empty_question_is_the_same_error_for_ask_and_search(run, tmp_path):
    for index in (True, False):  # with an index, and in a folder without one
        outputs = []
        for command in ("ask", "search"):
            result = run(command, "", index=index)
            assert result.exit_code == 2, (command, result.output)
            outputs.append(result.output)
        assert outputs[0] == outputs[1] == "error: the question is empty\n"


def test_the_missing_index_hint_names_the_folder_given(run, tmp_path):
    folder = tmp_path / "my index"
    for command in ("ask", "search"):
        result = run(command, "乌海", "--index-dir", str(folder), index=False)
        assert result.exit_code == 2
        assert f"no index in {folder}" in result.output, result.output
        assert f"--index-dir '{folder}'" in result.output and "Traceback" not in result.output


def test_a_missing_default_index_says_where_it_looked(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("search", "乌海", index=False)
    assert result.exit_code == 2
    assert f"no index in {tmp_path / 'index'}" in result.output and "default" in result.output
    assert "`python -m qa index corpus`" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cwd: Path, *args: str, ignore_sigint: bool = False, **env) -> subprocess.Popen:
    """`qa serve` as a shell starts it: with `&`, SIGINT arrives ignored."""
    return subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--port", str(_free_port()), *args], cwd=cwd,
        env={**ENV, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint
        else None)


def _wait_for(proc: subprocess.Popen, text: str, seconds: float = 120) -> list[str]:
    seen, end = [], time.monotonic() + seconds
    for line in proc.stderr:
        seen.append(line)
        if text in line or time.monotonic() > end:
            break
    assert any(text in line for line in seen), seen
    return seen


def _interrupt(proc: subprocess.Popen) -> float:
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("qa serve was still running 10 s after SIGINT")
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize("ignored", [False, True])
def test_sigint_stops_the_server_promptly(seed_archive, ignored):
    proc = _start(seed_archive.index_dir.parent, "--index-dir", str(seed_archive.index_dir),
                  ignore_sigint=ignored)
    _wait_for(proc, "ready in")
    time.sleep(0.5)
    seconds = _interrupt(proc)
    rest = proc.stderr.read()
    assert seconds < 5 and proc.returncode == 0, (seconds, proc.returncode, rest)
    assert "stopped" in rest and "Traceback" not in rest


@pytest.mark.slow
def test_sigint_during_the_first_build_publishes_nothing(tmp_path):
    import shutil

    shutil.copytree(CORPUS, tmp_path / "corpus")
    proc = _start(tmp_path, "--index-dir", "index", "--corpus", "corpus", ignore_sigint=True,
                  QA_MODEL="qa.testing.fake:SlowEmbedder")
    _wait_for(proc, "indexing")
    time.sleep(1.0)  # into the embedding (a tenth of a second a passage)
    seconds = _interrupt(proc)
    rest = proc.stderr.read()
    assert seconds < 5 and proc.returncode == 130, (seconds, proc.returncode, rest)
    assert "interrupted" in rest and "Traceback" not in rest
    assert not (tmp_path / "index" / "CURRENT").exists()
    assert complete_versions(tmp_path / "index") == []
    assert not list((tmp_path / "index").glob("v-*"))  # the partial version removed


def test_asked_on_says_what_this_year_means(run):
    """The seed pages are undated but one (003, 2022-11-22): asked on a day of 2022, 今年 is
    that page's year; asked on a day of 2030 the dated page is out of reach and the undated ones
    stay, as the reply's searched period says."""
    import json

    question = "今年乌海市有多少家企业参与绿色矿山建设？"
    then = json.loads(run("ask", question, "--json", "--asked-on", "2022-12-01").output)
    later = json.loads(run("ask", question, "--json", "--asked-on", "2030-01-15").output)
    assert then["searched"]["period"] == "今年（2022年）"
    assert later["searched"]["period"] == "今年（2030年）"
    assert "2022-11-22" not in {c["date"] for c in later["citations"]}
    bad = run("ask", question, "--asked-on", "2030-02-30")
    assert bad.exit_code == 2 and "--asked-on" in bad.output


def test_many_questions_with_one_start_give_json_lines(run):
    import json

    lines = ["全市有多少家大型家政企业加入了家政服务行业协会？",
             json.dumps({"id": "empty", "question": " "}),
             json.dumps({"id": 3, "question": "通辽市今年新建了多少个5G基站？",
                         "asked_on": "2022-12-30"}),
             json.dumps({"id": "bad day", "question": "谁？", "asked_on": "2022-02-30"})]
    out = run("ask", "--questions", "-", input="\n".join(lines) + "\n")
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert len(rows) == 4
    assert rows[0]["answer"] == "34家" and "id" not in rows[0]
    assert rows[1] == {"id": "empty", "error": "the question is empty"}
    assert rows[2]["id"] == 3 and rows[2]["searched"]["period"] == "今年（2022年）"
    assert "error" in rows[3]
    both = run("ask", "谁？", "--questions", "-", input="x\n")
    assert both.exit_code == 2 and "one of them" in both.output
