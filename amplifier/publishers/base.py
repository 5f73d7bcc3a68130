"""The publisher protocol: what a publisher receives, returns and raises.

A publisher takes one rendered variant (a ``PublishItem``) out of amplifier: to a folder
for hand posting, to a webhook, to a platform's API. The scheduler daemon claims a due
variant, builds its item and calls ``publish``::

    from amplifier.publishers import load_publisher

    with load_publisher("outbox", {"dir": "outbox"}, workspace_root=root) as publisher:
        result = publisher.publish(item)
    print(result.external_id, result.external_url)

What ``publish`` may raise tells the daemon what to do next::

    AmplifierError
    ├── PublishError                 base of the two outcomes below
    │   ├── TransientPublishError    try again later (timeouts, 5xx, 429); carries .retry_after
    │   └── PermanentPublishError    give up: the variant becomes ``failed`` with the reason
    └── PublisherConfigError         the publisher's options are wrong; carries .option

Any other exception (a bare ``PublishError`` too) leaves the outcome unknown: the variant
becomes ``uncertain`` and waits for a person (``amplifier confirm`` or ``retry``); it is
never retried by itself. A result with an ``external_url`` confirms the variant at once;
one without waits for a person to confirm the link.

Writing a third-party publisher
-------------------------------
Subclass ``Publisher`` in your own package, then name it in that package's
``pyproject.toml``::

    # my_pkg/telegram.py
    class TelegramPublisher(Publisher):
        name = "telegram"
        idempotent = False          # a retry after a crash could post twice
        options_doc = {"chat": "the channel to post to", "token_env": "env var of the token"}

        def __init__(self, options, *, workspace_root):
            super().__init__(options, workspace_root=workspace_root)
            self.chat = require_str(self, options, "chat")
            self.token = Secret.from_env(self, options, "token_env")

        def publish(self, item):
            ...                     # raise TransientPublishError / PermanentPublishError
            return PublishResult(external_id=message_id, external_url=link)

        def send_digest(self, digest):  # optional: each unit admin's daily schedule
            ...                     # digest.admins, digest.as_text(); the default logs it

    # pyproject.toml
    [project.entry-points."amplifier.publishers"]
    telegram = "my_pkg.telegram:TelegramPublisher"

After ``pip install my-pkg``, ``[publishing] api = "telegram"`` uses it. Its options come
from ``[publishing.publishers.telegram]``. Secrets never go in options: an option names
the environment variable that holds one (``Secret.from_env``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from amplifier.errors import AmplifierError

if TYPE_CHECKING:
    from amplifier.digest import Digest
    from amplifier.models import Account, Campaign, CentralPost, Variant, WorkUnit

digest_log = logging.getLogger("amplifier.digest")


class PublishError(AmplifierError):
    """Publishing one variant did not succeed."""


class TransientPublishError(PublishError):
    """Worth another try later; ``retry_after`` (seconds) is the earliest the target allows."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentPublishError(PublishError):
    """Another try would fail the same way; the variant becomes ``failed`` with this reason."""


