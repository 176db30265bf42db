"""Every hostile case (issue 15), one test each: each case builds its own files in a fresh
folder (nothing from ../shared), runs the real commands (`python -m qa …` in a subprocess where
a hang or a crash must be seen from outside) or the library, and asserts the outcome.

`python benchmarks/hostile.py` replays them and prints tried / survived with what each saw.
The disk-full case fills a real 3 MB tmpfs when `unshare -Urm` can mount one (no root needed
where user namespaces are allowed), and a simulated ENOSPC otherwise; it says which.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest

from qa.errors import IndexError_
from qa.index.build import build_index
from qa.index.store import CURRENT, Store, current_version
from qa.ingest.articles import ingest_file
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from qa.testing.samples import JAPANESE, KOREAN

ROOT = Path(__file__).resolve().parent.parent
PAGE = "乌海市召开经济工作会议，研究部署下一步工作。会议强调，要坚持稳中求进工作总基调。"
QUESTION = "乌海市召开了什么会议？"
WATCHDOG_S = 300  # a command that hangs is killed after this long, and the row fails
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "QA_MODEL": "qa.testing.fake:FakeEmbedder",
       "QA_ANSWERER": "rules", "PYTHONIOENCODING": "utf-8"}

ROWS: dict[str, Callable[[Path], str]] = {}


def row(name: str):
    """Register a case: a function of a fresh folder that raises AssertionError if it fails and
    returns a line saying what it saw."""
    def register(case: Callable[[Path], str]) -> Callable[[Path], str]:
        ROWS[name] = case
        return case
    return register


# ---------------------------------------------------------------- helpers


def qa(*args: str | bytes, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m qa ARGS` in `cwd`; AssertionError if it hangs or prints a traceback."""
    try:
        proc = subprocess.run([sys.executable, "-m", "qa", *args], cwd=cwd, env=env or ENV,
                              capture_output=True, timeout=WATCHDOG_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`qa {args[0]!s}` hung (killed after {WATCHDOG_S} s)") from exc
    proc.stdout = proc.stdout.decode("utf-8", "backslashreplace")
    proc.stderr = proc.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in proc.stderr, f"traceback from `qa {args[0]!s}`:\n{proc.stderr}"
    return proc


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=WATCHDOG_S, stdin=subprocess.DEVNULL)


def corpus(tmp: Path, name: str = "corpus") -> Path:
    folder = tmp / name
    folder.mkdir()
    (folder / "good.txt").write_text(PAGE, "utf-8")
    return folder


def build(paths: list[Path], index_dir: Path, **kw):
    return build_index(paths, index_dir, kw.pop("embedder", FakeEmbedder()), progress=False,
                       log=lambda _: None, **kw)


def ingested(tmp: Path, name: str, content: str | bytes):
    """Write one page and ingest it."""
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return ingest_file(path)


def texts(index_dir: Path) -> list[str]:
    store = Store.open(index_dir)
    return [t for (t,) in store._query("SELECT text FROM paragraphs")]


def partial_versions(index_dir: Path) -> list[str]:
    return [v.name for v in index_dir.glob("v-*") if not (v / "manifest.json").exists()]


def settings_for(tmp: Path, **kw) -> Settings:
    return Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus", model="qa.testing.fake:FakeEmbedder",
                    answerer="rules", **kw)


# ---------------------------------------------------------------- rows


