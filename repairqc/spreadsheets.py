"""What every CSV and XLSX export does to the text staff typed (reports, analytics, the access log).

A cell starting with "=", "+", "-", "@", a tab or a carriage return is a formula to Excel and
LibreOffice (CSV and XLSX alike): a name or a note typed by staff must never become one in the
spreadsheet HQ opens (OWASP "CSV injection"), so such text is prefixed with an apostrophe.
CSV files start with a byte-order mark so Excel reads them as UTF-8 (Chinese names intact).
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The first character of every CSV export.
CSV_BOM = "\ufeff"


def inert(value: Any) -> Any:
    """`value`, with text that a spreadsheet would run as a formula made plain text."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
