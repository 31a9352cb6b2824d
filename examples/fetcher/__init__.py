"""A rate-limited fetcher: timers, stash/become and a pool working together.

Run it with ``python -m examples.fetcher``; see ``docs/toolkit.md``.
"""
