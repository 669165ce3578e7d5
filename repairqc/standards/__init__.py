"""Handbook ch.5: per-tenant quality standards, versioned, with effective dates (HB §5.1.2)."""
