"""Imports (HB §7.1.1-§7.1.2): reading files, checking every row, and all-or-nothing, idempotent
writing, through `imports.services` on both backends."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import Grants
from repairqc.audit.models import AuditLog
from repairqc.db import db, unit_of_work, utcnow
from repairqc.equipment.models import EquipmentItem
from repairqc.errors import Conflict
from repairqc.imports import reading, services
from repairqc.imports.kinds import importable_kinds
from repairqc.imports.models import ImportKind, ImportRun, ImportStatus
from repairqc.repairs.models import Customer, Device
from tests.conftest import in_tenant, staff, store

CUSTOMER_HEADER = ["Full name", "Phone", "Email", "Language"]


def csv_bytes(rows: list[list], *, delimiter: str = ",", encoding: str = "utf-8", bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def customers(n: int, start: int = 0) -> list[list]:
    return [
        [f"Imported {i}", f"+86 150 {i:04d} 0000", f"imported{i}@example.com", "zh"]
        for i in range(start, start + n)
    ]


def upload(tenant, kind, data, *, user="owner", store_name="S1", filename="file.csv", encoding="auto"):
    person = staff(tenant, user)
    with unit_of_work():
        run = services.upload(
            kind, data, filename, user=person, grants=Grants.of(person), store=store(tenant, store_name),
            encoding=encoding,
        )  # fmt: skip
    return run


def confirm(tenant, run, user="owner"):
    person = staff(tenant, user)
    with unit_of_work():
        return services.confirm(run, user=person, grants=Grants.of(person))


def problems(run: ImportRun) -> list[tuple]:
    return [(p["row"], p["column"]) for p in services.read_report(run)["problems"]]


def count(model, *where) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


# --- reading files -----------------------------------------------------------------------------------


def test_utf8_with_bom_semicolons_and_chinese_headers_are_read(app, alpha):
    data = csv_bytes(
        [["姓名", "电话", "邮箱"], ["王芳", "13800000001", "wang@example.com"]], delimiter=";", bom=True
    )
    with in_tenant(app, alpha):
        run = upload(alpha, ImportKind.CUSTOMERS, data)
        assert run.status is ImportStatus.PREVIEWED and run.problem_count == 0
        assert (run.row_count, run.created_count, run.encoding) == (1, 1, "utf-8-sig")
        assert services.read_report(run)["preview"][0]["cells"] == ["王芳", "13800000001", "wang@example.com"]


def test_gb18030_csv_is_detected_and_latin1_bytes_are_refused_naming_the_encodings(app, alpha):
    data = csv_bytes([["姓名", "电话"], ["张伟", "13800000002"]], encoding="gb18030")
    with in_tenant(app, alpha):
        run = upload(alpha, ImportKind.CUSTOMERS, data)
        assert run.encoding == "gb18030"
        assert services.read_report(run)["preview"][0]["cells"][0] == "张伟"
        latin1 = "Full name,Phone\nCafé Müller,+49 30 1234567\n".encode("latin-1")
        with pytest.raises(reading.ImportRefused, match="UTF-8 / GB18030"):
            upload(alpha, ImportKind.CUSTOMERS, latin1)
        with pytest.raises(reading.ImportRefused, match="as UTF-8 text"):
            upload(alpha, ImportKind.CUSTOMERS, data, encoding="utf-8")
        assert count(ImportRun, ImportRun.status == ImportStatus.PREVIEWED) == 1  # refusals keep nothing


def test_whole_file_problems_are_refused_with_a_clear_message(app, alpha):
    app.config["IMPORT_MAX_ROWS"] = 3
    try:
        with in_tenant(app, alpha):
            with pytest.raises(reading.ImportRefused, match="empty"):
                upload(alpha, ImportKind.CUSTOMERS, b"")
            with pytest.raises(reading.ImportRefused, match="empty"):
                upload(alpha, ImportKind.CUSTOMERS, b"\n\n")
            with pytest.raises(reading.ImportRefused, match="more than 3 rows"):
                upload(alpha, ImportKind.CUSTOMERS, csv_bytes([CUSTOMER_HEADER, *customers(4)]))
            with pytest.raises(
                reading.ImportRefused, match=r"Unknown columns: Shoe size\..*Full name\* \(姓名\)"
            ):
                upload(alpha, ImportKind.CUSTOMERS, csv_bytes([["Full name", "Shoe size"], ["A", "42"]]))
            with pytest.raises(reading.ImportRefused, match=r"Required columns missing: Full name \(姓名\)"):
                upload(alpha, ImportKind.CUSTOMERS, csv_bytes([["Phone"], ["13800000003"]]))
            with pytest.raises(reading.ImportRefused, match="not a CSV or XLSX"):
                upload(alpha, ImportKind.CUSTOMERS, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
            with pytest.raises(reading.ImportRefused, match="not a readable XLSX"):
                upload(alpha, ImportKind.CUSTOMERS, b"PK\x03\x04broken zip")
            app.config["UPLOAD_MAX_BYTES"], limit = 10, app.config["UPLOAD_MAX_BYTES"]
            try:
                with pytest.raises(reading.ImportRefused, match="larger than the limit"):
                    upload(alpha, ImportKind.CUSTOMERS, csv_bytes([CUSTOMER_HEADER, *customers(1)]))
            finally:
                app.config["UPLOAD_MAX_BYTES"] = limit
    finally:
        app.config["IMPORT_MAX_ROWS"] = 20000


def _rezipped(data: bytes, change) -> bytes:
    """The workbook `data` with each member's bytes passed through `change(name, bytes)`."""
    import zipfile

    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, change(name, source.read(name)))
    return out.getvalue()


