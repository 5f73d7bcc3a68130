"""Finding (temuan): one policy or validation result about a variant or the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["block", "review", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # "platform.x.length", "template.error", "policy.sara", …
    severity: Severity  # block: must not go out; review: a person decides; info: notice
    message: str
    category: str = ""
    span: tuple[int, int] | None = None  # character range in the variant text (end exclusive)
    field: str = "text"  # "text" or "title"
    source: str | None = None  # where it came from: "templates/units/X/post.j2:3"

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON, without the empty ones (``span`` as a list)."""
        data = {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "category": self.category,
            "span": None if self.span is None else list(self.span),
            "field": self.field,
            "source": self.source,
        }
        return {k: v for k, v in data.items() if v is not None and v != ""}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        span = data.get("span")
        return cls(
            rule=data["rule"],
            severity=data["severity"],
            message=data["message"],
            category=data.get("category", ""),
            span=(span[0], span[1]) if span else None,
            field=data.get("field", "text"),
            source=data.get("source"),
        )


def blocking(findings: list[Finding] | list[dict[str, Any]]) -> bool:
    return any(
        (f.severity if isinstance(f, Finding) else f.get("severity")) == "block" for f in findings
    )
