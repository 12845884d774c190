"""Reading a host: calling the agent, the contract of its replies, and the typed snapshot and facts of one host.

Internal (the leading underscore): no promise of compatibility to code outside this collection.
"""
