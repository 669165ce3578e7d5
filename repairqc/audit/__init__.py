"""The audit log (HB §2.1.1 traceability, §7.3.1): every change to a tenant row, in its transaction."""
