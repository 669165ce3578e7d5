"""Registers the supervision screens (HB ch.8) in the admin, under "Ch.8 Supervision and inspection".

* `plan_views.PlanView` (/admin/inspections/plans/): plans, their open and overdue inspections,
  the plan form, a one-off unannounced inspection;
* `plan_views.CalendarView` (/admin/inspections/calendar/): a month of inspections and planned dates;
* `inspection_views.InspectionView` (/admin/inspections/work/): the work list, conducting an
  inspection, QA's review;
* `action_views` (registered by `register_action_views`): corrective actions and their follow-up.

The generated admin lists of the same records stay at /admin/inspections/, /admin/inspection_plans/, ...
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_inspection_views(admin) -> None:
    from repairqc.chapters import CHAPTERS
    from repairqc.inspections.action_views import register_action_views
    from repairqc.inspections.inspection_views import InspectionView
    from repairqc.inspections.plan_views import CalendarView, PlanView

    category = CHAPTERS["ch8"]
    admin.add_view(
        InspectionView(
            name=_l("Inspection work list"),
            endpoint="inspections_work",
            url="/admin/inspections/work",
            category=category,
        )
    )
    admin.add_view(
        CalendarView(
            name=_l("Inspection calendar"),
            endpoint="inspections_calendar",
            url="/admin/inspections/calendar",
            category=category,
        )
    )
    admin.add_view(
        PlanView(
            name=_l("Plan inspections"),
            endpoint="inspections_plans",
            url="/admin/inspections/plans",
            category=category,
        )
    )
    register_action_views(admin)
