"""Pages added from the browser (qa.web.upload): only Gradio's own uploads are read, they are
checked, copied into the archive's uploads folder and deleted, and the running archive answers
from them once the background build is published."""

import os
import threading
from pathlib import Path

import pytest

from qa.index.build import build_lock
from qa.web.upload import Library, UploadRefused, progress_html, safe_name
from tests.archives import TIMELINE_PAGES, build, open_archive

NEW_PAGE = ("# 我市开通首条城际公交\n\n"
            "本报讯 11月1日，我市开通首条城际公交线路，全程68公里，每天往返24个班次。\n")
NEW_QUESTION, NEW_ANSWER = "城际公交线路全程多少公里？", "68公里"


@pytest.fixture
def served(tmp_path):
    """Settings of a small archive, the archive, a library on it, and Gradio's upload folder."""
    settings = build(tmp_path, TIMELINE_PAGES, max_upload_mb=1)
    archive = open_archive(settings)
    library = Library(settings, lambda: archive, threading.Lock(), allowed=True)
    uploads = tmp_path / "gradio"
    return settings, archive, library, uploads


def uploaded(root: Path, name: str, data: str | bytes) -> Path:
    """A file as Gradio stores an upload: in a folder of its own under the upload folder."""
    folder = root / os.urandom(4).hex()
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_an_added_page_is_answered_without_a_restart(served):
    settings, archive, library, uploads = served
    assert archive.ask(NEW_QUESTION).text != NEW_ANSWER
    before = archive.store.folder
    page = uploaded(uploads, "城际公交 20221102.md", NEW_PAGE)
    job = library.add([page], uploads)
    assert job.wait()
    p = job.progress
    assert p.stage == "done" and p.done == p.total == 1 and p.skipped == []
    assert p.added == ["城际公交_20221102.md（1 篇文章，1 段）"]
    assert not page.exists()  # Gradio's copy is gone; the archive keeps its own
    kept = settings.corpus_dir / "uploads" / "城际公交_20221102.md"
    assert kept.read_text("utf-8") == NEW_PAGE
    assert archive.store.folder != before  # switched to the new version
    answer = archive.ask(NEW_QUESTION)
    assert answer.text == NEW_ANSWER and answer.citations[0].date == "2022-11-02"
    assert "已加入档案" in progress_html(p) and "<progress" not in progress_html(p)


def test_files_are_refused_with_their_reasons(served, tmp_path):
    settings, archive, library, uploads = served
    outside = tmp_path / "secret.md"
    outside.write_text(NEW_PAGE, "utf-8")
    link = uploaded(uploads, "x", "").with_name("link.md")
    link.symlink_to(outside)  # inside the upload folder, leading out of it
    files = [
        outside,
        link,
        uploaded(uploads, "big.md", b"#" * (1024 * 1024 + 1)),
        uploaded(uploads, "page.docx", b"PK"),
        uploaded(uploads, "page.pdf", b"%PDF-1.4"),  # a PDF, but a broken one
        uploaded(uploads, "empty.txt", b""),
        uploaded(uploads, "binary.txt", b"\x00\x01\x02" * 100),
    ]
    job = library.add(files, uploads)
    assert job.wait() and job.progress.stage == "failed"
    why = dict(job.progress.skipped)
    assert why["secret.md"] == "不是通过本页上传的文件" and why["link.md"] == "不是通过本页上传的文件"
    assert "1 MB" in why["big.md"] and "不支持" in why["page.docx"] and why["empty.txt"] == "是空文件"
    assert why["binary.txt"].startswith("读不出文章") and why["page.pdf"].startswith("读不出文章")
    assert outside.read_text("utf-8") == NEW_PAGE  # a file outside is never touched
    assert not any(f.exists() for f in files[2:])  # Gradio's uploads are cleaned up
    assert not list((settings.corpus_dir / "uploads").glob("*"))  # nothing kept


def test_the_same_file_twice_is_added_once_and_a_new_version_beside_it(served):
    settings, archive, library, uploads = served
    assert library.add([uploaded(uploads, "page.md", NEW_PAGE)], uploads).wait()
    again = library.add([uploaded(uploads, "page.md", NEW_PAGE)], uploads)
    assert again.wait() and again.progress.skipped == [("page.md", "档案里已有同样的文件")]
    changed = library.add([uploaded(uploads, "page.md", NEW_PAGE + "\n又及。\n")], uploads)
    assert changed.wait() and changed.progress.stage == "done"
    assert sorted(f.name for f in (settings.corpus_dir / "uploads").iterdir()) == [
        "page-2.md", "page.md"]


