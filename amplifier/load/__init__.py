"""Load a workspace folder into validated objects, reporting every problem at once.

from amplifier.load import load_workspace
files = load_workspace(Path("."))      # raises WorkspaceError with all problems
print(len(files.org.units), "units")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from amplifier.errors import Problem, WorkspaceError
from amplifier.load.checks import (
    check_calendars,
    check_org,
    check_publishing,
    check_settings_references,
    partial_org,
    raw_unit_codes,
)
from amplifier.load.schema import (
    BlackoutSpec,
    CalendarFile,
    CampaignSpec,
    HolidayEntry,
    OrgFile,
    PostSpec,
    QuietPeriodSpec,
    Settings,
)
from amplifier.load.source import Document, read_toml, read_yaml, validate

SETTINGS_FILE = "amplifier.toml"
ORG_FILE = "org.yaml"
CALENDARS_DIR = "calendars"
TEMPLATES_DIR = "templates"

__all__ = [
    "SETTINGS_FILE",
    "LoadedWorkspace",
    "Source",
    "load_calendars",
    "load_settings",
    "load_workspace",
]


@dataclass(frozen=True)
class Source:
    """Where an entry was written: ``calendars/2027.yaml:14``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class LoadedWorkspace:
    root: Path
    settings: Settings
    org: OrgFile
    campaigns: list[CampaignSpec] = field(default_factory=list)
    blackouts: list[BlackoutSpec] = field(default_factory=list)
    holidays: list[HolidayEntry] = field(default_factory=list)
    quiet_periods: list[QuietPeriodSpec] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)

    def source_of(self, kind: str, key: str) -> Source | None:
        """Where an entry was written: ``source_of("account", "x:kptd_ri")``; kinds are unit,
        account (platform:handle, lower case), admin, campaign and post (slug/key)."""
        return self.sources.get(f"{kind}:{key}")

    def source_of_post(self, campaign: CampaignSpec, post: PostSpec) -> Source | None:
        return self.sources.get(f"post:{campaign.slug}/{post.key}")


def load_settings(root: Path) -> tuple[Settings | None, list[Problem]]:
    """``amplifier.toml`` (defaults when absent), with every problem it has on its own."""
    settings, _doc, problems = _read_settings(root)
    return settings, problems


def _read_settings(root: Path) -> tuple[Settings | None, Document, list[Problem]]:
    path = root / SETTINGS_FILE
    if not path.is_file():
        return Settings(), Document(SETTINGS_FILE, {}), []
    doc = read_toml(path, root)
    if not doc.usable:
        return None, doc, doc.problems
    settings, found = validate(Settings, doc)
    if settings is not None:
        found += check_publishing(settings, doc)
    return settings, doc, doc.problems + found


def _read_calendars(root: Path) -> tuple[list[tuple[CalendarFile, Document]], list[Problem]]:
    problems: list[Problem] = []
    calendars: list[tuple[CalendarFile, Document]] = []
    cal_dir = root / CALENDARS_DIR
    paths = sorted([*cal_dir.glob("*.yaml"), *cal_dir.glob("*.yml")]) if cal_dir.is_dir() else []
    for path in paths:
        doc = read_yaml(path, root)
        problems += doc.problems
        if not doc.usable:
            continue
        cal, found = validate(CalendarFile, doc)
        problems += found
        if cal is not None:
            calendars.append((cal, doc))
    return calendars, problems


def load_calendars(root: Path) -> list[CalendarFile]:
    """Only the files in ``calendars/``, each checked on its own (not against org.yaml).

    For readers that need the holidays or quiet periods without the unit tree (reading an
    org.yaml of thousands of units takes seconds). Raises ``WorkspaceError``.
    """
    calendars, problems = _read_calendars(Path(root))
    if problems:
        raise WorkspaceError(problems, Path(root))
    return [cal for cal, _ in calendars]


def load_workspace(root: Path) -> LoadedWorkspace:
    """Read and check every workspace file under ``root``.

    Raises ``WorkspaceError`` listing every problem found in every file.
    """
    root = Path(root)
    if not root.is_dir():
        raise WorkspaceError([Problem(str(root), 1, 1, "", "workspace folder does not exist")])
    problems: list[Problem] = []
    settings, settings_doc, found = _read_settings(root)
    problems += found

    org: OrgFile | None = None
    org_doc: Document | None = None
    checked: OrgFile | None = None  # the valid part, for cross-file checks
    codes: set[str] = set()
    org_path = root / ORG_FILE
    if not org_path.is_file():
        problems.append(Problem(ORG_FILE, 1, 1, "", "missing; every workspace needs an org.yaml"))
    else:
        doc = org_doc = read_yaml(org_path, root)
        problems += doc.problems
        if doc.usable:
            org, found = validate(OrgFile, doc)
            problems += found
            codes = raw_unit_codes(doc)
            if org is not None:
                checked = org
                problems += check_org(org, doc)
            else:
                checked, unit_at, admin_at = partial_org(doc)
                problems += check_org(checked, doc, unit_at, admin_at)

    calendars, found = _read_calendars(root)
    problems += found
    problems += check_calendars(calendars, checked, codes)
    if settings is not None and org_doc is not None:
        problems += check_settings_references(settings, settings_doc, codes)

    if problems or settings is None or org is None:
        raise WorkspaceError(problems, root)
    loaded = LoadedWorkspace(root=root, settings=settings, org=org)
    assert org_doc is not None
    for i, unit in enumerate(org.units):
        loaded.sources[f"unit:{unit.code}"] = Source(ORG_FILE, org_doc.where(("units", i))[0])
        for j, account in enumerate(unit.accounts):
            line = org_doc.where(("units", i, "accounts", j, "handle"))[0]
            loaded.sources[f"account:{account.key}"] = Source(ORG_FILE, line)
    for i, admin in enumerate(org.admins):
        loaded.sources[f"admin:{admin.id}"] = Source(ORG_FILE, org_doc.where(("admins", i))[0])
    for cal, doc in calendars:
        for i, campaign in enumerate(cal.campaigns):
            loaded.campaigns.append(campaign)
            line = doc.where(("campaigns", i))[0]
            loaded.sources[f"campaign:{campaign.slug}"] = Source(doc.file, line)
            for j, post in enumerate(campaign.posts):
                line = doc.where(("campaigns", i, "posts", j, "body"))[0]
                loaded.sources[f"post:{campaign.slug}/{post.key}"] = Source(doc.file, line)
        loaded.blackouts.extend(cal.blackouts)
        loaded.holidays.extend(cal.holidays)
        loaded.quiet_periods.extend(cal.quiet_periods)
    return loaded
