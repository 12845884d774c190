"""The fleet report of the defs_health role: JSON, HTML, JUnit and the console.

Internal (the leading underscore): no promise of compatibility to code outside this collection.
"""
