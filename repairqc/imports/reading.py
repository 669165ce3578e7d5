"""Reading an import file: CSV (UTF-8 or GB18030, comma, semicolon or tab) or XLSX (the first
sheet), its header matched to a kind's columns, and its cells read as text, dates, amounts, enum
members and languages. A file that cannot be read at all is `ImportRefused` (nothing is kept)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import filetype
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from repairqc.crypto import normalise_phone
from repairqc.errors import DomainError
from repairqc.imports.kinds import Column, KindSpec, header_key
from repairqc.models_base import LabelledEnum

#: A workbook's columns beyond this are not read (a sheet can claim 16,384 columns).
MAX_COLUMNS = 60

#: A workbook may unpack to at most this many times UPLOAD_MAX_BYTES (a plain 20,000-row sheet
#: unpacks to about ten times its size).
XLSX_INFLATED_MAX_FACTOR = 20
#: Rows of a sheet read, blank ones included, per allowed data row (blank rows keep their numbers).
XLSX_SHEET_ROWS_MAX_FACTOR = 2

#: The largest price a 32-bit integer of cents holds.
PRICE_CENTS_MAX = 2**31 - 1

#: The encoding choices of the upload form: "auto" tries UTF-8 (with or without BOM), then
#: GB18030, the superset of GBK that Chinese Excel writes by default.
ENCODINGS = {"auto": ("utf-8-sig", "gb18030"), "utf-8": ("utf-8-sig",), "gb18030": ("gb18030",)}
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030 (GBK)"}


class ImportRefused(DomainError):
    """The file as a whole cannot be imported (unreadable, wrong columns, too big): nothing kept."""

    status_code = 400


# --- reading a file ---------------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    #: (row number as the user sees it in the file, cells); blank rows are left out.
    rows: list[tuple[int, list[Any]]]
    encoding: str


def _too_many_rows() -> ImportRefused:
    limit = current_app.config["IMPORT_MAX_ROWS"]
    return ImportRefused(
        _("The file has more than %(limit)s rows; split it into files of at most %(limit)s rows.",
          limit=f"{limit:,}")
    )  # fmt: skip


def _blank(cells: Sequence[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def read_table(data: bytes, filename: str, encoding_choice: str = "auto") -> Table:
    """The header and the rows of a CSV or XLSX file, or `ImportRefused` saying what is wrong."""
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if not data:
        raise ImportRefused(_("The file is empty."))
    if len(data) > limit:
        raise ImportRefused(
            _("The file is larger than the limit of %(limit)s MB.", limit=f"{limit / 1024 / 1024:.0f}")
        )
    guessed = filetype.guess(data)
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused(_("Old Excel (.xls) files cannot be read: save the sheet as XLSX or CSV."))
    if guessed is not None:
        raise ImportRefused(
            _("The file is not a CSV or XLSX file (it looks like %(type)s).", type=guessed.mime)
        )
    return _read_csv(data, encoding_choice)


def _looks_like_chinese(text: str) -> bool:
    """Whether text decoded as GB18030 is plausibly Chinese. GB18030 maps almost every byte pair,
    so Latin-1 / Windows-1252 text ("Müller") decodes without error into rare characters (the
    accented letter and the next ASCII letter make one). Chinese text is mostly GB2312's common
    characters; a file whose non-ASCII characters mostly are not was not written in GB18030."""
    foreign = [ch for ch in text if ord(ch) > 0x7F]
    if not foreign:
        return True
    common = sum(1 for ch in foreign if _in_gb2312(ch))
    return common * 2 >= len(foreign)


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _decode(data: bytes, encoding_choice: str) -> tuple[str, str]:
    tried = ENCODINGS.get(encoding_choice, ENCODINGS["auto"])
    for encoding in tried:
        try:
            decoded = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and encoding_choice == "auto" and not _looks_like_chinese(decoded):
            break  # guessed, and the guess reads as nonsense; an explicit choice is believed
        return decoded, encoding
    names = " / ".join(ENCODING_NAMES[e] for e in tried)
    raise ImportRefused(
        _("The file could not be read as %(encodings)s text. Save it as “CSV UTF-8” or choose its "
          "encoding on the form.", encodings=names)
    )  # fmt: skip


def _read_csv(data: bytes, encoding_choice: str) -> Table:
    text, encoding = _decode(data, encoding_choice)
    if "\x00" in text:
        raise ImportRefused(_("The file contains binary data, not text: it is not a CSV file."))
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        # One column, or a sample the sniffer cannot decide on: the header line tells.
        delimiter = max(",;\t", key=first_line.count)
    limit = current_app.config["IMPORT_MAX_ROWS"]
    # strict: an unclosed quote is an error, not the rest of the file swallowed into one cell.
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[Any]]] = []
    headers: list[str] | None = None
    try:
        for number, cells in enumerate(reader, start=1):
            if headers is None:
                if _blank(cells):
                    continue
                headers = cells
                continue
            if _blank(cells):
                continue
            rows.append((number, cells))
            if len(rows) > limit:
                raise _too_many_rows()
    except csv.Error as exc:
        raise ImportRefused(_("The CSV file is malformed: %(problem)s.", problem=str(exc))) from exc
    if headers is None:
        raise ImportRefused(_("The file is empty."))
    return Table(headers, rows, encoding)


def _unreadable_xlsx() -> ImportRefused:
    return ImportRefused(_("The file is not a readable XLSX workbook."))


def _check_inflated_size(data: bytes) -> None:
    """A workbook is a zip: 10 MB can inflate to gigabytes (shared strings are read whole even in
    read-only mode). The declared sizes bound what zipfile will inflate, so they are checked first."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable_xlsx() from exc
    if inflated > XLSX_INFLATED_MAX_FACTOR * current_app.config["UPLOAD_MAX_BYTES"]:
        raise ImportRefused(
            _("The workbook is too large once unpacked; save the sheet as CSV or split it into "
              "smaller files.")
        )  # fmt: skip


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    _check_inflated_size(data)
    try:
        # read_only streams the sheet; data_only gives a formula's last computed value.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a damaged workbook fails anywhere in openpyxl or its XML parser
        raise _unreadable_xlsx() from exc
    limit = current_app.config["IMPORT_MAX_ROWS"]
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportRefused(_("The file is empty."))
        headers: list[str] | None = None
        rows: list[tuple[int, list[Any]]] = []
        for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            if number > XLSX_SHEET_ROWS_MAX_FACTOR * limit:
                raise _too_many_rows()  # blank rows too: a sheet can claim a million of them
            cells = list(cells)
            if _blank(cells):
                continue
            if headers is None:
                headers = ["" if cell is None else str(cell) for cell in cells]
                continue
            rows.append((number, cells))
            if len(rows) > limit:
                raise _too_many_rows()
    except ImportRefused:
        raise
    except Exception as exc:  # broken sheet XML surfaces only while the rows stream
        raise _unreadable_xlsx() from exc
    finally:
        workbook.close()
    if headers is None:
        raise ImportRefused(_("The file is empty."))
    return Table(headers, rows, "xlsx")


