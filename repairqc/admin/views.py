"""The generated admin: one `TenantModelView` subclass per tenant model, built from the model.

Nothing here names a model. Labels, help texts, searchable and filterable columns, form fields
and menu groups are read from the mapped classes; permissions come from the matrix in
`repairqc.accounts.permissions`; store scoping from `repairqc.accounts.scoping`.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, has_request_context, make_response, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext as admin_lazy_gettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.base import FilterGroup
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import RelationshipDirection, lazyload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField
from wtforms.validators import ValidationError

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import MATRIX, Action, current_grants
from repairqc.accounts.scoping import get_scoped, row_allowed, scope_condition, scoped_query, selectable_query
from repairqc.admin.fields import BoundedIntEqualFilter, FilterConverter, ModelConverter
from repairqc.chapters import CHAPTERS
from repairqc.db import TenantBase, UTCDateTime, current_tenant_or_none, db
from repairqc.errors import DomainError, refusal_text
from repairqc.models_base import Versioned
from repairqc.privacy.access import log_admin_export, log_admin_list_view, log_admin_record_view

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def integrity_message(exc: sa.exc.IntegrityError) -> str:
    """Say which kind of rule the database refused (PostgreSQL SQLSTATE or SQLite's text)."""
    code = getattr(exc.orig, "sqlstate", None)
    text = str(exc.orig).lower()
    if code == "23505" or "unique constraint" in text:
        return _("Another record already uses this value; it must be unique.")
    if code == "23503" or "foreign key constraint" in text:
        return _("A related record is missing, or other records still refer to this one.")
    if code == "23514" or "check constraint" in text:
        return _(
            "The values do not fit together (for example a role that needs a store, or must not have one)."
        )
    if code == "23502" or "not null constraint" in text:
        return _("A required value is missing.")
    return _("The database refused this change.")


def staff_signed_in() -> bool:
    return (
        current_tenant_or_none() is not None
        and current_user.is_authenticated
        and isinstance(current_user._get_current_object(), StaffUser)
    )


def deny_access(name: str | None = None, **kwargs: Any):
    if not staff_signed_in():
        return redirect(url_for("accounts.login", next=request.full_path))
    abort(403)


class TenantIndexView(AdminIndexView):
    """The admin home: the menu is the list of what the user may open."""

    def is_accessible(self) -> bool:
        return staff_signed_in()

    def inaccessible_callback(self, name: str, **kwargs: Any):
        return deny_access(name, **kwargs)

    @expose("/")
    def index(self):
        return self.render("admin/tenant_index.html", grants=current_grants())


class TenantModelView(ModelView):
    """Base of every generated view: permissions, store scope and edit conflicts in one place."""

    can_view_details = True
    export_types = ["csv", "xlsx"]
    export_max_rows = 10_000
    page_size = 50
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    column_display_pk = True
    model_form_converter = ModelConverter
    filter_converter = FilterConverter()

    # --- permissions --------------------------------------------------------------------

    def _can(self, action: Action) -> bool:
        return staff_signed_in() and current_grants().can(self.model.__name__, action)

    def is_accessible(self) -> bool:
        return self._can(Action.VIEW)

    def inaccessible_callback(self, name: str, **kwargs: Any):
        return deny_access(name, **kwargs)

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self._can(Action.CREATE)

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self._can(Action.EDIT)

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self._can(Action.DELETE)

    @property
    def can_export(self) -> bool:  # type: ignore[override]
        return self._can(Action.EXPORT)

    # --- store scope: every read path ---------------------------------------------------

    @staticmethod
    def _reading_action() -> Action:
        # Export runs through get_list/get_query too; it is limited to the stores one may export.
        return Action.EXPORT if (request.endpoint or "").endswith(".export") else Action.VIEW

    #: Many-to-one relations shown in the list (set per model by `view_attributes`).
    eager_relations: tuple[Any, ...] = ()

    def get_query(self):
        # One `SELECT ... WHERE id IN (...)` per relation shown instead of one LEFT JOIN each:
        # PostgreSQL spent about 15 ms *planning* the order list's 8-table join, more than running
        # any of these (bench/repairs.py). The related rows' own eager relations (a user's roles)
        # are not needed for their label.
        query = scoped_query(self.model, self._reading_action())
        return query.options(*(selectinload(rel).lazyload("*") for rel in self.eager_relations))

    def get_count_query(self):
        query = self.session.query(sa.func.count()).select_from(self.model)
        condition = scope_condition(self.model, self._reading_action())
        return query if condition is None else query.filter(condition)

    def _coerce_pk(self, value: Any) -> Any:
        """The primary key as its Python type, or None (shown as "not found") if it cannot be one."""
        try:
            pk = sa.inspect(self.model).primary_key[0].type.python_type(value)
        except (TypeError, ValueError):
            return None
        if isinstance(pk, int) and not INT32_MIN <= pk <= INT32_MAX:
            return None  # PostgreSQL integer columns: anything larger is an error, not a miss
        return pk

    def _get_list_extra_args(self):
        view_args = super()._get_list_extra_args()
        # ?page=10**20 would overflow the OFFSET; no list has a thousand million pages.
        view_args.page = max(0, min(view_args.page or 0, 10**9 // self.page_size))
        return view_args

    def get_one(self, id: Any):
        # Flask-Admin's own get_one uses session.get(), which would bypass the scope.
        pk = self._coerce_pk(id)
        row = None if pk is None else get_scoped(self.model, pk, Action.VIEW)
        if row is not None:
            log_admin_record_view(self.model, pk)  # HB §7.3.1: details and edit of customer records
        return row

    def _export_data(self):
        count, data = super()._export_data()
        log_admin_export(self.model, len(data))  # HB §7.3.1: one entry per export, of every model
        return count, data

    def get_list(self, *args, **kwargs):
        count, data = super().get_list(*args, **kwargs)
        if kwargs.get("execute", True):
            log_admin_list_view(self.model, len(data))  # HB §7.3.1: a list of customers' contact data
        return count, data

    @action(
        "delete",
        admin_lazy_gettext("Delete"),
        admin_lazy_gettext("Are you sure you want to delete selected records?"),
    )
    def action_delete(self, ids: list[str]) -> None:
        # Row ids arrive as strings; PostgreSQL refuses "integer IN (varchar)" (a 500 otherwise).
        coerced = [pk for pk in map(self._coerce_pk, ids) if pk is not None]
        return super().action_delete(coerced)

    # --- every write path ----------------------------------------------------------------

    def on_model_change(self, form, model, is_created: bool) -> None:
        if not row_allowed(model, Action.CREATE if is_created else Action.EDIT):
            raise ValidationError(_("You may not save records for this store."))
        validate = getattr(model, "validate", None)
        if validate is not None:
            try:
                validate()  # the model's own rules, with a message naming the field
            except DomainError as exc:
                raise ValidationError(exc.message) from exc

    def update_model(self, form, model) -> bool:
        if not row_allowed(model, Action.EDIT):
            flash(_("You may not edit this record."), "error")
            return False
        expected = getattr(form, "expected_version", None)
        if expected is not None and expected.data and str(model.version) != expected.data:
            self._conflict()
            return False
        return super().update_model(form, model)

    def delete_model(self, model) -> bool:
        if not row_allowed(model, Action.DELETE):
            flash(_("You may not delete this record."), "error")
            return False
        return super().delete_model(model)

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, StaleDataError):
            self._conflict()
            return True
        if isinstance(exc, sa.exc.IntegrityError):
            # Roll back first: the failed flush expired the signed-in user, and rendering the
            # message reads their language through this session.
            self.session.rollback()
            flash(integrity_message(exc), "error")
            return True
        if isinstance(exc, DomainError):
            # A rule checked at flush time (a plan limit, a published standard): its own message,
            # not Flask-Admin's "Failed to create record" with a logged traceback.
            self.session.rollback()
            flash(refusal_text(exc), "error")
            return True
        return super().handle_view_exception(exc)

    def _get_filter_groups(self):
        # Flask-Admin caches filter options on the shared view at start-up; options of foreign
        # keys are store-scoped, so build them per request, locally, never on `self`.
        if not self._filters:
            return None
        groups: OrderedDict[str, FilterGroup] = OrderedDict()
        for index, flt in enumerate(self._filters):
            key = str(flt.name)
            groups.setdefault(key, FilterGroup(flt.name)).append(
                {
                    "index": index,
                    "arg": self.get_filter_arg(index, flt),
                    "operation": flt.operation(),
                    "options": flt.get_options(self) or None,
                    "type": flt.data_type,
                }
            )
        return OrderedDict(group.non_lazy() for group in groups.values())

    def _conflict(self) -> None:
        g.edit_conflict = True
        flash(
            _(
                "Someone else changed this record while you were editing it. "
                "Reload the page to see their changes, then make yours again."
            ),
            "error",
        )

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if hasattr(form, "expected_version") and request.method == "GET" and obj is not None:
            form.expected_version.data = str(obj.version)
        return form

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        response = super().edit_view()
        if g.pop("edit_conflict", False):
            return make_response(response, 409)  # HTTP says what the page says
        return response


def declare_language(response):
    """after_request: give Flask-Admin pages an <html lang>.

    Flask-Admin's base template writes a bare <html> with no block around it; browsers choose
    CJK fonts and screen readers their voice from this attribute.
    """
    if (
        response.mimetype == "text/html"
        and not response.direct_passthrough
        and request.path.startswith("/admin")
    ):
        from flask_babel import get_locale

        lang = "zh-Hans" if str(get_locale()).startswith("zh") else "en"
        body = response.get_data()
        response.set_data(body.replace(b"<html>", f'<html lang="{lang}">'.encode(), 1))
    return response


# --- building views from the models ---------------------------------------------------------


def _label(column: sa.Column) -> Any:
    return column.info.get("label") or column.key.replace("_", " ").capitalize()


def _is_enum(column: sa.Column) -> bool:
    return isinstance(column.type, sa.Enum)


def _is_datetime(column: sa.Column) -> bool:
    return isinstance(column.type, UTCDateTime)


def _utc_datetime(value: datetime) -> str:
    return format_datetime(value, "yyyy-MM-dd HH:mm 'UTC'", rebase=False)


def _shortened(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _enum_label(value: Any) -> str:
    return getattr(value, "label", value)


def _formatter(display):
    """A Flask-Admin column formatter (it must be a real function: export reads __name__)."""

    def format_column(view, context, model, name: str) -> str:
        value = getattr(model, name)
        return "" if value is None else display(value)

    return format_column


def _foreign_key_options(target: type[TenantBase]) -> list[tuple[str, str]]:
    if not has_request_context():  # Flask-Admin also asks once at start-up; scope needs a user
        return []
    # Per request: two filters on one table (received by, technician) share the query, and the
    # rows' eager relations (a user's roles) are not loaded for a label.
    cache = g.setdefault("foreign_key_options", {})
    if target not in cache:
        query = selectable_query(target).options(lazyload("*")).limit(500)
        cache[target] = [(str(obj.id), str(obj)) for obj in query]
    return cache[target]


#: Shown in details and exports, not in lists, where they only widen the table.
BOOKKEEPING_COLUMNS = frozenset({"created_at", "updated_at", "version"})


def grows_with_the_work(model: type[TenantBase]) -> bool:
    """Does the table grow with every repair: rows of a store, or a record nobody edits?

    Their lists page with previous/next only (Flask-Admin's `simple_list_pager`): otherwise each
    list page runs a COUNT(*) of every matching row (research/ecosystem.md §1.7), which reads the
    whole table or index and grows with it (bench/repairs.py, docs/benchmarks.md), while the page
    itself reads 50 rows through the primary key index. Tables that stay small (chains, regions,
    stores, staff, the parts catalogue, standards) keep the count and the numbered pager.
    """
    if "store_id" in sa.inspect(model).columns:
        return True  # customers, devices, orders and every record of their steps, stock, files
    grants = MATRIX.get(model.__name__, {})
    return not any(set(actions) & {Action.CREATE, Action.EDIT, Action.DELETE} for actions in grants.values())


def view_attributes(model: type[TenantBase]) -> dict[str, Any]:
    """Flask-Admin options for `model`, derived from its columns and relationships."""
    mapper = sa.inspect(model)
    by_fk: dict[str, Any] = {}
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.MANYTOONE:
            for column in rel.local_columns:
                by_fk[column.key] = rel

    formatters: dict[str, Any] = {}
    list_formatters: dict[str, Any] = {}  # list page only; details and export show the full value
    labels: dict[str, Any] = {}
    descriptions: dict[str, Any] = {}
    listed: list[str] = []  # details and export: every column
    in_table: list[str] = []  # list page: the columns that identify a row
    searchable: list[str] = []
    filters: list[Any] = []
    form_columns: list[str] = []
    form_args: dict[str, dict[str, Any]] = {}

    for prop in mapper.column_attrs:
        column = prop.columns[0]
        info = column.info
        rel = by_fk.get(prop.key)
        key = rel.key if rel is not None else prop.key
        labels[key] = _label(column)
        if info.get("help"):
            descriptions[key] = info["help"]
        editable = not info.get("readonly") and not column.primary_key and prop.key != "version"
        if editable and key not in form_columns:
            form_columns.append(key)
        if info.get("secret"):
            continue  # never listed, filtered, searched or exported
        listed.append(key)
        if not isinstance(column.type, sa.JSON) and prop.key not in BOOKKEEPING_COLUMNS:
            in_table.append(key)
        if isinstance(column.type, sa.Text) and not info.get("display"):
            list_formatters[key] = _formatter(_shortened)
        if _is_datetime(column):
            descriptions.setdefault(key, _l("Date and time in UTC"))
        display = info.get("display") or (
            _enum_label if _is_enum(column) else _utc_datetime if _is_datetime(column) else None
        )
        if display is not None:
            formatters[key] = _formatter(display)
        if rel is not None:
            target = rel.mapper.class_
            # A drop-down of a big table would load 500 rows on every list page and still miss
            # most of them: those filters take the row's id (links such as the board's use it).
            options = None if grows_with_the_work(target) else partial(_foreign_key_options, target)
            filters.append(BoundedIntEqualFilter(column, _label(column), options=options))
            form_args[key] = {"query_factory": partial(selectable_query, target)}
        elif _is_enum(column) or _is_datetime(column) or isinstance(column.type, sa.Boolean | sa.Date):
            filters.append(prop.key)
        elif isinstance(column.type, sa.String | sa.Text):
            searchable.append(prop.key)

    attrs: dict[str, Any] = {
        "column_list": in_table,
        "column_details_list": listed,
        "column_export_list": listed,
        "column_labels": labels,
        "column_formatters": {**formatters, **list_formatters},
        "column_formatters_export": formatters,
        "column_formatters_detail": formatters,
        "column_descriptions": descriptions,
        "column_searchable_list": searchable,
        "column_filters": filters,
        # Newest first, read backwards along the primary key index: no sort of the matching rows.
        "column_default_sort": (mapper.primary_key[0].key, True),
        "simple_list_pager": grows_with_the_work(model),
        # Eager-load what lists show: CSV export streams after the request's session is closed.
        # Not through Flask-Admin's joinedload (`column_select_related_list`): see `get_query`.
        "column_auto_select_related": False,
        "eager_relations": tuple(getattr(model, key) for key in in_table if key in mapper.relationships),
        "form_columns": form_columns,
        "form_args": form_args,
    }
    if issubclass(model, Versioned):
        # Flask-Admin adds extra fields only when form_columns is unset, so list it too.
        attrs["form_extra_fields"] = {"expected_version": HiddenField()}
        attrs["form_columns"] = [*form_columns, "expected_version"]
    return attrs


def tenant_models() -> list[type[TenantBase]]:
    models = [mapper.class_ for mapper in TenantBase.registry.mappers]
    return sorted(models, key=lambda m: (list(CHAPTERS).index(m.__chapter__), m.__name__))


def register_tenant_views(admin: Admin) -> None:
    for model in tenant_models():
        if model.__name__ not in MATRIX:
            # Forces a decision on who may see a new model before it ships.
            raise RuntimeError(f"{model.__name__} has no row in the permission matrix")
        view_class = type(f"{model.__name__}Admin", (TenantModelView,), view_attributes(model))
        admin.add_view(
            view_class(
                model,
                db.session,
                name=model.__label_plural__,
                endpoint=model.__tablename__,
                category=CHAPTERS[model.__chapter__],
            )
        )
