"""What stands in front of the web app (qa.web.guard): only its own host names and its own pages
reach it, proxy headers count only from a trusted proxy, logins are throttled per address and
per account, and before a login nothing describes the API."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from click.testing import CliRunner

from qa.cli import main as cli_main
from qa.settings import Settings
from qa.web import build_ui, launch
from qa.web.guard import HostGuard, LoginThrottle, ServedHosts, address_key, split_host
from tests.archives import open_archive

EVIL = "rebind.evil.example"
# Every route a page elsewhere would use to ask, upload, add files or join the queue, and the
# ones that describe the app.
ROUTES = [("GET", "/"), ("GET", "/config"), ("GET", "/gradio_api/info"),
          ("POST", "/gradio_api/queue/join"), ("POST", "/gradio_api/upload"),
          ("POST", "/gradio_api/call/ask"), ("POST", "/gradio_api/run/ask"),
          ("POST", "/login"), ("GET", "/gradio_api/queue/data?session_hash=x")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(settings: Settings, auth: tuple[str, str] | None = None) -> Iterator[httpx.Client]:
    """The app as `qa serve` serves it (uploads on, the guards in front) on a free port of
    127.0.0.1, and a client for it."""
    settings = settings.with_(port=free_port())
    archive = open_archive(settings)
    demo = build_ui(lambda: archive, settings, allow_uploads=True)
    launch(demo, settings, auth=auth, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.port}", timeout=30) as client:
            yield client
    finally:
        demo.close(verbose=False)


@pytest.fixture(scope="module")
def client(seed_archive) -> Iterator[httpx.Client]:
    with served(seed_archive) as client:
        yield client


def own(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def _send(client: httpx.Client, method: str, path: str, **headers: str):
    if path == "/gradio_api/upload":
        return client.post(path, files={"files": ("page.txt", "乌海市".encode())}, headers=headers)
    if method == "POST":
        return client.post(path, json={"data": ["乌海市召开了什么会议？"], "fn_index": 0,
                                       "session_hash": "s"}, headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_rebinding_request_is_refused_on_every_route(client, method, path):
    port = client.base_url.port
    response = _send(client, method, path, host=f"{EVIL}:{port}", origin=f"http://{EVIL}:{port}")
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_page_of_another_site_is_refused_on_every_route(client, method, path):
    port = client.base_url.port
    for origin in ("http://evil.example", "null", f"http://localhost:{port + 1}",
                   f"https://127.0.0.1:{port}.evil.example"):
        response = _send(client, method, path, origin=origin)
        assert response.status_code == 403, (origin, response.text)


def test_a_cross_site_upload_is_not_stored(client):
    response = _send(client, "POST", "/gradio_api/upload", origin="http://evil.example",
                     **{"sec-fetch-site": "cross-site"})
    assert response.status_code == 403 and "archive-qa-uploads" not in response.text
    response = _send(client, "POST", "/gradio_api/upload", **{"sec-fetch-site": "cross-site"})
    assert response.status_code == 403


def test_the_page_opened_normally_works(client):
    port = client.base_url.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert client.get("/", headers={"host": host}).status_code == 200, host
    assert client.get("/config").status_code == 200
    assert client.get("/gradio_api/info").status_code == 200
    stored = _send(client, "POST", "/gradio_api/upload", origin=own(client),
                   **{"sec-fetch-site": "same-origin"})
    assert stored.status_code == 200 and "archive-qa-uploads" in stored.text
    assert _send(client, "POST", "/gradio_api/upload").status_code == 200  # a script, no Origin
    joined = _send(client, "POST", "/gradio_api/queue/join", origin=own(client))
    assert joined.status_code == 200 and "event_id" in joined.text


def test_served_hosts_are_the_address_localhost_and_the_names_given():
    loopback = ServedHosts("127.0.0.1")
    assert all(h in loopback for h in ("127.0.0.1", "::1", "localhost"))
    assert not any(h in loopback for h in (EVIL, "10.0.0.1", "localhost.evil.example",
                                           "127.0.0.1.nip.io"))
    assert "127.0.0.1" in ServedHosts("localhost") and "::1" in ServedHosts("::1")
    named = ServedHosts("127.0.0.1", ("archive.example", "*.lan"))
    assert "archive.example" in named and "qa.lan" in named and "lan" not in named
    lan = ServedHosts("192.168.1.5")
    assert "192.168.1.5" in lan and "127.0.0.1" not in lan and EVIL not in lan
    everywhere = ServedHosts("0.0.0.0")
    assert "192.168.1.5" in everywhere and "10.1.2.3" in everywhere and EVIL not in everywhere
    assert split_host("[::1]:7860") == ("::1", 7860) and split_host("a b") is None


def test_a_proxy_named_with_allowed_host_may_serve_the_page_on_its_own_port(seed_archive):
    with served(seed_archive.with_(allowed_hosts="archive.example")) as client:
        assert client.get("/", headers={"host": "archive.example"}).status_code == 200
        upload = _send(client, "POST", "/gradio_api/upload", origin="https://archive.example")
        assert upload.status_code == 200
        assert client.get("/", headers={"host": EVIL}).status_code == 400


def test_allowed_hosts_and_proxies_are_checked_at_the_edge(monkeypatch, tmp_path):
    for bad in ({"allowed_hosts": "*"}, {"allowed_hosts": "http://archive.example"},
                {"trusted_proxy": "*"}, {"trusted_proxy": "0.0.0.0/0"},
                {"trusted_proxy": "proxy.lan"}):
        with pytest.raises(ValueError):
            Settings(**bad)
    assert Settings(trusted_proxy="10.0.0.1, 10.1.0.0/16").proxy_addresses == (
        "10.0.0.1/32", "10.1.0.0/16")
    for args in (["--allowed-host", "*"], ["--trusted-proxy", "*"]):
        result = CliRunner().invoke(cli_main, ["serve", "--index-dir", str(tmp_path), *args])
        assert result.exit_code == 2 and "'*'" in result.output, result.output
    monkeypatch.setenv("QA_TRUSTED_PROXY", "*")
    result = CliRunner().invoke(cli_main, ["serve", "--index-dir", str(tmp_path)])
    assert result.exit_code == 2 and "QA_TRUSTED_PROXY" in result.output


def _downstream_headers(guard: HostGuard, headers: list[tuple[bytes, bytes]]) -> list:
    seen = []

    async def app(scope, receive, send):
        seen.extend(scope["headers"])

    guard.app = app
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
    asyncio.run(guard(scope, None, None))
    return [k for k, _ in seen]


def test_proxy_headers_reach_the_app_only_from_a_trusted_proxy():
    headers = [(b"host", b"127.0.0.1:7860"), (b"x-forwarded-for", b"10.9.9.9"),
               (b"forwarded", b"for=10.9.9.9"), (b"x-forwarded-host", b"evil.example")]
    plain = _downstream_headers(HostGuard(None, ServedHosts("127.0.0.1")), headers)
    assert plain == [b"host"]
    proxied = _downstream_headers(HostGuard(None, ServedHosts("127.0.0.1"), proxied=True), headers)
    assert b"x-forwarded-for" in proxied


def test_before_a_login_nothing_describes_the_api(seed_archive):
    with served(seed_archive, auth=("ann", "right")) as client:
        page = client.get("/")
        assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
        api = re.search(r"window\.gradio_api_info = (.*?);</script>", page.text)[1]
        assert api == '{"named_endpoints": {}, "unnamed_endpoints": {}}'
        assert '"/ask"' not in page.text and "parameter_name" not in page.text
        assert len(page.content) < 10_000
        for path in ("/config", "/gradio_api/info", "/gradio_api/openapi.json"):
            assert client.get(path).status_code == 401, path
        assert client.get("/openapi.json").status_code == 404
        login = client.post("/login", data={"username": "ann", "password": "right"},
                            headers={"origin": own(client)})
        assert login.status_code == 200
        after = client.get("/")
        assert '"/ask"' in after.text and "parameter_name" in after.text
        assert client.get("/config").status_code == 200
        assert client.get("/gradio_api/info").status_code == 200


def test_a_real_server_believes_no_forwarded_for_and_counts_loopback_as_one(seed_archive):
    def tries(client: httpx.Client, **rotate) -> list[int]:
        codes = []
        for i in range(2, 12):
            headers = {"x-forwarded-for": f"203.0.113.{i}"} if "forwarded" in rotate else {}
            if "source" in rotate:
                local = httpx.HTTPTransport(local_address=f"127.0.0.{i}")
                with httpx.Client(base_url=client.base_url, transport=local) as other:
                    codes.append(other.post("/login", data={
                        "username": f"u{i}", "password": "wrong"}).status_code)
                continue
            codes.append(client.post("/login", headers=headers, data={
                "username": f"u{i}", "password": "wrong"}).status_code)
        return codes

    with served(seed_archive, auth=("ann", "right")) as client:
        assert tries(client, forwarded=True) == [400] * 5 + [429] * 5
    with served(seed_archive, auth=("ann", "right")) as client:
        assert tries(client, source=True) == [400] * 5 + [429] * 5
    with served(seed_archive.with_(trusted_proxy="127.0.0.1"), auth=("ann", "right")) as client:
        assert tries(client, forwarded=True) == [400] * 10  # each its own client, as told


class _Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def attempt(throttle: LoginThrottle, password: str, client: str = "10.0.0.1",
            user: str = "ann", multipart: bool = False, forwarded: str | None = None) -> int:
    """One login through `throttle` to an app that takes the password "right"."""
    async def app(scope, receive, send):
        body = (await receive())["body"]
        ok = b"right" in body and user.encode() in body
        await send({"type": "http.response.start", "status": 200 if ok else 400, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    throttle.app = app
    sent = []
    if multipart:
        body = (f'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\n{user}\r\n'
                f'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n{password}\r\n'
                "--b--\r\n").encode()
        kind = b"multipart/form-data; boundary=b"
    else:
        body = f"username={user}&password={password}".encode()
        kind = b"application/x-www-form-urlencoded"
    headers = [(b"content-type", kind)]
    if forwarded:
        headers.append((b"x-forwarded-for", forwarded.encode()))

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login", "client": (client, 1234),
             "headers": headers}
    asyncio.run(throttle(scope, receive, send))
    return sent[0]["status"]


def test_rotating_addresses_does_not_multiply_the_tries():
    throttle = LoginThrottle(None, free=5, clock=_Clock())
    rotated = [attempt(throttle, "wrong", client=f"127.0.0.{i}", multipart=i % 2 == 0)
               for i in range(2, 42)]
    assert rotated[:5] == [400] * 5 and set(rotated[5:]) == {429}
    assert attempt(throttle, "right", client="10.7.7.7") == 429  # the account waits
    assert attempt(throttle, "wrong", client="10.7.7.7", user="bob") == 400  # others do not
    throttle = LoginThrottle(None, free=5, clock=_Clock())
    spoofed = [attempt(throttle, "wrong", forwarded=f"203.0.113.{i}", user=f"user{i}")
               for i in range(40)]
    assert spoofed[:5] == [400] * 5 and set(spoofed[5:]) == {429}  # one address: the peer
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == "2001:db8::/64"
    assert address_key("127.0.0.5") == address_key("::1") == "loopback"


def test_a_success_clears_the_account_and_the_address():
    clock = _Clock()
    throttle = LoginThrottle(None, free=3, base_delay=1.0, max_delay=8.0, clock=clock)
    assert [attempt(throttle, "wrong", user="Ann ") for _ in range(3)] == [400] * 3
    assert attempt(throttle, "right", client="10.0.0.9", user="ANN") == 429
    clock.now += 1.0
    assert attempt(throttle, "right") == 200
    assert not throttle.failures
