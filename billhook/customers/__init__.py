"""The customer mirror: provider customers and their saved payment methods (brand/last4/expiry)."""
