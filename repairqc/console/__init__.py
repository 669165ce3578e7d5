"""The platform operators' console at the bare BASE_DOMAIN (control plane only)."""
