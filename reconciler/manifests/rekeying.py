"""Re-encrypt every osml ciphertext in a manifest tree under a new key.

Called by `osml secrets rekey`. Works on the file text, not on parsed YAML, so that
comments, quoting and layout stay exactly as they were: ciphertexts are self-delimiting
tokens (`osml:v1:<key id>:<base64url>`), and only those tokens change. Every ciphertext
is decrypted before any file is written, so a wrong key or a corrupt value changes
nothing. Files are replaced atomically.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import SecretError
from reconciler.manifests.loading import find_manifest_files
from reconciler.secrets.encrypting import SecretKey, decrypt, encrypt

_CIPHERTEXT = re.compile(r"osml:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+")


@dataclasses.dataclass(frozen=True, slots=True)
class RekeyResult:
    """What a rekey changed."""

    files: tuple[tuple[str, int], ...]
    """(file, number of ciphertexts re-encrypted) for each file that changed."""

    @property
    def total(self) -> int:
        """Ciphertexts re-encrypted in all files."""
        return sum(count for _, count in self.files)


def rekey(paths: Sequence[str | Path], *, old: SecretKey, new: SecretKey) -> RekeyResult:
    """Re-encrypt every ciphertext under `paths` from `old` to `new`."""
    files, problems = find_manifest_files(paths)
    if problems:
        raise SecretError("; ".join(str(p) for p in problems))
    rewritten: list[tuple[str, str, int]] = []
    for file in files:
        try:
            with open(file, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8 text"
            raise SecretError(f"{file}: cannot read: {reason}; nothing was re-encrypted") from exc
        new_text, count = _rekey_text(text, old=old, new=new, file=file)
        if count:
            rewritten.append((file, new_text, count))
    for file, new_text, _ in rewritten:
        _replace_atomically(Path(file), new_text)
    return RekeyResult(tuple((file, count) for file, _, count in rewritten))


def _rekey_text(text: str, *, old: SecretKey, new: SecretKey, file: str) -> tuple[str, int]:
    matches = list(_CIPHERTEXT.finditer(text))
    pieces: list[str] = []
    last = 0
    for match in matches:
        line = text.count("\n", 0, match.start()) + 1
        secret = decrypt(match.group(0), old, source=f"{file}:{line}: encrypted value")
        pieces.extend((text[last : match.start()], encrypt(secret.reveal(), new)))
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), len(matches)


def _replace_atomically(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
