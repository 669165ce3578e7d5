"""Version 1 of every tenant's standards, built from the handbook's own numbers and checkpoints.

Each number cites the clause it comes from; each text is in both product languages. Providers
adapt all of it in later versions.
"""

from __future__ import annotations

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
                        {"code": c, "text": t(i_en, i_zh), "weight": w, "critical": crit}
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
        "equipment_policy": [  # HB ch.4, §5.1.3(2)
            {
                "equipment_type": "soldering-station",
                "name": t("Soldering station", "焊台"),
                "maintenance_interval_days": 1,
                "calibration_interval_days": 180,
            },
            {
                "equipment_type": "multimeter",
                "name": t("Multimeter", "万用表"),
                "maintenance_interval_days": 30,
                "calibration_interval_days": 365,
            },
            {
                "equipment_type": "power-supply",
                "name": t("Bench power supply", "直流电源"),
                "maintenance_interval_days": 30,
                "calibration_interval_days": 365,
            },
            {
                "equipment_type": "esd-mat",
                "name": t("ESD mat and wrist strap", "防静电台垫和腕带"),
                "maintenance_interval_days": 7,
                "calibration_interval_days": 90,
            },
            {
                "equipment_type": "screen-press",
                "name": t("Screen laminating press", "屏幕压合机"),
                "maintenance_interval_days": 7,
            },
        ],
    }
