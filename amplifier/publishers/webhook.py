"""``webhook``: POST each variant as signed JSON to a URL of your own.

    [publishing]
    api = "webhook"

    [publishing.publishers.webhook]
    url = "https://humas.example.go.id/hooks/amplifier"
    secret_env = "AMPLIFIER_WEBHOOK_SECRET"   # the variable that holds the signing key
    connect_timeout = 5
    read_timeout = 15

The secret lives only in the environment: never in settings, the database, logs or
error messages. Each request carries::

    Content-Type: application/json
    Idempotency-Key: <the variant's idempotency key, the same on every attempt>
    X-Amplifier-Timestamp: <unix seconds>
    X-Amplifier-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + the body bytes>

The receiver checks the signature over the exact body bytes, refuses stale timestamps to
stop replays (``verify_signature`` does both), and uses the key to publish once however
often it is asked. A 2xx answer may carry JSON ``{"id": "...", "url": "https://..."}``
(or ``external_id``/``external_url``); a URL confirms the variant. 408, 429 and 5xx are
retried later, honouring ``Retry-After``; other 3xx and 4xx answers fail the variant.

A unit's daily digest is POSTed the same way, signed, as ``{"event": "unit.digest",
"version": 1, "sent_at": ..., "digest": {...}}`` with the key ``digest:<unit>:<day>``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from amplifier.publishers.base import (
    PermanentPublishError,
    Publisher,
    PublisherConfigError,
    PublishItem,
    PublishResult,
    Secret,
    TransientPublishError,
    option_float,
    require_str,
)
from amplifier.publishers.retry import parse_retry_after

if TYPE_CHECKING:
    from amplifier.digest import Digest

SIGNATURE_HEADER = "X-Amplifier-Signature"
TIMESTAMP_HEADER = "X-Amplifier-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_SECRET_ENV = "AMPLIFIER_WEBHOOK_SECRET"
EVENT = "variant.publish"
DIGEST_EVENT = "unit.digest"
PAYLOAD_VERSION = 1


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + HMAC-SHA256 of ``timestamp.body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """For receivers: true if ``signature`` is right and ``timestamp`` is recent enough.

    >>> body = b'{"event": "variant.publish"}'
    >>> verify_signature("k", body, "1700000000", sign("k", "1700000000", body), now=1700000060)
    True
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def body_for(item: PublishItem, *, sent_at: float) -> bytes:
    """The JSON body for one item, as the exact bytes that are signed and sent."""
    return _body(EVENT, "variant", item.as_dict(), sent_at)


def _body(event: str, key: str, data: dict[str, Any], sent_at: float) -> bytes:
    payload = {"event": event, "version": PAYLOAD_VERSION, "sent_at": int(sent_at), key: data}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """httpx's default trust, built once: building it takes about 0.1 s."""
    return httpx.create_ssl_context()


def _public_url(url: httpx.URL, *, hidden: bool) -> str:
    """``url`` fit to show: without credentials or query, only scheme and host if hidden."""
    port = f":{url.port}" if url.port else ""
    base = f"{url.scheme}://{url.host}{port}"
    return base if hidden else base + url.path


def _result(response: httpx.Response) -> PublishResult:
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return PublishResult()
    external_id = data.get("external_id", data.get("id"))
    url = data.get("external_url", data.get("url"))
    if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        url = None  # only a real link confirms a variant
    return PublishResult(
        external_id=None if external_id is None else str(external_id), external_url=url
    )


