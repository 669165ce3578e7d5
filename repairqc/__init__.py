"""RepairQC: quality control for repair-service providers, one tenant per provider.

The package is called `repairqc`, not `platform`, because a top-level `platform` package
shadows the standard library module of that name (design.md §1).
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Load settings, initialise extensions, register blueprints and commands. No I/O here."""
    from repairqc.config import load_config

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path, config))

    _init_extensions(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    _register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from flask_admin import Admin
    from flask_admin.theme import Bootstrap4Theme
    from flask_babel import lazy_gettext as _l
    from werkzeug.middleware.proxy_fix import ProxyFix

    import repairqc.audit.services
    import repairqc.models  # noqa: F401  (every model mapped before the admin walks the registry)
    from repairqc.accounts.loader import load_user
    from repairqc.admin.views import TenantIndexView, declare_language, register_tenant_views
    from repairqc.assessments.views import register_assessment_views
    from repairqc.billing.views import register_billing_views
    from repairqc.complaints.views import register_complaints_views
    from repairqc.equipment.views import register_equipment_views
    from repairqc.extensions import babel, csrf, db, limiter, login_manager
    from repairqc.feedback.views import register_feedback_views
    from repairqc.i18n import select_locale
    from repairqc.improvements.views import register_improvements_views
    from repairqc.incidents.views import register_incidents_views
    from repairqc.inspections.views import register_inspection_views
    from repairqc.repairs.views import register_repair_views
    from repairqc.reports.views import register_report_views
    from repairqc.standards.views import register_standards_view
    from repairqc.training.views import register_training_views

    if app.config["TRUSTED_PROXY_COUNT"]:
        n = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    # One Admin per app: Flask-Admin views keep their blueprint on the instance.
    admin = Admin(
        app,
        name="RepairQC",
        url="/admin",
        index_view=TenantIndexView(url="/admin", name=_l("Home")),
        theme=Bootstrap4Theme(base_template="admin/tenant_master.html", fluid=True),
    )
    register_tenant_views(admin)
    register_standards_view(admin)
    register_repair_views(admin)
    register_inspection_views(admin)
    register_equipment_views(admin)
    register_training_views(admin)
    register_assessment_views(admin)
    register_feedback_views(admin)
    register_complaints_views(admin)
    register_improvements_views(admin)
    register_incidents_views(admin)
    register_report_views(admin)
    register_billing_views(admin)
    from repairqc.analytics.views import register_analytics_views  # issue #9: HB §7.2

    register_analytics_views(admin)
    from repairqc.dataquality.views import register_dataquality_views

    register_dataquality_views(admin)
    from repairqc.imports.views import register_imports_views  # issue #9: imports

    register_imports_views(admin)
    from repairqc.backups.views import register_backup_views  # issue #9: backups

    register_backup_views(admin)
    from repairqc.privacy.views import register_privacy_views  # issue #9: access and confidentiality

    register_privacy_views(admin)
    app.after_request(declare_language)


def _register_blueprints(app: Flask) -> None:
    from repairqc.accounts.views import bp as accounts_bp
    from repairqc.billing.signup_views import bp as signup_bp
    from repairqc.billing.views import bp as billing_bp
    from repairqc.console.views import bp as console_bp
    from repairqc.files.views import bp as files_bp
    from repairqc.main.views import bp as main_bp
    from repairqc.repairs.api import bp as repairs_api_bp
    from repairqc.repairs.tracking_views import bp as tracking_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(files_bp)
    app.register_blueprint(tracking_bp)
    app.register_blueprint(repairs_api_bp)
    app.register_blueprint(signup_bp)
    app.register_blueprint(billing_bp)
    from repairqc.feedback.public_views import bp as survey_bp  # issue #8: the customer's survey

    app.register_blueprint(survey_bp)
    from repairqc.complaints.public_views import bp as complaints_public_bp  # issue #8: complaint form

    app.register_blueprint(complaints_public_bp)


def _register_request_hooks(app: Flask) -> None:
    from repairqc.accounts.loader import bind_actor, release_actor
    from repairqc.billing.services import format_price
    from repairqc.billing.views import banner as billing_banner
    from repairqc.billing.views import refuse_writes_when_read_only
    from repairqc.errors import register_error_handlers
    from repairqc.i18n import format_money
    from repairqc.standards.markdown import render_markdown
    from repairqc.tenants.resolution import release_tenant, resolve_request

    app.before_request(resolve_request)
    app.before_request(bind_actor)
    app.before_request(refuse_writes_when_read_only)
    app.context_processor(billing_banner)
    app.teardown_request(release_actor)
    app.teardown_request(release_tenant)
    register_error_handlers(app)
    app.add_template_filter(render_markdown, "markdown")  # SOP texts, sanitised
    app.add_template_filter(format_money, "money")  # amounts kept in cents
    app.add_template_filter(format_price, "price")  # cents with their currency (plans, invoices)

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from flask import g
        from flask_babel import get_locale

        from repairqc.i18n import LOCALES

        return {"locales": LOCALES, "current_locale": str(get_locale()), "tenant": g.get("tenant")}


def _register_commands(app: Flask) -> None:
    from repairqc.cli import register_commands

    register_commands(app)
