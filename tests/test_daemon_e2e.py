"""The daemon as operators run it: ``python -m amplifier … run`` in a subprocess, publishing
through the real webhook publisher to an HTTP server on 127.0.0.1.

- killed with SIGKILL in the middle of a batch, then restarted: nothing is published twice
  and nothing is lost;
- two daemons on one PostgreSQL database share 2,000 variants, each published once;
- 429, 500 and timeouts end published after retries; 400 ends failed with the reason;
- SIGTERM stops a daemon promptly with exit status 0.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from amplifier.demo import compress
from amplifier.models import Delivery, Variant, utcnow
from amplifier.publishers.webhook import verify_signature
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory
from tests.test_dispatch import org_yaml

pytestmark = pytest.mark.e2e

V = Variant.__table__  # type: ignore[attr-defined]
D = Delivery.__table__  # type: ignore[attr-defined]

SECRET = "rahasia-e2e-5b81d0"  # only ever in the daemons' environment
UNFINISHED = (VariantStatus.SCHEDULED, VariantStatus.PUBLISHING)


# --- a webhook receiver that publishes each key once -------------------------------------


@dataclass
class Request:
    key: str
    status: int
    at: float


class Receiver(ThreadingHTTPServer):
    """Answers each POST by the fault planned for its key, else publishes it (once per key).

    ``faults[key]`` lists the answers for the key's first requests: ``"429"``, ``"500"``,
    ``"400"`` or ``"slow"`` (answers 200 only after ``slow_seconds``, past the client's read
    timeout, as a receiver that did the work but answered too late).
    """

    daemon_threads = True

    def __init__(self, delay: float = 0.0, slow_seconds: float = 1.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.slow_seconds = slow_seconds
        self.faults: dict[str, list[str]] = {}
        self.hold_after: int | None = None  # from this many requests on, answer slowly
        self.requests: list[Request] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/amplifier"

    def answer(self, key: str) -> tuple[int, float, dict[str, str]]:
        with self.lock:
            planned = self.faults.get(key)
            fault = planned.pop(0) if planned else "ok"
            held = self.hold_after is not None and len(self.requests) >= self.hold_after
        if held:
            return 200, 0.5, {}
        if fault == "429":
            return 429, 0.0, {"Retry-After": "1"}
        if fault in ("500", "400"):
            return int(fault), 0.0, {}
        return 200, self.slow_seconds if fault == "slow" else self.delay, {}

    def record(self, key: str, status: int) -> None:
        with self.lock:
            self.requests.append(Request(key, status, time.monotonic()))

    def seen(self) -> int:
        with self.lock:
            return len(self.requests)

    def accepted(self) -> Counter[str]:
        """2xx answers per key (a repeat with the same key is the same post)."""
        with self.lock:
            return Counter(r.key for r in self.requests if 200 <= r.status < 300)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = verify_signature(
            SECRET,
            body,
            self.headers["X-Amplifier-Timestamp"],
            self.headers["X-Amplifier-Signature"],
        )
        key = self.headers["Idempotency-Key"]
        if not signed:
            with self.server.lock:
                self.server.bad_signatures += 1
            status, delay, headers = 401, 0.0, {}
        else:
            status, delay, headers = self.server.answer(key)
        if delay:
            time.sleep(delay)
        self.server.record(key, status)
        payload = json.dumps({"id": f"post-{key[:8]}"}).encode() if status == 200 else b"no"
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the daemon gave up waiting, or was killed

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    servers: list[Receiver] = []

    def start(**kw: Any) -> Receiver:
        server = Receiver(**kw)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- workspaces and daemons -------------------------------------------------------------


def calendar(posts: int) -> str:
    lines = [
        "campaigns:",
        "  - slug: hut",
        "    title: HUT Kementerian",
        "    period: {start: 2027-10-01, end: 2027-10-31}",
        "    posts:",
    ]
    for i in range(posts):
        lines += [
            f"      - key: pos-{i + 1}",
            f"        at: 2027-10-{i + 2:02d}T09:00:00+07:00",
            f"        body: Pos ke-{i + 1} agenda pusat.",
        ]
    return "\n".join(lines) + "\n"


def settings(hook: Receiver, **publishing: Any) -> str:
    values = {
        "sweep_seconds": 1,
        "lease": 30,
        "retry_base": 1,
        "retry_cap": 2,
        "digest_at": quiet_digest_time(),
        **publishing,
    }
    lines = ["[publishing]", 'api = "webhook"', 'manual = "webhook"']
    lines += [f"{key} = {value!r}" for key, value in values.items()]
    lines += [
        "",
        "[publishing.publishers.webhook]",
        f'url = "{hook.url}"',
        "connect_timeout = 1",
        "read_timeout = 0.5",
    ]
    return "\n".join(lines) + "\n"


def quiet_digest_time() -> str:
    """A ``digest_at`` that neither fires nor is caught up while a test runs: twelve hours
    from now in WIB, so hours away in every Indonesian zone. (The default, 07:00, is caught
    up by a daemon started within the hour after it: 00:00-01:00 UTC in WIB.)"""
    wib = dt.datetime.now(dt.UTC) + dt.timedelta(hours=7 + 12)
    return wib.strftime("%H:%M")


@pytest.fixture
def planned(
    make_workspace: WorkspaceFactory,
) -> Iterator[Callable[..., Workspace]]:
    opened: list[Workspace] = []

    def make(url: str, hook: Receiver, units: int, posts: int = 1, **publishing: Any) -> Workspace:
        root = make_workspace(
            org=org_yaml(units),  # every account published by the daemon (mode: api)
            calendars={"hut.yaml": calendar(posts)},
            settings=settings(hook, **publishing),
        )
        ws = Workspace.open(root, database_url=url)
        opened.append(ws)
        ws.sync()
        assert ws.plan().by_status == {"scheduled": units * 4 * posts}
        return ws

    yield make
    for ws in opened:
        ws.engine.dispose()


def daemon_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        and not k.startswith("AMPLIFIER_")
    }
    env["AMPLIFIER_WEBHOOK_SECRET"] = SECRET
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@dataclass
class Daemon:
    """``python -m amplifier -w ROOT --database-url URL run`` with JSON logs in a file."""

    ws: Workspace
    worker: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> Daemon:
        url = self.ws.engine.url.render_as_string(hide_password=False)
        command = [sys.executable, "-m", "amplifier", "-w", str(self.ws.root)]
        command += ["--database-url", url, "run", "--log-json", "--worker", self.worker]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=daemon_env()
            )
        return self

    def logs(self) -> list[dict[str, Any]]:
        text = self.log.read_text(encoding="utf-8") if self.log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait_started(self, timeout: float = 30) -> None:
        wait_for(
            lambda: any(f"daemon {self.worker} started" in r["message"] for r in self.logs()),
            timeout,
            f"{self.worker} did not start",
            self,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(
        self, timeout: float = 15, sig: signal.Signals = signal.SIGTERM
    ) -> tuple[int, float]:
        """SIGTERM (or ``sig``); the exit status and how long the daemon took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.worker} ignored {sig.name}\n{self.tail()}") from None
        return code, time.monotonic() - started

    def tail(self) -> str:
        text = self.log.read_text(encoding="utf-8") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-20:])

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[[Workspace, str], Daemon]]:
    made: list[Daemon] = []

    def make(ws: Workspace, worker: str) -> Daemon:
        daemon = Daemon(ws, worker, tmp_path / f"{worker}.log")
        made.append(daemon)
        return daemon.start()

    yield make
    for daemon in made:
        daemon.stop_if_running()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, *daemons: Daemon) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {d.worker}\n{d.tail()}" for d in daemons)
            raise AssertionError(f"{what} within {timeout:g} s\n{tails}")
        for d in daemons:
            if d.proc is not None and d.proc.poll() not in (None, -signal.SIGKILL):
                raise AssertionError(f"{d.worker} exited with {d.proc.returncode}\n{d.tail()}")
        time.sleep(0.05)