def test_a_build_that_cannot_run_keeps_nothing(served):
    settings, archive, library, uploads = served
    before = archive.store.folder
    with build_lock(settings.index_dir):  # a `qa index` running on the same folder
        job = library.add([uploaded(uploads, "page.md", NEW_PAGE)], uploads)
        assert job.wait()
    assert job.progress.stage == "failed" and "another build is running" in job.progress.message
    assert not (settings.corpus_dir / "uploads" / "page.md").exists()
    assert archive.store.folder == before


def test_uploads_are_refused_when_off_or_empty(served):
    settings, archive, _, uploads = served
    page = uploaded(uploads, "page.md", NEW_PAGE)
    off = Library(settings, lambda: archive, threading.Lock(), allowed=False)
    with pytest.raises(UploadRefused, match="不接受上传"):
        off.add([page], uploads)
    assert page.exists()  # refused before anything was read
    with pytest.raises(UploadRefused, match="请先选择"):
        Library(settings, lambda: archive, threading.Lock(), allowed=True).add([], uploads)


def test_batches_wait_their_turn_one_per_client(served):
    settings, archive, library, uploads = served
    lock = threading.Lock()
    slow = Library(settings, lambda: archive, lock, allowed=True)
    with lock:  # the build waits for the question holding the engine
        first = slow.add([uploaded(uploads, "page.md", NEW_PAGE)], uploads, client="a")
        with pytest.raises(UploadRefused, match="上一批"):
            slow.add([uploaded(uploads, "other.md", NEW_PAGE)], uploads, client="a")
        second = slow.add([uploaded(uploads, "bus.md", NEW_PAGE.replace("68公里", "71公里"))],
                          uploads, client="b")  # once refused: one batch for everyone
        assert not first.progress.finished and "<progress" in progress_html(first.progress)
        assert second.progress.stage == "waiting" and second.progress.ahead == 1
        assert "前面还有 1 批" in progress_html(second.progress)
    assert first.wait(60) and second.wait(60)
    assert first.progress.stage == second.progress.stage == "done"
    assert second.progress.added == ["bus.md（1 篇文章，1 段）"]
    kept = {p.name for p in (settings.corpus_dir / "uploads").iterdir()}
    assert kept == {"page.md", "bus.md"}
    # the client may send its next batch once its own has ended
    third = slow.add([uploaded(uploads, "later.md", NEW_PAGE.replace("68", "90"))], uploads, client="a")
    assert third.wait(60) and third.progress.stage == "done"


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd.md", "passwd.md"), ("a b;c.MD", "a_b_c.md"), ("报道 2023.txt", "报道_2023.txt"),
    ("..md", "upload.md"), ("C:\\\\x\\\\y.csv", "y.csv"), ("noext", "noext"),
])
def test_safe_names(name, safe):
    assert safe_name(name) == safe


def test_a_file_or_batch_of_too_many_paragraphs_is_refused_naming_the_cap(tmp_path):
    settings = build(tmp_path, TIMELINE_PAGES, max_upload_paragraphs=3, max_batch_paragraphs=4)
    archive = open_archive(settings)
    before = archive.store.size
    library = Library(settings, lambda: archive, threading.Lock(), allowed=True)
    uploads = tmp_path / "gradio"

    def page(n: int) -> str:
        return "# 新闻\n\n" + "\n\n".join(f"本报讯 第{i}段新闻说，全市推进第{i}项工作。" for i in range(n))

    files = [uploaded(uploads, "many.md", page(5)), uploaded(uploads, "three.md", page(3)),
             uploaded(uploads, "two.md", page(2))]
    job = library.add(files, uploads)
    assert job.wait() and job.progress.stage == "done"
    why = dict(job.progress.skipped)
    assert "QA_MAX_UPLOAD_PARAGRAPHS" in why["many.md"]  # 5 > 3 in one file
    assert "QA_MAX_BATCH_PARAGRAPHS" in why["two.md"]  # 3 + 2 > 4 in the batch
    assert job.progress.added == ["three.md（3 篇文章，3 段）"]
    assert archive.store.size == before + 3
    assert sorted(p.name for p in (settings.corpus_dir / "uploads").glob("*")) == ["three.md"]
