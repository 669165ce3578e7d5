"""Plans, Stripe subscriptions, webhooks, entitlements and dunning (issue #6; empty until then)."""
