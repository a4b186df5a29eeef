"""A local ML Commons-compatible cluster: a real HTTP server written from the API
reference. It imports nothing from the rest of osml, so that a mistake in osml's
normalizing or diffing cannot be mirrored here and hide."""
