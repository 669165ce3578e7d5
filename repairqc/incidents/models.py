"""Emergency plans, drills and incidents (HB §9.1-§9.2)."""
