"""Exports: the plan as calendars a unit admin can subscribe to or open, and a spreadsheet.

    from amplifier.exports import export_csv, export_ics

    export_ics(ws, "public/kalender", by=("unit",))   # units/KANWIL-BALI.ics, …
    export_csv(ws, "variants.csv", bom=True)          # one row per variant
    export_html(ws, "public/kalender")                # index.html, campaigns/<slug>.html

``amplifier.exports.ics``, ``.csv`` and ``.html`` describe each format; ``.rows`` is the
query they all read.
"""

from amplifier.exports.csv import COLUMNS, CsvReport, export_csv
from amplifier.exports.html import HtmlReport, campaign_colour, export_html
from amplifier.exports.ics import CALENDAR_STATUSES, GROUPINGS, IcsReport, export_ics

__all__ = [
    "CALENDAR_STATUSES",
    "COLUMNS",
    "GROUPINGS",
    "CsvReport",
    "HtmlReport",
    "IcsReport",
    "campaign_colour",
    "export_csv",
    "export_html",
    "export_ics",
]
