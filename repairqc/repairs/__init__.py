"""Handbook ch.2, §5.1.3, §6.2.2: customers, devices and repair orders."""
