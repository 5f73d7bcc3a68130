"""Check: the rules every rendered variant must pass before it can go out.

For now these are the platform rules (``amplifier.platforms``); the content and source
policy joins them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from amplifier import platforms
from amplifier.findings import Finding


class VariantChecker:
    """Checks variant texts; built once per plan with the workspace's platform overrides."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.rules = {
            p: platforms.rules_for(p, (overrides or {}).get(p.value)) for p in platforms.Platform
        }

    def check(
        self, text: str, title: str | None, platform: str, source: str | None = None
    ) -> list[Finding]:
        rules = self.rules[platforms.Platform(platform)]
        return [
            Finding(
                rule=f.rule_id,
                severity="block",
                message=f.message,
                category="platform",
                span=f.span,
                field=f.field,
                source=source,
            )
            for f in platforms.check_text(
                text, rules, title=title if rules.title_max is not None else None
            )
        ]