class PublisherConfigError(AmplifierError):
    """A publisher's options are wrong. The message names the publisher and the option."""

    def __init__(self, publisher: str, option: str | None, message: str) -> None:
        where = f"publisher '{publisher}'" + (f", option '{option}'" if option else "")
        super().__init__(f"{where}: {message}")
        self.publisher = publisher
        self.option = option


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"publish_at must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class PublishItem:
    """Everything a publisher needs about one variant, independent of the database."""

    variant_id: int
    idempotency_key: str
    attempt: int
    platform: str
    handle: str
    account_url: str | None
    unit_code: str
    unit_name: str
    unit_timezone: str
    campaign_slug: str
    post_key: str
    text: str
    title: str | None
    media: tuple[str, ...]
    publish_at: dt.datetime
    mode: str = "api"

    def __post_init__(self) -> None:
        object.__setattr__(self, "publish_at", _utc(self.publish_at))
        object.__setattr__(self, "media", tuple(self.media))
        for name in ("platform", "mode"):  # plain strings, even when given an enum member
            object.__setattr__(self, name, str(getattr(self, name)))

    @classmethod
    def from_rows(
        cls,
        variant: Variant,
        account: Account,
        unit: WorkUnit,
        post: CentralPost,
        campaign: Campaign,
        *,
        attempt: int,
    ) -> PublishItem:
        """Build the item the daemon hands to a publisher from the database rows."""
        if variant.id is None or variant.publish_at is None:
            raise ValueError("the variant must be stored and timed before it is published")
        return cls(
            variant_id=variant.id,
            idempotency_key=variant.idempotency_key,
            attempt=attempt,
            platform=account.platform,
            handle=account.handle,
            account_url=account.url,
            unit_code=unit.code,
            unit_name=unit.name,
            unit_timezone=unit.timezone,
            campaign_slug=campaign.slug,
            post_key=post.key,
            text=variant.text,
            title=variant.title,
            media=tuple(post.media),
            publish_at=variant.publish_at,
            mode=account.mode,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``publish_at`` as ISO 8601 UTC with a ``Z``."""
        data = asdict(self)
        data["media"] = list(self.media)
        data["publish_at"] = self.publish_at.isoformat().replace("+00:00", "Z")
        return data


@dataclass(frozen=True)
class PublishResult:
    """What a successful publish produced. With an ``external_url`` it confirms itself."""

    external_id: str | None = None
    external_url: str | None = None

    @property
    def confirms(self) -> bool:
        return bool(self.external_url)


class Secret:
    """A secret read from the environment. Its repr and str name the variable, never the value.

    >>> token = Secret("MY_TOKEN", "s3cr3t")
    >>> token
    Secret($MY_TOKEN)
    >>> token.reveal()
    's3cr3t'
    """

    __slots__ = ("_value", "env")

    def __init__(self, env: str, value: str) -> None:
        self.env = env
        self._value = value

    @classmethod
    def from_env(
        cls,
        publisher: Publisher,
        options: Mapping[str, Any],
        option: str,
        default: str | None = None,
    ) -> Secret:
        """Read the variable that ``options[option]`` names; a config error if unset or empty."""
        env = require_str(publisher, options, option, default=default)
        value = os.environ.get(env)
        if value is None:
            raise PublisherConfigError(
                publisher.name, option, f"environment variable {env} is not set; export it"
            )
        if not value.strip():
            raise PublisherConfigError(
                publisher.name, option, f"environment variable {env} is empty"
            )
        return cls(env, value)

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced by ``***``."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return f"Secret(${self.env})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled; read it from the environment where it is used")


class Publisher(ABC):
    """Takes variants out of amplifier. One instance serves many items, maybe from threads.

    Subclasses set ``name`` (what users write in settings) and ``idempotent``: true when
    publishing the same item twice (same ``idempotency_key``) has the effect of publishing
    it once. After a crash with an unknown outcome the daemon retries only idempotent
    publishers; for the others the variant becomes ``uncertain`` and a person checks.
    """

    name: ClassVar[str]
    idempotent: ClassVar[bool] = False
    options_doc: ClassVar[Mapping[str, str] | None] = None
    """Option name -> one line of help. When set, unknown options are refused."""

    def __init__(self, options: Mapping[str, Any], *, workspace_root: Path) -> None:
        self.workspace_root = Path(workspace_root)
        if self.options_doc is not None:
            known = self.options_doc.keys()
            for key in options:
                if key not in known:
                    raise PublisherConfigError(
                        self.name,
                        key,
                        f"unknown option{did_you_mean(key, known)}; "
                        f"known options: {', '.join(sorted(known)) or 'none'}",
                    )

    @abstractmethod
    def publish(self, item: PublishItem) -> PublishResult:
        """Publish one variant, or raise a ``PublishError`` that says whether to retry."""

    def publish_many(self, items: Sequence[PublishItem]) -> list[PublishResult | Exception]:
        """Publish several items; each outcome is a result or the exception ``publish`` raised.

        The default calls ``publish`` for each. Override it when a batch is cheaper than
        its items one by one (the outbox updates its index once per batch).
        """
        outcomes: list[PublishResult | Exception] = []
        for item in items:
            try:
                outcomes.append(self.publish(item))
            except Exception as exc:  # reported to the caller, item by item
                outcomes.append(exc)
        return outcomes

    def send_digest(self, digest: Digest) -> None:
        """Deliver a unit's daily digest to its admins (``digest.admins``); raise a
        ``PublishError`` when it cannot. The default logs its text on ``amplifier.digest``.
        """
        digest_log.info(
            "digest for %s to %s:\n%s",
            digest.unit_code,
            ", ".join(digest.admins) or "no admin",
            digest.as_text(),
        )

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and files. The default does nothing."""

    def describe(self) -> str:
        """One line for status output. Must never contain a secret."""
        return self.name

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def require_str(
    publisher: Publisher, options: Mapping[str, Any], key: str, default: str | None = None
) -> str:
    """``options[key]`` as a non-empty string; ``default`` when absent, required if none."""
    if key not in options:
        if default is None:
            raise PublisherConfigError(publisher.name, key, "is required")
        return default
    value = options[key]
    if not isinstance(value, str) or not value.strip():
        raise PublisherConfigError(
            publisher.name, key, f"must be a non-empty string, got {value!r}"
        )
    return value


def option_float(
    publisher: Publisher,
    options: Mapping[str, Any],
    key: str,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
) -> float:
    """``options[key]`` as a number of at least ``minimum`` (and at most ``maximum``)."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PublisherConfigError(publisher.name, key, f"must be a number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum:g}" + (
            f" and at most {maximum:g}" if maximum is not None else ""
        )
        raise PublisherConfigError(publisher.name, key, f"must be {bounds}, got {value!r}")
    return float(value)


def option_bool(publisher: Publisher, options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise PublisherConfigError(publisher.name, key, f"must be true or false, got {value!r}")
    return value


def option_choice(
    publisher: Publisher, options: Mapping[str, Any], key: str, choices: Sequence[str], default: str
) -> str:
    value = require_str(publisher, options, key, default=default)
    if value not in choices:
        raise PublisherConfigError(
            publisher.name,
            key,
            f"unknown value {value!r}{did_you_mean(value, choices)}; choose one of "
            + ", ".join(choices),
        )
    return value


__all__ = [
    "PermanentPublishError",
    "PublishError",
    "PublishItem",
    "PublishResult",
    "Publisher",
    "PublisherConfigError",
    "Secret",
    "TransientPublishError",
    "did_you_mean",
    "option_bool",
    "option_choice",
    "option_float",
    "require_str",
]
