"""Sentinel rows of the access and confidentiality domain (HB §7.3) for the two session tenants
(tests/conftest.seed_tenant): an access-log entry, a confidentiality agreement and a reminder per
store's manager, and a finished key-rotation checkpoint; beta's extra rows give it ids alpha lacks.
None of these tables has a store column: the probes of tests/test_isolation.py compare tenants.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.crypto_rotation import KeyRotationProgress
from repairqc.db import db, utcnow
from repairqc.privacy.models import AccessKind, ConfidentialityAgreement, ConfidentialityReminder, DataAccess


def seed(s: str, users: dict[str, str], extra_rows: int) -> None:
    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    owner = person("owner")
    for n in range(1 + extra_rows):
        for key in ("manager", "manager2"):
            staff = person(key)
            db.session.add_all(
                [
                    DataAccess(
                        staff_user_id=owner.id,
                        staff_name=owner.full_name,
                        kind=AccessKind.VIEW,
                        subject="customer",
                        record_id=str(n + 1),
                        detail=f"Seeded {s}-{key}-{n}",
                    ),
                    ConfidentialityAgreement(
                        staff_user_id=staff.id,
                        signed_on=date.today() - timedelta(days=30 + n),
                        title=f"Agreement {s}-{key}-{n}",
                        recorded_by_id=owner.id,
                    ),
                    ConfidentialityReminder(
                        staff_user_id=staff.id, sent_at=utcnow() - timedelta(days=40 + n)
                    ),
                ]
            )
        db.session.add(
            KeyRotationProgress(
                table_name=f"{s} seeded {n}", key_fingerprint="00000000", finished_at=utcnow()
            )
        )
    db.session.flush()
