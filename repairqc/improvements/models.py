"""Improvement suggestions and process reviews (HB §2.3, §5.2.3)."""
