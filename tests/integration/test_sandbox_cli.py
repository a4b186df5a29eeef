"""`osml sandbox` end to end: a real process that prints its URL and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from opensearchpy import AuthenticationException, OpenSearch


def test_osml_sandbox_serves_until_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--version", "2.13"]
    process = subprocess.Popen(
        [*command, "--data", str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = OpenSearch(url)
        assert client.info()["version"]["number"] == "2.13.0"
        client.index(index="state", id="x", body={"v": 1})
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "osml sandbox stopped" in err
    assert '"state"' in data.read_text()


def test_unknown_version_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "sandbox", "--version", "1.0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown sandbox profile" in result.stderr


def test_osml_sandbox_with_security_and_users_file(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"bob": {"password": "b0b-pass", "roles": ["all_access"]}}))
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--security"]
    process = subprocess.Popen(
        [*command, "--users", str(users)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert OpenSearch(url, http_auth=("bob", "b0b-pass")).info()["version"]["number"]
        with pytest.raises(AuthenticationException):
            OpenSearch(url, http_auth=("bob", "wrong")).info()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert "b0b-pass" not in err
