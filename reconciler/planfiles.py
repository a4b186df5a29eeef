"""The saved-plan file: a plan's document, bound to its content, signed when a key is set.

`osml plan --out` writes it (`write_plan_file`); `osml apply PLANFILE` and `osml show`
read it (`read_plan_file`). A plan travels as a CI artifact, and whoever can write the
file must not be able to change what apply runs, so the file carries an `integrity`
block over everything else in it:
- `digest`: SHA-256 of the canonical JSON of the document. It catches any edit made
  without recomputing it (a hand edit, a truncated upload, a tool that rewrote a value);
  anyone can recompute it, so on its own it does not stop a deliberate forger.
- `signature`: HMAC-SHA256 of the same bytes under the plan key (`OSML_PLAN_KEY` or a
  key file, the format of `osml secrets keygen`), with the key's id. A forger who cannot
  read the key cannot make one. When a key is configured, a file without a signature is
  refused: stripping the signature must not turn a signed plan into a trusted one.
The key never enters the file, only its id, which reveals nothing about it. Version 1
files have no digest and are refused. Nothing here prints or talks to a cluster.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import PlanError
from reconciler.plans import Plan, version_problem
from reconciler.secrets.encrypting import SecretKey

PLAN_KEY_ENV = "OSML_PLAN_KEY"
"""The environment variable holding the plan key (base64url, 32 bytes)."""
INTEGRITY = "integrity"
_SIGNING_LABEL = b"osml plan file v2\n"
"""Prefixed to what is signed, so a signature made here means nothing anywhere else."""
_REMAKE = "make a new plan with `osml plan --out`"


@dataclasses.dataclass(frozen=True, slots=True)
class Integrity:
    """What reading a plan file established about it."""

    digest: str
    """`sha256:<hex>` of the canonical document; it matched the content."""
    key_id: str | None = None
    """The id of the plan key that signed it; None for an unsigned file."""
    verified: bool = False
    """The signature was checked against the plan key given, and matched."""

    def describe(self) -> str:
        """One sentence for a person: was it signed, and was the signature checked."""
        if self.key_id is None:
            return "Plan file intact (digest matches); not signed."
        if self.verified:
            return f"Plan file intact; signed with plan key {self.key_id}, signature verified."
        return (
            f"Plan file intact (digest matches); signed with plan key {self.key_id}, "
            f"signature not verified: no plan key given ({PLAN_KEY_ENV} or --plan-key-file)."
        )


def write_plan_file(plan: Plan, path: Path, *, key: SecretKey | None = None) -> Integrity:
    """Write `plan` to `path` with its digest, signed when `key` is given."""
    document = plan.to_dict()
    content = canonical(document)
    integrity: dict[str, Any] = {"digest": _digest(content)}
    if key is not None:
        integrity["key_id"] = key.key_id
        integrity["signature"] = _sign(content, key)
    document[INTEGRITY] = integrity
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return Integrity(integrity["digest"], key_id=integrity.get("key_id"), verified=key is not None)


def read_plan_file(
    path: Path, *, key: SecretKey | None = None, require_verified: bool = True
) -> tuple[Plan, Integrity]:
    """The plan in `path` and what was verified of it; PlanError for a file that is not a
    plan, was altered, or is signed with another key. A signed file whose signature could
    not be checked (no key) is refused unless `require_verified` is False (`osml show`)."""
    document = read_document(path)
    if document is None:
        raise PlanError(f"{path}: not an osml plan file")
    integrity = verify(document, key=key, origin=str(path))
    if integrity.key_id is not None and not integrity.verified and require_verified:
        raise PlanError(
            f"{path}: the plan is signed with plan key {integrity.key_id}; give that key "
            f"({PLAN_KEY_ENV} or --plan-key-file) to verify it before it is applied"
        )
    try:
        plan = Plan.from_dict({k: v for k, v in document.items() if k != INTEGRITY})
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from exc
    return plan, integrity


def read_document(path: Path) -> dict[str, Any] | None:
    """The JSON document in `path` when it looks like a plan file (an object with a
    `format_version`), else None; PlanError when the file cannot be read at all, or is
    a plan file that is no longer valid JSON (a truncated upload)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read plan file: {exc.strerror}") from exc
    except UnicodeDecodeError:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if '"format_version"' in text[:200]:  # a plan file, cut short or damaged
            raise PlanError(
                f"{path}: the plan file is damaged (not valid JSON, line {exc.lineno}: "
                f"{exc.msg}); {_REMAKE}"
            ) from exc
        return None
    if not isinstance(document, dict) or "format_version" not in document:
        return None
    return document


def verify(document: Mapping[str, Any], *, key: SecretKey | None, origin: str) -> Integrity:
    """Check `document`'s integrity block against its content; PlanError when it fails."""
    version = document.get("format_version")
    if version == 1:
        raise PlanError(
            f"{origin}: plan format version 1 carries no integrity digest, so it cannot be "
            f"trusted; {_REMAKE}"
        )
    problem = version_problem(version, remedy=_REMAKE)
    if problem is not None:
        raise PlanError(f"{origin}: {problem}")
    block = document.get(INTEGRITY)
    if not isinstance(block, Mapping) or not isinstance(block.get("digest"), str):
        raise PlanError(f"{origin}: the plan file has no integrity digest; {_REMAKE}")
    content = canonical({k: v for k, v in document.items() if k != INTEGRITY})
    digest = _digest(content)
    if not hmac.compare_digest(digest, block["digest"]):
        raise PlanError(
            f"{origin}: the plan file was changed after it was made (its content does not "
            f"match its digest); refusing it: {_REMAKE}"
        )
    return _check_signature(block, content=content, digest=digest, key=key, origin=origin)


def _check_signature(
    block: Mapping[str, Any], *, content: bytes, digest: str, key: SecretKey | None, origin: str
) -> Integrity:
    signature, key_id = block.get("signature"), block.get("key_id")
    if signature is None and key_id is None:
        if key is not None:
            raise PlanError(
                f"{origin}: the plan file is not signed, but a plan key is configured: it was "
                f"made without the key, or its signature was removed; {_REMAKE}"
            )
        return Integrity(digest)
    if not isinstance(signature, str) or not isinstance(key_id, str):
        raise PlanError(f"{origin}: the plan file's signature is malformed; {_REMAKE}")
    if key is None:
        return Integrity(digest, key_id=key_id)
    if key_id != key.key_id:
        raise PlanError(
            f"{origin}: the plan was signed with plan key {key_id}, but the key given is "
            f"{key.key_id}"
        )
    if not hmac.compare_digest(signature, _sign(content, key)):
        raise PlanError(
            f"{origin}: the plan file was changed after it was made (its signature does not "
            f"match); refusing it: {_REMAKE}"
        )
    return Integrity(digest, key_id=key_id, verified=True)


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes a digest covers: sorted keys, no whitespace, UTF-8. Lists keep their order,
    so reordering changes is a change."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _sign(content: bytes, key: SecretKey) -> str:
    mac = hmac.new(key.raw, _SIGNING_LABEL + content, hashlib.sha256).hexdigest()
    return f"hmac-sha256:{mac}"