def counts(ws: Workspace) -> Counter[str]:
    with ws.engine.connect() as conn:
        query = sa.select(V.c.status, sa.func.count()).group_by(V.c.status)
        return Counter({str(s): n for s, n in conn.execute(query)})


def unfinished(ws: Workspace) -> int:
    found = counts(ws)
    return sum(found[s] for s in UNFINISHED)


def variants(ws: Workspace) -> dict[int, Any]:
    with ws.engine.connect() as conn:
        return {r.id: r for r in conn.execute(sa.select(V))}


def deliveries(ws: Workspace) -> list[Any]:
    with ws.engine.connect() as conn:
        return list(conn.execute(sa.select(D).order_by(D.c.variant_id, D.c.attempt)))


def due_now(ws: Workspace) -> int:
    """Every scheduled variant due now, in order (as the demo compresses the calendar)."""
    return compress(ws, utcnow(), 0)


def stop_all(*daemons: Daemon, sig: signal.Signals = signal.SIGTERM) -> None:
    for d in daemons:
        code, took = d.terminate(sig=sig)
        assert code == 0, d.tail()
        assert took < 10
        assert any(f"daemon {d.worker} stopped" in r["message"] for r in d.logs())


# --- the tests ----------------------------------------------------------------------------


def test_sigkill_mid_batch_then_restart_publishes_nothing_twice_and_loses_nothing(
    tmp_path: Path,
    receiver: Callable[..., Receiver],
    planned: Callable[..., Workspace],
    daemons: Callable[[Workspace, str], Daemon],
) -> None:
    hook = receiver(delay=0.025)  # a slow receiver: ~25 ms per request
    # a short lease, so that the restarted daemon takes over the dead one's claims soon
    ws = planned(f"sqlite:///{tmp_path / 'kill.db'}", hook, units=65, lease=2)  # 260 variants
    total = due_now(ws)
    first = daemons(ws, "e2e-first")
    first.wait_started()

    # 200 outcomes are recorded, then the daemon dies inside a later chunk (the receiver
    # slows down from request 215 on, so that a chunk is surely still running)
    hook.hold_after = 215

    def mid_chunk() -> bool:
        return counts(ws)["published"] >= 200 and hook.seen() >= 215

    wait_for(mid_chunk, 40, "200 outcomes were not recorded", first)
    first.kill()
    hook.hold_after = None
    killed = variants(ws)
    in_flight = {v.id for v in killed.values() if v.status == VariantStatus.PUBLISHING}
    assert in_flight and all(killed[i].claimed_by == "e2e-first" for i in in_flight)
    before = counts(ws)
    assert before["published"] + len(in_flight) + before["scheduled"] == total
    first_done = {v.id for v in killed.values() if v.status == VariantStatus.PUBLISHED}

    second = daemons(ws, "e2e-second")
    wait_for(lambda: unfinished(ws) == 0, 40, "variants were left unfinished", second)
    stop_all(second)

    final = variants(ws)
    assert len(final) == total
    for v in final.values():
        assert v.status in ("published", "missed", "uncertain")
        assert v.status == "published" or v.reasons, f"variant {v.id} has no reason"
    # the webhook is idempotent, so the interrupted claims were sent again, same key
    assert {v.status for v in final.values()} == {VariantStatus.PUBLISHED}
    published = Counter(d.variant_id for d in deliveries(ws) if d.outcome == "published")
    assert set(published) == set(final) and set(published.values()) == {1}
    for d in deliveries(ws):
        if d.variant_id in in_flight:  # claimed by the dead daemon: taken over, same key
            assert (d.worker, d.attempt) == ("e2e-second", 2)
        elif d.variant_id in first_done:
            assert (d.worker, d.attempt) == ("e2e-first", 1)
        else:  # never claimed before the kill
            assert (d.worker, d.attempt) == ("e2e-second", 1)
    # the receiver accepted every key; a key came twice only if its claim was interrupted
    # (sent before the kill, never recorded), and then with the same key
    accepted = hook.accepted()
    assert set(accepted) == {v.idempotency_key for v in final.values()}
    again = {k for k, n in accepted.items() if n > 1}
    assert again and again <= {final[i].idempotency_key for i in in_flight}
    assert set(accepted.values()) <= {1, 2}
    assert hook.bad_signatures == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_daemons_on_postgresql_publish_each_variant_once(
    database_url: str,
    receiver: Callable[..., Receiver],
    planned: Callable[..., Workspace],
    daemons: Callable[[Workspace, str], Daemon],
) -> None:
    hook = receiver()
    ws = planned(database_url, hook, units=50, posts=10)  # 2,000 variants
    pair = [daemons(ws, "e2e-pg-a"), daemons(ws, "e2e-pg-b")]
    for d in pair:
        d.wait_started()
    total = due_now(ws)
    assert total == 2000
    wait_for(lambda: unfinished(ws) == 0, 60, "variants were left unfinished", *pair)
    stop_all(*pair)

    assert counts(ws) == {"published": total}
    found = deliveries(ws)
    published = Counter(d.variant_id for d in found if d.outcome == "published")
    assert len(published) == total and set(published.values()) == {1}
    assert {(d.attempt, d.outcome) for d in found} == {(1, "published")}
    by_worker = Counter(d.worker for d in found)
    assert set(by_worker) == {"e2e-pg-a", "e2e-pg-b"}, by_worker  # both did some work
    # and the receiver was asked once per key
    assert Counter(Counter(r.key for r in hook.requests).values()) == {1: total}


