"""The pieces behind the hostile rows: cleaning, the walk, bounded reads, CSV recovery, manifests,
the binding rule, the login throttle, and what the app echoes back."""

import asyncio
import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from qa.errors import IndexError_, QAError, ReadError
from qa.files import display_name, read_bytes, walk
from qa.index.schema import read_manifest
from qa.index.store import Store
from qa.ingest.articles import ingest_file, ingest_paths
from qa.ingest.decode import MAX_BROKEN_RECORDS, decode, records
from qa.serve import check_binding, is_loopback
from qa.settings import Settings
from qa.text import clean, json_text, printable
from qa.web.guard import LoginThrottle

PAGE = "乌海市召开经济工作会议，研究部署下一步工作。"


# ---------------------------------------------------------------- text


def test_clean_keeps_length_and_counts():
    text = "a\x00b\ud800c\x1b[31md\x85e\tf\n"
    cleaned = clean(text)
    assert len(cleaned.text) == len(text) and cleaned.replaced == 3
    assert cleaned.text == "a b\ufffdc [31md\x85e\tf\n"
    assert clean(cleaned.text).replaced == 0


def test_printable_and_json_text_keep_escapes_off_the_terminal():
    assert printable("标题\x1b[2J\u202e\udcff\n下一行") == "标题\\x1b[2J\\u202e\\udcff\n下一行"
    line = json_text({"t": "a\x1b\x9b\u2028\ud800"})
    assert all(ch not in line for ch in "\x1b\x9b\u2028\ud800")
    assert json.loads(line) == {"t": "a\x1b\x9b\u2028\ud800"}


def test_display_name_escapes_undecodable_bytes():
    assert display_name(os.fsdecode(b"dir/bad-\xff.txt")) == "dir/bad-\\xff.txt"
    assert display_name("a\nb\x1b.txt") == "a\\x0ab\\x1b.txt"


# ---------------------------------------------------------------- the walk and reading


def test_links_inside_the_archive_are_followed_and_loops_end(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "real.txt").write_text(PAGE, "utf-8")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "sub" / "real.txt")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)  # back up the tree
    found = {Path(f.source).name: f.skip for f in walk([tmp_path], lambda n: n.endswith(".txt"))}
    assert found == {"alias.txt": None, "real.txt": None}


def test_sockets_and_devices_are_named_not_opened(tmp_path):
    folder = Path(tempfile.mkdtemp(dir="/tmp"))  # a socket path must be short
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(folder / "s.txt"))
            (folder / "null.txt").symlink_to("/dev/null")
            results = {Path(r.source).name: r.error for r in ingest_paths(
                [folder], Settings(follow_links=True))}
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    assert "a socket" in results["s.txt"] and "a character device" in results["null.txt"]


def test_a_read_that_never_ends_times_out(tmp_path, monkeypatch):
    release = threading.Event()

    def stuck(path, max_bytes):
        release.wait()
        yield b""

    monkeypatch.setattr("qa.files._blocks", stuck)
    with pytest.raises(ReadError, match="did not finish"):
        read_bytes(tmp_path / "any.txt", 100, timeout=0.05)
    release.set()


def test_size_cap_without_reading(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * 3000)
    with pytest.raises(ReadError, match="limit"):
        read_bytes(tmp_path / "big.txt", 1000, 30)
    assert read_bytes(tmp_path / "big.txt", 3000, 30) == b"x" * 3000


def test_reader_counts_replaced_characters(tmp_path):
    (tmp_path / "page.txt").write_text(f"标题\x1b[0m\n\n{PAGE}\x00\n", "utf-8")
    result = ingest_file(tmp_path / "page.txt")
    assert "2 control characters" in " ".join(result.warnings)
    assert all("\x1b" not in p.text and "\x00" not in p.text
               for a in result.articles for p in a.paragraphs)


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, b"\xff\xfe\xfd\x80\x81" * 50 + b"\xff",
                                  b"\x00" * 100])
def test_undecodable_bytes_are_refused(data):
    with pytest.raises(ReadError):
        decode(data)


# ---------------------------------------------------------------- records


def test_csv_recovers_after_each_broken_record():
    text = ("title,text\n"
            '一,"没有闭合的引号\n'
            "二,第二条正常\n"
            '三,"x"y 引号后面还有字\n'
            "四,第四条正常\n")
    got = list(records(text, ".csv"))
    assert [r.fields["title"] for r in got if not isinstance(r, str)] == ["二", "四"]
    assert [w.split(":")[0] for w in got if isinstance(w, str)] == ["line 2", "line 4"]


