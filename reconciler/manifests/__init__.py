"""Desired state: manifest models, YAML loading with source positions, semantic checks,
secret references and JSON Schema export. No network I/O."""
