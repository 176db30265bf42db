"""Fair shares of one server: a client cannot fill the question queue (`share_queue`) or the
upload folder (`UploadBudget`), and a browser session's memory is released when it ends
(`release_sessions`). `layout.launch` puts each in place."""

from __future__ import annotations

import datetime
import math
import time
from collections import deque
from collections.abc import Callable

from qa.web.guard import address_key, answer, client_key

UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
WINDOW_S = 60.0  # uploads are counted over the last minute


def _client_address(request) -> str:
    client = getattr(request, "client", None)
    return address_key(client.host if client else "unknown")


def share_queue(queue, per_session: int, per_address: int) -> None:
    """Make Gradio's `queue` refuse a question (503, as when the queue is full, with the reason)
    from a browser session that already has `per_session` waiting, or an address (loopback as
    one, see guard.address_key) that has `per_address`: a client sending questions as fast as
    it can holds that many places, and everyone else keeps theirs."""
    push = queue.push

    async def fair_push(body, request, username):
        session, address = body.session_hash, _client_address(request)
        waiting = [event for line in queue.event_queue_per_concurrency_id.values()
                   for event in line.queue]
        if sum(event.session_hash == session for event in waiting) >= per_session:
            return False, (f"您已有 {per_session} 个问题在排队，请等它们答完 "
                           f"(this session already has {per_session} questions waiting)"), "queue_full"
        if sum(_client_address(event.request) == address for event in waiting) >= per_address:
            return False, (f"此地址已有 {per_address} 个问题在排队 "
                           f"({per_address} questions from this address are waiting)"), "queue_full"
        return await push(body, request, username)

    queue.push = fair_push


class UploadBudget:
    """ASGI middleware: each address (loopback as one) may upload at most `max_bytes` a minute
    (by the request's declared length, checked before the body is read; an upload that
    declares none is refused, 411). Past it, 429 with the seconds to wait."""

    def __init__(self, app, max_bytes: int, clock: Callable[[], float] = time.monotonic):
        self.app, self.max_bytes, self.clock = app, max_bytes, clock
        self.sent: dict[str, deque[tuple[float, int]]] = {}

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or not scope["path"].rstrip("/").endswith(UPLOAD_PATHS)):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if not length.isdigit():
            await answer(scope, send, 411, "an upload must say its length")
            return
        size, now = int(length), self.clock()
        key = client_key(scope)
        recent = self.sent.setdefault(key, deque())
        while recent and recent[0][0] <= now - WINDOW_S:
            recent.popleft()
        if size + sum(n for _, n in recent) > self.max_bytes:
            wait = math.ceil(recent[0][0] + WINDOW_S - now) if recent else math.ceil(WINDOW_S)
            await answer(scope, send, 429, f"uploads are limited to {self.max_bytes // 2**20} MB "
                          f"a minute (QA_MAX_UPLOAD_MB_PER_MINUTE); try again in {wait} s",
                          [(b"retry-after", str(wait).encode())])
            return
        recent.append((now, size))
        if len(self.sent) > 10_000:  # forget addresses that sent nothing lately
            self.sent = {k: v for k, v in self.sent.items() if v and v[-1][0] > now - WINDOW_S}
        await self.app(scope, receive, send)


def release_sessions(holder, capacity: int, closed_after_s: float, idle_after_s: float) -> None:
    """Bound what Gradio's `holder` (its StateHolder) keeps per browser session (a copy of the
    page's configuration, ~100 kB, and its State values): at most `capacity` sessions, and a
    session is dropped `closed_after_s` after its page was closed, or `idle_after_s` after it
    was last used. Gradio alone keeps 10,000 and drops none; this runs in its own sweep (once
    a second)."""
    holder.capacity = capacity
    sweep = holder.delete_all_expired_state

    def sweep_and_release() -> None:
        sweep()
        now = datetime.datetime.now()
        with holder.lock:
            for session, state in list(holder.session_data.items()):
                last = holder.time_last_used.get(session, now)
                idle = (now - last).total_seconds()
                if idle > idle_after_s or (state.is_closed and idle > closed_after_s):
                    del holder.session_data[session]
                    holder.time_last_used.pop(session, None)

    holder.delete_all_expired_state = sweep_and_release