@row("a .jsonl record holding a lone surrogate")
def jsonl_surrogate(tmp: Path) -> str:
    folder = corpus(tmp)
    (folder / "records.jsonl").write_text(
        '{"title": "坏记录", "text": "这一条记录里有一个孤立的代理项\\ud800，其余文字完好无损。"}\n'
        '{"title": "好记录", "text": "第二条记录完全正常，内容是足够长的一句话。"}\n', "utf-8")
    proc = qa("index", "corpus", "--index-dir", "index", "--quiet", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    found = texts(tmp / "index")
    assert any("孤立的代理项\ufffd" in t for t in found), found
    assert any("第二条记录" in t for t in found) and any("乌海市" in t for t in found), found
    assert "replaced" in proc.stderr and not partial_versions(tmp / "index"), proc.stderr
    return "indexed all 3 texts; the surrogate became U+FFFD, reported as replaced"


@row("a FIFO named x.txt in the corpus")
def fifo(tmp: Path) -> str:
    folder = corpus(tmp)
    os.mkfifo(folder / "x.txt")
    proc = qa("ingest", "corpus", cwd=tmp)
    assert proc.returncode == 0 and "FIFO" in proc.stdout and "1 articles" in proc.stdout, proc.stdout
    proc = qa("index", "corpus", "--index-dir", "index", "--quiet", cwd=tmp)
    assert proc.returncode == 0 and "x.txt: not a regular file (a FIFO)" in proc.stderr, proc.stderr
    first_start = python("from pathlib import Path\nfrom qa.serve import ensure_index\n"
                         "from qa.settings import Settings\n"
                         "ensure_index(Settings(corpus_dir=Path('corpus'), index_dir=Path('first'),"
                         " model='qa.testing.fake:FakeEmbedder'), log=print)", tmp)
    assert first_start.returncode == 0 and "FIFO" in first_start.stdout, first_start.stderr
    return "ingest, index and the app's first-start build finished; the FIFO named, not opened"


@row("UTF-16 LE/BE without a byte-order mark")
def utf16(tmp: Path) -> str:
    seen = []
    for text in (PAGE, "通辽市新建基站，基本实现了主城区全覆盖。"):  # with and without ASCII
        for encoding in ("utf-16-le", "utf-16-be"):
            result = ingested(tmp, f"{encoding}-{len(seen)}.txt", text.encode(encoding))
            assert result.error is None, result.error
            assert result.articles[0].paragraphs[0].text == text, result.articles[0].paragraphs[0].text
            seen.append(result.encoding)
    return f"read right as {', '.join(sorted(set(seen)))}"


@row("a Shift-JIS file (and EUC-KR)")
def shift_jis(tmp: Path) -> str:
    seen = []
    for text, encoding in ((JAPANESE, "shift_jis"), (KOREAN, "euc_kr")):
        result = ingested(tmp, f"{encoding}.txt", text.encode(encoding))
        assert result.error is None, result.error
        got = "".join(p.text for a in result.articles for p in a.paragraphs)
        assert got.replace(" ", "") == text.replace(" ", ""), got[:60]
        seen.append(f"{encoding} as {result.encoding}")
    return "decoded right: " + ", ".join(seen)


@row("a path longer than PATH_MAX; a file name with invalid UTF-8 bytes")
def long_and_undecodable_paths(tmp: Path) -> str:
    folder = corpus(tmp)
    fd = os.open(folder, os.O_RDONLY)
    for _ in range(20):  # 20 folders of 240 bytes: past the 4,096-byte PATH_MAX
        os.mkdir("深" * 80, dir_fd=fd)
        inner = os.open("深" * 80, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    out = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, "深层目录里的一篇报道，路径超过了系统的长度上限。".encode())
    os.close(out)
    os.close(fd)
    (Path(os.fsdecode(bytes(folder) + b"/bad-\xff\xfe.txt"))).write_text(
        "文件名不是合法的UTF-8编码，但内容完好无损。", "utf-8")
    proc = qa("index", "corpus", "--index-dir", "index", "--quiet", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    found = texts(tmp / "index")
    assert any("深层目录" in t for t in found) and any("文件名不是" in t for t in found), found
    sources = [s for (s,) in Store.open(tmp / "index")._query("SELECT source FROM files")]
    assert any("bad-\\xff\\xfe.txt" in s for s in sources), sources
    assert any(len(s.encode()) > 4096 for s in sources), [len(s) for s in sources]
    return "both indexed; the bad name stored as bad-\\xff\\xfe.txt"


@row("a CSV record with an unclosed quote")
def csv_unclosed_quote(tmp: Path) -> str:
    result = ingested(tmp, "records.csv", 'title,text\n坏记录,"这条记录的引号没有闭合，后面的记录不应被吞掉。\n'
                      "好记录,这一条记录完全正常，应该被完整地读出来。\n"
                      '多行,"引号里的正文可以换行，\n这是同一个字段的第二行。"\n')
    assert [a.title for a in result.articles] == ["好记录", "多行"], [a.title for a in result.articles]
    assert len(result.articles[1].paragraphs) == 2
    assert any("line 2" in w and "quote" in w for w in result.warnings), result.warnings
    return f"bad record skipped alone: {result.warnings[0][:60]}…"


@row(".md with <script>/<style> bodies")
def markdown_scripts(tmp: Path) -> str:
    result = ingested(tmp, "page.md", "# 新闻标题\n\n<script>alert(1)</script><style>p { color: red; }"
                      "</style>\n\n正文第一段，乌海市召开经济工作会议，研究部署工作。\n\n<script>\n"
                      "var secret = 1;\n</script>\n<!-- 隐藏的注释内容 -->\n"
                      "<p>正文第二段，会议强调要坚持稳中求进。</p>\n")
    body = " ".join(p.text for a in result.articles for p in a.paragraphs)
    assert "正文第一段" in body and "正文第二段" in body, body
    for hidden in ("alert", "color", "secret", "注释"):
        assert hidden not in body, body
    return "script, style and comment bodies dropped; the text kept"


@row("a symlink to /etc/passwd inside the corpus")
def symlink_outside(tmp: Path) -> str:
    folder = corpus(tmp)
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("语料库以外的秘密文件，不应被编入索引。", "utf-8")
    target = Path("/etc/passwd") if Path("/etc/passwd").is_file() else outside / "secret.txt"
    (folder / "passwd.txt").symlink_to(target)
    (folder / "linked").symlink_to(outside)
    proc = qa("index", "corpus", "--index-dir", "index", "--quiet", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("outside the archive folder") == 2, proc.stderr
    found = " ".join(texts(tmp / "index"))
    assert "root:" not in found and "秘密" not in found, found
    proc = qa("index", "corpus", "--index-dir", "followed", "--quiet", "--follow-links", cwd=tmp)
    assert proc.returncode == 0 and "秘密" in " ".join(texts(tmp / "followed")), proc.stderr
    return "link out of the corpus skipped and named; read only with --follow-links"


@row("binary CURRENT; manifest.json = []")
def corrupt_pointer_and_manifest(tmp: Path) -> str:
    folder = corpus(tmp)
    build([folder], tmp / "index")
    (folder / "more.txt").write_text("第二次构建时新加的一篇报道，内容足够长。", "utf-8")
    build([folder], tmp / "index")
    live = current_version(tmp / "index")
    (tmp / "index" / CURRENT).write_bytes(b"\xff\xfe\x00\x81garbage")
    proc = qa("ask", QUESTION, "--index-dir", "index", cwd=tmp)
    assert proc.returncode == 0 and "newest complete version" in proc.stderr, proc.stderr
    assert current_version(tmp / "index") == live
    (tmp / "index" / CURRENT).write_text(live.name)
    (live / "manifest.json").write_text("[]")
    proc = qa("ask", QUESTION, "--index-dir", "index", cwd=tmp)
    assert proc.returncode == 0 and "older version" in proc.stderr, proc.stderr
    lone = tmp / "lone"
    build([folder], lone)
    (current_version(lone) / "manifest.json").write_text("[]")
    proc = qa("ask", QUESTION, "--index-dir", "lone", cwd=tmp)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "corrupt" in proc.stderr
    return "fell back to the newest sound version with a warning; with none, one line, exit 2"


FILL_DISK = """
import json, os, sys
from pathlib import Path
import qa.index.build
from qa.testing.fake import FakeEmbedder
from qa.errors import IndexError_
from qa.index.build import build_index
from qa.index.store import Store
mnt, index, out = Path(sys.argv[1]), Path(sys.argv[1]) / "index", {}
qa.index.build.SPACE_MARGIN = 0  # the check's margin alone is larger than this small disk
quiet = dict(progress=False, log=lambda m: None)
build_index([Path("corpus")], index, FakeEmbedder(dim=16), **quiet)
live = Store.open(index).folder.name
def attempt(name, **kw):
    try:
        build_index([Path(kw.pop("path", "corpus"))], index, kw.pop("embedder"), **kw, **quiet)
        out[name] = "built"
    except IndexError_ as exc:
        out[name] = str(exc)
    out[name + " live"] = Store.open(index).folder.name == live
    out[name + " partial"] = [v.name for v in index.glob("v-*") if v.name != live]
attempt("check", embedder=FakeEmbedder(dim=65536), path="mid", rebuild=True)
qa.index.build._check_space = lambda *a: None  # past the check: the disk fills during the build
attempt("vectors", embedder=FakeEmbedder(dim=65536), path="mid", rebuild=True)
attempt("sqlite", embedder=FakeEmbedder(dim=16), path="big")
print(json.dumps(out))
"""


def _fill_real_disk(tmp: Path) -> dict | None:
    """The disk-full script on a real 3 MB tmpfs in a user namespace; None if none can be made."""
    mnt = tmp / "mnt"
    mnt.mkdir()
    script = tmp / "fill.py"
    script.write_text(FILL_DISK)
    try:
        proc = subprocess.run(
            ["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs -o size=3m tmpfs "$1" || exit 97; '
             'shift; exec "$@"', "sh", str(mnt), sys.executable, str(script), str(mnt)],
            cwd=tmp, env=ENV, capture_output=True, text=True, timeout=WATCHDOG_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode == 97 or proc.stderr.startswith("unshare:"):
        return None  # no user namespaces, or no tmpfs in them
    assert proc.returncode == 0, f"exit {proc.returncode} (SIGBUS is -7): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fill_simulated(tmp: Path) -> dict:
    """The same three failures in-process, with ENOSPC raised where a full disk raises it."""
    index, out = tmp / "sim-index", {}
    build([Path("corpus")], index, embedder=FakeEmbedder(dim=16))
    live = Store.open(index).folder.name
    failures = {
        "check": mock.patch("qa.index.build.shutil.disk_usage", return_value=mock.Mock(free=1024)),
        "vectors": mock.patch("qa.index.build._allocate",
                              side_effect=OSError(errno.ENOSPC, "No space left on device")),
        "sqlite": mock.patch("qa.index.build._insert_file",
                             side_effect=sqlite3.OperationalError("database or disk is full")),
    }
    for name, failure in failures.items():
        with failure:
            try:
                build([Path("mid" if name != "sqlite" else "big")], index,
                      embedder=FakeEmbedder(dim=16))
                out[name] = "built"
            except IndexError_ as exc:
                out[name] = str(exc)
        out[name + " live"] = Store.open(index).folder.name == live
        out[name + " partial"] = [v.name for v in index.glob("v-*") if v.name != live]
    return out


def write_disk_fillers(tmp: Path) -> None:
    """mid/: 40 paragraphs (10 MB of vectors at 65,536 dimensions); big/: 1.3 MB of text, more
    than the 3 MB tmpfs holds once in SQLite."""
    (tmp / "mid" / "page.txt").write_text("\n\n".join(
        f"第{j}段：乌海市推进重点项目建设，编号{j}。" for j in range(40)), "utf-8")
    for i in range(12):
        (tmp / "big" / f"p{i}.txt").write_text("\n\n".join(
            f"第{i}篇第{j}段：乌海市推进重点项目建设，编号{i * 1000 + j}。" * 6 for j in range(200)), "utf-8")


def check_full_disk(out: dict) -> None:
    """A build refused up front for space, and two that failed writing: one-line errors, the
    live version still live, no partial version left."""
    assert "not enough free space" in out["check"], out
    assert "disk is full" in out["vectors"] and "disk is full" in out["sqlite"], out
    for name in ("check", "vectors", "sqlite"):
        assert out[f"{name} live"] and out[f"{name} partial"] == [], out


@row("disk full during a build (and with --rebuild)")
def disk_full(tmp: Path) -> str:
    corpus(tmp)
    (tmp / "mid").mkdir()
    (tmp / "big").mkdir()
    write_disk_fillers(tmp)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        real = _fill_real_disk(tmp)
        out = real if real is not None else _fill_simulated(tmp)
    finally:
        os.chdir(cwd)
    check_full_disk(out)
    kind = "a real 3 MB tmpfs" if real is not None else "simulated ENOSPC (no tmpfs could be made)"
    return f"{kind}: refused up front, then two one-line errors; the live version kept, no debris"


@row("a running app when CURRENT is overwritten with garbage")
def app_current_garbage(tmp: Path) -> str:
    from qa.answer.pipeline import Archive
    from qa.web import ChatApp

    folder = corpus(tmp)
    build([folder], tmp / "index")
    settings = settings_for(tmp)
    archive = Archive.open(settings, embedder=FakeEmbedder())
    app = ChatApp(lambda: archive, settings)
    before = app.ask(QUESTION, [], [], 5, "", "", None)[1][-1]["content"]
    (tmp / "index" / CURRENT).write_bytes(os.urandom(64))
    after = app.ask(QUESTION, [], [], 5, "", "", None)[1][-1]["content"]
    assert "内部错误" not in after and "出错" not in after and after == before, after
    return "the loaded version kept answering, the same reply"


@row("a lone surrogate in a question (web); invalid UTF-8 in CLI argv")
def surrogate_question(tmp: Path) -> str:
    from qa.answer.pipeline import Archive
    from qa.web import ChatApp

    folder = corpus(tmp)
    build([folder], tmp / "index")
    settings = settings_for(tmp)
    app = ChatApp(lambda: Archive.open(settings, embedder=FakeEmbedder()), settings)
    reply = app.ask("\ud800乌海市\udcff召开了什么会议？", [], [], 5, "", "", None)[1][-1]["content"]
    assert "内部错误" not in reply and "出错" not in reply, reply
    for command in ("ask", "search"):
        proc = qa(command, b"\xff\xfe\xe4\xb9\x8c\xe6\xb5\xb7\xc0", "--index-dir", "index", cwd=tmp)
        assert proc.returncode in (0, 2), proc.stderr
    return "answered; `qa ask` and `qa search` with undecodable bytes exit cleanly"


SERVE_PROBE = """
import json, os, sys, tempfile
from pathlib import Path
import httpx
from qa.testing.fake import FakeEmbedder
from qa.answer.pipeline import Archive
from qa.settings import Settings
from qa.web import build_ui, launch
out = {}
def demo_on(port, auth=None):
    settings = Settings(index_dir=Path("index"), model="qa.testing.fake:FakeEmbedder", answerer="rules", port=port,
                        max_upload_mb=1)
    archive = Archive.open(settings, embedder=FakeEmbedder())
    demo = build_ui(lambda: archive, settings)
    launch(demo, settings, auth=auth, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}"
ports = [int(p) for p in sys.argv[1:3]]
demo, url = demo_on(ports[0])
up = url + "/gradio_api/upload"
big = httpx.post(up, files={"files": ("big.txt", b"x" * (2 * 1024 * 1024))}, timeout=60)
small = httpx.post(up, files={"files": ("small.txt", "小文件".encode())}, timeout=60)
out["big"], out["small"] = big.status_code, small.status_code
out["stored"] = small.json()[0] if small.status_code == 200 else None
secured, url = demo_on(ports[1], auth=("ann", "right"))
out["logins"] = [httpx.post(url + "/login", data={"username": "ann", "password": f"wrong{i}"},
                            timeout=60).status_code for i in range(8)]
out["right during lockout"] = httpx.post(url + "/login", data={"username": "ann",
                                         "password": "right"}, timeout=60).status_code
demo.close()
secured.close()
print(json.dumps(out))
"""


def _free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@row("--host 0.0.0.0 without --auth; the upload route")
def binding_and_uploads(tmp: Path) -> str:
    folder = corpus(tmp)
    proc = qa("serve", "--host", "0.0.0.0", "--index-dir", "index", "--corpus", "corpus", cwd=tmp)
    assert proc.returncode == 2 and "refusing to serve on 0.0.0.0" in proc.stderr, proc.stderr
    assert not (tmp / "index").exists()  # refused before any work
    build([folder], tmp / "index")
    probe = _serve_probe(tmp)
    assert probe["big"] == 413 and probe["small"] == 200, probe
    stored = Path(probe["stored"])
    assert stored.name == "small.txt" and stored.is_relative_to(tempfile.gettempdir()), stored
    assert "archive-qa-uploads-" in str(stored) and not stored.exists(), stored  # gone at exit
    return "refused to bind without a login; 2 MB upload 413, a small one kept until exit"


def _serve_probe(tmp: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", SERVE_PROBE, *map(str, _free_ports(2))], cwd=tmp,
                          env=ENV, capture_output=True, text=True, timeout=WATCHDOG_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@row("login attempts")
def login_throttle(tmp: Path) -> str:
    build([corpus(tmp)], tmp / "index")
    probe = _serve_probe(tmp)
    logins = probe["logins"]
    assert logins[:5] == [400] * 5 and set(logins[5:]) == {429}, logins
    assert probe["right during lockout"] == 429, probe
    return f"8 wrong passwords: {logins}; the right one inside the delay: 429"


@row("terminal escapes in a headline")
def terminal_escapes(tmp: Path) -> str:
    folder = tmp / "corpus"
    folder.mkdir()
    (folder / "page.txt").write_text("\x1b]0;pwned\x07\x1b[31m红色的标题\x1b[0m\n\n"
                                     "乌海市召开经济工作会议，研究部署下一步工作。\n", "utf-8")
    proc = qa("ingest", "corpus", cwd=tmp)
    assert proc.returncode == 0 and "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    build([folder], tmp / "index")
    live = current_version(tmp / "index")
    with sqlite3.connect(live / "archive.sqlite") as db:  # an old index
        db.execute("UPDATE articles SET title = '\x1b[2J\x1b[31m旧标题\u202e'")
    manifest = json.loads((live / "manifest.json").read_text("utf-8"))
    del manifest["parts"]  # written before versions recorded their checksums
    (live / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    for args, shown in ((("search", "乌海市"), "\\x1b[2J"), (("ask", QUESTION), "\\u202e"),
                        (("search", "乌海市", "--json"), "\\u001b[2J")):
        proc = qa(*args, "--index-dir", "index", cwd=tmp)
        assert proc.returncode == 0 and "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
        assert shown in proc.stdout, proc.stdout
    return "cleaned when read; escaped when printed (also from an older index)"


@row("version cleanup")
def version_cleanup(tmp: Path) -> str:
    folder = corpus(tmp)
    index = tmp / "index"
    names = iter(["v-3", "v-2", "v-1"])  # each newer version sorts before the older ones

    def new_version(index_dir: Path) -> Path:
        index_dir.mkdir(parents=True, exist_ok=True)
        (path := index_dir / next(names)).mkdir()
        return path

    with mock.patch("qa.index.build.new_version", new_version):
        build([folder], index)
        reader = Store.open(index)
        for n in (1, 2):
            (folder / f"new{n}.txt").write_text(f"第{n}次更新加入的一篇报道，内容足够长。", "utf-8")
            build([folder], index)
            kept = sorted(v.name for v in index.glob("v-*"))
            if n == 1:
                assert kept == ["v-2", "v-3"] and reader.paragraphs([0]), kept
    assert kept == ["v-1", "v-2"], kept
    return "the previously live version outlived the next build; deleted by the one after"


# ---------------------------------------------------------------- the tests

# Gradio's queue trips pandas deprecation warnings that are not ours.
pytestmark = [
    pytest.mark.slow,  # runs the real commands in subprocesses
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.mark.parametrize("name", list(ROWS))
def test_hostile_case(name, tmp_path, record_property):
    """The case's own asserts are the test; what it saw goes into the report (junit / -rA)."""
    record_property("seen", ROWS[name](tmp_path))


def test_disk_full_simulated(tmp_path):
    """The disk-full row prefers a real tmpfs; this runs the ENOSPC simulation whatever the machine."""
    corpus(tmp_path)
    for name in ("mid", "big"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "page.txt").write_text("乌海市推进重点项目建设，持续推进。\n\n" * 20, "utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        check_full_disk(_fill_simulated(tmp_path))
    finally:
        os.chdir(cwd)


def test_disk_full_on_a_real_tmpfs(tmp_path):
    corpus(tmp_path)
    for name in ("mid", "big"):
        (tmp_path / name).mkdir()
    write_disk_fillers(tmp_path)
    out = _fill_real_disk(tmp_path)
    if out is None:
        pytest.skip("cannot mount a tmpfs here (needs `unshare -Urm` with user namespaces, or root)")
    check_full_disk(out)
