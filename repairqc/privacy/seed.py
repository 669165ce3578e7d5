"""The confidentiality programme and the quarterly confidentiality check every tenant has (HB §7.3.2:
"(2) confidentiality training: train staff regularly; (3) confidentiality checks: check
regularly that the measures are applied").

`ensure_confidentiality_catalogue` is idempotent. It runs when a tenant is provisioned (the
provisioning hook in `tenants.services.create_tenant`'s first rows) and at the start of every
daily "confidentiality-reminders" run, which is how tenants provisioned before this feature,
and tenants that had no store yet when provisioned, get them: no data migration to keep in step
with the models of two other domains.

The training and inspection plan models keep one text per record, not one per language, so the
names, topics and notes are written in both languages of the product (English, then Simplified
Chinese). The check's items are a real checklist with a text per language
(`privacy.checklist`), chosen by the plan's `checklist`.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from repairqc.db import db
from repairqc.inspections.models import InspectionChecklist, InspectionKind, InspectionPlan, Recurrence
from repairqc.stores.models import Store
from repairqc.training.models import ProgrammeKind, TrainingProgramme

PROGRAMME_NAME = "Confidentiality and data protection · 保密与数据保护"
PROGRAMME_DAYS = 1
#: HB §7.3 as training topics, one per line (the programme's "Topics").
PROGRAMME_TOPICS = (
    (
        "The confidentiality agreement: what each of us has signed and what it covers (HB §7.3.2 (1))",
        "保密协议：每位员工签署的内容与保密责任（§7.3.2(1)）",
    ),
    (
        "Customers' personal data: collect only what the repair needs, show it only to those who need it",
        "客户个人信息：只收集维修所需的信息，只向需要的人员展示",
    ),
    (
        "Customers' devices: never open photos, messages or files; "
        "passcodes only for the repair, never written down",
        "客户设备：不查看照片、消息或文件；密码只用于维修，不得记录",
    ),
    (
        "Access control: your own account only, never share passwords, "
        "lock the screen when you leave it (HB §7.3.1)",
        "访问控制：只用本人账号，不共享密码，离开时锁定屏幕（§7.3.1）",
    ),
    (
        "Paper and screens: no customer data left on desks, printers or the counter",
        "纸张与屏幕：客户资料不得留在桌面、打印机或柜台",
    ),
    (
        "Exports and backups: only when needed, kept encrypted, every access is logged and reviewed",
        "导出与备份：仅在需要时进行，加密保存，每次访问均有记录并定期审查",
    ),
    (
        "What to do on a suspected data leak: stop, report to the owner at once, follow the emergency plan",
        "怀疑数据泄露时：立即停止，马上报告负责人，按应急预案处理",
    ),
)

PLAN_NAME = "Confidentiality check · 保密检查"
#: The check's items are its checklist (`privacy.checklist`), copied when an inspection starts.
PLAN_NOTES = (
    "HB §7.3.2 (3): the store's manager checks that the confidentiality measures are applied. "
    "· 手册 §7.3.2(3)：由门店经理检查保密措施的落实情况。"
)


def programme_topics() -> str:
    return "\n".join(f"{en} — {zh}" for en, zh in PROGRAMME_TOPICS)


def ensure_confidentiality_catalogue(today: date) -> tuple[TrainingProgramme, InspectionPlan | None]:
    """The confidentiality programme, and the quarterly check plan once the tenant has a store."""
    return ensure_programme(), ensure_check_plan(today)


def ensure_programme() -> TrainingProgramme:
    programme = db.session.scalars(
        sa.select(TrainingProgramme).where(TrainingProgramme.name == PROGRAMME_NAME).limit(1)
    ).first()
    if programme is not None:
        return programme  # kept as the trainers edited it, or retired it
    # `training.services.programme_for` takes the oldest active in-service programme as *the*
    # in-service course: make that one first, so this programme never stands in for it.
    from repairqc.training.services import programme_for

    programme_for(ProgrammeKind.IN_SERVICE, date.today())
    db.session.flush()
    programme = TrainingProgramme(
        kind=ProgrammeKind.IN_SERVICE, name=PROGRAMME_NAME, days=PROGRAMME_DAYS, topics=programme_topics()
    )
    db.session.add(programme)
    db.session.flush()
    return programme


def ensure_check_plan(today: date) -> InspectionPlan | None:
    """A quarterly internal audit of every active store (its manager conducts it) with the
    confidentiality checklist, from the start of the next quarter; None while the tenant has no
    store. Made once: afterwards QA
    changes it on the plan screen like any other plan."""
    plan = db.session.scalars(
        sa.select(InspectionPlan).where(InspectionPlan.name == PLAN_NAME).limit(1)
    ).first()
    if plan is not None:
        return plan
    stores = list(db.session.scalars(sa.select(Store).where(Store.is_active.is_(True)).order_by(Store.code)))
    if not stores:
        return None
    from repairqc.inspections.services import save_plan

    month = (today.month - 1) // 3 * 3 + 4  # the first month of the next quarter: 4, 7, 10 or 13
    next_quarter = date(today.year + (month > 12), (month - 1) % 12 + 1, 1)
    plan = InspectionPlan(
        name=PLAN_NAME,
        kind=InspectionKind.INTERNAL_AUDIT,
        recurrence=Recurrence.QUARTERLY,
        checklist=InspectionChecklist.CONFIDENTIALITY,
        starts_on=next_quarter,
        notes=PLAN_NOTES,
    )
    save_plan(plan, stores, today=today)
    return plan
