"""The checklist of the quarterly confidentiality check (HB §7.3.2 (3): "check regularly that the
measures are applied").

An inspection whose checklist is "confidentiality" copies these items when it starts instead of
the standard's store inspection template (`inspections.services.start_inspection`); scoring,
review, findings and corrective actions then work as for any inspection. The template is a
`standards.schema.InspectionTemplate`, validated when this module loads (codes, both languages,
weights adding up to 100), so a mistake here fails at start-up and in the tests, not on site.

Critical items are the two a store cannot make good afterwards: staff working without a
signed agreement (HB §7.3.2 (1)) and customers' data looked at on their devices. Failing one
fails the check whatever the score and raises a finding at once, as failed critical items of a
store inspection do. Sections use the areas of HB §8.1.4, which become the findings' categories.
"""

from __future__ import annotations

from repairqc.standards.schema import InspectionTemplate

#: Higher than the store template's default: missing two minor points already fails the check.
PASS_MARK = 90

CONFIDENTIALITY_TEMPLATE = InspectionTemplate.model_validate({
    "pass_mark": PASS_MARK,
    "sections": [
        {
            "code": "conf-staff",
            "area": "skills",
            "title": {"en": "Staff: agreements and training", "zh": "员工：保密协议与培训"},
            "items": [
                {
                    "code": "conf-agreements",
                    "text": {
                        "en": "A signed confidentiality agreement is on file for every member of staff",
                        "zh": "每位员工均有已签署的保密协议存档",
                    },
                    "weight": 20,
                    "critical": True,
                },
                {
                    "code": "conf-training",
                    "text": {
                        "en": "Staff have completed the confidentiality training",
                        "zh": "员工已完成保密培训",
                    },
                    "weight": 10,
                },
            ],
        },
        {
            "code": "conf-workplace",
            "area": "process",
            "title": {
                "en": "The workplace: screens, paper and passwords",
                "zh": "工作场所：屏幕、纸张与密码",
            },
            "items": [
                {
                    "code": "conf-screens-locked",
                    "text": {"en": "Screens are locked when unattended", "zh": "无人看管时屏幕已锁定"},
                    "weight": 10,
                },
                {
                    "code": "conf-no-paper",
                    "text": {
                        "en": "No customer data is left on paper, desks, printers or the counter",
                        "zh": "纸张、桌面、打印机及柜台上没有遗留客户资料",
                    },
                    "weight": 10,
                },
                {
                    "code": "conf-passwords",
                    "text": {
                        "en": "Passwords are not shared or written down",
                        "zh": "密码没有共享或写下",
                    },
                    "weight": 10,
                },
            ],
        },
        {
            "code": "conf-devices",
            "area": "service",
            "title": {"en": "Customers' devices and data", "zh": "客户设备与数据"},
            "items": [
                {
                    "code": "conf-device-data",
                    "text": {
                        "en": "Customers' devices: their data was not accessed beyond what the repair needed",
                        "zh": "客户设备内的数据未被超出维修需要地查看",
                    },
                    "weight": 20,
                    "critical": True,
                },
                {
                    "code": "conf-passcodes",
                    "text": {
                        "en": "Device passcodes are held only in the system, not on notes or job tickets",
                        "zh": "设备密码只保存在系统中，没有写在便条或工单上",
                    },
                    "weight": 10,
                },
            ],
        },
        {
            "code": "conf-records",
            "area": "process",
            "title": {"en": "Backups and the access log", "zh": "备份与访问记录"},
            "items": [
                {
                    # Backups are the provider's, not every store's: a store that keeps no
                    # records of its own answers "not applicable".
                    "code": "conf-backups",
                    "text": {
                        "en": "Backups are present and the latest one succeeded",
                        "zh": "备份存在且最近一次备份成功",
                    },
                    "weight": 5,
                    "required": False,
                },
                {
                    "code": "conf-access-log",
                    "text": {
                        "en": "The data access log was reviewed by the owner this quarter",
                        "zh": "本季度负责人已审查数据访问记录",
                    },
                    "weight": 5,
                },
            ],
        },
    ],
})  # fmt: skip
