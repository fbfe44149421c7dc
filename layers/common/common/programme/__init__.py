"""The multi-level programme (seeds 003 and 004): its structure, terms, invitations, registration from outside
and the programme's e-mails.
"""