def map_headers(spec: KindSpec, headers: list[str]) -> dict[int, Column]:
    """The file's column positions → the kind's columns; `ImportRefused` listing the expected
    columns when one is unknown, repeated or required and missing."""
    known = {name: column for column in spec.columns for name in column.names()}
    mapping: dict[int, Column] = {}
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for position, header in enumerate(headers):
        if header is None or not str(header).strip():
            continue
        column = known.get(header_key(header))
        if column is None:
            unknown.append(str(header).strip())
            continue
        if column.key in seen:
            raise ImportRefused(
                _("The columns “%(first)s” and “%(second)s” are the same column; keep one of them.",
                  first=seen[column.key], second=str(header).strip())
            )  # fmt: skip
        seen[column.key] = str(header).strip()
        mapping[position] = column
    expected = ", ".join(f"{c.header}{'*' if c.required else ''} ({c.header_zh})" for c in spec.columns)
    missing = [f"{c.header} ({c.header_zh})" for c in spec.columns if c.required and c.key not in seen]
    problems = []
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.", columns=", ".join(unknown)))
    if missing:
        problems.append(_("Required columns missing: %(columns)s.", columns=", ".join(missing)))
    if problems:
        problems.append(
            _("The columns of this kind of file are: %(columns)s (* required).", columns=expected)
        )
        raise ImportRefused(" ".join(problems))
    return mapping


# --- reading cells ---------------------------------------------------------------------------------


class CellProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def text(cell: Any) -> str:
    """A cell as text: numbers without a trailing ".0" (phones and IMEIs typed into Excel)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat(" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell).strip()


def check_length(value: str, column: Column) -> str:
    if column.max_length is not None and len(value) > column.max_length:
        raise CellProblem(
            _("The value has %(length)s characters; at most %(max)s fit.", length=len(value),
              max=column.max_length)
        )  # fmt: skip
    return value


_PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ().\-/]+$")


def check_phone(value: str) -> str:
    digits = normalise_phone(value)
    if not _PHONE_CHARACTERS.match(value) or not 5 <= len(digits) <= 15:
        raise CellProblem(
            _("“%(value)s” is not a phone number: use digits, spaces, dashes and an optional leading + "
              "(5 to 15 digits).", value=value)
        )  # fmt: skip
    return value


def check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise CellProblem(_("“%(value)s” is not a valid e-mail address.", value=value)) from None
    return value


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


def parse_date(cell: Any, *, today: date) -> date:
    """A date cell, or text written year first (2024-03-31, 2024/3/31, 2024年3月31日); day-first
    and month-first text is refused, since 01/02/2024 means two different days."""
    if isinstance(cell, datetime):
        day = cell.date()
    elif isinstance(cell, date):
        day = cell
    else:
        raw = text(cell)
        raw = raw.split(" ", 1)[0] if re.match(r"^\d{4}-\d{1,2}-\d{1,2} 00:00(:00)?$", raw) else raw
        for pattern in _DATE_FORMATS:
            try:
                day = datetime.strptime(raw, pattern).date()
                break
            except ValueError:
                continue
        else:
            raise CellProblem(_("“%(value)s” is not a date: write it as 2024-03-31.", value=raw))
    if day > today:
        raise CellProblem(_("The date %(date)s is in the future.", date=day.isoformat()))
    return day


#: An amount as people type it: digits, thousands grouped by commas or not, at most two decimals
#: ("1,2,3", "1_000" and "1e5" are not amounts, though Decimal would take them).
_AMOUNT = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")


def parse_price(cell: Any) -> int:
    """An amount in major units (1250.00) as minor units (125000), as every amount is kept."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        raw = repr(cell) if isinstance(cell, float) and not cell.is_integer() else text(cell)
    else:
        raw = text(cell).replace("¥", "").replace("￥", "").strip()
    if not _AMOUNT.match(raw):
        raise CellProblem(_("“%(value)s” is not an amount: write it like 1250.00.", value=text(cell)))
    amount = Decimal(raw.replace(",", ""))
    if amount < 0:
        raise CellProblem(_("The price cannot be negative."))
    # Compared before converting: a 40-digit amount is refused, not overflowed.
    if amount * 100 > PRICE_CENTS_MAX:
        raise CellProblem(_("The price %(value)s is too large.", value=text(cell)))
    return int(amount * 100)


def accepted_labels(enum_cls: type[LabelledEnum]) -> dict[str, LabelledEnum]:
    """Each member by its value and its label in English and in Chinese, compared as headers are."""
    accepted: dict[str, LabelledEnum] = {}
    for locale in ("en", "zh_Hans_CN"):
        with force_locale(locale):
            for member in enum_cls:
                accepted[header_key(member.label)] = member
    for member in enum_cls:
        accepted[header_key(member.value)] = member
    return accepted


def parse_enum(cell: Any, enum_cls: type[LabelledEnum], accepted: dict[str, LabelledEnum]) -> LabelledEnum:
    raw = text(cell)
    member = accepted.get(header_key(raw))
    if member is None:
        listed = ", ".join(m.value for m in enum_cls)
        raise CellProblem(_("“%(value)s” is not one of: %(values)s.", value=raw, values=listed))
    return member


_LANGUAGES = {"en": "en", "english": "en", "英文": "en", "英语": "en", "zh": "zh_Hans_CN",
              "chinese": "zh_Hans_CN", "中文": "zh_Hans_CN", "简体中文": "zh_Hans_CN",
              "zh cn": "zh_Hans_CN", "zh hans cn": "zh_Hans_CN", "zh hans": "zh_Hans_CN"}  # fmt: skip


def parse_language(cell: Any) -> str:
    raw = text(cell)
    language = _LANGUAGES.get(header_key(raw))
    if language is None:
        raise CellProblem(_("“%(value)s” is not a language of the product: write en or zh.", value=raw))
    return language
