"""Executes a Plan it is given: dependency graph, parallelism, retries, polling, probes.
Never re-plans."""
