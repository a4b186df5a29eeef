"""Facts about the ML Commons server, per version, with no I/O: versions and their
capabilities, defaults, server-managed fields, template syntax, built-in functions."""
