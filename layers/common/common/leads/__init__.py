"""Leads (seed 001): intake from partner companies, the pending list, the work queue, the assignee's actions,
returns, the companies and their credentials, customers, and lead e-mails.
"""
