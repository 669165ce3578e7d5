"""Who may do what: one role x model matrix, and the store scope that follows from it.

Letters: v = view, c = create, e = edit, d = delete, x = export. A role held for the whole
provider (owner, QA manager, trainer, auditor) applies to every store; a store role applies to
the rows of that store only. A model missing from the matrix is visible to nobody, so a new
model is private until someone decides who sees it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from flask import g
from flask_login import current_user

from repairqc.accounts.models import Role, StaffUser

# One letter per role keeps the matrix readable as a table.
O, Q, I, T, M, F, H, A = (  # noqa: E741
    Role.OWNER, Role.QA_MANAGER, Role.INSPECTOR, Role.TRAINER,
    Role.STORE_MANAGER, Role.FRONT_DESK, Role.TECHNICIAN, Role.AUDITOR,
)  # fmt: skip

#: model class name -> role -> allowed actions (design.md §3).
MATRIX: dict[str, dict[Role, str]] = {
    # Organisation: HQ keeps it; everyone reads the structure.
    "Chain": {O: "vcedx", Q: "vx", I: "v", T: "v", M: "v", F: "v", H: "v", A: "vx"},
    "Region": {O: "vcedx", Q: "vx", I: "v", T: "v", M: "v", F: "v", H: "v", A: "vx"},
    "Store": {O: "vcedx", Q: "vx", I: "v", T: "v", M: "ve", F: "v", H: "v", A: "vx"},
    # People: HR (trainer) onboards staff; store managers see their own stores' staff.
    "StaffUser": {O: "vcedx", Q: "v", T: "vcex", M: "v", A: "vx"},
    "RoleAssignment": {O: "vcedx", T: "vcdx", M: "v", A: "vx"},
    # Repairs: the store runs them; HQ reads and exports.
    # Orders are created at intake and move through the workflow screens; the admin form only
    # corrects descriptive fields (status, amounts and dates are read-only there).
    "Customer": {O: "vcedx", Q: "vx", I: "v", M: "vcedx", F: "vcex", H: "v", A: "vx"},
    "Device": {O: "vedx", Q: "vx", I: "v", M: "vex", F: "vex", H: "ve", A: "vx"},
    "RepairOrder": {O: "vex", Q: "vx", I: "v", M: "vex", F: "vex", H: "v", A: "vx"},
    # Records of the workflow's steps: written by the workflow, read and exported here.
    "RepairStatusEvent": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "Quote": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "QuoteLine": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "WorkLog": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "OrderPhoto": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "Signature": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "Payment": {O: "vx", Q: "vx", M: "vx", F: "v", A: "vx"},
    # Parts: HQ keeps the catalogue; a store counts its own stock (every change is audited),
    # and repairs take parts out through the workflow (StockMovement).
    "Part": {O: "vcedx", Q: "vx", I: "v", M: "v", F: "v", H: "v", A: "vx"},
    "StockLevel": {O: "vcedx", Q: "vx", I: "v", M: "vcex", F: "v", H: "v", A: "vx"},
    "StockMovement": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    # QC checks are records of the workflow: read and exported, never written through a form.
    "QCCheck": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "QCCheckResult": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", H: "v", A: "vx"},
    # Standards: HQ quality writes them (drafts change through the standards screens); all read.
    "StandardVersion": {O: "vex", Q: "vex", I: "v", T: "v", M: "v", F: "v", H: "v", A: "vx"},
    "ServiceTargetOverride": {O: "vcedx", Q: "vcedx", I: "v", T: "v", M: "v", F: "v", H: "v", A: "vx"},
    # SOP attachments: everyone reads them. Files are uploaded only as attachments in the SOP
    # editor (so uploading is StandardVersion's "e"), never through the generated form, which
    # cannot take bytes; they are content-addressed, so never edited. Only the owner deletes one
    # (e.g. a photo showing a customer's data, HB §6.1.2); SOPs showing it then say so.
    "StoredFile": {O: "vdx", Q: "vx", I: "v", T: "v", M: "v", F: "v", H: "v", A: "vx"},
    # Supervision (HB ch.8): QA plans and reviews; inspectors conduct at their stores; the store
    # manager carries out corrective actions. Statuses move only through the inspection screens.
    "InspectionPlan": {O: "vcedx", Q: "vcedx", I: "v", M: "v", A: "vx"},
    "Inspection": {O: "vx", Q: "vx", I: "v", M: "v", A: "vx"},
    "InspectionEvent": {O: "vx", Q: "vx", I: "v", M: "v", A: "vx"},
    "InspectionItemResult": {O: "vx", Q: "vx", I: "v", M: "v", A: "vx"},
    "InspectionPhoto": {O: "vx", Q: "vx", I: "v", M: "v", A: "vx"},
    "Finding": {O: "vex", Q: "vex", I: "v", M: "v", A: "vx"},
    "CorrectiveAction": {O: "vex", Q: "vex", I: "v", M: "v", A: "vx"},
    "CorrectiveActionEvent": {O: "vx", Q: "vx", I: "v", M: "v", A: "vx"},
    "CorrectiveActionPhoto": {O: "vx", Q: "vx", I: "v", M: "v", A: "vx"},
    "RewardPenalty": {O: "vcedx", Q: "vcedx", I: "v", M: "v", A: "vx"},
    # Training (HB ch.3, §5.1.3(1), issue #7): HR (trainer) runs programmes, sessions, exams and
    # certificates for all staff; a store manager sees their stores' staff records (and scores
    # practicals and evaluations on the training screens); technicians and front desk see their
    # own on their training page, not here. Statuses and results move only through the screens.
    "TrainingProgramme": {O: "vcedx", Q: "vx", T: "vcedx", M: "v", A: "vx"},
    "TrainingSession": {O: "vcedx", Q: "vx", T: "vcedx", M: "v", A: "vx"},
    "Enrolment": {O: "vex", Q: "vx", T: "vex", M: "v", A: "vx"},
    "Exam": {O: "vcedx", Q: "vx", T: "vcedx", M: "v", A: "vx"},
    "ExamQuestion": {O: "vcedx", T: "vcedx", A: "vx"},
    "PracticalCriterion": {O: "vcedx", Q: "vx", T: "vcedx", M: "v", A: "vx"},
    "ExamAttempt": {O: "vx", Q: "vx", T: "vx", M: "v", A: "vx"},
    "ExamAnswer": {O: "vx", T: "vx", A: "vx"},
    "PracticalScore": {O: "vx", Q: "vx", T: "vx", M: "v", A: "vx"},
    "Certificate": {O: "vcedx", Q: "vx", T: "vcedx", M: "v", A: "vx"},
    "Evaluation": {O: "vx", Q: "vx", T: "vx", M: "v", A: "vx"},
    "Retraining": {O: "vx", Q: "vx", T: "vx", M: "v", A: "vx"},
    # Assessments (HB §3.3): made on the assessment screens (store manager monthly, trainer
    # quarterly and annual), never through a form; a technician reads only their own
    # (`Assessment.store_scope`).
    "Assessment": {O: "vx", Q: "vx", T: "vx", M: "vx", H: "v", A: "vx"},
    "AssessmentEvent": {O: "vx", Q: "vx", T: "vx", M: "vx", A: "vx"},
    # Equipment and tools (HB ch.4, §5.1.3(2)): the store manager runs a store's equipment,
    # technicians read it and record daily care, QA and the owner approve purchases and
    # retirements; statuses and due dates move only through the equipment screens.
    "EquipmentItem": {O: "vex", Q: "vex", I: "v", M: "vex", H: "v", A: "vx"},
    "EquipmentEvent": {O: "vx", Q: "vx", I: "v", M: "vx", H: "v", A: "vx"},
    "EquipmentDocument": {O: "vdx", Q: "vx", I: "v", M: "vx", H: "v", A: "vx"},
    "MaintenanceRecord": {O: "vx", Q: "vx", I: "v", M: "vx", H: "v", A: "vx"},
    "CalibrationRecord": {O: "vx", Q: "vx", I: "v", M: "vx", H: "v", A: "vx"},
    "ProcurementRequest": {O: "vx", Q: "vx", M: "vx", A: "vx"},
    "ProcurementOption": {O: "vx", Q: "vx", M: "vx", A: "vx"},
    "RetirementRequest": {O: "vx", Q: "vx", I: "v", M: "vx", A: "vx"},
    "EquipmentReminder": {O: "vx", Q: "vx", M: "v", A: "vx"},
    # Customer messages (HB §6.2.2): written by the product, read on the customer's profile.
    "CustomerMessage": {O: "vx", Q: "vx", M: "vx", F: "v", A: "vx"},
    # Follow-ups and satisfaction surveys (HB §6.2.2, §6.3).
    # Made at delivery and changed only on the follow-up and survey screens (front desk and
    # managers record them); HQ and inspectors read, the KPI and the report read the answers.
    "FollowUp": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", A: "vx"},
    "FollowUpAttempt": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", A: "vx"},
    "SatisfactionSurvey": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", A: "vx"},
    # Complaints (HB §9.3): the front desk and the store's manager handle their store's, QA and
    # the owner every store's, on the complaint screens (statuses move only there); inspectors
    # read them (HB §8.1.4: service quality is inspected); auditors read and export. Technicians
    # see none: a complaint carries the customer's contact details (HB §6.1.2, least privilege)
    # and reaches the bench through the manager, as a rework order when one is needed.
    # Categories: HQ keeps the list (HB §9.3.2), retired by the inactive flag, never deleted.
    "ComplaintCategory": {O: "vcex", Q: "vcex", I: "v", M: "v", F: "v", A: "vx"},
    "Complaint": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", A: "vx"},
    "ComplaintEvent": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", A: "vx"},
    "ComplaintContact": {O: "vx", Q: "vx", I: "v", M: "vx", F: "v", A: "vx"},
    # Any member of staff submits a suggestion on the improvement screens (HB §2.3.2); who sees
    # one is narrowed by `ImprovementSuggestion.store_scope` (its store's managers, submitter,
    # responsible person; provider-wide ones everyone). QA and the owner decide and record the
    # process reviews (HB §2.3.1) on those screens: nothing is written through a generated form.
    "ImprovementSuggestion": {O: "vx", Q: "vx", I: "v", T: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "SuggestionEvent": {O: "vx", Q: "vx", I: "v", T: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "ProcessReview": {O: "vx", Q: "vx", T: "v", M: "v", A: "vx"},
    "ImprovementReminder": {O: "vx", Q: "vx", A: "vx"},
    # HB §9.1-§9.2: QA and the owner write and publish plans, store managers record drills, any
    # of the store's staff reports incidents and logs actions; all on the incident screens.
    "EmergencyPlan": {O: "vx", Q: "vx", I: "v", T: "v", M: "v", F: "v", H: "v", A: "vx"},
    "EmergencyDrill": {O: "vx", Q: "vx", I: "v", T: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "Incident": {O: "vx", Q: "vx", I: "v", T: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "IncidentAction": {O: "vx", Q: "vx", I: "v", T: "v", M: "vx", F: "v", H: "v", A: "vx"},
    "IncidentAlert": {O: "vx", Q: "vx", M: "v", A: "vx"},
    "IncidentUpdate": {O: "vx", Q: "vx", I: "v", T: "v", M: "vx", F: "v", H: "v", A: "vx"},
    # Generated cross-store reports name every store: HQ only.
    "ReportRun": {O: "vx", Q: "vx", A: "vx"},
    # Data quality (HB §7.1.2): the decisions and merge records are HQ's lists (a pair or a merge
    # may span two stores); the screens decide who merges (Customer "e" and "d" at both stores)
    # and who dismisses pairs or reviews flags (dataquality.services / .anomalies). Store
    # managers see their stores' anomaly flags.
    "DuplicateDismissal": {O: "vx", Q: "vx", A: "vx"},
    "CustomerMerge": {O: "vx", Q: "vx", A: "vx"},
    "DataAnomaly": {O: "vx", Q: "vx", M: "v", A: "vx"},
    # Imports (HB §7.1.1-§7.1.2): the run history; who may import which kind follows the target
    # model's rights (`imports.kinds.KINDS`). Runs are written only by the import screens.
    "ImportRun": {O: "vx", Q: "vx", T: "v", M: "v", F: "v", A: "vx"},
    # Backups (HB §7.3.1): the owner lists, makes and downloads the tenant's backups (control-plane
    # rows; the whole database, password hashes included, so nobody else).
    "TenantBackup": {O: "vx"},
    # HB §7.3.1: the access log is the owner's review of who saw customer data; auditors check
    # it. Written only by the product, never edited or deleted (no "c", "e", "d" for anyone).
    "DataAccess": {O: "vx", A: "vx"},
    # HB §7.3.2: whoever manages staff records (owner, HR) records the signed agreements.
    "ConfidentialityAgreement": {O: "vcedx", T: "vcex", A: "vx"},
    "ConfidentialityReminder": {O: "vx", T: "vx", A: "vx"},
    # Key rotation checkpoints (HB §7.3.1): written by `flask crypto rotate` only.
    "KeyRotationProgress": {O: "v", A: "vx"},
    # Traceability: read-only for everyone (HB §2.1.1, §7.3.1).
    "AuditLog": {O: "vx", Q: "v", A: "vx"},
}


class Action(enum.StrEnum):
    VIEW = "v"
    CREATE = "c"
    EDIT = "e"
    DELETE = "d"
    EXPORT = "x"


#: What read-only grants refuse.
WRITING_ACTIONS = frozenset({Action.CREATE, Action.EDIT, Action.DELETE})


@dataclass(frozen=True)
class Grants:
    """The roles one user holds, split into provider-wide roles and roles per store."""

    tenant_roles: frozenset[Role] = frozenset()
    store_roles: dict[int, frozenset[Role]] = field(default_factory=dict)
    #: Nothing may be created, edited or deleted, whatever the roles: the tenant is read-only
    #: for billing (issue #6), or this is an operator's support session.
    read_only: bool = False

    @classmethod
    def of(cls, user: StaffUser) -> Grants:
        tenant_roles: set[Role] = set()
        store_roles: dict[int, set[Role]] = {}
        for assignment in user.roles:
            if assignment.role.is_tenant_wide:
                tenant_roles.add(assignment.role)
            elif assignment.store_id is not None:
                store_roles.setdefault(assignment.store_id, set()).add(assignment.role)
        return cls(frozenset(tenant_roles), {s: frozenset(r) for s, r in store_roles.items()})

    @property
    def roles(self) -> frozenset[Role]:
        return self.tenant_roles.union(*self.store_roles.values())

    def stores_for(self, model: str, action: Action) -> set[int] | None:
        """The stores whose rows of `model` this user may `action`; None means every store."""
        if self.read_only and action in WRITING_ACTIONS:
            return set()
        allowed = MATRIX.get(model, {})
        if any(action in allowed.get(role, "") for role in self.tenant_roles):
            return None
        return {
            store_id
            for store_id, roles in self.store_roles.items()
            if any(action in allowed.get(role, "") for role in roles)
        }

    def can(self, model: str, action: Action) -> bool:
        stores = self.stores_for(model, action)
        return stores is None or bool(stores)

    def visible_stores(self) -> set[int] | None:
        """Stores this user works in; None for HQ roles that see them all."""
        return None if self.tenant_roles else set(self.store_roles)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


NO_GRANTS = Grants()


def roles_at(user: StaffUser, store_id: int) -> frozenset[Role]:
    """The roles `user` holds at a store: their provider-wide roles and those of that store."""
    grants = Grants.of(user)
    return grants.tenant_roles | grants.store_roles.get(store_id, frozenset())


def current_grants() -> Grants:
    """The signed-in staff user's grants, computed once per request; read-only when the tenant
    is read-only for billing or the user is an operator in a support session."""
    if "grants" not in g:
        user = current_user
        if isinstance(user, StaffUser) and user.is_active:
            from repairqc.billing.services import current_access

            grants = Grants.of(user)
            if user.is_platform_support or current_access().read_only:
                grants = dataclasses.replace(grants, read_only=True)
            g.grants = grants
        else:
            g.grants = NO_GRANTS
    return g.grants
