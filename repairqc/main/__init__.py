"""Pages that belong to no domain: the tenant home, health check and language switch."""
