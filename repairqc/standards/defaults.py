"""Version 1 of every tenant's standards, built from the handbook's own numbers and checkpoints.

Each number cites the clause it comes from; each text is in both product languages. Providers
adapt all of it in later versions.
"""

from __future__ import annotations

import copy
from typing import Any


def t(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh": zh}


def item(code: str, en: str, zh: str, kind: str = "pass_fail", critical: bool = False, **limits: Any) -> dict:
    return {"code": code, "text": t(en, zh), "kind": kind, "critical": critical, **limits}


COMMON_CHECKS = [
    item("fault-gone", "The reported fault is gone", "客户报修的故障已排除", critical=True),
    item(
        "no-new-damage",
        "No new scratches, dents or cracks (compare with intake)",
        "无新增划痕、磕碰或裂纹（对照收机记录）",
        critical=True,
    ),
    item("screws-seals", "All screws, seals and covers in place", "螺丝、密封件和外盖齐全"),
    item("photo-after", "Photo of the device after repair", "维修后设备照片", kind="photo"),
    item("data-intact", "Customer data and settings intact", "客户数据和设置完好", critical=True),
]

CHECKLISTS = {
    "smartphone": [
        item("touch", "Touch responds over the whole screen", "全屏触控正常", critical=True),
        item("cameras", "Front and rear cameras focus and record", "前后摄像头对焦和录像正常"),
        item("audio", "Earpiece, speaker and microphone work in a call", "通话时听筒、扬声器和麦克风正常"),
        item("charging", "Charging current", "充电电流", kind="measured", unit="A", min=0.5, max=3.0),
        item("network", "SIM detected, calls and mobile data work", "识别SIM卡，通话和移动数据正常"),
        item("battery-health", "Battery health", "电池健康度", kind="measured", unit="%", min=80),
    ],
    "laptop": [
        item("boots", "Boots to the operating system", "能正常启动进入操作系统", critical=True),
        item("keyboard", "Every key and the touchpad respond", "所有按键和触控板响应正常"),
        item(
            "charging",
            "Charging voltage at the port",
            "充电口电压",
            kind="measured",
            unit="V",
            min=19.0,
            max=20.5,
        ),
        item(
            "thermal",
            "CPU temperature after 10 minutes of load",
            "满载10分钟后CPU温度",
            kind="measured",
            unit="°C",
            max=90,
        ),
        item("ports", "USB, display and audio ports work", "USB、视频和音频接口正常"),
    ],
    "tablet": [
        item("touch", "Touch and pen respond over the whole screen", "全屏触控和手写笔正常", critical=True),
        item("charging", "Charging current", "充电电流", kind="measured", unit="A", min=0.5, max=3.0),
        item("speakers", "Speakers and microphones work", "扬声器和麦克风正常"),
        item("wifi", "Wi-Fi connects and holds for 5 minutes", "Wi-Fi可连接并保持5分钟"),
    ],
    "other": [
        item(
            "function", "The device does what the customer uses it for", "设备的主要功能正常", critical=True
        ),
        item("note", "Technician's note", "技术员备注", kind="note"),
    ],
}

INSPECTION_SECTIONS = [
    (
        "process",
        "Repair process follows the workmanship standards",
        "维修流程符合工艺标准",
        [
            (
                "intake-records",
                "Intake records complete: symptoms, condition, accessories",
                "收机记录完整：故障现象、外观、配件",
                10,
                False,
            ),
            (
                "quote-approval",
                "Quotes itemised and approved before repair",
                "报价明细化并在维修前获客户确认",
                10,
                True,
            ),
            (
                "qc-every-repair",
                "A QC check signed by a second person for every repair",
                "每单维修均有他人签署的质检",
                15,
                True,
            ),
        ],
    ),
    (
        "equipment",
        "Equipment, tools and instruments work",
        "设备、工具和仪器运行正常",
        [
            (
                "calibration-current",
                "Measuring instruments calibrated and in date",
                "测量仪器已校准且在有效期内",
                15,
                True,
            ),
            ("maintenance-log", "Daily maintenance logged", "日常维护有记录", 10, False),
        ],
    ),
    (
        "skills",
        "Staff have the required skills",
        "人员具备相应技能",
        [
            (
                "certificates",
                "Technicians hold valid certificates for the categories they repair",
                "技术员持有所修品类的有效证书",
                15,
                True,
            ),
            ("training-records", "Training and assessments up to date", "培训和考核记录及时", 5, False),
        ],
    ),
    (
        "service",
        "Service quality meets customer requirements",
        "服务质量满足客户要求",
        [
            ("follow-ups", "Follow-ups made on time after delivery", "交付后按时回访", 10, False),
            (
                "complaints-24h",
                "Complaints contacted within the first-contact target",
                "投诉在规定时限内联系客户",
                10,
                True,
            ),
        ],
    ),
]

#: Items judged on a scale (how well) rather than pass/fail (whether at all).
SCORED_INSPECTION_ITEMS = {"intake-records", "maintenance-log", "training-records", "follow-ups"}

#: Sample work instructions (HB §5.1.3(4), §5.2.1(1)); Markdown, in both languages.
INTAKE_EN = """\
Applies to every device received at the counter (HB §2.1.2(1)).

1. **Greet and identify** the customer; find or create their customer record.
2. **Record the fault in their words**: what happens, since when, after what (drop, liquid,
   update), and whether it is intermittent.
3. **Inspect the device with the customer** before taking it:
   - scratches, dents, cracks and missing screws, each with a photo;
   - signs of liquid or earlier repairs;
   - whether it powers on.
4. **List the accessories** handed over (case, SIM card, memory card, charger, pen).
5. **Ask about data**: remind the customer to back up; note a passcode only if the repair
   needs it (it is stored encrypted and never printed).
6. **Agree on the next step**: diagnosis within the diagnosis target, how the customer wants to
   be contacted, and that no repair starts before they approve the quote.
7. Print or send the **intake receipt**; both sign it.

> Anything not written down at intake cannot be shown later to have been there before.
"""
INTAKE_ZH = """\
适用于前台接收的每一台设备（手册 §2.1.2(1)）。

1. **接待并确认客户身份**，查找或新建客户档案。
2. **按客户原话记录故障**：现象、开始时间、诱因（摔落、进液、系统更新），是否间歇出现。
3. **当着客户的面检查设备**后再收机：
   - 划痕、磕碰、裂纹和缺失的螺丝，逐项拍照；
   - 进液或曾被维修的痕迹；
   - 能否开机。
4. **登记随机配件**（保护壳、SIM卡、存储卡、充电器、手写笔）。
5. **询问数据情况**：提醒客户备份；仅在维修需要时记录开机密码（加密保存，绝不打印）。
6. **约定下一步**：在诊断时限内完成诊断、客户希望的联系方式，报价经客户确认前不开始维修。
7. 打印或发送**收机单**，双方签字。

> 收机时没有记录的情况，事后无法证明收机前就已存在。
"""
QC_EN = """\
Every repaired device is checked before it goes back to the customer (HB §5.1.3(5), §5.2.2(1)).

1. The check is done by **a second person**, not the technician who did the repair.
2. Open the **QC checklist of the device's category** for this standard version and work
   through every item; measured items need the value, not just a tick.
3. Compare the device with the **intake photos and notes**: no new scratches, dents or cracks.
4. Confirm the **reported fault is gone** by reproducing the customer's own scenario.
5. A failed **critical** item sends the device back to repair; record the reason.
6. Take the **after-repair photo** and sign the check.

| Result | Next step |
|---|---|
| All items passed | Ready for pick-up; tell the customer |
| A non-critical item failed | Fix it, or note it and tell the customer before delivery |
| A critical item failed | Back to repair; counts as rework |
"""
QC_ZH = """\
每台维修完成的设备在交还客户前都要检验（手册 §5.1.3(5)、§5.2.2(1)）。

1. 检验由**第二人**完成，不由本单维修技术员自检。
2. 打开本版本标准中**该设备品类的质检清单**，逐项检查；测量项需填写实测值，不能只打勾。
3. 对照**收机照片和记录**：无新增划痕、磕碰或裂纹。
4. 按客户描述的使用场景复现，确认**报修故障已排除**。
5. **关键项**不合格时退回维修，并记录原因。
6. 拍摄**维修后照片**并签署检验记录。

| 结果 | 下一步 |
|---|---|
| 全部合格 | 可取机，通知客户 |
| 非关键项不合格 | 修复，或记录并在交付前告知客户 |
| 关键项不合格 | 退回维修，计为返修 |
"""
DELIVERY_EN = """\
The customer checks the result and confirms the fault is gone (HB §2.1.2(5)).

1. Show the customer the repaired device **working**, in the scenario they reported.
2. Go through the **invoice** line by line against the approved quote; explain any difference
   the customer approved during the repair.
3. Hand back **every accessory** listed at intake, and any replaced parts the customer asked to
   keep.
4. Explain the **warranty**: what it covers, for how long, and how to reach us.
5. The customer **signs the acceptance**; an objection is recorded as a complaint, not argued.
6. Tell the customer we will **call to follow up** after the follow-up period.
"""
DELIVERY_ZH = """\
客户验收维修结果并确认故障已解决（手册 §2.1.2(5)）。

1. 按客户报修时的使用场景，向客户演示设备**工作正常**。
2. 对照已确认的报价逐项说明**账单**；维修中经客户同意的变更要解释清楚。
3. 交还收机时登记的**全部配件**，以及客户要求保留的旧件。
4. 说明**保修**：范围、期限和联系方式。
5. 客户**签字验收**；有异议时记录为投诉，不与客户争执。
6. 告知客户我们将在回访期后**电话回访**。
"""


def _sop(code: str, category: str, step: str, title: dict, en: str, zh: str) -> dict[str, Any]:
    return {"code": code, "category": category, "step": step, "title": title,
            "body": {"en": en, "zh": zh}, "attachments": []}  # fmt: skip


SOPS = [
    _sop("intake", "all", "intake", t("Receiving a device", "接待与收机"), INTAKE_EN, INTAKE_ZH),
    _sop("post-repair-qc", "all", "qc", t("Quality check after repair", "维修后质量检验"), QC_EN, QC_ZH),
    _sop(
        "delivery",
        "all",
        "delivery",
        t("Delivery and customer acceptance", "交付与客户验收"),
        DELIVERY_EN,
        DELIVERY_ZH,
    ),
]


def _kpis(**weights: float) -> dict:
    return {"weights": weights}


def handbook_document() -> dict[str, Any]:
    """The document of version 1 (validated by `StandardDocument` when installed)."""
    return {
        "device_categories": [
            {"code": "smartphone", "name": t("Smartphone", "智能手机")},
            {"code": "laptop", "name": t("Laptop", "笔记本电脑")},
            {"code": "tablet", "name": t("Tablet", "平板电脑")},
            {"code": "other", "name": t("Other", "其他")},
        ],
        "service_targets": {
            "complaint_first_contact_hours": 24,  # HB §9.3.3
            "diagnosis_hours": 24,
            "turnaround_days": {"smartphone": 2, "laptop": 5, "tablet": 3, "other": 7},
            "quote_validity_days": 7,
            "warranty": [
                {"category": category, "repair_type": repair_type, "days": days}
                for category in ("smartphone", "laptop", "tablet", "other")
                for repair_type, days in (("parts-replacement", 90), ("board-repair", 60), ("software", 30))
            ],
            "follow_up_days": 3,  # HB §6.2.2(2)
            "further_follow_up_days": [30],
            "survey_delay_hours": 24,  # HB §6.3.1
            "survey_link_valid_days": 30,
            "survey_low_score": 2,  # ≤ 2 of 5 on any dimension opens a complaint (HB §9.3)
            "complaint_warning_hours": 4,  # HB §9.3.3
            "satisfaction_target_pct": 100,  # HB §1.1.2
            "first_time_fix_target_pct": 95,
            "max_rework_rate_pct": 3,
            "corrective_action_due_days": 14,  # HB §8.3.2
        },
        "qc_checklists": [
            {"category": category, "items": [*specific, *COMMON_CHECKS]}
            for category, specific in CHECKLISTS.items()
        ],
        "inspection_template": {  # HB §8.1.4
            "pass_mark": 80,
            "sections": [
                {
                    "code": code,
                    "area": code,
                    "title": t(en, zh),
                    "items": [
                        {
                            "code": c,
                            "text": t(i_en, i_zh),
                            "weight": w,
                            "critical": crit,
                            "kind": "score" if c in SCORED_INSPECTION_ITEMS else "pass_fail",
                        }
                        for c, i_en, i_zh, w, crit in items
                    ],
                }
                for code, en, zh, items in INSPECTION_SECTIONS
            ],
        },
        "training_policy": {  # HB §3.1.4, §3.2.2, §3.3
            "new_hire_training_days": 14,
            "in_service_sessions_per_year": 2,
            "in_service_session_days": 7,
            "evaluation_offsets_months": [0, 3, 6, 12],
            "theory_pass_mark": 60,
            "practical_pass_mark": 60,
            "max_exam_attempts": 2,
            "exam_time_limit_minutes": 30,
            "assessment_pass_mark": 60,
            "monthly": _kpis(
                repair_speed=25, repair_quality=30, diagnosis_accuracy=20, customer_satisfaction=15, safety=10
            ),
            "quarterly": _kpis(
                repair_quality=25,
                diagnosis_accuracy=15,
                customer_satisfaction=20,
                communication=15,
                teamwork=15,
                safety=10,
            ),
            "annual": _kpis(
                repair_speed=15,
                repair_quality=20,
                diagnosis_accuracy=15,
                customer_satisfaction=20,
                communication=10,
                teamwork=10,
                safety=10,
            ),
        },
        "supervision": {  # HB §8.3.2-§8.3.3
            "effectiveness_check_days": 30,
            "escalation_repeat_days": 7,
            "league_tables": False,
            "monthly_report": True,
        },
        "equipment_policy": [  # HB ch.4, §5.1.3(2)
            {
                "equipment_type": "soldering-station",
                "name": t("Soldering station", "焊台"),
                "maintenance_interval_days": 1,
                "calibration_interval_days": 180,
                "full_inspection_interval_days": 90,
            },
            {
                "equipment_type": "multimeter",
                "name": t("Multimeter", "万用表"),
                "maintenance_interval_days": 30,
                "calibration_interval_days": 365,
                "full_inspection_interval_days": 180,
            },
            {
                "equipment_type": "power-supply",
                "name": t("Bench power supply", "直流电源"),
                "maintenance_interval_days": 30,
                "calibration_interval_days": 365,
                "full_inspection_interval_days": 180,
            },
            {
                "equipment_type": "esd-mat",
                "name": t("ESD mat and wrist strap", "防静电台垫和腕带"),
                "maintenance_interval_days": 7,
                "calibration_interval_days": 90,
                "full_inspection_interval_days": 90,
            },
            {
                "equipment_type": "screen-press",
                "name": t("Screen laminating press", "屏幕压合机"),
                "maintenance_interval_days": 7,
                "full_inspection_interval_days": 90,
            },
        ],
        "sops": copy.deepcopy(SOPS),  # HB §5.1.3(4); a copy, so callers may change theirs
    }
