"""Optional stages after verification that keep only chains worth training on (docs/filters.md)."""
