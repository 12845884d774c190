"""Changing a host: plans, the agent's steps, what their outcome means, and reading the host back.

Internal (the leading underscore): no promise of compatibility to code outside this collection.
"""
