"""In front of the web app: which hosts and pages may talk to it (`HostGuard`), what a visitor
who has not logged in learns about its API (`HostGuard` too), and how fast logins may be tried
(`LoginThrottle`). Each is ASGI middleware that `layout.launch` hands to Gradio's server."""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request

log = logging.getLogger(__name__)

LOGIN_PATHS = ("/login", "/login/")
MAX_LOGIN_BODY = 64 * 1024  # a login form is a user name and a password
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# What a reverse proxy says about the client; read only when one is trusted (--trusted-proxy).
PROXY_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto",
                 b"x-forwarded-port", b"x-forwarded-prefix", b"x-real-ip")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::(?P<port>\d{1,5}))?")
# The page Gradio serves holds the whole API (every endpoint and its parameters) in a script.
_API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.DOTALL)
_NO_API_INFO = b'window.gradio_api_info = {"named_endpoints": {}, "unnamed_endpoints": {}};</script>'


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header (or an origin's host and port) as (host, port); None when malformed.
    IPv6 addresses come without their brackets."""
    match = _HOST.fullmatch(value.strip().lower())
    if match is None:
        return None
    host = match["v6"] or match["name"]
    if match["v6"] and _ip(host) is None:
        return None
    return host, int(match["port"]) if match["port"] else None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class ServedHosts:
    """The host names a server answers for: its own address, `localhost`, 127.0.0.1 and ::1
    when it listens on loopback, this machine's name and any address when it listens on all
    of them (0.0.0.0, ::), and the names it was given (`allowed`, "*.example.org" for the
    subdomains). A name anyone can point anywhere, the way DNS rebinding works, is not one."""

    def __init__(self, bind: str, allowed: tuple[str, ...] = ()):
        bind = bind.strip().strip("[]").lower()
        address = _ip("127.0.0.1" if bind == "localhost" else bind)
        self.allowed = frozenset(a for a in allowed if not a.startswith("*."))
        self.suffixes = tuple(a[1:] for a in allowed if a.startswith("*."))
        self.names = {"localhost", *self.allowed}
        self.addresses: set = set()
        self.any_address = address is not None and address.is_unspecified
        if address is None:
            self.names.add(bind)  # a host name to listen on
        elif address.is_loopback:
            self.addresses |= {address, ipaddress.ip_address("127.0.0.1"),
                               ipaddress.ip_address("::1")}
        else:
            self.addresses.add(address)
        if address is None or not address.is_loopback:
            self.names.add(socket.gethostname().lower())

    def __contains__(self, host: str) -> bool:
        address = _ip(host)
        if address is not None:
            return self.any_address or address in self.addresses
        return host in self.names or host.endswith(self.suffixes)


class HostGuard:
    """ASGI middleware: refuses what a web page elsewhere could make a browser send.

    - A request whose `Host` is not one the server serves is answered 400: a page that got a
      browser to resolve its own domain name to this server (DNS rebinding) reaches nothing.
    - A request from a page of another origin (its `Origin` is neither this server's nor a
      name in `--allowed-host`, or "null"), and a state-changing one the browser marks as
      cross-site (`Sec-Fetch-Site`), is answered 403: asking, uploading, adding files and
      joining the queue all happen from the app's own page.
    - Without `proxied`, the headers in which a reverse proxy names the client are dropped.
    - With a login, a visitor who has not logged in gets the login page without the API's
      description (Gradio embeds it in every page it serves).
    """

    def __init__(self, app, hosts: ServedHosts, proxied: bool = False):
        self.app, self.hosts, self.proxied = app, hosts, proxied
        self._reported: set[tuple[str, str, str]] = set()

    def _report(self, why: str, headers: dict[str, str]) -> None:
        """Log a refusal once per host and origin (a page can send thousands)."""
        seen = (why, headers.get(b"host", "")[:100], headers.get(b"origin", "")[:100])
        if seen not in self._reported and len(self._reported) < 1000:
            self._reported.add(seen)
            log.warning("refused: %s (Host %r, Origin %r); a name this server is reached by "
                        "goes in --allowed-host", why, seen[1], seen[2] or None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {}
        for key, value in scope.get("headers", ()):
            headers.setdefault(key.lower(), value.decode("latin-1"))
        problem = self.refusal(scope, headers)
        if problem is not None:
            status, text = problem
            self._report(text, headers)
            await answer(scope, send, status, text)
            return
        if not self.proxied:
            scope = dict(scope, headers=[(k, v) for k, v in scope.get("headers", ())
                                         if k.lower() not in PROXY_HEADERS])
        if scope["type"] == "http" and scope["method"] == "GET" and not _logged_in(scope):
            await self.app(scope, receive, _without_api(send))
            return
        await self.app(scope, receive, send)

    def refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, why) for a request that must not be answered; None for one that may."""
        host = split_host(headers.get(b"host", ""))
        if host is None or host[0] not in self.hosts:
            return 400, "this server does not answer for that host name"
        origin = headers.get(b"origin")
        if origin is not None and not self.same_origin(origin, host):
            return 403, "requests from pages of other sites are refused"
        unsafe = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
        if unsafe and headers.get(b"sec-fetch-site") == "cross-site":
            return 403, "requests from pages of other sites are refused"
        return None

    def same_origin(self, origin: str, host: tuple[str, int | None]) -> bool:
        """Whether `origin` is the server's own: the host and port the request was sent to, or
        a name it was given (--allowed-host), which a reverse proxy may serve on any port."""
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or parts.path or parts.query:
            return False
        found = split_host(parts.netloc)
        if found is None:
            return False
        name, port = found
        if name in self.hosts.allowed or name.endswith(self.hosts.suffixes):
            return True
        port = port or DEFAULT_PORTS[parts.scheme]
        # a Host without a port is a default port, of whichever scheme the browser used
        return name == host[0] and (port == host[1] if host[1] else port in (80, 443))


def _logged_in(scope) -> bool:
    """Whether the request comes from someone who logged in, or there is no login."""
    app = scope.get("app")
    if getattr(app, "auth", None) is None:
        return True
    cookie_id = getattr(app, "cookie_id", "")
    cookies = {}
    for key, value in scope.get("headers", ()):
        if key.lower() == b"cookie":
            for item in value.decode("latin-1").split(";"):
                name, _, token = item.strip().partition("=")
                cookies[name] = token
    tokens = getattr(app, "tokens", {})
    return any(cookies.get(f"{kind}-{cookie_id}") in tokens
               for kind in ("access-token", "access-token-unsecure"))


def _without_api(send):
    """`send` for a page: HTML has the API's description taken out, anything else passes."""
    start: dict = {}
    parts: list[bytes] = []

    async def filtered(message) -> None:
        if message["type"] == "http.response.start":
            content_type = dict(message.get("headers", ())).get(b"content-type", b"")
            if not content_type.startswith(b"text/html"):
                await send(message)
                return
            start.update(message)
            return
        if message["type"] != "http.response.body" or not start:
            await send(message)
            return
        parts.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _API_INFO.sub(_NO_API_INFO, b"".join(parts))
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return filtered


class LoginThrottle:
    """ASGI middleware: failed logins slow down the address and the account they were tried
    from and for.

    The first `free` attempts go through; after that each attempt must wait a delay that
    doubles with every failure (from `base_delay` up to `max_delay` seconds), and attempts
    made inside the delay are answered 429 at once, without the password being checked. The
    address is the socket's peer (a proxy's X-Forwarded-For only counts when the proxy is
    trusted, see launch), loopback as one address and IPv6 by its /64; the account is the
    user name sent, so trying from many addresses gains nothing. An attempt counts as failed
    until it succeeds, so parallel attempts gain nothing either; a success clears both.
    """

    def __init__(self, app, free: int = 5, base_delay: float = 1.0, max_delay: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000):
        self.app = app
        self.free, self.base_delay, self.max_delay = free, base_delay, max_delay
        self.clock, self.max_clients = clock, max_clients
        # address, or "account <name>" -> (failures, blocked until)
        self.failures: dict[str, tuple[int, float]] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, MAX_LOGIN_BODY)
        if body is None:
            await answer(scope, send, 413, "login form too large")
            return
        keys = (client_key(scope),
                "account " + await _user_name(scope, body))
        now = self.clock()
        until = max(self.failures.get(key, (0, 0.0))[1] for key in keys)
        if now < until:
            await answer(scope, send, 429,
                          f"too many failed logins; try again in {math.ceil(until - now)} s",
                          [(b"retry-after", str(math.ceil(until - now)).encode())])
            return
        for key in keys:
            self._remember(key, self.failures.get(key, (0, 0.0))[0] + 1, now)
        status: list[int] = []

        async def watch(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, _replay(body, receive), watch)
        if status and status[0] < 300:
            for key in keys:
                self.failures.pop(key, None)

    def delay(self, failures: int) -> float:
        """Seconds an address or account waits after `failures` failed attempts."""
        if failures < self.free:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** (failures - self.free))

    def _remember(self, key: str, failures: int, now: float) -> None:
        if len(self.failures) >= self.max_clients:  # forget those no longer held back
            self.failures = {c: f for c, f in self.failures.items() if f[1] > now}
        self.failures[key] = (failures, now + self.delay(failures))


def client_key(scope) -> str:
    """Whom an ASGI request's socket peer stands for (see address_key)."""
    return address_key((scope.get("client") or ("unknown",))[0])


def address_key(host: str) -> str:
    """Whom an address stands for: itself, loopback as one, an IPv6 address by its /64 (the
    block one machine gets)."""
    address = _ip(host)
    if address is None:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


async def _user_name(scope, body: bytes) -> str:
    """The user name a login form sends, read as Gradio reads it (URL-encoded or multipart, as
    the login page sends it), folded; "" when there is none."""
    try:
        form = await Request(scope, _replay(body, _nothing_more)).form()
        name = form.get("username")
    except Exception:  # a form the login route will refuse too
        name = None
    return name.strip().casefold()[:200] if isinstance(name, str) else ""


async def _nothing_more():
    return {"type": "http.disconnect"}


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is longer than `limit`."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > limit:
            return None
        if not message.get("more_body"):
            break
    return b"".join(parts)


def _replay(body: bytes, receive):
    """`receive` for an app after the body was read: the body, then what the client sends."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def answer(scope, send, status: int, text: str, extra: list | None = None) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = text.encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
