"""Publishers, and the registry that finds them by name.

    from amplifier.publishers import available, load_publisher

    print(sorted(available()))          # ['log', 'outbox', 'webhook', ...]
    publisher = load_publisher("webhook", {"url": "https://..."}, workspace_root=root)

Publishers are found through the entry-point group ``amplifier.publishers`` (see
``amplifier.publishers.base`` for writing one), plus the built-ins, which are always
there even when the package metadata is not installed. A built-in name always means
the built-in: a plugin cannot take over ``outbox``, ``webhook`` or ``log``. Scripts that
embed amplifier can also ``register`` a class at run time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amplifier.publishers.base import (
    PermanentPublishError,
    Publisher,
    PublisherConfigError,
    PublishError,
    PublishItem,
    PublishResult,
    Secret,
    TransientPublishError,
    did_you_mean,
)
from amplifier.publishers.retry import parse_retry_after, retry_delay

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "amplifier.publishers"

BUILTINS: Mapping[str, str] = {
    "log": "amplifier.publishers.log:LogPublisher",
    "outbox": "amplifier.publishers.outbox:OutboxPublisher",
    "webhook": "amplifier.publishers.webhook:WebhookPublisher",
}

_registered: dict[str, type[Publisher]] = {}


def _import(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _check(name: str, obj: Any, origin: str) -> type[Publisher]:
    if not (isinstance(obj, type) and issubclass(obj, Publisher)):
        raise PublisherConfigError(
            name, None, f"{origin} does not name a subclass of amplifier.publishers.Publisher"
        )
    return obj


def _sources() -> dict[str, tuple[str, Any]]:
    """Name -> (where it comes from, a loader), without importing any plugin yet."""
    found: dict[str, tuple[str, Any]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTINS:
            if ep.value != BUILTINS[ep.name]:
                logger.warning(
                    "ignoring entry point %s = %s: '%s' is a built-in publisher",
                    ep.name,
                    ep.value,
                    ep.name,
                )
            continue
        origin = f"entry point {ep.name} = {ep.value}"
        if ep.name in found:
            if found[ep.name][0] != origin:
                logger.warning("two packages register publisher '%s'; using %s", ep.name, origin)
            continue
        found[ep.name] = (origin, ep.load)
    for name, target in BUILTINS.items():
        found[name] = (f"built-in {target}", lambda target=target: _import(target))
    for name, cls in _registered.items():
        found.setdefault(name, (f"registered {cls.__module__}.{cls.__qualname__}", lambda c=cls: c))
    return found


def names() -> list[str]:
    """The names of every publisher, without importing any plugin."""
    return sorted(_sources())


def available() -> dict[str, type[Publisher]]:
    """Every publisher that can be loaded, by name. Plugins that fail to import are left out."""
    publishers: dict[str, type[Publisher]] = {}
    for name, (origin, load) in sorted(_sources().items()):
        try:
            publishers[name] = _check(name, load(), origin)
        except Exception as exc:  # a broken plugin must not hide the others
            logger.warning("publisher '%s' (%s) cannot be loaded: %s", name, origin, exc)
    return publishers


def publisher_class(name: str) -> type[Publisher]:
    """The class registered as ``name``; ``PublisherConfigError`` with a did-you-mean if none."""
    sources = _sources()
    if name not in sources:
        known = ", ".join(sorted(sources))
        raise PublisherConfigError(
            name, None, f"no such publisher{did_you_mean(name, sources)}; known: {known}"
        )
    origin, load = sources[name]
    try:
        obj = load()
    except Exception as exc:
        raise PublisherConfigError(
            name, None, f"cannot load {origin}: {type(exc).__name__}: {exc}"
        ) from exc
    return _check(name, obj, origin)


def load_publisher(
    name: str, options: Mapping[str, Any] | None = None, *, workspace_root: Path
) -> Publisher:
    """A ready publisher named ``name``, configured with ``options``."""
    return publisher_class(name)(options or {}, workspace_root=Path(workspace_root))


def register(cls: type[Publisher], name: str | None = None) -> type[Publisher]:
    """Make ``cls`` loadable as ``name`` (default ``cls.name``) in this process.

    Entry points are the way for installed packages; this is for scripts and tests. It
    can be used as a class decorator. Entry points and built-ins win over registrations.
    """
    key = name or getattr(cls, "name", None)
    if not key:
        raise ValueError(f"{cls!r} has no name; set its `name` or pass one")
    _registered[key] = _check(key, cls, repr(cls))
    return cls


def unregister(name: str) -> None:
    """Forget a class that ``register`` added (no error if there is none)."""
    _registered.pop(name, None)


__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "PermanentPublishError",
    "PublishError",
    "PublishItem",
    "PublishResult",
    "Publisher",
    "PublisherConfigError",
    "Secret",
    "TransientPublishError",
    "available",
    "load_publisher",
    "names",
    "parse_retry_after",
    "publisher_class",
    "register",
    "retry_delay",
    "unregister",
]
