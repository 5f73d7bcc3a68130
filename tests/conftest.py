from __future__ import annotations

import os
import shutil
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from amplifier.cli import export_cmds
from amplifier.cli.app import _root
from amplifier.errors import AmplifierError
from amplifier.workspace import Workspace
from tests.browser import chromium, page  # noqa: F401  (fixtures for the browser tests)

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ENV = "AMPLIFIER_TEST_POSTGRES_URL"

MINIMAL_ORG = """\
institution:
  code: KPTD
  name: Kementerian Contoh
units:
  - code: PUSAT
    name: Kantor Pusat
    kind: central
    timezone: Asia/Jakarta
    accounts:
      - platform: x
        handle: kptd_ri
  - code: KANWIL-BALI
    name: Kantor Wilayah Bali
    kind: regional
    parent: PUSAT
    region: Bali
    city: Denpasar
    timezone: Asia/Makassar
    accounts:
      - platform: instagram
        handle: kptd.kanwil.bali
admins:
  - id: ADM-1
    name: Admin Pusat
    units: [PUSAT, KANWIL-BALI]
    letter:
      number: ST-1/2027
      issued: 2027-01-04
      valid_until: 2027-12-31
"""

# MINIMAL_ORG with an office abroad, in a zone with daylight saving time
ABROAD_ORG = MINIMAL_ORG.replace(
    "admins:",
    """\
  - code: PWK-DEN-HAAG
    name: Kantor Perwakilan Den Haag
    kind: overseas
    parent: PUSAT
    city: Den Haag
    timezone: Europe/Amsterdam
    accounts:
      - platform: x
        handle: kptd_denhaag
admins:""",
)
# one campaign of two posts (in October 2027, when Europe/Amsterdam leaves summer time)
HUT_CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT Kementerian
    period: {start: 2027-10-01, end: 2027-10-31}
    timing: {window: {relative: {start: 30m, end: 1d}}}
    posts:
      - key: satu
        title: Pos Pertama, Hari Ini
        at: 2027-10-29T09:00:00+07:00
        body: Pos pertama.
      - key: dua
        at: 2027-10-30T09:00:00+07:00
        body: Pos kedua.
"""

WorkspaceFactory = Callable[..., Path]
Planned = tuple[Path, Path]  # (workspace folder, planned SQLite database)


def plan_workspace(base: Path, org: str, calendars: dict[str, str]) -> Planned:
    """Write a workspace under ``base``, sync and plan it into ``base/planned.db``.

    A test module plans once in a module-scoped ``planned`` fixture::

        @pytest.fixture(scope="module")
        def planned(tmp_path_factory):
            return plan_workspace(tmp_path_factory.mktemp("x"), ORG, {"hut.yaml": CALENDAR})

    and its tests take ``ws``: a workspace on a fresh copy of that database.
    """
    root = base / "ws"
    (root / "calendars").mkdir(parents=True)
    (root / "org.yaml").write_text(org, encoding="utf-8")
    for name, text in calendars.items():
        (root / "calendars" / name).write_text(text, encoding="utf-8")
    db = base / "planned.db"
    open_planned(root, f"sqlite:///{db}").engine.dispose()
    return root, db


def open_planned(root: Path, database_url: str) -> Workspace:
    """The workspace at ``root`` on ``database_url``, synced and planned."""
    ws = Workspace.open(root, database_url=database_url)
    ws.sync()
    ws.plan()
    return ws


@pytest.fixture
def ws(planned: Planned, tmp_path: Path) -> Workspace:
    """The test module's ``planned`` workspace, on a copy of its database."""
    root, db = planned
    shutil.copyfile(db, tmp_path / "t.db")
    return Workspace.open(root, database_url=f"sqlite:///{tmp_path / 't.db'}")


@pytest.fixture
def make_workspace(tmp_path: Path) -> WorkspaceFactory:
    """Write a workspace: ``make_workspace(org=..., calendars={"a.yaml": ...}, settings=...)``."""

    def make(
        org: str | bytes | None = MINIMAL_ORG,
        calendars: dict[str, str | bytes] | None = None,
        settings: str | None = None,
        root: Path | None = None,
    ) -> Path:
        root = root or tmp_path / "ws"
        root.mkdir(parents=True, exist_ok=True)
        (root / "calendars").mkdir(exist_ok=True)
        files: dict[str, str | bytes | None] = {"org.yaml": org, "amplifier.toml": settings}
        for name, text in (calendars or {}).items():
            files[f"calendars/{name}"] = text
        for name, text in files.items():
            path = root / name
            if text is None:
                path.unlink(missing_ok=True)
            elif isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


def invoke_exports(ws: Workspace, *args: str) -> tuple[int, str, str]:
    """Run the export and confirm commands on a fresh Typer app, with the CLI's error
    boundary: ``(exit code, stdout, stderr)``; an ``AmplifierError`` is exit code 2."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(_root)
    export_cmds.register(app)
    base = ["-w", str(ws.root), "--database-url", ws.database_url]
    result = CliRunner().invoke(app, [*base, *args])
    code = result.exit_code
    if isinstance(result.exception, AmplifierError):
        code = 2
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return code, result.stdout, result.stderr


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {base} is not reachable: {exc.orig}")
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


# --- CI must run the PostgreSQL tests -------------------------------------------------

REQUIRE_POSTGRES = "AMPLIFIER_REQUIRE_POSTGRES"
_postgres_outcomes: dict[str, int] = {"passed": 0, "skipped": 0, "failed": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" in report.keywords and (report.when == "call" or report.skipped):
        _postgres_outcomes[report.outcome] = _postgres_outcomes.get(report.outcome, 0) + 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get(REQUIRE_POSTGRES) != "1":
        return
    collected_any = any(item.get_closest_marker("postgres") for item in session.items)
    if not collected_any:
        return  # a run narrowed to other tests (-k, a single file)
    if _postgres_outcomes["skipped"] or not _postgres_outcomes["passed"]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"{REQUIRE_POSTGRES}=1 but {_postgres_outcomes['skipped']} PostgreSQL tests were "
                f"skipped and {_postgres_outcomes['passed']} passed: PostgreSQL must be reachable",
                red=True,
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if {"page", "chromium"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
