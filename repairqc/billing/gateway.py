"""The one way the product talks to Stripe: a `StripeClient` built from configuration.

No global `stripe.api_key`: the client is per app, so tests point one app at a local server
(`STRIPE_API_BASE`) without touching another. Network retries stay at the library's default
(2), which sends an idempotency key with every retried POST; the calls that must not be
duplicated pass their own key (research/ecosystem.md §3.2).
"""

from __future__ import annotations

from typing import Any

import stripe
from flask import current_app
from flask_babel import gettext as _

from repairqc.errors import DomainError


class StripeUnavailable(DomainError):
    """Stripe could not be reached or refused the call; nothing was changed on our side."""

    status_code = 502


def billing_enabled() -> bool:
    """False on the embedded default: sign-up then provisions a trial tenant directly."""
    return bool(current_app.config["STRIPE_SECRET_KEY"])


def client() -> stripe.StripeClient:
    app = current_app._get_current_object()
    existing = app.extensions.get("repairqc.stripe")
    if existing is None:
        if not billing_enabled():
            raise RuntimeError("STRIPE_SECRET_KEY is not set")
        base = app.config["STRIPE_API_BASE"]
        existing = app.extensions["repairqc.stripe"] = stripe.StripeClient(
            app.config["STRIPE_SECRET_KEY"],
            base_addresses={"api": base} if base else {},
            max_network_retries=1 if app.config["TESTING"] else 2,
        )
    return existing


def price_id(plan_code: str, interval: str) -> str:
    try:
        return current_app.config["STRIPE_PRICE_IDS"][(plan_code, interval)]
    except KeyError:
        raise DomainError(
            _("This plan cannot be bought with that billing interval; choose another."), field="plan"
        ) from None


def call(operation: str, method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the Stripe client method; an error is a translated `StripeUnavailable`, logged with
    Stripe's own message (which is in English and may name internals)."""
    try:
        return method(*args, **kwargs)
    except stripe.StripeError as exc:
        current_app.logger.warning("Stripe %s failed: %s", operation, exc)
        raise StripeUnavailable(
            _("The payment service did not answer as expected. Nothing was changed; try again in a minute.")
        ) from exc


def value(obj: Any, *path: str, default: Any = None) -> Any:
    """obj.a.b… for Stripe objects (not dicts since v15), plain dicts and None alike."""
    for name in path:
        if obj is None:
            return default
        # Item access, not getattr: on a StripeObject "items" is a field, not dict.items.
        obj = obj.get(name) if isinstance(obj, dict) else _field(obj, name)
    return default if obj is None else obj


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, (list, str, int, float, bool)):
        return None
    return obj[name] if name in obj else None  # noqa: SIM401  (StripeObject has no .get since v15)
