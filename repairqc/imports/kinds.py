"""What each kind of import holds (its columns, in English and Chinese, with their formats and
limits) and who may import it: the target model's rights at the store (HB §7.1.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from repairqc.accounts.permissions import Action, Grants
from repairqc.errors import Conflict
from repairqc.imports.models import ImportKind
from repairqc.stores.models import Store

CUSTOMER_NAME_MAX = 200
ADDRESS_MAX = 500
NOTES_MAX = 2000
PHONE_MAX = 40
EMAIL_MAX = 254

# --- the columns of each kind -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the English header of the template
    header_zh: str  # the Chinese header of the template
    label: Any  # what the help panel and the messages call it (lazy, translated)
    required: bool
    help: Any
    example: str
    max_length: int | None = None
    aliases: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {header_key(name) for name in (self.key, self.header, self.header_zh, *self.aliases)}


@dataclass(frozen=True)
class KindSpec:
    kind: ImportKind
    columns: tuple[Column, ...]
    #: (model, action) pairs the importer needs at the store the rows go to.
    rights: tuple[tuple[str, Action], ...]
    #: The store is chosen on the form (staff rows name theirs).
    store_on_form: bool
    key_help: Any

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def _col(key, header, header_zh, label, required, help, example, max_length=None, aliases=()):
    return Column(key, header, header_zh, label, required, help, example, max_length, tuple(aliases))


_PHONE_HELP = _l("Digits, spaces, dashes and an optional leading +; 5 to 15 digits.")
_LANGUAGE_HELP = _l("en (English) or zh (Chinese); empty: English.")
_DATE_HELP = _l("A date, written as 2024-03-31 (or a date cell in XLSX); not in the future.")

KINDS: dict[ImportKind, KindSpec] = {
    ImportKind.CUSTOMERS: KindSpec(
        ImportKind.CUSTOMERS,
        (
            _col("full_name", "Full name", "姓名", _l("Full name"), True, _l("Up to 200 characters."),
                 "Li Wei", CUSTOMER_NAME_MAX, ("name", "customer", "客户", "客户姓名")),
            _col("phone", "Phone", "电话", _l("Phone"), False, _PHONE_HELP, "+86 138 0013 8000",
                 PHONE_MAX, ("mobile", "telephone", "手机", "手机号", "联系电话")),
            _col("email", "Email", "邮箱", _l("E-mail"), False,
                 _l("An e-mail address. Give the phone, the e-mail or both."), "li.wei@example.com",
                 EMAIL_MAX, ("e-mail", "e-mail address", "电子邮件", "电子邮箱")),
            _col("address", "Address", "地址", _l("Address"), False, _l("Up to 500 characters."),
                 "1 Renmin Road, Shanghai", ADDRESS_MAX),
            _col("language", "Language", "语言", _l("Language"), False, _LANGUAGE_HELP, "zh"),
            _col("preferred_channel", "Preferred channel", "首选联系方式", _l("Preferred channel"), False,
                 _l("phone, sms, email or wechat (or their names in English or Chinese)."), "phone",
                 aliases=("channel", "联系方式")),
            _col("notes", "Notes", "备注", _l("Notes"), False, _l("Up to 2,000 characters."), "", NOTES_MAX),
        ),
        (("Customer", Action.CREATE), ("Customer", Action.EDIT)),
        True,
        _l("A customer is recognised by the phone number or the e-mail address."),
    ),
    ImportKind.DEVICES: KindSpec(
        ImportKind.DEVICES,
        (
            _col("customer_phone", "Customer phone", "客户电话", _l("Customer phone"), False,
                 _l("The phone number of a customer already registered (import the customers first)."),
                 "+86 138 0013 8000", PHONE_MAX, ("customer mobile", "客户手机")),
            _col("customer_email", "Customer email", "客户邮箱", _l("Customer e-mail"), False,
                 _l("Or the customer's e-mail address."), "li.wei@example.com", EMAIL_MAX,
                 ("customer e-mail", "客户电子邮件")),
            _col("category", "Category", "类别", _l("Category"), True,
                 _l("A device category of the standards in force: its code or its name."), "smartphone",
                 40, ("device category", "设备类别")),
            _col("brand", "Brand", "品牌", _l("Brand"), True, _l("Up to 80 characters."), "Apple", 80),
            _col("model", "Model", "型号", _l("Model"), True, _l("Up to 120 characters."), "iPhone 14", 120),
            _col("imei", "IMEI", "IMEI", _l("IMEI"), False,
                 _l("15 digits with a correct check digit. Give the IMEI, the serial number or both."),
                 "490154203237518", 40, ("imei number", "串号")),
            _col("serial_number", "Serial number", "序列号", _l("Serial number"), False,
                 _l("Up to 64 characters."), "F2LXK0XXXXXX", 64, ("serial", "sn")),
            _col("condition_at_intake", "Condition", "外观状况", _l("Condition at intake"), False,
                 _l("Up to 2,000 characters."), "Scratch on the back", NOTES_MAX,
                 ("condition at intake", "外观")),
            _col("accessories", "Accessories", "配件", _l("Accessories"), False,
                 _l("Up to 2,000 characters."), "Case", NOTES_MAX),
        ),
        # Devices are created at intake, so no role has "create" on Device: importing them is
        # for the roles that receive devices (edit devices and create customers).
        (("Device", Action.EDIT), ("Customer", Action.CREATE)),
        True,
        _l("A device is recognised by its IMEI, or by its serial number when it has no IMEI."),
    ),
    ImportKind.EQUIPMENT: KindSpec(
        ImportKind.EQUIPMENT,
        (
            _col("asset_tag", "Asset tag", "资产编号", _l("Asset tag"), True,
                 _l("Unique in the provider, up to 40 characters."), "EQ-0001", 40,
                 ("asset number", "asset code", "code", "编号", "资产编码")),
            _col("equipment_type", "Type", "类型", _l("Type"), True,
                 _l("An equipment type of the standard in force: its code or its name."),
                 "soldering-station", 40, ("equipment type", "设备类型")),
            _col("name", "Name", "名称", _l("Name"), True, _l("Up to 200 characters."),
                 "Hot-air rework station", 200, ("设备名称",)),
            _col("brand", "Brand", "品牌", _l("Brand"), False, _l("Up to 100 characters."), "Quick", 100),
            _col("model", "Model", "型号", _l("Model"), False, _l("Up to 100 characters."), "861DW", 100),
            _col("serial_number", "Serial number", "序列号", _l("Serial number"), False,
                 _l("Up to 100 characters."), "QK-123456", 100, ("serial", "sn")),
            _col("supplier", "Supplier", "供应商", _l("Supplier"), False, _l("Up to 200 characters."),
                 "Shenzhen Tools Ltd", 200),
            _col("purchased_on", "Purchase date", "购买日期", _l("Purchase date"), False, _DATE_HELP,
                 "2024-03-31", aliases=("purchased on",)),
            _col("price", "Purchase price", "价格", _l("Purchase price"), False,
                 _l("An amount such as 1250.00 (at most two decimals)."), "1250.00",
                 aliases=("price", "购买价格")),
            _col("in_service_on", "In service since", "启用日期", _l("In service since"), False,
                 _l("A date as above, used for new items only; empty: today."), "2024-04-01",
                 aliases=("in service on",)),
            _col("notes", "Notes", "备注", _l("Notes"), False, _l("Up to 2,000 characters."), "", NOTES_MAX),
        ),
        (("EquipmentItem", Action.EDIT),),
        True,
        _l("An item is recognised by its asset tag, whatever its case."),
    ),
    ImportKind.STAFF: KindSpec(
        ImportKind.STAFF,
        (
            _col("email", "Email", "邮箱", _l("E-mail"), True, _l("The person's sign-in address."),
                 "zhang.min@example.com", EMAIL_MAX, ("e-mail", "电子邮件", "电子邮箱")),
            _col("full_name", "Full name", "姓名", _l("Full name"), True, _l("Up to 200 characters."),
                 "Zhang Min", 200, ("name",)),
            _col("phone", "Phone", "电话", _l("Phone"), False, _PHONE_HELP, "+86 139 0000 0000", PHONE_MAX,
                 ("mobile", "手机")),
            _col("role", "Role", "角色", _l("Role"), True,
                 _l("store_manager, front_desk, technician, inspector (with a store); owner, qa_manager, "
                    "trainer, auditor (without); or their names in English or Chinese."),
                 "technician"),
            _col("store", "Store", "门店", _l("Store"), False,
                 _l("The store's code, for store roles; empty for provider-wide roles."), "FF-N01",
                 aliases=("store code", "门店代码")),
            _col("language", "Language", "语言", _l("Language"), False,
                 _l("en or zh; empty: the browser's language."), "zh"),
        ),
        (("StaffUser", Action.CREATE), ("StaffUser", Action.EDIT), ("RoleAssignment", Action.CREATE)),
        False,
        _l("A person is recognised by the e-mail address; a new person gets an invitation to choose a "
           "password."),
    ),
}  # fmt: skip


def header_key(name: str) -> str:
    """How headers are compared: case, spaces, underscores, dashes and a required-marker * aside."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().rstrip("*").strip().lower())


# --- who may import what ------------------------------------------------------------------------------


def import_stores(grants: Grants, kind: ImportKind) -> set[int] | None:
    """The stores `grants` may import `kind` into: every store (None) or these ids."""
    allowed: set[int] | None = None
    for model, action in KINDS[kind].rights:
        stores = grants.stores_for(model, action)
        if stores is None:
            continue
        allowed = set(stores) if allowed is None else allowed & stores
    return allowed


def may_import(grants: Grants, kind: ImportKind) -> bool:
    stores = import_stores(grants, kind)
    return stores is None or bool(stores)


def importable_kinds(grants: Grants) -> list[ImportKind]:
    return [kind for kind in ImportKind if may_import(grants, kind)]


def require_right(grants: Grants, kind: ImportKind, store: Store | None) -> None:
    stores = import_stores(grants, kind)
    if stores is not None and (not stores or store is None or store.id not in stores):
        raise Conflict(_("You may not import %(kind)s into this store.", kind=kind.label.lower()))
