"""The partners function: partners (referrers) and their organisations' portal settings, the partner
programme (structure, terms, invitations, registration), workflows and deals, and the partner portal."""
