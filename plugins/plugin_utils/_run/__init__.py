"""The plumbing of the collection's action plugins and the defs_health role's run on the controller.

Internal (the leading underscore): no promise of compatibility to code outside this collection.
"""
