"""Partners of an organisation: their records and statuses, the calling partner, staff managing partners, the
partner's own account and identity, lifecycle and lapse, brokers, sender addresses, portal settings and the
e-mails that follow partner changes.
"""
