"""Small domain-free helpers: clock, ids, money, signed tokens."""
