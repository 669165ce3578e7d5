"""Imports every model module, so both metadata objects are complete wherever this is imported."""

from repairqc.accounts.models import RoleAssignment, StaffUser
from repairqc.assessments.models import Assessment, AssessmentEvent
from repairqc.audit.models import AuditLog
from repairqc.backups.models import TenantBackup
from repairqc.billing import limits  # noqa: F401  (the plan-limit flush guard)
from repairqc.billing.models import Plan, SignUp, StripeEvent, Subscription, SupportSession
from repairqc.complaints.models import Complaint, ComplaintCategory, ComplaintContact, ComplaintEvent
from repairqc.console.models import Operator, StandardTemplate, TenantExport, TenantRollup
from repairqc.crypto_rotation import KeyRotationProgress
from repairqc.dataquality.models import CustomerMerge, DataAnomaly, DuplicateDismissal
from repairqc.equipment.models import (
    CalibrationRecord,
    EquipmentDocument,
    EquipmentEvent,
    EquipmentItem,
    EquipmentReminder,
    MaintenanceRecord,
    ProcurementOption,
    ProcurementRequest,
    RetirementRequest,
)
from repairqc.feedback.models import FollowUp, FollowUpAttempt, SatisfactionSurvey
from repairqc.files.models import StoredFile
from repairqc.imports.models import ImportRun
from repairqc.improvements.models import (
    ImprovementReminder,
    ImprovementSuggestion,
    ProcessReview,
    SuggestionEvent,
)
from repairqc.incidents.models import (
    EmergencyDrill,
    EmergencyPlan,
    Incident,
    IncidentAction,
    IncidentAlert,
    IncidentUpdate,
)
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
from repairqc.notifications.models import CustomerMessage
from repairqc.privacy.models import ConfidentialityAgreement, ConfidentialityReminder, DataAccess
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
from repairqc.training import services as _training_services  # noqa: F401  (new-hire enrolment hook)
from repairqc.training.models import (
    Certificate,
    Enrolment,
    Evaluation,
    Exam,
    ExamAnswer,
    ExamAttempt,
    ExamQuestion,
    PracticalCriterion,
    PracticalScore,
    Retraining,
    TrainingProgramme,
    TrainingSession,
)

__all__ = [
    "Assessment",
    "AssessmentEvent",
    "AuditLog",
    "CalibrationRecord",
    "Certificate",
    "Chain",
    "Complaint",
    "ComplaintCategory",
    "ComplaintContact",
    "ComplaintEvent",
    "ConfidentialityAgreement",
    "ConfidentialityReminder",
    "CorrectiveAction",
    "CorrectiveActionEvent",
    "CorrectiveActionPhoto",
    "Customer",
    "CustomerMerge",
    "CustomerMessage",
    "DataAccess",
    "DataAnomaly",
    "Device",
    "Domain",
    "DuplicateDismissal",
    "EmergencyDrill",
    "EmergencyPlan",
    "Enrolment",
    "EquipmentDocument",
    "EquipmentEvent",
    "EquipmentItem",
    "EquipmentReminder",
    "Evaluation",
    "Exam",
    "ExamAnswer",
    "ExamAttempt",
    "ExamQuestion",
    "Finding",
    "FollowUp",
    "FollowUpAttempt",
    "ImportRun",
    "ImprovementReminder",
    "ImprovementSuggestion",
    "Incident",
    "IncidentAction",
    "IncidentAlert",
    "IncidentUpdate",
    "Inspection",
    "InspectionEvent",
    "InspectionItemResult",
    "InspectionPhoto",
    "InspectionPlan",
    "KeyRotationProgress",
    "MaintenanceRecord",
    "Operator",
    "OrderPhoto",
    "Part",
    "Payment",
    "Plan",
    "PracticalCriterion",
    "PracticalScore",
    "ProcessReview",
    "ProcurementOption",
    "ProcurementRequest",
    "QCCheck",
    "QCCheckResult",
    "Quote",
    "QuoteLine",
    "Region",
    "RepairOrder",
    "RepairStatusEvent",
    "ReportRun",
    "RetirementRequest",
    "Retraining",
    "RewardPenalty",
    "RoleAssignment",
    "SatisfactionSurvey",
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
    "SuggestionEvent",
    "SupportSession",
    "Tenant",
    "TenantBackup",
    "TenantExport",
    "TenantRollup",
    "TrainingProgramme",
    "TrainingSession",
    "WorkLog",
]
