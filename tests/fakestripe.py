"""A local HTTP server that answers the Stripe API calls the product makes, in Stripe's
documented shapes (API version 2025-03-31.basil and later: the period end on the subscription
item, the invoice's subscription under `parent`), and records every request.

The product talks to it through the official `stripe` library (`STRIPE_API_BASE`), so the
library's encoding, headers, retries and idempotency keys are the real ones. Webhook events are
signed with the library's own `WebhookSignature.generate_signature_header`.

Only what the product calls is implemented; anything else answers 404 as Stripe does, so a new
call fails loudly instead of passing against an imaginary API.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

WEBHOOK_SECRET = "whsec_test_secret"
API_KEY = "sk_test_local"
PRICES = {
    ("starter", "month"): "price_starter_month",
    ("starter", "year"): "price_starter_year",
    ("growth", "month"): "price_growth_month",
    ("growth", "year"): "price_growth_year",
    ("enterprise", "month"): "price_enterprise_month",
    ("enterprise", "year"): "price_enterprise_year",
}
PRICES_SETTING = ",".join(f"{plan}:{interval}={price}" for (plan, interval), price in PRICES.items())
DAY = 24 * 3600


def decode(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=x`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                node[part] = value
                break
            node = node.setdefault(part, {})  # digit keys become a list in `_lists`
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    authorization: str | None


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    idempotent: dict[tuple[str, str], tuple[int, dict]] = field(default_factory=dict)
    #: Answer every request with this status (Stripe being down), when set.
    fail_with: int | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    # --- what tests look at ---------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # --- what Stripe would do on its side (the customer paying, renewals failing) ---------------------

    def pay_checkout(self, session_id: str, *, trial_days: int | None = None) -> dict:
        """The customer completes Checkout: a customer and a subscription appear."""
        with self._lock:
            session = self.sessions[session_id]
            customer = session.get("customer") or self.new_id("cus")
            self.customers.setdefault(
                customer, {"id": customer, "object": "customer", "email": session.get("customer_email")}
            )
            price = session["line_items"][0]["price"]
            days = trial_days if trial_days is not None else int(session.get("trial_period_days") or 0)
            now = int(time.time())
            subscription = self._subscription(customer, price, session.get("subscription_metadata", {}))
            if days:
                subscription.update(status="trialing", trial_start=now, trial_end=now + days * DAY)
                subscription["items"]["data"][0]["current_period_end"] = now + days * DAY
            session.update(
                status="complete", payment_status="paid", customer=customer, subscription=subscription["id"]
            )
            return session

    def _subscription(self, customer: str, price: str, metadata: dict) -> dict:
        now = int(time.time())
        sub_id = self.new_id("sub")
        subscription = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": "active",
            "cancel_at_period_end": False,
            "canceled_at": None,
            "ended_at": None,
            "trial_start": None,
            "trial_end": None,
            "metadata": metadata,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self.new_id("si"),
                        "object": "subscription_item",
                        "price": {"id": price, "object": "price"},
                        "quantity": 1,
                        "current_period_start": now,
                        "current_period_end": now + 30 * DAY,
                    }
                ],
            },
        }
        self.subscriptions[sub_id] = subscription
        return subscription

    def set_subscription(self, sub_id: str, **changes: Any) -> dict:
        with self._lock:
            subscription = self.subscriptions[sub_id]
            subscription.update(changes)
            if changes.get("status") == "canceled" and not subscription.get("ended_at"):
                subscription["ended_at"] = int(time.time())
            return subscription

    def add_invoice(self, customer: str, sub_id: str, amount: int, status: str = "paid") -> dict:
        invoice_id = self.new_id("in")
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": customer,
            "number": f"RQC-{len(self.invoices) + 1:04d}",
            "amount_due": amount,
            "currency": "usd",
            "status": status,
            "created": int(time.time()),
            "hosted_invoice_url": f"https://invoice.stripe.test/{invoice_id}",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub_id}},
        }
        self.invoices[invoice_id] = invoice
        return invoice

    # --- signed events --------------------------------------------------------------------------------

    def event(self, kind: str, obj: dict, *, event_id: str | None = None, created: int | None = None) -> dict:
        return {
            "id": event_id or self.new_id("evt"),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": created or int(time.time()),
            "livemode": False,
            "type": kind,
            "data": {"object": obj},
        }

    @staticmethod
    def signed(event: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret)
        return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}

    # --- the HTTP side ------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        pairs = parse_qsl(request.query_string.decode(), keep_blank_values=True)
        if request.method == "POST":
            pairs += parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
        params = decode(pairs)
        key = request.headers.get("Idempotency-Key")
        self.requests.append(
            Recorded(request.method, request.path, params, key, request.headers.get("Authorization"))
        )
        if self.fail_with:
            status, body = self.fail_with, _error("api_error", "The fake is down.")
        elif key and request.method == "POST" and (request.path, key) in self.idempotent:
            status, body = self.idempotent[(request.path, key)]
        else:
            with self._lock:
                status, body = self._route(request.method, request.path, params)
            if key and request.method == "POST":
                self.idempotent[(request.path, key)] = (status, body)
        return Response(json.dumps(body), status=status, content_type="application/json")(
            environ, start_response
        )

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        expand = set(params.get("expand") or [])
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._create_session(params)
        if match := re.fullmatch(r"/v1/checkout/sessions/([\w]+)", path):
            session = self.sessions.get(match[1])
            if session is None or method != "GET":
                return _missing("checkout session", match[1])
            out = dict(session)
            out.pop("line_items", None)
            out.pop("trial_period_days", None)
            out.pop("subscription_metadata", None)
            if "subscription" in expand and session.get("subscription"):
                out["subscription"] = self.subscriptions[session["subscription"]]
            return 200, out
        if match := re.fullmatch(r"/v1/subscriptions/([\w]+)", path):
            subscription = self.subscriptions.get(match[1])
            if subscription is None:
                return _missing("subscription", match[1])
            if method == "POST":
                self._update_subscription(subscription, params)
            out = dict(subscription)
            if "customer" in expand:
                out["customer"] = self.customers.get(
                    subscription["customer"], {"id": subscription["customer"]}
                )
            return 200, out
        if method == "POST" and path == "/v1/billing_portal/sessions":
            if params.get("customer") not in self.customers:
                return _missing("customer", params.get("customer"))
            portal_id = self.new_id("bps")
            return 200, {
                "id": portal_id,
                "object": "billing_portal.session",
                "customer": params["customer"],
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{portal_id}",
            }
        if method == "GET" and path == "/v1/invoices":
            data = [i for i in self.invoices.values() if i["customer"] == params.get("customer")]
            data.sort(key=lambda i: i["created"], reverse=True)
            return 200, {"object": "list", "data": data[: int(params.get("limit", 10))], "has_more": False}
        if method == "POST" and path == "/v1/invoices/create_preview":
            subscription = self.subscriptions.get(params.get("subscription", ""))
            if subscription is None:
                return _missing("subscription", params.get("subscription"))
            price = subscription["items"]["data"][0]["price"]["id"]
            amount = {"month": 2900, "year": 29000}[price.rsplit("_", 1)[-1]]
            return 200, {
                "object": "invoice",
                "customer": params.get("customer"),
                "amount_due": amount,
                "currency": "usd",
                "status": "draft",
                "created": subscription["items"]["data"][0]["current_period_end"],
                "number": None,
            }
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _create_session(self, params: dict[str, Any]) -> dict:
        session_id = self.new_id("cs")
        subscription_data = params.get("subscription_data") or {}
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata") or {},
            "subscription": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "expires_at": int(params.get("expires_at") or time.time() + DAY),
            "line_items": params.get("line_items") or [],
            "trial_period_days": subscription_data.get("trial_period_days"),
            "subscription_metadata": subscription_data.get("metadata") or {},
        }
        self.sessions[session_id] = session
        return {
            k: v
            for k, v in session.items()
            if k not in {"line_items", "trial_period_days", "subscription_metadata"}
        }

    def _update_subscription(self, subscription: dict, params: dict[str, Any]) -> None:
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        for change in params.get("items") or []:
            for item in subscription["items"]["data"]:
                if item["id"] == change.get("id") and change.get("price"):
                    item["price"] = {"id": change["price"], "object": "price"}
        if params.get("metadata"):
            subscription["metadata"] = {**subscription.get("metadata", {}), **params["metadata"]}


def _error(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def _missing(what: str, ident: Any) -> tuple[int, dict]:
    return 404, _error("invalid_request_error", f"No such {what}: '{ident}'")


@contextlib.contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=5)


def stripe_settings(fake: FakeStripe) -> dict[str, Any]:
    """The app settings that point the product at `fake`."""
    return {
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake.url,
        "STRIPE_PRICES": PRICES_SETTING,
    }


# --- helpers for the billing tests: a tenant signed up through Checkout, events delivered ------------

PLATFORM = "http://localhost"
OWNER_PASSWORD = "owner-password-1"


def deliver(client, fake: FakeStripe, event: dict, *, headers: dict[str, str] | None = None):
    """POST `event` to the webhook, signed with the right secret unless `headers` say otherwise."""
    payload, signed_headers = fake.signed(event)
    return client.post("/stripe/webhook", base_url=PLATFORM, data=payload, headers=headers or signed_headers)


@dataclass
class SignedUpTenant:
    """A tenant made the way a customer makes one: /signup, Checkout paid, Stripe's event."""

    slug: str
    tenant_id: int
    ref: Any  # repairqc.db.TenantRef
    owner_email: str
    public_id: str
    session_id: str
    subscription_id: str
    customer_id: str

    @property
    def host(self) -> str:
        return f"http://{self.slug}.localhost"


