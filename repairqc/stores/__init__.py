"""Organisation: chains (brands), regions and stores of a provider (design.md §4)."""
