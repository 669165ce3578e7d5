"""Placeholder until its screen lands (being written now)."""

from flask_admin import expose

from repairqc.repairs.access import RepairsAccess


class OrderView(RepairsAccess):
    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        return ""
