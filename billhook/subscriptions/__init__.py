"""The subscription mirror: status, period (from the items), trial and cancel fields."""
