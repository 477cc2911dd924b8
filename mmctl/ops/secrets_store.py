"""Writing secrets: atomically, mode 0600, never echoed; or handed to `docker secret create`."""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404: fixed argv, value passed on stdin
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DockerResult", "docker_secret_create", "write_secret_file"]


def write_secret_file(directory: Path, name: str, value: str) -> Path:
    """Write <directory>/<name lowercase> atomically with mode 0600 (dir 0700); returns the path."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / name.lower()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


@dataclass(frozen=True, slots=True)
class DockerResult:
    ran: bool
    ok: bool
    command: str
    detail: str


def docker_secret_create(name: str, value: str, *, timeout_s: float = 30.0) -> DockerResult:
    """Run `docker secret create <name> -` with the value on stdin; if docker is absent, only say how."""
    secret_name = name.lower()
    shown = f"docker secret create {secret_name} -   # value on stdin"
    docker = shutil.which("docker")
    if docker is None:
        return DockerResult(False, False, shown, "docker is not installed here; run the command where it is")
    try:
        proc = subprocess.run(  # nosec B603: fixed argv, value on stdin
            [docker, "secret", "create", secret_name, "-"],
            input=value.encode(), capture_output=True, timeout=timeout_s, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return DockerResult(True, False, shown, f"docker failed to run: {exc.__class__.__name__}")
    err = proc.stderr.decode("utf-8", "replace").replace(value, "***").strip()
    return DockerResult(True, proc.returncode == 0, shown, err or proc.stdout.decode("utf-8", "replace").strip())