def test_damaged_or_inflating_workbooks_and_unclosed_quotes_are_refused_not_errors(app):
    good = xlsx_bytes([CUSTOMER_HEADER, *customers(2)])
    with app.test_request_context():
        for damaged in (
            _rezipped(good, lambda name, body: body[: len(body) // 2] if "sheet1" in name else body),
            _rezipped(good, lambda name, body: b"<styleSheet" if name.endswith("styles.xml") else body),
        ):
            with pytest.raises(reading.ImportRefused, match="not a readable XLSX"):
                reading.read_table(damaged, "file.xlsx")
        # A few kilobytes that unpack to megabytes: refused before openpyxl reads the shared strings.
        bomb = xlsx_bytes([CUSTOMER_HEADER, *[["x" * 30_000] for _ in range(40)]])
        limit = app.config["UPLOAD_MAX_BYTES"]
        app.config["UPLOAD_MAX_BYTES"] = len(bomb)
        try:
            with pytest.raises(reading.ImportRefused, match="too large once unpacked"):
                reading.read_table(bomb, "file.xlsx")
        finally:
            app.config["UPLOAD_MAX_BYTES"] = limit
        with pytest.raises(reading.ImportRefused, match="malformed"):
            reading.read_table(b'Full name,Phone\n"Unclosed,1\nNext,2\n', "file.csv")


def test_latin1_that_happens_to_decode_as_gb18030_is_not_guessed_as_chinese(app):
    latin1 = "Full name,Phone\nMüller Jürgen,+49 30 1234567\nFrançois,+33 1 23456789\n".encode("latin-1")
    with app.test_request_context():
        with pytest.raises(reading.ImportRefused, match="UTF-8 / GB18030"):
            reading.read_table(latin1, "file.csv")
        # Chosen on the form, the encoding is believed (the preview shows what it makes of it).
        assert reading.read_table(latin1, "file.csv", "gb18030").encoding == "gb18030"
        rare = "姓名,电话\n李喆,13800000001\n王堃,13800000002\n".encode("gb18030")  # names outside GB2312
        assert reading.read_table(rare, "file.csv").rows[0][1][0] == "李喆"


@pytest.mark.parametrize(
    ("cell", "cents"),
    [("1250.00", 125000), ("1,250.5", 125050), ("¥ 99", 9900), (19.99, 1999), (300, 30000), ("0", 0)],
)
def test_prices_as_people_write_them(app, cell, cents):
    with app.test_request_context():
        assert reading.parse_price(cell) == cents


@pytest.mark.parametrize("cell", ["1e999999", "9" * 40, "1,2,3", "1_000", "0.001", "NaN", "-5", "12.3.4"])
def test_prices_that_are_not_amounts_are_a_cell_problem_not_an_error(app, cell):
    with app.test_request_context(), pytest.raises(reading.CellProblem):
        reading.parse_price(cell)


def test_xlsx_is_read_with_numbers_and_dates_as_typed(app, alpha):
    data = xlsx_bytes([
        ["Asset tag", "Type", "Name", "Purchase date", "Purchase price", "Serial number"],
        ["XL-1", "Multimeter", "Bench meter", datetime(2024, 3, 31), 1250.5, 123456],
        [None, None, None, None, None, None],
        ["XL-2", "万用表", "Pocket meter", "2024/4/1", "80", "SN-2"],
    ])  # fmt: skip
    with in_tenant(app, alpha):
        run = upload(alpha, ImportKind.EQUIPMENT, data, filename="tools.xlsx")
        assert (run.encoding, run.problem_count, run.created_count) == ("xlsx", 0, 2)
        assert [r["row"] for r in services.read_report(run)["preview"]] == [2, 4]  # the sheet's row numbers
        confirm(alpha, run)
        items = {i.asset_tag: i for i in db.session.execute(sa.select(EquipmentItem).where(
            EquipmentItem.asset_tag.in_(["XL-1", "XL-2"]))).scalars()}  # fmt: skip
        assert items["XL-1"].purchased_on == date(2024, 3, 31) and items["XL-1"].price_cents == 125050
        assert items["XL-1"].serial_number == "123456" and items["XL-1"].equipment_type == "multimeter"
        assert (
            items["XL-2"].purchased_on == date(2024, 4, 1) and items["XL-2"].store_id == alpha.store_ids["S1"]
        )
        assert items["XL-1"].events  # registered through the equipment service, with its first event


# --- checking rows -----------------------------------------------------------------------------------


def test_every_row_is_checked_and_problems_name_row_and_column(app, alpha):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    data = csv_bytes([
        ["Full name", "Phone", "Email", "Language", "Preferred channel"],
        ["Good", "+86 150 0000 0001", "", "", "短信"],
        ["", "+86 150 0000 0002", "", "", ""],
        ["Bad mail", "", "not-an-address", "", ""],
        ["Bad phone", "call me", "", "", ""],
        ["No contact", "", "", "", ""],
        ["Bad language", "+86 150 0000 0003", "", "fr", ""],
        ["Bad channel", "+86 150 0000 0004", "", "", "pigeon"],
        ["Twice", "+86 150-0000-0001", "", "", ""],
        ["x" * 201, "+86 150 0000 0005", "", "", ""],
    ])  # fmt: skip
    equipment = csv_bytes([
        ["Asset tag", "Type", "Name", "Purchase date", "Purchase price"],
        ["EQ-F", "multimeter", "Meter", tomorrow, "10"],
        ["EQ-G", "toaster", "Toaster", "31/03/2024", "-1"],
    ])  # fmt: skip
    devices = csv_bytes([
        ["Customer phone", "Category", "Brand", "Model", "IMEI"],
        ["+86 100 0000", "smartphone", "Apple", "iPhone", "490154203237519"],
        ["+86 199 9999 9999", "fridge", "Apple", "iPhone", "490154203237518"],
    ])  # fmt: skip
    with in_tenant(app, alpha):
        run = upload(alpha, ImportKind.CUSTOMERS, data)
        assert problems(run) == [
            (3, "Full name"), (4, "Email"), (5, "Phone"), (6, "Phone"), (7, "Language"),
            (8, "Preferred channel"), (9, "Phone"), (10, "Full name"),
        ]  # fmt: skip
        messages = [p["message"] for p in services.read_report(run)["problems"]]
        assert "The same phone number as row 2." in messages
        assert any("at most 200 fit" in m for m in messages)
        assert (run.created_count, run.problem_count) == (1, 8)
        run = upload(alpha, ImportKind.EQUIPMENT, equipment)
        assert problems(run) == [
            (2, "Purchase date"),
            (3, "Type"),
            (3, "Purchase date"),
            (3, "Purchase price"),
        ]
        run = upload(alpha, ImportKind.DEVICES, devices)
        report = services.read_report(run)["problems"]
        assert [(p["row"], p["column"]) for p in report] == [
            (2, "IMEI"),
            (3, "Category"),
            (3, "Customer phone"),
        ]
        assert "check digit" in report[0]["message"] and "No customer" in report[2]["message"]


def test_enum_values_are_accepted_in_english_chinese_or_as_values(app, alpha):
    data = csv_bytes([
        ["Email", "Full name", "Role", "Store"],
        ["a@imp.example.com", "A", "technician", alpha.store_sentinel("S1")],
        ["b@imp.example.com", "B", "Front desk", alpha.store_sentinel("S1")],
        ["c@imp.example.com", "C", "技术员", alpha.store_sentinel("S2")],
        ["d@imp.example.com", "D", "owner", alpha.store_sentinel("S1")],
        ["e@imp.example.com", "E", "technician", "NOPE"],
    ])  # fmt: skip
    with in_tenant(app, alpha):
        run = upload(alpha, ImportKind.STAFF, data)
        assert problems(run) == [(5, "Store"), (6, "Store")]
        assert run.created_count == 3


# --- writing -----------------------------------------------------------------------------------------


def test_one_bad_row_among_fifty_writes_nothing_and_audits_nothing(app, alpha):
    with in_tenant(app, alpha):
        good = upload(alpha, ImportKind.CUSTOMERS, csv_bytes([CUSTOMER_HEADER, *customers(50)]))
        assert good.problem_count == 0 and good.created_count == 50
        # Someone registers row 50's e-mail for another person meanwhile: now a conflict.
        with unit_of_work():
            db.session.add(Customer(store_id=alpha.store_ids["S1"], full_name="Someone",
                                    phone="+86 151 0000 0000", email="imported49@example.com"))  # fmt: skip
            db.session.add(
                Customer(store_id=alpha.store_ids["S1"], full_name="Other", phone="+86 150 0049 0000")
            )
        before = (count(Customer), count(AuditLog, AuditLog.table_name == "customers"))
        with pytest.raises(services.ImportInvalid) as refused:
            confirm(alpha, good)
        assert [p.row for p in refused.value.report.problems] == [51]
        assert (count(Customer), count(AuditLog, AuditLog.table_name == "customers")) == before
        db.session.expire_all()
        run = db.session.get(ImportRun, good.id)
        with unit_of_work():
            services.record_failure(run, staff(alpha, "owner"), refused.value)
        assert run.status is ImportStatus.FAILED and run.content is None and run.problem_count == 1
        assert json.loads(run.report)["preview"] == [] and json.loads(run.report)["problems"]


def test_importing_twice_creates_no_duplicates_and_a_changed_value_updates(app, alpha):
    rows = [CUSTOMER_HEADER, *customers(5)]
    with in_tenant(app, alpha):
        confirm(alpha, upload(alpha, ImportKind.CUSTOMERS, csv_bytes(rows)))
        total = count(Customer)
        again = upload(alpha, ImportKind.CUSTOMERS, csv_bytes(rows))
        assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 5)
        confirm(alpha, again)
        assert count(Customer) == total and again.status is ImportStatus.IMPORTED and again.content is None
        rows[2][0] = "Renamed"  # customer 1, found by its phone typed differently
        rows[2][1] = "+86-150-0001-0000"
        changed = upload(alpha, ImportKind.CUSTOMERS, csv_bytes(rows, delimiter="\t"))
        assert (changed.created_count, changed.updated_count, changed.unchanged_count) == (0, 1, 4)
        confirm(alpha, changed)
        renamed = db.session.execute(sa.select(Customer).where(Customer.full_name == "Renamed")).scalar_one()
        assert renamed.email == "imported1@example.com" and renamed.language == "zh_Hans_CN"
        assert renamed.phone == "+86 150 0001 0000"  # same number: the stored spelling stays
        assert count(Customer) == total


def test_devices_are_keyed_by_imei_or_serial_and_need_an_existing_customer(app, alpha):
    header = ["Customer phone", "Category", "Brand", "Model", "IMEI", "Serial number"]
    rows = [header,
            ["+86 100 0000", "smartphone", "Apple", "iPhone 14", "490154203237518", ""],
            ["+86 100 0000", "Smartphone", "Apple", "iPad", "", "SN-IMPORTED-1"]]  # fmt: skip
    with in_tenant(app, alpha):
        run = upload(alpha, ImportKind.DEVICES, csv_bytes(rows))
        assert (run.problem_count, run.created_count) == (0, 2)
        confirm(alpha, run)
        device = db.session.execute(sa.select(Device).where(Device.imei == "490154203237518")).scalar_one()
        assert device.customer.store_id == alpha.store_ids["S1"]
        rows[2][3] = "iPad Air"
        again = upload(alpha, ImportKind.DEVICES, csv_bytes(rows))
        assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 1, 1)


