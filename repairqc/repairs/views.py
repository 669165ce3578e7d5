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
    from repairqc.chapters import add_screens
    from repairqc.repairs.board_views import BoardView
    from repairqc.repairs.intake_views import IntakeView
    from repairqc.repairs.order_views import OrderView
    from repairqc.repairs.step_views import StepsView

    add_screens(
        admin,
        "ch2",
        (BoardView, _l("Order board"), "repairs_board", "/admin/repairs"),
        (IntakeView, _l("Receive a device"), "repairs_intake", "/admin/repairs/intake"),
        (OrderView, _l("Repair order"), "repairs_order", "/admin/repairs/orders"),
        (StepsView, _l("Repair steps"), "repairs_steps", "/admin/repairs/steps"),
    )
