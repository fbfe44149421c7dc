"""Deals (seed 002): staff and portal deals, stage history, notes, files and deal e-mails."""
