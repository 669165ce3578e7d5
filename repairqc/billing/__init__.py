"""Plans, sign-up through Stripe Checkout, subscriptions mirrored from Stripe, webhooks, plan
limits, grace and read-only mode (issue #6; docs/architecture.md "Billing and sign-up")."""