def start_sign_up(client, *, plan: str = "starter", interval: str = "month") -> tuple[str, str]:
    """POST the sign-up form; returns (address, checkout session id). Nothing is paid yet."""
    import uuid

    address = f"shop-{uuid.uuid4().hex[:8]}"
    started = client.post(
        "/signup",
        base_url=PLATFORM,
        # Sign-ups are limited per address and hour; each test sign-up comes from its own.
        environ_base={"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"},
        data={
            "business_name": f"Business {address}",
            "slug": address,
            "owner_name": f"Owner {address}",
            "owner_email": f"owner@{address}.example.com",
            "password": OWNER_PASSWORD,
            "locale": "en",
            "plan": plan,
            "interval": interval,
        },
    )
    assert started.status_code == 303, started.text
    return address, started.headers["Location"].rsplit("/", 1)[-1]


def sign_up_tenant(
    app, fake: FakeStripe, *, plan: str = "starter", interval: str = "month", trial_days: int = 0
) -> SignedUpTenant:
    """Sign a tenant up and pay; with `trial_days=0` its subscription is active at once."""
    import sqlalchemy as sa

    from repairqc.billing.models import SignUp, Subscription
    from repairqc.db import db

    client = app.test_client()
    address, session_id = start_sign_up(client, plan=plan, interval=interval)
    session = fake.pay_checkout(session_id, trial_days=trial_days)
    event = fake.event("checkout.session.completed", {"id": session_id, "object": "checkout.session"})
    assert deliver(client, fake, event).status_code == 200
    with app.app_context():
        sign_up = db.control.execute(sa.select(SignUp).where(SignUp.slug == address)).scalar_one()
        assert sign_up.tenant_id is not None, f"sign-up {address} was not provisioned"
        row = db.control.execute(
            sa.select(Subscription).where(Subscription.tenant_id == sign_up.tenant_id)
        ).scalar_one()
        assert row.stripe_subscription_id == session["subscription"]
        return SignedUpTenant(
            slug=address,
            tenant_id=sign_up.tenant_id,
            ref=sign_up.tenant.ref,
            owner_email=sign_up.owner_email,
            public_id=sign_up.public_id,
            session_id=session_id,
            subscription_id=session["subscription"],
            customer_id=session["customer"],
        )


