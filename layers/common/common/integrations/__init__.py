"""Outbound events and webhooks: the changes an organisation's other systems consume, and the one engine that
delivers anything leaving the product by HTTP."""
