"""What proves a set good: catalogs, manifests, structure, fleet consensus and the verdicts.

Internal (the leading underscore): no promise of compatibility to code outside this collection.
"""