def sign_in_owner(client, tenant: SignedUpTenant, email: str | None = None, password: str = OWNER_PASSWORD):
    """Sign the owner (or another member of staff, by e-mail) in at the tenant's host."""
    response = client.post(
        "/login", base_url=tenant.host, data={"email": email or tenant.owner_email, "password": password}
    )
    assert response.status_code == 302, response.text
    return response


def subscription_event(fake: FakeStripe, kind: str, sub_id: str, **event_args: Any) -> dict:
    """A customer.subscription.* event whose payload is the subscription as the fake has it now."""
    return fake.event(kind, dict(fake.subscriptions[sub_id]), **event_args)


def invoice_event(fake: FakeStripe, kind: str, tenant: SignedUpTenant, *, status: str = "open") -> dict:
    """An invoice.* event for the tenant's subscription (basil shape: the subscription under parent)."""
    invoice = fake.add_invoice(tenant.customer_id, tenant.subscription_id, 2900, status=status)
    return fake.event(kind, dict(invoice))


def subscription_row(app, tenant: SignedUpTenant) -> dict[str, Any]:
    """The tenant's subscription row as a dict of its columns (read in a fresh app context)."""
    import sqlalchemy as sa

    from repairqc.billing.models import Subscription
    from repairqc.db import db

    with app.app_context():
        row = db.control.execute(
            sa.select(Subscription).where(Subscription.tenant_id == tenant.tenant_id)
        ).scalar_one()
        values = {column.key: getattr(row, column.key) for column in sa.inspect(Subscription).column_attrs}
        values["plan_code"] = row.plan.code
        return values


def set_subscription_row(app, tenant: SignedUpTenant, **values: Any) -> None:
    """Change the tenant's subscription row directly (a state Stripe's events would lead to)."""
    import sqlalchemy as sa

    from repairqc.billing.models import Subscription
    from repairqc.db import db

    with app.app_context():
        db.control.execute(
            sa.update(Subscription).where(Subscription.tenant_id == tenant.tenant_id).values(**values)
        )
        db.control.commit()
