"""The analytics screen (HB §7.2), under "Ch.7 Information and data".

* /admin/analytics/ — the period/scope form (GET) and the analysis: statistics table,
  correlations with their charts, Pareto charts, forecasts with their backtest;
* /admin/analytics/download/<name>.<fmt> — a chart as PNG or SVG, its numbers as CSV or XLSX
  (`exports.DOWNLOADS`), each logged as a data export (HB §7.3).

Who: owner, QA manager and auditor analyse every store; a store manager their own stores (any
scope is narrowed to them, and only they can be picked); nobody else (403). Unlike the
cross-store report, nothing here names another store, so a manager's view is simply their stores.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, g, request
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from repairqc.accounts.permissions import current_grants
from repairqc.admin.screens import as_id, today
from repairqc.admin.views import deny_access, staff_signed_in
from repairqc.analytics import charts, exports
from repairqc.analytics.forecasting import HORIZON, MIN_HISTORY_WEEKS, SEASON
from repairqc.analytics.forms import AnalyticsForm
from repairqc.analytics.services import (
    METRICS,
    SAMPLE_CAP,
    SECTIONS,
    Analytics,
    Params,
    build_analytics,
)
from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.i18n import current_language
from repairqc.privacy.access import log_data_access
from repairqc.reports.services import MAX_PERIOD_DAYS, Scope, Viewer, check_period, check_scope, scope_stores
from repairqc.standards.services import document_in_force
from repairqc.stores.models import Chain, Region, Store

FORMATS = {**charts.FORMATS, **exports.TABLE_FORMATS}


def viewer() -> Viewer:
    """Whose stores the reader analyses (None: all), once per request."""
    if "analytics_viewer" not in g:
        g.analytics_viewer = Viewer.of(current_grants())
    return g.analytics_viewer


def build_form() -> AnalyticsForm:
    """The form with its choices: only the stores the reader may analyse can be picked."""
    form = AnalyticsForm(request.args or None, data=AnalyticsForm.defaults(today()))
    own = viewer().named_stores
    stores = db.session.execute(sa.select(Store).order_by(Store.code)).scalars().all()
    store_choices = [(str(s.id), f"{s.code} · {s.name}") for s in stores if own is None or s.id in own]
    form.stores.choices = store_choices
    form.forecast_store.choices = [("", _("Total of the chosen stores")), *store_choices]
    form.chain.choices = [("", "—")] + [
        (str(c.id), f"{c.code} · {c.name}")
        for c in db.session.execute(sa.select(Chain).order_by(Chain.code)).scalars()
    ]
    form.region.choices = [("", "—")] + [
        (str(r.id), f"{r.code} · {r.name}")
        for r in db.session.execute(sa.select(Region).order_by(Region.code)).scalars()
    ]
    document = document_in_force(today())
    lang = "zh" if current_language().startswith("zh") else "en"
    categories = [(c.code, getattr(c.name, lang)) for c in (document.device_categories if document else [])]
    form.category.choices = [("", _("All categories")), *categories]
    return form


def resolve(form: AnalyticsForm) -> Params:
    """The analysis the form asks for, within the reader's stores, or a DomainError naming the
    field (the form's own errors are on its fields already)."""
    if not form.validate():
        raise DomainError(_("Correct the marked fields."))
    period = check_period(form.start.data, form.end.data)
    raw = {"chain": [form.chain.data], "region": [form.region.data], "stores": form.stores.data}.get(
        form.scope.data, []
    )
    scope = check_scope(
        Scope(form.scope.data, tuple(i for i in (as_id(v) for v in raw if v) if i is not None))
    )
    own = viewer().named_stores
    store_ids = tuple(s.id for s in scope_stores(scope) if own is None or s.id in own)
    return Params(
        period,
        store_ids,
        category=form.category.data or None,
        group_by=form.group_by.data,
        forecast_store_id=as_id(form.forecast_store.data),
    )


MISSING = Markup('<span class="text-muted">—</span>')


def number(value: float | None, digits: int = 2, plain: bool = False) -> Markup | str:
    """A table cell's number with `digits` decimals; "—" when undefined (`plain`: as text, for
    an attribute). A Python call rather than a Jinja macro: the statistics table has ~6,000
    numbers at 200 groups, and a macro call costs tens of microseconds each."""
    if value is None:
        return "—" if plain else MISSING
    return f"{value:.{digits}f}"


def svg_data_uri(svg: bytes) -> str:
    """An <img> source: each chart is its own document (no clashing ids between charts)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


class AnalyticsView(BaseView):
    def is_accessible(self) -> bool:
        return staff_signed_in() and viewer().may_read

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)

    def _params(self) -> tuple[AnalyticsForm, Params | None, str | None]:
        form = build_form()
        try:
            return form, resolve(form), None
        except DomainError as error:
            if form.errors:  # the form's own messages are on their fields
                return form, None, None
            if error.field and error.field in form:
                form[error.field].errors = [*form[error.field].errors, error.message]
                return form, None, None
            return form, None, error.message

    @expose("/")
    def index(self):
        form, params, message = self._params()
        if params is None:
            return self._render(form, None, message), 400
        return self._render(form, build_analytics(params), None)

    @expose("/download/<chart>.<fmt>")
    def download(self, chart: str, fmt: str):
        # Not "name": Flask-Admin passes the endpoint's name to `_handle_view` by that keyword.
        download = exports.DOWNLOADS.get(chart)
        if download is None or fmt not in FORMATS or (fmt in charts.FORMATS and download.figure is None):
            abort(404)
        form, params, message = self._params()
        if params is None:
            return self._render(form, None, message), 400
        analytics = build_analytics(params, sections=(download.section,))
        title = str(download.title)
        if fmt in charts.FORMATS:
            body = charts.render(download.figure(analytics), fmt)
        elif fmt == "csv":
            body = exports.to_csv(download.table(analytics))
        else:
            body = exports.to_xlsx(download.table(analytics), title, self._subtitle(params))
        filename = (
            f"analytics-{chart}-{params.period.start.isoformat()}-{params.period.end.isoformat()}.{fmt}"
        )
        log_data_access(
            "export",
            "analytics",
            detail=f"{chart}.{fmt} {params.period.start}..{params.period.end} stores={len(params.store_ids)}",
        )
        return Response(
            body,
            content_type=FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def _subtitle(self, params: Params) -> list[str]:
        lines = [
            _("Period: %(period)s", period=params.period.label()),
            _("Stores: %(n)s", n=len(params.store_ids)),
        ]
        if params.category:
            lines.append(_("Device category: %(category)s", category=params.category))
        return lines

    def _render(self, form: AnalyticsForm, analytics: Analytics | None, message: str | None):
        page: dict[str, Any] = {
            "form": form,
            "message": message,
            "analytics": analytics,
            "metrics": METRICS,
            "max_period_days": MAX_PERIOD_DAYS,
            "sample_cap": SAMPLE_CAP,
            "horizon": HORIZON,
            "season": SEASON,
            "min_history_weeks": MIN_HISTORY_WEEKS,
            "too_short_message": exports.too_short_message(),
            "forecast_title": exports.forecast_title,
            "number": number,
        }
        if analytics is not None:
            page["query"] = form.query()
            page["subtitle"] = self._subtitle(analytics.params)
            page["charts"] = {
                name: svg_data_uri(charts.render(download.figure(analytics), "svg"))
                for name, download in exports.DOWNLOADS.items()
                if download.figure is not None and download.section in SECTIONS
            }
            page["titles"] = {name: str(download.title) for name, download in exports.DOWNLOADS.items()}
        return self.render("analytics/index.html", **page)


def register_analytics_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(admin, "ch7", (AnalyticsView, _l("Analytics"), "analytics", "/admin/analytics"))
