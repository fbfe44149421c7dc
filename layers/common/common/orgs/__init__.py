"""Organisations: staff access and permissions, organisations and their child organisations, message templates
and deal workflows.
"""