def test_equipment_asset_tags_match_whatever_their_case_and_stay_in_their_store(app, alpha):
    header = ["Asset tag", "Type", "Name"]
    with in_tenant(app, alpha):
        confirm(
            alpha, upload(alpha, ImportKind.EQUIPMENT, csv_bytes([header, ["EQ-CASE", "esd-mat", "Mat"]]))
        )
        again = upload(alpha, ImportKind.EQUIPMENT, csv_bytes([header, ["eq-case", "esd-mat", "Mat 2"]]))
        assert (again.created_count, again.updated_count) == (0, 1)
        other = upload(alpha, ImportKind.EQUIPMENT, csv_bytes([header, ["EQ-CASE", "esd-mat", "Mat"]]),
                       store_name="S2")  # fmt: skip
        assert "another store" in services.read_report(other)["problems"][0]["message"]


def test_staff_are_invited_without_a_password_and_guards_and_plan_limits_apply(app, alpha, monkeypatch):
    header = ["Email", "Full name", "Role", "Store", "Language"]
    rows = [header, ["New.Tech@Imp.example.com", "New Tech", "technician", alpha.store_sentinel("S1"), "zh"]]
    sent = []
    monkeypatch.setattr("repairqc.jobs.enqueue", lambda func, *args, **kw: sent.append((func.__name__, args)))
    with in_tenant(app, alpha):
        confirm(alpha, upload(alpha, ImportKind.STAFF, csv_bytes(rows), user="trainer"), user="trainer")
        person = db.session.execute(
            sa.select(StaffUser).where(StaffUser.email == "new.tech@imp.example.com")
        ).scalar_one()
        assert person.password_hash is None and person.locale == "zh_Hans_CN"
        assert [(a.role, a.store_id) for a in person.roles] == [(Role.TECHNICIAN, alpha.store_ids["S1"])]
        assert sent == [("send_invitation_mail", (person.id,))]  # the invitation to choose a password
        # The trainer may not hand out the owner's role, nor change an HQ account.
        hq_rows = [header, ["x@imp.example.com", "X", "owner", "", ""],
                   [alpha.users["qa"], "Renamed QA", "qa_manager", "", ""]]  # fmt: skip
        hq = upload(alpha, ImportKind.STAFF, csv_bytes(hq_rows), user="trainer")
        assert problems(hq) == [(2, "Role"), (3, "Email")]
        # A new role for an existing person is an update.
        rows.append(["new.tech@imp.example.com", "New Tech", "technician", alpha.store_sentinel("S2"), "zh"])
        del rows[1]
        more = upload(alpha, ImportKind.STAFF, csv_bytes(rows), user="trainer")
        assert (more.created_count, more.updated_count) == (0, 1)
        from repairqc.billing import services as billing

        def refuse(adding_stores, adding_staff):
            raise billing.PlanLimitReached("Your plan allows 10 staff accounts.")

        monkeypatch.setattr(billing, "check_limits", refuse)
        limited = upload(
            alpha, ImportKind.STAFF, csv_bytes([header, ["y@imp.example.com", "Y", "auditor", "", ""]])
        )
        assert (
            services.read_report(limited)["problems"][0]["message"] == "Your plan allows 10 staff accounts."
        )


