"""The analytics page's period and scope form (GET parameters, so a view can be bookmarked).

It only reads what the browser sent (dates, choices); which stores a reader may analyse and the
period's rules are decided in `views.resolve` with `reports.services` (the same period rules and
scope kinds as the cross-store report).
"""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField
from wtforms.validators import InputRequired, Optional

from repairqc.analytics.services import GROUP_BYS
from repairqc.reports.services import SCOPE_KINDS

#: With no parameters the page shows the 52 weeks up to today.
DEFAULT_DAYS = 364


class AnalyticsForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    start = DateField(_l("From"), [InputRequired(_l("Enter the start date."))])
    end = DateField(_l("To (inclusive)"), [InputRequired(_l("Enter the end date."))])
    scope = SelectField(_l("Stores"), choices=list(SCOPE_KINDS.items()), default="all")
    chain = SelectField(_l("Chain"), [Optional()], validate_choice=True)
    region = SelectField(_l("Region"), [Optional()], validate_choice=True)
    stores = SelectMultipleField(_l("Chosen stores"), [Optional()])
    category = SelectField(_l("Device category"), [Optional()], default="")
    group_by = SelectField(_l("Group the statistics by"), choices=list(GROUP_BYS.items()), default="category")
    forecast_store = SelectField(
        _l("Forecast for"), [Optional()], default="", description=_l("Empty: the total of the chosen stores")
    )

    @classmethod
    def defaults(cls, today: date) -> dict[str, object]:
        return {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today}

    def query(self) -> dict[str, object]:
        """The parameters that reproduce this view (for the download links)."""
        data: dict[str, object] = {
            "start": self.start.data.isoformat() if self.start.data else "",
            "end": self.end.data.isoformat() if self.end.data else "",
            "scope": self.scope.data,
            "group_by": self.group_by.data,
        }
        for name in ("chain", "region", "category", "forecast_store"):
            if self[name].data:
                data[name] = self[name].data
        if self.stores.data:
            data["stores"] = list(self.stores.data)
        return data
