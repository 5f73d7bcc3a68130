"""Exports: the plan as calendars a unit admin can subscribe to, and as a spreadsheet.

    from amplifier.exports import export_csv, export_ics

    export_ics(ws, "public/kalender", by=("unit",))   # units/KANWIL-BALI.ics, …
    export_csv(ws, "variants.csv", bom=True)          # one row per variant

``amplifier.exports.ics`` and ``amplifier.exports.csv`` describe each format.
"""

from amplifier.exports.csv import COLUMNS, CsvReport, export_csv
from amplifier.exports.ics import CALENDAR_STATUSES, GROUPINGS, IcsReport, export_ics

__all__ = [
    "CALENDAR_STATUSES",
    "COLUMNS",
    "GROUPINGS",
    "CsvReport",
    "IcsReport",
    "export_csv",
    "export_ics",
]
