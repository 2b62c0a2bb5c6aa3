"""Coaching bookings: a client books a coach, pays through hosted Checkout, and the paid checkout
confirms the booking (``orders`` + ``fulfilment``); a full refund cancels it."""
