"""Read models by subject, never by room: ``queue`` (lines, trackers, counter screens),
``office`` (the office's state, menus, setup lists) and ``people`` (who is calling:
users, tokens, devices). Plain functions over a sqlite_utils.Database; no writes.
"""
