"""Money (seed 004): commission plans, the commission breakdown and its cascade of writes, wallets and their
ledger, payout requests, the ledger audit and payout e-mails.
"""