def test_csv_gives_up_on_a_file_of_broken_records():
    text = "title,text\n" + "".join(f'{i},"开了没关\n' for i in range(MAX_BROKEN_RECORDS + 50))
    warnings = [w for w in records(text, ".csv") if isinstance(w, str)]
    assert len(warnings) == MAX_BROKEN_RECORDS + 1 and "rest of the file" in warnings[-1]


def test_jsonl_escapes_are_cleaned_and_counted():
    got = list(records('{"title": "\\u001b[31m标题", "text": "正文\\u0000\\udfff"}\n', ".jsonl"))
    assert got[0] == "line 1: 3 control characters or invalid code points replaced"
    assert got[1].fields == {"title": " [31m标题", "text": "正文 \ufffd"}


# ---------------------------------------------------------------- index files


@pytest.mark.parametrize("manifest", [b"[]", b"null", b"{}", b'{"format": 1}', b"\xff\xfe",
                                      b'{"format": 1, "paragraphs": "9", "embedder": {}}'])
def test_a_bad_manifest_is_an_index_error(tmp_path, manifest):
    (tmp_path / "v-1").mkdir()
    (tmp_path / "v-1" / "manifest.json").write_bytes(manifest)
    with pytest.raises(IndexError_, match="manifest"):
        read_manifest(tmp_path / "v-1")
    (tmp_path / "CURRENT").write_text("v-1\n")
    with pytest.raises(IndexError_):
        Store.open(tmp_path)


# ---------------------------------------------------------------- serving


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
    ("archive.example", False)])
def test_binding_beyond_loopback_needs_a_login(host, loopback):
    assert is_loopback(host) is loopback
    check_binding(host, ("ann", "pw"), False)
    check_binding(host, None, True)
    if loopback:
        check_binding(host, None, False)
    else:
        with pytest.raises(QAError, match="--auth"):
            check_binding(host, None, False)


class _Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def _attempt(throttle: LoginThrottle, password: str, client: str = "10.0.0.1",
             user: str = "ann") -> int:
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200 if password == "right" else 400,
                    "headers": []})
        await send({"type": "http.response.body", "body": b""})

    throttle.app = app
    sent = []

    async def receive():
        return {"type": "http.request", "body": f"username={user}&password={password}".encode()}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login", "client": (client, 1234),
             "headers": [(b"content-type", b"application/x-www-form-urlencoded")]}
    asyncio.run(throttle(scope, receive, send))
    return sent[0]["status"]


def test_login_throttle_doubles_the_wait_and_forgives_a_success():
    clock = _Clock()
    throttle = LoginThrottle(None, free=3, base_delay=1.0, max_delay=8.0, clock=clock)
    assert [_attempt(throttle, "wrong") for _ in range(3)] == [400, 400, 400]
    assert _attempt(throttle, "right") == 429  # inside the 1 s wait: not even checked
    # other addresses, asking for other accounts, are unaffected
    assert _attempt(throttle, "wrong", client="10.0.0.2", user="bob") == 400
    waits = []
    for _ in range(5):
        clock.now = throttle.failures["10.0.0.1"][1]
        assert _attempt(throttle, "wrong") == 400
        waits.append(throttle.failures["10.0.0.1"][1] - clock.now)
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]
    clock.now += 8.0
    assert _attempt(throttle, "right") == 200 and "10.0.0.1" not in throttle.failures


def test_app_echoes_typed_text_as_text(tmp_path):
    from qa.answer.pipeline import Archive
    from qa.testing.fake import FakeEmbedder
    from qa.web import ChatApp
    from tests.test_hostile import build, corpus, settings_for

    build([corpus(tmp_path)], tmp_path / "index")
    settings = settings_for(tmp_path)
    archive = Archive.open(settings, embedder=FakeEmbedder())
    app = ChatApp(lambda: archive, settings)
    evil = "**粗体** <img src=x onerror=alert(1)> [链接](javascript:alert(1)) 乌海市召开了什么会议？"
    for k in (5, 1e12, float("nan"), "many"):
        chat = app.ask(evil, [], [], k, "", "", None)[1]
        user, reply = chat[-2]["content"], chat[-1]["content"]
        assert "<img" not in user and "\\*\\*粗体\\*\\*" in user and "](javascript" not in user
        assert "内部错误" not in reply


def test_a_build_repairs_a_damaged_current(tmp_path):
    from tests.test_hostile import build, corpus

    index = tmp_path / "index"
    index.mkdir()
    (index / "CURRENT").write_bytes(b"\xff\x00garbage")
    with pytest.raises(IndexError_, match="damaged"):
        Store.open(index)
    build([corpus(tmp_path)], index)
    store = Store.open(index)
    assert store.size == 1 and (index / "CURRENT").read_text().strip() == store.folder.name
