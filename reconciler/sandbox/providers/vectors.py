"""Deterministic model outputs: embeddings per input text, chat text, token counts.

The same text and model give the same unit-length vector on every run and machine (SHA-256
expanded, no randomness), so ingest and query embeddings of one text agree and tests can
compare them. Each embedding model has its real output dimension (docs/reference/providers.md
gives the sources). Generated text says plainly that it comes from the sandbox.
"""

from __future__ import annotations

import hashlib
import math
import struct

DIMENSIONS: dict[str, int] = {
    # OpenAI
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    # Cohere (direct API and Bedrock model IDs)
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "embed-english-v2.0": 4096,
    "embed-english-light-v2.0": 1024,
    "embed-multilingual-v2.0": 768,
    "embed-v4.0": 1536,
    "cohere.embed-english-v3": 1024,
    "cohere.embed-multilingual-v3": 1024,
    "cohere.embed-v4:0": 1536,
    # Amazon Titan on Bedrock
    "amazon.titan-embed-text-v1": 1536,
    "amazon.titan-embed-text-v2:0": 1024,
    "amazon.titan-embed-g1-text-02": 1536,
    "amazon.titan-embed-image-v1": 1024,
    # Aleph Alpha (full semantic embedding; `compress_to_size` gives 128)
    "luminous-base": 5120,
    # Ollama
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    # Google
    "text-embedding-004": 768,
    "gemini-embedding-001": 3072,
}
"""Output dimension by model name, as each provider documents it."""


def embed(text: str, *, model: str, dimension: int) -> list[float]:
    """A unit vector of `dimension` floats determined by (model, text)."""
    seed = f"{model}\x00{text}".encode()
    values: list[float] = []
    counter = 0
    while len(values) < dimension:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        values.extend(n / 2**31 - 1.0 for n in struct.unpack(">8I", block))
        counter += 1
    vector = values[:dimension]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def tokens(*texts: str) -> int:
    """A rough token count (words), for usage fields."""
    return sum(max(1, len(t.split())) for t in texts)


def answer(prompt: str, *, provider: str) -> str:
    """The generated text: says what emulated it and echoes the start of the prompt."""
    words = prompt.split()
    excerpt = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
    return f"(sandbox {provider} emulator) You said: {excerpt}"
