"""Registers the repair screens (HB ch.2) in the admin, under "Ch.2 Repair service".

* `board_views.BoardView` (/admin/repairs/): a store's orders by state, overdue flags;
* `intake_views.IntakeView` (/admin/repairs/intake/): receiving a device, the receipt;
* `order_views.OrderView` (/admin/repairs/orders/<id>/): one order and its next actions;
* `step_views.StepsView` (/admin/repairs/steps/<id>/...): QC, delivery, warranty claims;
* `tracking_views.bp` (/track/<token>): the customer's page, no sign-in.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_repair_views(admin) -> None:
    from repairqc.chapters import CHAPTERS
    from repairqc.repairs.board_views import BoardView
    from repairqc.repairs.intake_views import IntakeView
    from repairqc.repairs.order_views import OrderView
    from repairqc.repairs.step_views import StepsView

    category = CHAPTERS["ch2"]
    admin.add_view(
        BoardView(name=_l("Order board"), endpoint="repairs_board", url="/admin/repairs", category=category)
    )
    admin.add_view(
        IntakeView(
            name=_l("Receive a device"),
            endpoint="repairs_intake",
            url="/admin/repairs/intake",
            category=category,
        )
    )
    admin.add_view(
        OrderView(
            name=_l("Repair order"), endpoint="repairs_order", url="/admin/repairs/orders", category=category
        )
    )
    admin.add_view(
        StepsView(
            name=_l("Repair steps"), endpoint="repairs_steps", url="/admin/repairs/steps", category=category
        )
    )
