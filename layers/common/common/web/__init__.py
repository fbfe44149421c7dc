"""What the HTTP functions share: the API resolver, request bodies, route parameters and callers, OpenAPI helpers
and idempotent retries.
"""
