"""What every repair screen shares beyond `admin.screens`: the screens' access rule and loading an
order within the user's stores."""

from __future__ import annotations

from repairqc.admin.screens import ScopedScreen, load_scoped
from repairqc.repairs.models import RepairOrder


class RepairsAccess(ScopedScreen):
    """Every member of staff who may see repair orders reaches the repair screens; what they
    may *do* there is decided per step by `repairs.workflow` from their roles at the store."""

    model_name = "RepairOrder"


def load_order(order_id: int, *, for_update: bool = False) -> RepairOrder:
    """The order if the user may see it (404 otherwise); `for_update` locks it for the step."""
    return load_scoped(RepairOrder, order_id, for_update=for_update)
