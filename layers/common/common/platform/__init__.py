"""The platform every domain stands on: clock, ids, errors, settings, observability, field types, table access
and its schema, cursors, bounded histories, at-most-once notices, e-mail, SMS, e-mailed single-use links,
currencies, and the table's stream plumbing (filters, fan-out, queued changes).
"""
