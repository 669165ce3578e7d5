"""Complaints with a first-contact clock (HB §9.3)."""
