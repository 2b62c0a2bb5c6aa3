"""The webhook inbox: receive and store provider events, then apply them to the mirror.

See ``billhook/inbox/README.md`` for the rules a handler follows and how to add an event type.
"""
