"""Server-rendered pages (customer pages, admin, the local mailbox), Jinja2 templates."""
