"""In front of the web app: how fast logins may be tried."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

LOGIN_PATHS = ("/login", "/login/")


class LoginThrottle:
    """ASGI middleware: failed logins from one address slow that address down.

    The first `free` attempts go through; after that each attempt must wait a delay that
    doubles with every failure (from `base_delay` up to `max_delay` seconds), and attempts
    made inside the delay are answered 429 at once, without the password being checked. An
    attempt counts as failed until it succeeds, so parallel attempts gain nothing; a success
    clears the address.
    """

    def __init__(self, app, free: int = 5, base_delay: float = 1.0, max_delay: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000):
        self.app = app
        self.free, self.base_delay, self.max_delay = free, base_delay, max_delay
        self.clock, self.max_clients = clock, max_clients
        self.failures: dict[str, tuple[int, float]] = {}  # address -> (failures, blocked until)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        failures, until = self.failures.get(client, (0, 0.0))
        now = self.clock()
        if now < until:
            await _refuse(send, math.ceil(until - now))
            return
        failures += 1
        self._remember(client, failures, now)
        status: list[int] = []

        async def watch(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] < 300:
            self.failures.pop(client, None)

    def delay(self, failures: int) -> float:
        """Seconds an address waits after `failures` failed attempts."""
        if failures < self.free:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** (failures - self.free))

    def _remember(self, client: str, failures: int, now: float) -> None:
        if len(self.failures) >= self.max_clients:  # forget addresses no longer held back
            self.failures = {c: f for c, f in self.failures.items() if f[1] > now}
        self.failures[client] = (failures, now + self.delay(failures))


async def _refuse(send, wait: int) -> None:
    body = f"too many failed logins; try again in {wait} s".encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", str(wait).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
