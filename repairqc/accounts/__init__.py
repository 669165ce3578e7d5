"""Staff accounts, roles per store, permissions and sign-in (design.md §3)."""
