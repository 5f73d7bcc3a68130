"""The webhook publisher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from amplifier.digest import Digest, DigestItem
from amplifier.publishers import (
    PermanentPublishError,
    PublisherConfigError,
    PublishResult,
    TransientPublishError,
    load_publisher,
)
from amplifier.publishers.webhook import WebhookPublisher, sign, verify_signature
from tests.test_publishers import make_item

SECRET = "rahasia-uji-7f3a9c"  # only ever in the environment of these tests
READ_TIMEOUT = 0.3


@dataclass
class Seen:
    headers: dict[str, str]
    body: bytes
    signed: bool


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Hook(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.answer: Callable[[Seen], Answer] = lambda seen: Answer()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/amplifier"


class Handler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        timestamp = self.headers["X-Amplifier-Timestamp"]
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        signed = hmac.compare_digest(
            "sha256=" + expected.hexdigest(), self.headers["X-Amplifier-Signature"]
        )
        seen = Seen(dict(self.headers.items()), body, signed)
        self.server.seen.append(seen)
        answer = self.server.answer(seen) if signed else Answer(401, b"bad signature")
        time.sleep(answer.delay)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up waiting

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hook_server() -> Iterator[Hook]:
    server = Hook()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook(hook_server: Hook, monkeypatch: pytest.MonkeyPatch) -> Hook:
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # loopback only, never through a proxy
    monkeypatch.setenv("AMPLIFIER_WEBHOOK_SECRET", SECRET)
    hook_server.seen.clear()
    hook_server.answer = lambda seen: Answer()
    return hook_server


@pytest.fixture
def publisher(hook: Hook, tmp_path: Path) -> Iterator[WebhookPublisher]:
    options = {"url": hook.url, "connect_timeout": 1, "read_timeout": READ_TIMEOUT}
    with load_publisher("webhook", options, workspace_root=tmp_path) as publisher:
        assert isinstance(publisher, WebhookPublisher)
        yield publisher


def answer_json(data: Any, status: int = 200) -> Callable[[Seen], Answer]:
    body = json.dumps(data).encode()
    return lambda seen: Answer(status, body, {"Content-Type": "application/json"})


def no_secret_in(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


# --- what is sent ----------------------------------------------------------------------


def test_posts_signed_json_with_the_variant_and_its_key(
    hook: Hook, publisher: WebhookPublisher
) -> None:
    hook.answer = answer_json({"id": "1789", "url": "https://x.com/kanwilbali/status/1789"})
    item = make_item()
    before = time.time()
    result = publisher.publish(item)
    assert result == PublishResult("1789", "https://x.com/kanwilbali/status/1789")
    assert result.confirms
    [seen] = hook.seen
    assert seen.signed
    assert seen.headers["Idempotency-Key"] == item.idempotency_key
    assert seen.headers["Content-Type"] == "application/json"
    assert before - 1 <= int(seen.headers["X-Amplifier-Timestamp"]) <= time.time() + 1
    payload = json.loads(seen.body)
    assert payload["event"] == "variant.publish" and payload["version"] == 1
    assert payload["variant"] == item.as_dict()
    assert payload["variant"]["text"] == item.text


def test_every_attempt_carries_the_same_idempotency_key(
    hook: Hook, publisher: WebhookPublisher
) -> None:
    publisher.publish(make_item(attempt=1))
    publisher.publish(make_item(attempt=2))
    publisher.publish(make_item(idempotency_key="b" * 32))
    keys = [seen.headers["Idempotency-Key"] for seen in hook.seen]
    assert keys == ["a" * 32, "a" * 32, "b" * 32]
    assert [json.loads(s.body)["variant"]["attempt"] for s in hook.seen] == [1, 2, 1]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", PublishResult()),
        (b"ok", PublishResult()),
        (b'{"external_id": 7}', PublishResult("7", None)),
        (b'{"id": "a", "url": "javascript:alert(1)"}', PublishResult("a", None)),
        (b'{"external_url": "https://fb.com/p/1"}', PublishResult(None, "https://fb.com/p/1")),
    ],
)
def test_reads_what_a_2xx_answer_carries(
    hook: Hook, publisher: WebhookPublisher, body: bytes, expected: PublishResult
) -> None:
    hook.answer = lambda seen: Answer(201 if body else 204, body)
    assert publisher.publish(make_item()) == expected


def test_a_digest_is_posted_signed_with_a_key_per_unit_and_day(
    hook: Hook, publisher: WebhookPublisher
) -> None:
    item = DigestItem(7, "x:@kptd_bali", "manual", "09.00", "Selamat pagi Bali.")
    digest = Digest("KANWIL-BALI", "Kanwil Bali", dt.date(2027, 6, 23), "Asia/Makassar")
    digest.admins.append("bali@kptd.go.id")
    digest.items.append(item)
    publisher.send_digest(digest)
    hook.answer = lambda seen: Answer(503, b"busy")
    with pytest.raises(TransientPublishError, match="answered 503"):
        publisher.send_digest(digest)
    first, second = hook.seen
    assert first.signed and second.signed
    assert {s.headers["Idempotency-Key"] for s in hook.seen} == {"digest:KANWIL-BALI:2027-06-23"}
    payload = json.loads(first.body)
    assert payload["event"] == "unit.digest" and payload["version"] == 1
    assert payload["digest"]["admins"] == ["bali@kptd.go.id"]
    assert payload["digest"]["items"][0]["text"] == "Selamat pagi Bali."
    assert payload["digest"]["text"] == digest.as_text()


# --- what comes back -------------------------------------------------------------------


def test_429_with_retry_after_seconds(hook: Hook, publisher: WebhookPublisher) -> None:
    hook.answer = lambda seen: Answer(429, b"slow down", {"Retry-After": "17"})
    with pytest.raises(TransientPublishError, match="answered 429") as info:
        publisher.publish(make_item())
    assert info.value.retry_after == 17.0


def test_429_with_retry_after_http_date(hook: Hook, publisher: WebhookPublisher) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    date = email.utils.format_datetime(when, usegmt=True)
    hook.answer = lambda seen: Answer(429, b"", {"Retry-After": date})
    with pytest.raises(TransientPublishError) as info:
        publisher.publish(make_item())
    assert info.value.retry_after is not None
    assert 115 <= info.value.retry_after <= 121


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_transient(hook: Hook, publisher: WebhookPublisher, status: int) -> None:
    hook.answer = lambda seen: Answer(status, b"<html>down for maintenance</html>")
    with pytest.raises(TransientPublishError, match=f"answered {status}") as info:
        publisher.publish(make_item())
    assert info.value.retry_after is None
    assert "down for maintenance" in str(info.value)


def test_503_honours_retry_after(hook: Hook, publisher: WebhookPublisher) -> None:
    hook.answer = lambda seen: Answer(503, b"", {"Retry-After": "5"})
    with pytest.raises(TransientPublishError) as info:
        publisher.publish(make_item())
    assert info.value.retry_after == 5.0


def test_a_slow_answer_times_out_as_transient(hook: Hook, publisher: WebhookPublisher) -> None:
    hook.answer = lambda seen: Answer(200, b"{}", delay=READ_TIMEOUT + 0.3)
    started = time.monotonic()
    with pytest.raises(TransientPublishError, match=r"read_timeout 0\.3 s") as info:
        publisher.publish(make_item())
    assert time.monotonic() - started < READ_TIMEOUT + 0.25
    assert info.value.retry_after is None


def test_a_refused_connection_is_transient(hook: Hook, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    publisher = load_publisher("webhook", {"url": url}, workspace_root=tmp_path)
    with publisher, pytest.raises(TransientPublishError, match="ConnectError") as info:
        publisher.publish(make_item())
    no_secret_in(str(info.value))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_4xx_answers_are_permanent(
    hook: Hook, publisher: WebhookPublisher, status: int
) -> None:
    hook.answer = answer_json({"error": "text too long"}, status)
    with pytest.raises(PermanentPublishError, match=f"answered {status}.*text too long"):
        publisher.publish(make_item())


def test_a_redirect_is_permanent(hook: Hook, publisher: WebhookPublisher) -> None:
    hook.answer = lambda seen: Answer(301, b"", {"Location": "https://elsewhere.test/"})
    with pytest.raises(PermanentPublishError, match="redirects are not followed"):
        publisher.publish(make_item())
    assert len(hook.seen) == 1


# --- the secret stays secret -----------------------------------------------------------


def test_the_secret_never_shows(hook: Hook, publisher: WebhookPublisher) -> None:
    shown = [repr(publisher), str(publisher), publisher.describe(), repr(vars(publisher))]
    answers = [
        Answer(400, f"bad request, your key is {SECRET}".encode()),
        Answer(500, f"{SECRET}".encode()),
        Answer(429, SECRET.encode(), {"Retry-After": "1"}),
        Answer(200, b"", delay=READ_TIMEOUT + 0.2),
    ]
    for answer in answers:
        hook.answer = lambda seen, answer=answer: answer  # type: ignore[misc]
        with pytest.raises((TransientPublishError, PermanentPublishError)) as info:
            publisher.publish(make_item())
        shown += [str(info.value), repr(info.value), repr(info.value.args)]
        error = info.value  # nothing chained that could carry the request
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    no_secret_in(*shown)
    assert "***" in shown[4]  # the echoed secret was scrubbed
    assert "$AMPLIFIER_WEBHOOK_SECRET" in publisher.describe()
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(publisher._secret)


def test_a_missing_secret_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AMPLIFIER_WEBHOOK_SECRET", raising=False)
    with pytest.raises(PublisherConfigError, match="AMPLIFIER_WEBHOOK_SECRET is not set") as info:
        load_publisher("webhook", {"url": "https://hook.test/"}, workspace_root=tmp_path)
    assert info.value.option == "secret_env"
    monkeypatch.setenv("HUMAS_HOOK_KEY", "  ")
    with pytest.raises(PublisherConfigError, match="HUMAS_HOOK_KEY is empty"):
        load_publisher(
            "webhook",
            {"url": "https://hook.test/", "secret_env": "HUMAS_HOOK_KEY"},
            workspace_root=tmp_path,
        )


def test_a_secret_written_into_the_settings_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AMPLIFIER_WEBHOOK_SECRET", SECRET)
    with pytest.raises(PublisherConfigError, match=r"option 'secret'.*secret_env") as info:
        load_publisher(
            "webhook", {"url": "https://hook.test/", "secret": SECRET}, workspace_root=tmp_path
        )
    no_secret_in(str(info.value))


@pytest.mark.parametrize(
    ("options", "option", "message"),
    [
        ({}, "url", "either url or url_env"),
        ({"url": "ftp://hook.test/"}, "url", "not an http"),
        ({"url": "https://hook.test/", "url_env": "X"}, "url", "either url or url_env"),
        ({"url": "https://hook.test/", "read_timeout": -1}, "read_timeout", "at least"),
        ({"url": "https://hook.test/", "connect_timeout": "5"}, "connect_timeout", "a number"),
        ({"url": "https://hook.test/", "ca_file": "missing.pem"}, "ca_file", "missing.pem"),
        ({"url": "https://hook.test/", "timeout": 3}, "timeout", "did you mean"),
    ],
)
def test_bad_options_name_the_option(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    options: dict[str, Any],
    option: str,
    message: str,
) -> None:
    monkeypatch.setenv("AMPLIFIER_WEBHOOK_SECRET", SECRET)
    with pytest.raises(PublisherConfigError, match=message) as info:
        load_publisher("webhook", options, workspace_root=tmp_path)
    assert info.value.option == option


def test_an_address_from_the_environment_is_not_shown(
    hook: Hook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUMAS_HOOK_URL", hook.url + "?token=abc123")
    options = {"url_env": "HUMAS_HOOK_URL", "read_timeout": READ_TIMEOUT}
    with load_publisher("webhook", options, workspace_root=tmp_path) as publisher:
        assert "hooks/amplifier" not in publisher.describe()
        assert "$HUMAS_HOOK_URL" in publisher.describe()
        hook.answer = lambda seen: Answer(404, b"")
        with pytest.raises(PermanentPublishError) as info:
            publisher.publish(make_item())
    assert "abc123" not in str(info.value) and "hooks/amplifier" not in str(info.value)
    assert hook.seen[-1].signed


# --- for receivers ---------------------------------------------------------------------


def test_verify_signature_checks_key_body_and_age() -> None:
    body = b'{"event":"variant.publish"}'
    stamp = "1800000000"
    good = sign(SECRET, stamp, body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert verify_signature(SECRET, body, stamp, good, now=1800000100)
    assert not verify_signature("another-key", body, stamp, good, now=1800000100)
    assert not verify_signature(SECRET, body + b" ", stamp, good, now=1800000100)
    assert not verify_signature(SECRET, body, stamp, good, now=1800000000 + 301)  # replayed
    assert not verify_signature(SECRET, body, "1800000001", good, now=1800000000)
    assert not verify_signature(SECRET, body, "soon", good)
