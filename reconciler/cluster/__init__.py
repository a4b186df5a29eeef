"""The only importer of opensearch-py: connection, ML Commons calls, the live snapshot and
the state index (ownership, intents, lock)."""