def test_a_store_manager_imports_into_their_store_only(app, alpha):
    data = csv_bytes([CUSTOMER_HEADER, *customers(1)])
    with in_tenant(app, alpha):
        assert upload(alpha, ImportKind.CUSTOMERS, data, user="manager").problem_count == 0
        with pytest.raises(Conflict):
            upload(alpha, ImportKind.CUSTOMERS, data, user="manager", store_name="S2")
        grants = Grants.of(staff(alpha, "manager"))
        assert importable_kinds(grants) == [
            ImportKind.CUSTOMERS,
            ImportKind.DEVICES,
            ImportKind.EQUIPMENT,
        ]
        assert importable_kinds(Grants.of(staff(alpha, "tech"))) == []
        assert importable_kinds(Grants.of(staff(alpha, "trainer"))) == [ImportKind.STAFF]


def test_unconfirmed_imports_expire_with_their_files(app, alpha, beta):
    from repairqc.imports.tasks import expire_import_previews

    with in_tenant(app, alpha):
        run_id = upload(alpha, ImportKind.CUSTOMERS, csv_bytes([CUSTOMER_HEADER, *customers(1)])).id
    with in_tenant(app, beta):
        beta_id = upload(beta, ImportKind.CUSTOMERS, csv_bytes([CUSTOMER_HEADER, *customers(1)])).id
    later = (utcnow() + timedelta(hours=49)).isoformat()
    with in_tenant(app, alpha):
        with unit_of_work():
            assert expire_import_previews(date.today().isoformat(), later) == 1
        run = db.session.get(ImportRun, run_id)
        assert run.status is ImportStatus.CANCELLED and run.content is None
        assert json.loads(run.report)["preview"] == []  # nor the first rows of names and phones
    with in_tenant(app, beta):
        assert (
            db.session.get(ImportRun, beta_id).status is ImportStatus.PREVIEWED
        )  # the other tenant's untouched


def test_a_workbook_declaring_xml_entities_is_refused_not_expanded(app):
    # defusedxml (a dependency so openpyxl uses it) refuses any entity declaration, the start
    # of a "billion laughs" that would expand a few bytes into gigabytes in memory.
    entities = '<!DOCTYPE worksheet [<!ENTITY a "laugh"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    declared = []

    def declare(name: str, body: bytes) -> bytes:
        if not name.endswith("sheet1.xml"):
            return body
        text = body.decode()
        declared.append("Imported 0" in text)  # openpyxl writes the strings inline
        return text.replace("<worksheet", entities + "<worksheet", 1).replace("Imported 0", "&b;", 1).encode()

    laughing = _rezipped(xlsx_bytes([CUSTOMER_HEADER, *customers(2)]), declare)
    assert declared == [True]
    with app.test_request_context(), pytest.raises(reading.ImportRefused, match="not a readable XLSX"):
        reading.read_table(laughing, "file.xlsx")
