"""The ``amplifier`` command line: a thin layer over the public API.

Exit codes: 0 success; 1 the command ran and found blocking problems (for example
``amplifier check``); 2 bad input (workspace errors, unknown names, wrong usage).
"""

from __future__ import annotations

import sys

from amplifier.cli import (
    check_cmds,
    daemon_cmds,
    export_cmds,
    plan_cmds,
    report_cmds,
    review_cmds,
    timing_cmds,
    workspace_cmds,
)
from amplifier.cli.app import app, run

__all__ = ["app", "main"]

workspace_cmds.register(app)
plan_cmds.register(app)
review_cmds.register(app)
check_cmds.register(app)
timing_cmds.register(app)
daemon_cmds.register(app)
export_cmds.register(app)
report_cmds.register(app)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
