"""Sentinel rows of the imports domain for the two session tenants (tests/conftest.seed_tenant).

Each store gets finished import runs (cancelled, so no customer, device or item is added and the
other domains' lists stay as seeded) whose file names carry the store's sentinel, and the tenant
one staff run (no store) by its trainer, so the isolation probes (tests/test_isolation.py) find
import runs in both stores and both tenants; beta's extra rows give it run ids alpha lacks.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.imports.models import ImportKind, ImportRun, ImportStatus


def seed(s: str, store_ids: dict[str, int], users: dict[str, str], extra_rows: int) -> None:
    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    def run(kind: ImportKind, store_id: int | None, label: str, uploader: StaffUser) -> ImportRun:
        return ImportRun(
            kind=kind,
            status=ImportStatus.CANCELLED,
            store_id=store_id,
            filename=f"Import {label}.csv",
            sha256=hashlib.sha256(label.encode()).hexdigest(),
            size=len(label),
            encoding="utf-8-sig",
            row_count=1,
            uploaded_by_id=uploader.id,
            finished_at=utcnow(),
            finished_by_id=uploader.id,
        )

    for name, store_id in store_ids.items():
        uploader = person("manager" if name == "S1" else "manager2")
        for n in range(1 + extra_rows):
            db.session.add(run(ImportKind.CUSTOMERS, store_id, f"{s}-{name}-{n}", uploader))
    db.session.add(run(ImportKind.STAFF, None, f"staff {s}", person("trainer")))
    db.session.flush()
