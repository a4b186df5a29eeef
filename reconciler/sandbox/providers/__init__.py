"""Model-provider emulators: what OpenAI, Cohere, Bedrock, SageMaker and other well-known
providers answer, so that predicts (and so probes) work offline.

`emulating` maps a host to its provider and answers one `exchanges.Call`; the provider
modules hold each API's paths, bodies and errors (docs/reference/providers.md); `vectors`
makes the deterministic embeddings and texts; `sigv4` signs and verifies AWS requests.
`ml/sending.py` is the only caller. Like the rest of the sandbox, nothing here imports from
the rest of osml, and nothing touches the network.
"""
