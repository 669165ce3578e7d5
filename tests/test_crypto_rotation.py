"""Rotating the field-encryption and search keys in batches that resume (`flask crypto rotate`,
HB §7.3.1(2), issue #9)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from repairqc import crypto_rotation
from repairqc.crypto import EncryptedString, encryption_keys, lookup_hash, lookup_keys
from repairqc.crypto_rotation import (
    SEARCH_KEYS_PASS,
    KeyRotationProgress,
    RotationInterrupted,
    key_fingerprint,
    rotate_tenant,
)
from repairqc.db import TenantBase, db
from repairqc.repairs.models import Customer, Device
from repairqc.repairs.services import find_customers
from tests.conftest import in_tenant

CUSTOMERS = Customer.__table__


def encrypted_columns() -> dict[str, list[str]]:
    """Every encrypted column by table (read late: every model module is imported by then)."""
    found = {
        table.name: [c.name for c in table.columns if isinstance(c.type, EncryptedString)]
        for table in TenantBase.metadata.tables.values()
    }
    return {name: columns for name, columns in found.items() if columns}


@contextlib.contextmanager
def configured(app, encryption: str, lookup: str):
    saved = app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"]
    app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"] = encryption, lookup
    try:
        yield
    finally:
        app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"] = saved


@pytest.fixture
def old_keys(app):
    """The keys the session tenants were seeded under (derived from SECRET_KEY in tests)."""
    with app.app_context():
        return encryption_keys()[0].decode(), lookup_keys()[0].decode()


@pytest.fixture
def new_key():
    return Fernet.generate_key().decode()


def raw_tokens() -> dict[tuple[str, int, str], str]:
    """Every non-empty encrypted value of the current tenant, as stored."""
    tokens = {}
    for name, columns in encrypted_columns().items():
        table = TenantBase.metadata.tables[f"tenant.{name}"]
        select = sa.select(table.c.id, *(sa.type_coerce(table.c[c], sa.Text).label(c) for c in columns))
        for row in db.session.execute(select):
            tokens.update({(name, row.id, c): getattr(row, c) for c in columns if getattr(row, c)})
    return tokens


def add_customers(tenant, count: int, tag: str) -> list[int]:
    """Customers written with Core under the keys configured now (phone, e-mail, address)."""
    rows = [
        {
            "store_id": tenant.store_ids["S1"],
            "full_name": f"Rotation {tag} {n}",
            "phone": f"+86 139 {n:04d} {tag}",
            "email": f"r{n}.{tag}@example.com",
            "address": f"{n} Rotation Road",
            "phone_lookup": lookup_hash("phone", f"86139{n:04d}"),
            "email_lookup": lookup_hash("email", f"r{n}.{tag}@example.com"),
        }
        for n in range(count)
    ]
    db.session.execute(CUSTOMERS.insert(), rows)
    return list(
        db.session.execute(
            sa.select(CUSTOMERS.c.id).where(CUSTOMERS.c.full_name.like(f"Rotation {tag} %")).order_by("id")
        ).scalars()
    )


def checkpoints() -> dict[str, KeyRotationProgress]:
    """The checkpoints rotations wrote (the seeded SENTINEL rows left out)."""
    db.session.expire_all()
    written = sa.select(KeyRotationProgress).where(KeyRotationProgress.table_name.not_like("SENTINEL-%"))
    return {c.table_name: c for c in db.session.execute(written).scalars()}


def readable_with(key: str, token: str) -> str | None:
    try:
        return Fernet(key.encode()).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def test_every_value_moves_to_the_new_key_and_the_other_tenant_is_untouched(
    app, alpha, beta, old_keys, new_key
):
    old, old_lookup = old_keys
    with in_tenant(app, beta):
        beta_before = raw_tokens()
    with in_tenant(app, alpha):
        add_customers(alpha, 5, "A")
        device_id = db.session.execute(sa.select(Device.__table__.c.id).limit(1)).scalar_one()
        stamped = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
        db.session.execute(
            Device.__table__.update()
            .where(Device.__table__.c.id == device_id)
            .values(passcode="2468", updated_at=stamped)
        )
        before = raw_tokens()
        plain = {place: readable_with(old, token) for place, token in before.items()}
        assert all(value is not None for value in plain.values())
        assert {name for name, _, _ in before} >= {"customers", "devices"}

        with configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
            results = {r.name: r for r in rotate_tenant(batch_size=3)}
        assert list(results) == [*sorted(encrypted_columns()), SEARCH_KEYS_PASS]
        assert results["customers"].rows_rewritten == len({i for n, i, _ in before if n == "customers"})
        assert results[SEARCH_KEYS_PASS].rows_rewritten >= 5

        after = raw_tokens()
        assert after.keys() == before.keys()
        for place, token in after.items():
            assert token != before[place]
            assert readable_with(new_key, token) == plain[place]  # the new key alone reads it
            assert readable_with(old, token) is None
        # The content did not change, so neither does the record's "last changed".
        assert db.session.get(Device, device_id).updated_at == stamped

        with configured(app, new_key, "new-lookup"):  # the old keys removed
            db.session.expire_all()
            found = find_customers("+86 139 0003 A", None)
            assert [c.full_name for c in found] == ["Rotation A 3"]
            assert found[0].address == "3 Rotation Road"
            assert find_customers("R4.A@example.com", None)[0].full_name == "Rotation A 4"
        assert set(checkpoints()) == {*encrypted_columns(), SEARCH_KEYS_PASS}

    with in_tenant(app, beta):
        assert raw_tokens() == beta_before  # byte for byte
        assert checkpoints() == {}


def test_an_interrupted_rotation_keeps_its_batches_and_resumes_after_the_checkpoint(
    app, alpha, old_keys, new_key, monkeypatch
):
    old, old_lookup = old_keys
    real = crypto_rotation._rotate_batch
    seen: list[tuple[str, list[int]]] = []
    interrupt_at: int | None = None

    def spy(spec, rows):
        seen.append((spec.name, [row.id for row in rows]))
        if interrupt_at is not None and [n for n, _ in seen].count("customers") == interrupt_at:
            raise RuntimeError("power cut")
        return real(spec, rows)

    monkeypatch.setattr(crypto_rotation, "_rotate_batch", spy)
    with in_tenant(app, alpha):
        add_customers(alpha, 11, "I")  # under the old key
        db.session.commit()  # into the test's pinned transaction, rolled back after the test
    with in_tenant(app, alpha), configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
        customer_ids = list(db.session.execute(sa.select(CUSTOMERS.c.id).order_by("id")).scalars())
        assert len(customer_ids) > 12  # more than three batches of 4

        interrupt_at = 3
        with pytest.raises(RotationInterrupted) as stopped:
            rotate_tenant(batch_size=4)
        assert stopped.value.pass_name == "customers"
        assert [r.name for r in stopped.value.done] == sorted(encrypted_columns())[:2]  # the tables before it
        checkpoint = checkpoints()["customers"]
        assert checkpoint.last_id == customer_ids[7] and checkpoint.finished_at is None
        assert checkpoint.rows_rewritten == 8  # every customer row holds a value
        raw_phone = sa.type_coerce(CUSTOMERS.c.phone, sa.Text).label("phone")
        phones = {row.id: row.phone for row in db.session.execute(sa.select(CUSTOMERS.c.id, raw_phone))}
        for customer_id in customer_ids:
            under_new = readable_with(new_key, phones[customer_id]) is not None
            assert under_new == (customer_id <= checkpoint.last_id)  # batches 1-2 kept, 3 rolled back

        seen.clear()
        interrupt_at = None
        results = {r.name: r for r in rotate_tenant(batch_size=4)}
        walked = [i for name, ids in seen if name == "customers" for i in ids]
        assert walked == customer_ids[8:]  # continues after the checkpoint, nothing twice
        assert results["customers"].resumed_after == customer_ids[7]
        assert results["customers"].rows_rewritten == len(customer_ids) - 8
        assert results["customers"].rows_rewritten_total == len(customer_ids)
        for done in stopped.value.done:  # finished before the interruption: not walked again
            assert results[done.name].already_finished is not None
            assert done.name not in {name for name, _ in seen}
        assert all(readable_with(new_key, token) for token in raw_tokens().values())

        seen.clear()
        again = rotate_tenant(batch_size=4)
        assert seen == [] and all(r.already_finished and r.rows_rewritten == 0 for r in again)

        restarted = rotate_tenant(batch_size=4, restart=True)  # checks every row, rewrites none
        assert {name for name, _ in seen} >= {*(name for name, _, _ in raw_tokens()), SEARCH_KEYS_PASS}
        assert [r.rows_rewritten for r in restarted] == [0] * len(restarted)


def test_a_new_key_starts_over_and_going_back_to_an_earlier_key_is_not_taken_as_done(
    app, alpha, old_keys, new_key
):
    old, old_lookup = old_keys
    newer = Fernet.generate_key().decode()
    with in_tenant(app, alpha):
        with configured(app, f"{new_key},{old}", old_lookup):
            first = {r.name: r for r in rotate_tenant(batch_size=50)}
        assert first["customers"].rows_rewritten > 0
        assert first[SEARCH_KEYS_PASS].rows_rewritten == 0  # the lookup key did not change
        with configured(app, f"{newer},{new_key},{old}", old_lookup):
            second = {r.name: r for r in rotate_tenant(batch_size=50)}
            assert second["customers"].already_finished is None
            assert second["customers"].rows_rewritten == first["customers"].rows_rewritten
            assert second[SEARCH_KEYS_PASS].already_finished is not None
            stored = checkpoints()
            assert stored["customers"].key_fingerprint == key_fingerprint(newer.encode())
            pass_names = [*encrypted_columns(), SEARCH_KEYS_PASS]
            per_pass = sa.select(sa.func.count()).where(KeyRotationProgress.table_name.in_(pass_names))
            assert db.session.execute(per_pass).scalar() == len(stored)  # the earlier key's are gone
        with configured(app, f"{new_key},{newer},{old}", old_lookup):  # back to the earlier key
            third = {r.name: r for r in rotate_tenant(batch_size=50)}
            assert third["customers"].rows_rewritten == first["customers"].rows_rewritten
            assert all(readable_with(new_key, token) for token in raw_tokens().values())


def test_unreadable_values_are_left_as_they_are_and_reported(app, alpha, old_keys, new_key):
    old, old_lookup = old_keys
    stray = Fernet(Fernet.generate_key()).encrypt(b"+86 100 9999").decode()
    with in_tenant(app, alpha):
        (good_id,) = add_customers(alpha, 1, "U")
        lost_id = db.session.execute(
            CUSTOMERS.insert()
            .values(
                store_id=alpha.store_ids["S1"], full_name="Lost key", phone=sa.type_coerce(stray, sa.Text)
            )
            .returning(CUSTOMERS.c.id)
        ).scalar_one()
        with configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
            results = {r.name: r for r in rotate_tenant(batch_size=2)}
        assert results["customers"].rows_unreadable == 1 and results["customers"].unreadable_ids == [lost_id]
        assert results[SEARCH_KEYS_PASS].unreadable_ids == [lost_id]
        assert checkpoints()["customers"].rows_unreadable == 1
        tokens = raw_tokens()
        assert tokens[("customers", lost_id, "phone")] == stray  # untouched
        assert readable_with(new_key, tokens[("customers", good_id, "phone")]) == "+86 139 0000 U"
        with configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
            rerun = {r.name: r for r in rotate_tenant(batch_size=2)}
        assert rerun["customers"].rows_unreadable_total == 1  # still reported when already finished


def test_a_row_saved_during_its_batch_keeps_the_new_value(app, alpha, old_keys, new_key, monkeypatch):
    old, old_lookup = old_keys
    real = crypto_rotation._rotate_batch

    def someone_saves_first(spec, rows):
        if spec.name == "customers" and target in [row.id for row in rows]:
            # The front desk saves the customer after we read the batch, before we write it.
            db.session.execute(
                CUSTOMERS.update().where(CUSTOMERS.c.id == target).values(phone="+86 188 1234")
            )
        return real(spec, rows)

    monkeypatch.setattr(crypto_rotation, "_rotate_batch", someone_saves_first)
    with in_tenant(app, alpha):
        (target,) = add_customers(alpha, 1, "C")
        with configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
            results = {r.name: r for r in rotate_tenant(batch_size=4)}
            assert results["customers"].changed_meanwhile == 1
            db.session.expire_all()
            assert db.session.get(Customer, target).phone == "+86 188 1234"


def run(app, *args):
    return app.test_cli_runner().invoke(args=["crypto", "rotate", *args])


def test_the_command_shows_progress_fails_clearly_and_resumes(
    app, alpha, beta, old_keys, new_key, monkeypatch
):
    old, old_lookup = old_keys
    slug = alpha.ref.slug
    with in_tenant(app, beta):
        beta_before = raw_tokens()
    with in_tenant(app, alpha):
        add_customers(alpha, 6, "L")
        db.session.commit()
    real = crypto_rotation._rotate_batch
    calls = []

    def fail_in_second_customers_batch(spec, rows):
        calls.append(spec.name)
        if calls.count("customers") == 2:
            raise RuntimeError("disk full")
        return real(spec, rows)

    with configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
        monkeypatch.setattr(crypto_rotation, "_rotate_batch", fail_in_second_customers_batch)
        failed = run(app, slug, "--batch-size", "3")
        assert failed.exit_code == 1, failed.output
        assert "stopped in customers: RuntimeError('disk full')" in failed.output
        assert f"Run `flask crypto rotate {slug}` again to resume." in failed.output

        monkeypatch.setattr(crypto_rotation, "_rotate_batch", real)
        resumed = run(app, slug, "--batch-size", "3")
        assert resumed.exit_code == 0, resumed.output
        with in_tenant(app, alpha):
            total = db.session.execute(sa.select(sa.func.count()).select_from(CUSTOMERS)).scalar_one()
        assert f"  customers: 6/{total} rows" in resumed.output  # batches of 3 from the checkpoint on
        assert "customers: " in resumed.output and "resumed after id" in resumed.output
        assert f"{slug}: done" in resumed.output

        finished = run(app, slug)
        assert finished.exit_code == 0 and "customers: already finished under key" in finished.output
        assert f"{slug}: done, 0 rows rewritten" in finished.output

        def ctrl_c(spec, rows):
            raise KeyboardInterrupt

        monkeypatch.setattr(crypto_rotation, "_rotate_batch", ctrl_c)
        stopped = run(app, slug, "--restart")
        assert stopped.exit_code == 1 and "interrupted; finished batches are kept" in stopped.output

    assert run(app).exit_code == 2
    unknown = run(app, "no-such-tenant")
    assert unknown.exit_code == 2 and "nothing rotated" in unknown.output
    with in_tenant(app, beta):
        assert raw_tokens() == beta_before


def test_a_table_without_an_integer_primary_key_is_refused_before_any_batch(
    app, alpha, old_keys, new_key, monkeypatch
):
    """Batches walk the primary key and the checkpoint stores the last id: a text (or composite)
    key cannot be walked, so the rotation refuses before it rewrites anything anywhere."""
    old, old_lookup = old_keys
    odd = sa.Table(
        "odd_secrets",
        sa.MetaData(),
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("secret", EncryptedString()),
    )
    real = crypto_rotation.encrypted_tables
    monkeypatch.setattr(crypto_rotation, "encrypted_tables", lambda: [*real(), (odd, ("secret",))])
    with in_tenant(app, alpha):
        before = raw_tokens()
    with configured(app, f"{new_key},{old}", f"new-lookup,{old_lookup}"):
        with in_tenant(app, alpha), pytest.raises(crypto_rotation.RotationRefused, match="odd_secrets"):
            rotate_tenant(batch_size=5)
        refused = run(app, "--all")
        assert refused.exit_code == 1
        assert (
            "cannot rotate odd_secrets in batches" in refused.output
            and "nothing was rotated" in refused.output
        )
        assert "rotating" not in refused.output
    with in_tenant(app, alpha):
        assert raw_tokens() == before and checkpoints() == {}


def test_a_batch_size_below_one_or_a_malformed_key_is_refused(app, alpha, old_keys):
    old, old_lookup = old_keys
    slug = alpha.ref.slug
    for size in ("0", "-3", "many"):
        refused = run(app, slug, "--batch-size", size)
        assert refused.exit_code == 2 and "--batch-size" in refused.output, size
    with in_tenant(app, alpha):
        with pytest.raises(ValueError, match="at least 1"):
            rotate_tenant(batch_size=0)
        before = raw_tokens()
    with configured(app, f"not-a-key,{old}", old_lookup):
        bad_key = run(app, slug)
    assert bad_key.exit_code == 1 and "not a Fernet key" in bad_key.output
    with in_tenant(app, alpha):
        assert raw_tokens() == before and checkpoints() == {}
