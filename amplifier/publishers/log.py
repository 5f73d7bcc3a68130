"""``log``: a dry run. Logs what it would publish and returns a made-up id.

    [publishing]
    api = "log"

    [publishing.publishers.log]
    level = "INFO"                       # DEBUG, INFO or WARNING

Each item is one record on the ``amplifier.publishers.log`` logger, with the item's
fields in ``extra={"amplifier_item": {...}}`` for structured handlers. The result has no
URL, so a dry run never confirms a variant.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from amplifier.publishers.base import Publisher, PublishItem, PublishResult, option_choice

logger = logging.getLogger("amplifier.publishers.log")

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}


class LogPublisher(Publisher):
    """Publishes nothing; logs each item instead."""

    name: ClassVar[str] = "log"
    idempotent: ClassVar[bool] = True
    options_doc: ClassVar[Mapping[str, str] | None] = {
        "level": "logging level of the records: DEBUG, INFO (default) or WARNING",
    }

    def __init__(self, options: Mapping[str, Any], *, workspace_root: Path) -> None:
        super().__init__(options, workspace_root=workspace_root)
        self.level_name = option_choice(self, options, "level", list(_LEVELS), "INFO")
        self.level = _LEVELS[self.level_name]

    def publish(self, item: PublishItem) -> PublishResult:
        fake_id = f"dry-run:{item.idempotency_key}"
        logger.log(
            self.level,
            "dry run: would publish variant %s to %s @%s of %s at %s (attempt %s): %r",
            item.variant_id,
            item.platform,
            item.handle,
            item.unit_code,
            item.publish_at.isoformat(),
            item.attempt,
            item.text,
            extra={"amplifier_item": item.as_dict(), "amplifier_external_id": fake_id},
        )
        return PublishResult(external_id=fake_id, external_url=None)

    def describe(self) -> str:
        return f"log: dry run, records at {self.level_name} on {logger.name}"
