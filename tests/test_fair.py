"""Fair shares of one server (qa.web.fair): a client flooding the queue holds only its own few
places, uploads are limited per address and minute, and browser sessions are released."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import httpx

from qa.settings import Settings
from qa.web import build_ui, launch
from qa.web.fair import UploadBudget, release_sessions, share_queue
from qa.web.render import ALL_PAPERS
from tests.archives import open_archive
from tests.test_front import free_port


@contextmanager
def serving(settings: Settings, slow_s: float = 0.0) -> Iterator[tuple[object, httpx.Client]]:
    """The app as `qa serve` serves it, each question taking at least `slow_s`; its Blocks and a
    client."""
    settings = settings.with_(port=free_port())
    archive = open_archive(settings)
    ask = archive.ask

    def slow_ask(*args, **kwargs):
        time.sleep(slow_s)
        return ask(*args, **kwargs)

    archive.ask = slow_ask
    demo = build_ui(lambda: archive, settings, allow_uploads=True)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.port}", timeout=30) as client:
            yield demo, client
    finally:
        demo.close(verbose=False)


def join(demo, client: httpx.Client, session: str, question: str = "乌海市召开了什么会议？"):
    """Ask `question` through the queue as the page does, as browser session `session`."""
    asking = next(i for i, fn in demo.fns.items() if fn.name == "ask")
    data = [question, [], [], 5, "", "", ALL_PAPERS, []]
    return client.post("/gradio_api/queue/join",
                       json={"data": data, "fn_index": asking, "session_hash": session})


def test_a_session_flooding_the_queue_leaves_the_others_their_places(seed_archive):
    with serving(seed_archive.with_(max_waiting_per_session=2), slow_s=0.5) as (demo, client):
        flood = [join(demo, client, "flood") for _ in range(30)]  # once: the queue full at 64
        other = join(demo, client, "other")
    accepted = [r for r in flood if r.status_code == 200]
    refused = [r for r in flood if r.status_code == 503]
    assert len(accepted) <= 4 and len(accepted) + len(refused) == 30  # ≤ 1 running + 2 waiting
    assert "2 questions waiting" in refused[0].json()["detail"]
    assert other.status_code == 200, other.text


def _event(session: str, host: str):
    return SimpleNamespace(session_hash=session, request=SimpleNamespace(client=SimpleNamespace(host=host)))


def test_the_queue_counts_waiting_questions_per_session_and_per_address():
    waiting: list = []
    pushed: list = []

    async def push(body, request, username):
        pushed.append(body.session_hash)
        waiting.append(_event(body.session_hash, request.client.host))
        return True, "event", "success"

    queue = SimpleNamespace(push=push, event_queue_per_concurrency_id={"ask": SimpleNamespace(queue=waiting)})
    share_queue(queue, per_session=2, per_address=3)

    def ask(session: str, host: str):
        body = SimpleNamespace(session_hash=session)
        return asyncio.run(queue.push(body, SimpleNamespace(client=SimpleNamespace(host=host)), None))

    assert [ask("a", "10.0.0.1")[0] for _ in range(3)] == [True, True, False]
    assert ask("b", "10.0.0.1")[0] is True  # the address's third
    refused = ask("c", "10.0.0.1")
    assert refused[0] is False and refused[2] == "queue_full" and "address" in refused[1]
    assert ask("d", "10.0.0.2")[0] is True  # another address
    assert ask("e", "127.0.0.5")[0] is True and ask("f", "::1")[0] is True  # loopback is one address
    assert ask("g", "127.0.0.1")[0] is True and ask("h", "127.0.0.9")[0] is False
    waiting.clear()  # answered: places free again
    assert ask("a", "10.0.0.1")[0] is True


def test_uploads_are_limited_per_address_and_minute():
    now = [0.0]
    passed: list[str] = []

    async def app(scope, receive, send):
        passed.append(scope["client"][0])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    budget = UploadBudget(app, max_bytes=25 * 2**20, clock=lambda: now[0])

    def upload(host: str, size: int | None, path: str = "/gradio_api/upload") -> int:
        headers = [] if size is None else [(b"content-length", str(size).encode())]
        scope = {"type": "http", "method": "POST", "path": path, "headers": headers,
                 "client": (host, 1234)}
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        asyncio.run(budget(scope, receive, send))
        return sent[0]["status"]

    mb = 2**20
    assert [upload("10.0.0.1", 10 * mb) for _ in range(3)] == [200, 200, 429]  # the third: 30 MB
    assert upload("10.0.0.2", 10 * mb) == 200  # another address has its own minute
    assert upload("10.0.0.1", None) == 411  # no declared length: refused before reading
    now[0] = 61.0
    assert upload("10.0.0.1", 10 * mb) == 200
    assert upload("10.0.0.1", 50 * mb, "/gradio_api/queue/join") == 200  # only the upload routes


def test_a_real_server_refuses_uploads_past_the_minutes_budget(seed_archive):
    page = "乌海市召开经济工作会议。".encode() * 20_000  # 0.7 MB
    with serving(seed_archive.with_(max_upload_mb_per_minute=1)) as (_, client):
        first = client.post("/gradio_api/upload", files={"files": ("a.txt", page)})
        second = client.post("/gradio_api/upload", files={"files": ("b.txt", page)})
    assert first.status_code == 200, first.text
    assert second.status_code == 429 and "QA_MAX_UPLOAD_MB_PER_MINUTE" in second.text
    assert int(second.headers["retry-after"]) > 0


def test_browser_sessions_are_bounded_and_released(seed_archive):
    with serving(seed_archive.with_(max_sessions=20, max_waiting_per_address=100)) as (demo, client):
        holder = demo.server_app.state_holder
        for n in range(60):  # 60 sessions: Gradio alone keeps 10,000
            assert join(demo, client, f"s{n}", "？？？").status_code == 200
        deadline = time.monotonic() + 20
        while len(holder.session_data) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 0 < len(holder.session_data) <= 20
        closed = next(iter(holder.session_data))
        holder.session_data[closed].is_closed = True
        holder.time_last_used[closed] -= datetime.timedelta(hours=1)
        deadline = time.monotonic() + 10  # Gradio's sweep runs once a second
        while closed in holder.session_data and time.monotonic() < deadline:
            time.sleep(0.1)
        assert closed not in holder.session_data


def test_a_session_idle_for_long_is_released_even_if_never_closed():
    now = datetime.datetime.now()
    holder = SimpleNamespace(
        capacity=0, lock=threading.Lock(), delete_all_expired_state=lambda: None,
        session_data={"old": SimpleNamespace(is_closed=False), "new": SimpleNamespace(is_closed=False),
                      "shut": SimpleNamespace(is_closed=True)},
        time_last_used={"old": now - datetime.timedelta(hours=13), "new": now,
                        "shut": now - datetime.timedelta(minutes=11)})
    release_sessions(holder, capacity=100, closed_after_s=600, idle_after_s=12 * 3600)
    holder.delete_all_expired_state()
    assert holder.capacity == 100 and set(holder.session_data) == {"new"}
