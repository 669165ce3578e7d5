"""Standards (HB ch.5): defaults, versioning rules, overrides with provenance, import/export."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
import yaml

from repairqc.db import db
from repairqc.errors import Conflict, DomainError
from repairqc.standards import services
from repairqc.standards.models import ServiceTargetOverride, StandardStatus, StandardVersion
from repairqc.stores.models import Store
from tests.conftest import in_tenant

TODAY = date.today()


def store(code_suffix: str, tenant) -> Store:
    return db.session.execute(
        sa.select(Store).where(Store.code == f"{tenant.sentinel}-{code_suffix}")
    ).scalar_one()


def test_a_new_tenant_starts_with_the_handbook_as_version_1(app, alpha):
    with in_tenant(app, alpha):
        v1 = services.version_on(TODAY)
        assert (v1.number, v1.status) == (1, StandardStatus.PUBLISHED)
        effective = services.effective_for_store(store("S1", alpha), TODAY)
        assert effective.version_id == v1.id
        assert effective.target("complaint_first_contact_hours") == 24  # HB §9.3.3
        assert effective.document.training_policy.evaluation_offsets_months == [0, 3, 6, 12]  # HB §3.2.2
        assert {c.category for c in effective.document.qc_checklists} == {
            "smartphone",
            "laptop",
            "tablet",
            "other",
        }
        areas = {s.area for s in effective.document.inspection_template.sections}
        assert areas == {"process", "equipment", "skills", "service"}  # HB §8.1.4
        names = effective.document.device_categories[0].name
        assert names.en == "Smartphone" and names.zh == "智能手机"


def test_publishing_tomorrow_keeps_today_on_the_old_version(app, alpha):
    with in_tenant(app, alpha):
        draft = services.start_draft()
        document = copy.deepcopy(draft.document)
        document["service_targets"]["follow_up_days"] = 5
        services.save_draft(draft, document, notes="Follow up later")
        services.publish(draft, TODAY + timedelta(days=1), today=TODAY, publisher_id=None)
        db.session.flush()
        assert services.version_on(TODAY).number == 1
        assert services.version_on(TODAY + timedelta(days=1)).number == 2
        tomorrow = services.effective_for_store(store("S1", alpha), TODAY + timedelta(days=1))
        assert tomorrow.target("follow_up_days") == 5
        v1 = db.session.execute(sa.select(StandardVersion).where(StandardVersion.number == 1)).scalar_one()
        assert v1.status is StandardStatus.SUPERSEDED
        changes = services.compare(v1, draft)
        assert [(c.path, c.before, c.after) for c in changes] == [("service_targets.follow_up_days", 3, 5)]
        db.session.rollback()


def test_published_versions_are_immutable(app, alpha):
    with in_tenant(app, alpha):
        v1 = services.version_on(TODAY)
        with pytest.raises(Conflict):
            services.save_draft(v1, v1.document)
        v1.notes = "rewriting history"
        with pytest.raises(DomainError, match="cannot change"):
            db.session.flush()
        db.session.rollback()
        db.session.delete(services.version_on(TODAY))
        with pytest.raises(DomainError, match="cannot be deleted"):
            db.session.flush()
        db.session.rollback()


def test_one_draft_at_a_time_and_no_effective_date_in_the_past(app, alpha):
    with in_tenant(app, alpha):
        draft = services.start_draft()
        with pytest.raises(Conflict, match="draft already exists"):
            services.start_draft()
        with pytest.raises(DomainError, match="in the past") as error:
            services.publish(draft, TODAY - timedelta(days=1), today=TODAY, publisher_id=None)
        assert error.value.field == "effective_from"
        assert draft.status is StandardStatus.DRAFT
        db.session.rollback()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["inspection_template"]["sections"][0]["items"][0].update(weight=50),
            "inspection_template: The item weights add up to 140, not 100.",
        ),
        (
            lambda d: d["training_policy"].update(theory_pass_mark=120),
            "training_policy.theory_pass_mark: must be at most 100",
        ),
        (
            lambda d: d["qc_checklists"][0]["items"][3].update(min=9),
            "qc_checklists.0.items.3: The lower limit is above the upper limit.",
        ),
        (
            lambda d: d["training_policy"]["monthly"]["weights"].update(safety=30),
            "training_policy.monthly: The KPI weights add up to 120, not 100.",
        ),
        (
            lambda d: d["service_targets"]["turnaround_days"].update(drone=3),
            "Unknown device category: drone.",
        ),
        (
            lambda d: d["service_targets"].update(follow_up_days="soon"),
            "service_targets.follow_up_days: must be a whole number",
        ),
    ],
)
def test_invalid_drafts_name_the_field_and_save_nothing(app, alpha, mutate, message):
    with in_tenant(app, alpha):
        draft = services.start_draft()
        before = copy.deepcopy(draft.document)
        bad = copy.deepcopy(draft.document)
        mutate(bad)
        with pytest.raises(services.InvalidStandard) as error:
            services.save_draft(draft, bad)
        assert any(message in problem for problem in error.value.problems), error.value.problems
        assert draft.document == before
        db.session.rollback()


def test_validation_messages_are_translated(app, alpha):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}), in_tenant(app, alpha):
        draft = services.start_draft()
        bad = copy.deepcopy(draft.document)
        bad["training_policy"]["theory_pass_mark"] = 120
        with pytest.raises(services.InvalidStandard) as error:
            services.save_draft(draft, bad)
        assert "training_policy.theory_pass_mark" in error.value.problems[0]
        assert "不能大于" in error.value.problems[0] or "最多" in error.value.problems[0]
        db.session.rollback()


def test_overrides_store_beats_chain_beats_standard_and_say_where_from(app, alpha):
    with in_tenant(app, alpha):
        s1, s2 = store("S1", alpha), store("S2", alpha)
        chain_rule = ServiceTargetOverride(chain_id=s1.chain_id, target="quote_validity_days", value=12)
        store_rule = ServiceTargetOverride(
            store_id=s1.id, target="quote_validity_days", value=6, reason="flagship"
        )
        db.session.add_all([chain_rule, store_rule])
        db.session.flush()
        at_s1 = services.effective_for_store(s1, TODAY).targets["quote_validity_days"]
        at_s2 = services.effective_for_store(s2, TODAY).targets["quote_validity_days"]
        standard = services.effective_for_store(s1, TODAY).targets["follow_up_days"]
        assert (at_s1.value, at_s1.source, at_s1.source_label) == (6, "store", s1.code)
        assert (at_s2.value, at_s2.source) == (12, "chain")
        assert (standard.value, standard.source, standard.source_label) == (3, "standard", "v1")
        db.session.rollback()


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_import_round_trip(app, alpha, beta, fmt):
    with in_tenant(app, alpha):
        draft = services.start_draft()
        document = copy.deepcopy(draft.document)
        document["service_targets"]["quote_validity_days"] = 10
        services.save_draft(draft, document)
        exported = services.export_version(draft, fmt)
        db.session.rollback()
    with in_tenant(app, beta):  # a provider moves its standards to another tenant
        imported = services.import_document(exported, fmt)
        assert imported.status is StandardStatus.DRAFT
        assert imported.document["service_targets"]["quote_validity_days"] == 10
        db.session.rollback()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not yaml: [", "not valid YAML"),
        ("- just\n- a list\n", "not a RepairQC standards file"),
        (yaml.safe_dump({"repairqc_standard": 1, "document": {"device_categories": []}}), "is required"),
    ],
)
def test_bad_imports_are_refused_whole(app, alpha, text, message):
    with in_tenant(app, alpha):
        with pytest.raises(DomainError, match=message):
            services.import_document(text, "yaml")
        assert services.current_draft() is None
        db.session.rollback()


def test_bad_override_is_refused_with_a_message(app, alpha):
    with in_tenant(app, alpha):
        s1 = store("S1", alpha)
        for override, message in [
            (
                ServiceTargetOverride(store_id=s1.id, target="turnaround_days", value=1),
                "cannot be overridden",
            ),
            (
                ServiceTargetOverride(
                    store_id=s1.id, chain_id=s1.chain_id, target="diagnosis_hours", value=1
                ),
                "either a chain or a store",
            ),
            (
                ServiceTargetOverride(store_id=s1.id, target="satisfaction_target_pct", value=120),
                "out of range",
            ),
        ]:
            with pytest.raises(DomainError, match=message):
                override.validate()


def test_export_is_readable_json(app, alpha):
    with in_tenant(app, alpha):
        data = json.loads(services.export_version(services.version_on(TODAY), "json"))
        assert data["repairqc_standard"] == 1 and data["version"] == 1


def test_a_store_cannot_override_the_same_target_twice(app, alpha):
    with in_tenant(app, alpha):
        s1 = store("S1", alpha)  # the seed already overrides diagnosis_hours at S1
        db.session.add(ServiceTargetOverride(store_id=s1.id, target="diagnosis_hours", value=1))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_the_document_cache_never_serves_a_rolled_back_publication(app, alpha):
    # On SQLite a rolled-back version's id goes to the next one; the cache must tell them apart.
    def publish_follow_up(days: int) -> tuple[int, float]:
        draft = services.start_draft()
        document = copy.deepcopy(draft.document)
        document["service_targets"]["follow_up_days"] = days
        services.save_draft(draft, document)
        services.publish(draft, TODAY, today=TODAY, publisher_id=None)
        store = db.session.execute(sa.select(Store)).scalars().first()
        return draft.id, services.effective_for_store(store, TODAY).target("follow_up_days")

    with in_tenant(app, alpha):
        savepoint = db.session.begin_nested()
        first_id, first = publish_follow_up(9)
        savepoint.rollback()
        second_id, second = publish_follow_up(4)
    assert (first, second) == (9, 4)
    assert second_id == first_id or app.config["DATABASE_URL"].startswith("postgresql")
