"""Imports every model module, so both metadata objects are complete wherever this is imported."""

from repairqc.accounts.models import RoleAssignment, StaffUser
from repairqc.audit.models import AuditLog
from repairqc.console.models import Operator, TenantRollup
from repairqc.repairs.models import Customer, Device, RepairOrder
from repairqc.standards.models import ServiceTargetOverride, StandardVersion
from repairqc.stores.models import Chain, Region, Store
from repairqc.tenants.models import Domain, Tenant

__all__ = [
    "AuditLog",
    "Chain",
    "Customer",
    "Device",
    "Domain",
    "Operator",
    "Region",
    "RepairOrder",
    "RoleAssignment",
    "ServiceTargetOverride",
    "StaffUser",
    "StandardVersion",
    "Store",
    "Tenant",
    "TenantRollup",
]
