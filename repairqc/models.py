"""Imports every model module, so both metadata objects are complete wherever this is imported."""

from repairqc.accounts.models import RoleAssignment, StaffUser
from repairqc.audit.models import AuditLog
from repairqc.billing import limits  # noqa: F401  (the plan-limit flush guard)
from repairqc.billing.models import Plan, SignUp, StripeEvent, Subscription, SupportSession
from repairqc.console.models import Operator, StandardTemplate, TenantExport, TenantRollup
from repairqc.files.models import StoredFile
from repairqc.inspections.models import (
    CorrectiveAction,
    CorrectiveActionEvent,
    CorrectiveActionPhoto,
    Finding,
    Inspection,
    InspectionEvent,
    InspectionItemResult,
    InspectionPhoto,
    InspectionPlan,
    RewardPenalty,
)
from repairqc.repairs.models import (
    Customer,
    Device,
    OrderPhoto,
    Part,
    Payment,
    QCCheck,
    QCCheckResult,
    Quote,
    QuoteLine,
    RepairOrder,
    RepairStatusEvent,
    Signature,
    StockLevel,
    StockMovement,
    WorkLog,
)
from repairqc.reports.models import ReportRun
from repairqc.standards.models import ServiceTargetOverride, StandardVersion
from repairqc.stores.models import Chain, Region, Store
from repairqc.tenants.models import Domain, Tenant

__all__ = [
    "AuditLog",
    "Chain",
    "CorrectiveAction",
    "CorrectiveActionEvent",
    "CorrectiveActionPhoto",
    "Customer",
    "Device",
    "Domain",
    "Finding",
    "Inspection",
    "InspectionEvent",
    "InspectionItemResult",
    "InspectionPhoto",
    "InspectionPlan",
    "Operator",
    "OrderPhoto",
    "Part",
    "Payment",
    "Plan",
    "QCCheck",
    "QCCheckResult",
    "Quote",
    "QuoteLine",
    "Region",
    "RepairOrder",
    "RepairStatusEvent",
    "ReportRun",
    "RewardPenalty",
    "RoleAssignment",
    "ServiceTargetOverride",
    "SignUp",
    "Signature",
    "StaffUser",
    "StandardTemplate",
    "StandardVersion",
    "StockLevel",
    "StockMovement",
    "Store",
    "StoredFile",
    "StripeEvent",
    "Subscription",
    "SupportSession",
    "Tenant",
    "TenantExport",
    "TenantRollup",
    "WorkLog",
]
