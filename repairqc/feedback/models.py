"""Follow-ups and satisfaction surveys after delivery (HB §6.2.2, §6.3)."""