def test_webhook_faults_through_the_daemon(
    tmp_path: Path,
    receiver: Callable[..., Receiver],
    planned: Callable[..., Workspace],
    daemons: Callable[[Workspace, str], Daemon],
) -> None:
    hook = receiver(slow_seconds=1.0)  # past the read timeout of 0.5 s
    ws = planned(f"sqlite:///{tmp_path / 'faults.db'}", hook, units=4)  # 16 variants
    ids = sorted(variants(ws))
    keys = {i: v.idempotency_key for i, v in variants(ws).items()}
    plan = {"429": ids[0:3], "500": ids[3:6], "slow": ids[6:9], "400": ids[9:12]}
    for fault, chosen in plan.items():
        for i in chosen:
            hook.faults[keys[i]] = [fault] * (3 if fault == "400" else 1)
    due_now(ws)
    daemon = daemons(ws, "e2e-faults")
    wait_for(lambda: unfinished(ws) == 0, 30, "variants were left unfinished", daemon)
    stop_all(daemon, sig=signal.SIGINT)  # Ctrl-C stops it as gracefully as SIGTERM

    final = variants(ws)
    tries: dict[int, list[Any]] = {}
    for d in deliveries(ws):
        tries.setdefault(d.variant_id, []).append(d)
    expected_error = {"429": "answered 429", "500": "answered 500", "slow": "timed out"}
    for fault, error in expected_error.items():
        for i in plan[fault]:
            assert final[i].status == VariantStatus.PUBLISHED, (fault, final[i].reasons)
            first, *rest = tries[i]
            assert first.outcome == "retry" and error in first.error
            assert [d.outcome for d in rest] == ["published"]
    for i in plan["400"]:
        assert final[i].status == VariantStatus.FAILED
        (reason,) = final[i].reasons
        assert reason.startswith("publisher refused: webhook http://127.0.0.1:")
        assert "answered 400" in reason
        assert [d.outcome for d in tries[i]] == ["failed"]  # never retried
    for i in ids[12:]:
        assert final[i].status == VariantStatus.PUBLISHED
        assert [d.outcome for d in tries[i]] == ["published"]
    # 429 came back no sooner than its Retry-After
    for i in plan["429"]:
        first, second = tries[i]
        assert (second.started_at - first.finished_at) >= dt.timedelta(seconds=1)
    # the receiver accepted exactly the published keys; only a too-late answer came twice
    accepted = hook.accepted()
    assert set(accepted) == {keys[i] for i in ids if final[i].status == VariantStatus.PUBLISHED}
    assert {k for k, n in accepted.items() if n > 1} == {keys[i] for i in plan["slow"]}
    assert hook.bad_signatures == 0
    assert SECRET not in daemon.log.read_text(encoding="utf-8")
