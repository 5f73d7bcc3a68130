"""amplifier: fan an institution's central digital agenda out to every work unit's accounts.

import amplifier

ws = amplifier.open_workspace("path/to/workspace")
ws.sync()                       # workspace files -> database
for unit in ws.unit_tree():
    print(unit.code, unit.timezone)
"""

from amplifier.errors import (
    AmplifierError,
    DatabaseError,
    InvalidOperation,
    NotFound,
    Problem,
    SchemaOutOfDate,
    WorkspaceError,
)
from amplifier.sync import SyncReport
from amplifier.vocab import AccountMode, Platform, ReviewState, UnitKind, VariantStatus
from amplifier.workspace import UnitNode, Workspace, open_workspace

__version__ = "0.1.0"

__all__ = [
    "AccountMode",
    "AmplifierError",
    "DatabaseError",
    "InvalidOperation",
    "NotFound",
    "Platform",
    "Problem",
    "ReviewState",
    "SchemaOutOfDate",
    "SyncReport",
    "UnitKind",
    "UnitNode",
    "VariantStatus",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "open_workspace",
]
