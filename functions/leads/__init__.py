"""The leads function: organisations and staff access, partner companies, message templates, leads."""
