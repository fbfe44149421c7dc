"""The Lambda authorizer for partner companies' client-credentials tokens."""
