"""Shared pytest configuration: loads the sandbox fixtures (`cluster`, `sandbox_factory`)."""

pytest_plugins = ["reconciler.sandbox.testing"]
