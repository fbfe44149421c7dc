"""The integrations functions: the webhooks API (endpoints, their secrets and delivery logs), the consumer that
turns the table's changes into events, and the delivery of events to webhook endpoints."""