class WebhookPublisher(Publisher):
    """POSTs signed JSON; idempotent because every attempt carries the same key."""

    name: ClassVar[str] = "webhook"
    idempotent: ClassVar[bool] = True
    options_doc: ClassVar[Mapping[str, str] | None] = {
        "url": "the http(s) address to POST to",
        "url_env": "instead of url: an environment variable holding the address, "
        "for addresses that embed a token",
        "secret_env": "environment variable holding the signing secret "
        f"(default {DEFAULT_SECRET_ENV})",
        "connect_timeout": "seconds to wait for a connection (default 5)",
        "read_timeout": "seconds to wait for the answer (default 15)",
        "ca_file": "a PEM file of certificate authorities to trust, for an internal CA",
    }

    def __init__(self, options: Mapping[str, Any], *, workspace_root: Path) -> None:
        if "secret" in options:
            raise PublisherConfigError(
                self.name,
                "secret",
                "secrets are not kept in settings; put it in an environment variable "
                "and name that variable with secret_env",
            )
        super().__init__(options, workspace_root=workspace_root)
        self._secret = Secret.from_env(self, options, "secret_env", default=DEFAULT_SECRET_ENV)
        self._url, self.target = self._address(options)
        self.connect_timeout = option_float(self, options, "connect_timeout", 5, minimum=0.001)
        self.read_timeout = option_float(self, options, "read_timeout", 15, minimum=0.001)
        verify = _default_tls()
        if "ca_file" in options:
            ca_file = Path(require_str(self, options, "ca_file"))
            ca_file = ca_file if ca_file.is_absolute() else self.workspace_root / ca_file
            try:
                verify = ssl.create_default_context(cafile=str(ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise PublisherConfigError(
                    self.name, "ca_file", f"cannot read certificates from {ca_file}: {exc}"
                ) from None
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=self.connect_timeout,
                read=self.read_timeout,
                write=self.read_timeout,
                pool=self.connect_timeout,
            ),
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": "amplifier-webhook/1"},
        )

    def _address(self, options: Mapping[str, Any]) -> tuple[httpx.URL, str]:
        if ("url" in options) == ("url_env" in options):
            raise PublisherConfigError(self.name, "url", "give either url or url_env (one of them)")
        if "url" in options:
            option, raw, hidden = "url", require_str(self, options, "url"), False
        else:
            option, hidden = "url_env", True
            raw = Secret.from_env(self, options, "url_env").reveal()
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            shown = "the address in $" + str(options["url_env"]) if hidden else repr(raw)
            raise PublisherConfigError(
                self.name, option, f"{shown} is not an http:// or https:// address"
            )
        target = _public_url(url, hidden=hidden)
        if hidden:
            target += f" (from ${options['url_env']})"
        return url, target

    def publish(self, item: PublishItem) -> PublishResult:
        sent_at = time.time()
        return self._post(body_for(item, sent_at=sent_at), item.idempotency_key, sent_at)

    def send_digest(self, digest: Digest) -> None:
        sent_at = time.time()
        body = _body(DIGEST_EVENT, "digest", digest.as_dict(), sent_at)
        self._post(body, f"digest:{digest.unit_code}:{digest.day.isoformat()}", sent_at)

    def _post(self, body: bytes, key: str, sent_at: float) -> PublishResult:
        timestamp = str(int(sent_at))
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret.reveal(), timestamp, body),
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            which = {
                httpx.ConnectTimeout: f"connecting (connect_timeout {self.connect_timeout:g} s)",
                httpx.ReadTimeout: f"waiting for the answer (read_timeout {self.read_timeout:g} s)",
            }.get(type(exc), f"({type(exc).__name__})")
            raise TransientPublishError(f"webhook {self.target}: timed out {which}") from None
        except httpx.HTTPError as exc:
            detail = self._secret.scrub(str(exc))[:200]
            raise TransientPublishError(
                f"webhook {self.target}: request failed: {type(exc).__name__}: {detail}"
            ) from None
        return self._outcome(response)

    def _outcome(self, response: httpx.Response) -> PublishResult:
        status = response.status_code
        if 200 <= status < 300:
            return _result(response)
        said = f"webhook {self.target} answered {status} {response.reason_phrase}".rstrip()
        snippet = self._secret.scrub(" ".join(response.text[:300].split()))[:200]
        if snippet:
            said += f": {snippet}"
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientPublishError(said, retry_after=retry_after)
        if 300 <= status < 400:
            raise PermanentPublishError(
                said + " (redirects are not followed; set url to the final address)"
            )
        raise PermanentPublishError(said)

    def close(self) -> None:
        self._client.close()

    def describe(self) -> str:
        return (
            f"webhook: POST {self.target}, signed with ${self._secret.env}, "
            f"timeouts {self.connect_timeout:g} s connect / {self.read_timeout:g} s read"
        )
