"""Every hostile case of issue 15, one test each (the cases live in benchmarks/hostile.py, which
replays them all and prints tried / survived)."""

import os

import pytest

from benchmarks import hostile

# Gradio's queue trips pandas deprecation warnings that are not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.mark.parametrize("name", list(hostile.ROWS))
def test_row_survives(name, tmp_path):
    seen = hostile.ROWS[name](tmp_path)
    assert seen  # each row says what it saw; failures raise inside the row


def test_disk_full_simulated(tmp_path):
    """The disk-full row prefers a real tmpfs; this runs the ENOSPC simulation whatever the machine."""
    hostile.corpus(tmp_path)
    for name in ("mid", "big"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "page.txt").write_text("乌海市推进重点项目建设，持续推进。\n\n" * 20, "utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        hostile.check_full_disk(hostile._fill_simulated(tmp_path))
    finally:
        os.chdir(cwd)


def test_disk_full_on_a_real_tmpfs(tmp_path):
    hostile.corpus(tmp_path)
    for name in ("mid", "big"):
        (tmp_path / name).mkdir()
    hostile.write_disk_fillers(tmp_path)
    out = hostile._fill_real_disk(tmp_path)
    if out is None:
        pytest.skip("cannot mount a tmpfs here (needs `unshare -Urm` with user namespaces, or root)")
    hostile.check_full_disk(out)
