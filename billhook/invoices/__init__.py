"""The invoice mirror."""
