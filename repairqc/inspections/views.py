"""Registers the supervision screens (HB ch.8) in the admin, under "Ch.8 Supervision and inspection".

* `plan_views.PlanView` (/admin/inspections/plans/): plans, their open and overdue inspections,
  the plan form, a one-off unannounced inspection;
* `plan_views.CalendarView` (/admin/inspections/calendar/): a month of inspections and planned dates;
* `inspection_views.InspectionView` (/admin/inspections/work/): the work list, conducting an
  inspection, QA's review;
* `action_views.ActionsView`, `RewardsView` (/admin/inspections/actions/, /rewards/): corrective
  actions and their follow-up, rewards and penalties.

The generated admin lists of the same records stay at /admin/inspections/, /admin/inspection_plans/, ...
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_inspection_views(admin) -> None:
    from repairqc.chapters import add_screens
    from repairqc.inspections.action_views import ActionsView, RewardsView
    from repairqc.inspections.inspection_views import InspectionView
    from repairqc.inspections.plan_views import CalendarView, PlanView

    add_screens(
        admin,
        "ch8",
        (InspectionView, _l("Inspection work list"), "inspections_work", "/admin/inspections/work"),
        (CalendarView, _l("Inspection calendar"), "inspections_calendar", "/admin/inspections/calendar"),
        (PlanView, _l("Plan inspections"), "inspections_plans", "/admin/inspections/plans"),
        # Not "Corrective actions" / "Rewards and penalties": the generated lists have those names.
        (ActionsView, _l("Corrective action follow-up"), "inspection_actions", "/admin/inspections/actions"),
        (
            RewardsView,
            _l("Rewards and penalties register"),
            "inspection_rewards",
            "/admin/inspections/rewards",
        ),
    )
