"""Domain core shared by every function: models, rules, table access, auth and observability."""
