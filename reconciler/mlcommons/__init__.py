"""Facts about the ML Commons server, per version, with no I/O.

`versions` (Version, SUPPORTED, LATEST, capabilities), `endpoints` (default trusted regexes,
the full-match rule), `defaults` (client_config and setting defaults), `functions` (built-in
pre/post-process names), `templates` (placeholder syntax and substitution), `fields`
(server-managed fields, normalisation), `settings` (the `plugins.ml_commons.*` table) and
`names` (the 3.1+ safe-text rule). Everything here comes from the reference, cited by section.
"""
