"""Clinical rules and entities. Standard library only (STYLE.md §1)."""
