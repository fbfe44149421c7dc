"""The token authorizer in front of every API route."""
