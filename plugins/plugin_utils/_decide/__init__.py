"""What one host needs, and its health checks.

Internal (the leading underscore): no promise of compatibility to code outside this collection.
"""
