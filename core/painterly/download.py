"""Fetch one catalog file into a temporary file, verifying its size and sha256.

Sources, in order: `PAINTERLY_MODEL_MIRROR` (a folder or an http(s) URL that
holds `mirror_path`) when set, else the upstream URL. A transfer that stops
early, a wrong size or a wrong checksum leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from painterly_common.files import TEMP_PREFIX, TEMP_SUFFIX, os_error_message

from .catalog import ModelEntry
from .errors import ModelDownloadError

Progress = Callable[[int, int], object]  # bytes done, bytes total; what it returns is ignored
CHUNK = 1 << 16
# Errors of the local disk while writing the download, not of the source: they get the
# disk's message ("the disk is full…"), not "could not fetch … check the network".
LOCAL_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def source_for(entry: ModelEntry) -> str:
    mirror = os.environ.get("PAINTERLY_MODEL_MIRROR", "").strip()
    if not mirror:
        return entry.url
    if "://" in mirror:  # mirror paths may climb out of the models folder (paintings sit beside it)
        return urllib.parse.urljoin(mirror.rstrip("/") + "/", entry.mirror_path)
    return str(Path(mirror).expanduser().resolve() / entry.mirror_path)


def fetch(entry: ModelEntry, directory: Path, progress: Progress | None = None, timeout: float = 60.0) -> Path:
    """Download `entry` into a new temporary file inside `directory` and return its path."""
    source = source_for(entry)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # the name `files.remove_stale_temporaries` recognises, should this process be killed
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise ModelDownloadError(
            f"{entry.name}: {os_error_message(exc, directory, 'write into')}; "
            "or set PAINTERLY_HOME to a folder you can write"
        ) from None
    digest, done = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out, _open(source, timeout) as stream:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                done += len(chunk)
                if done > entry.size:
                    raise ModelDownloadError(
                        f"{entry.name}: {source} is larger than the expected "
                        f"{entry.size} bytes; the file is not the one in the catalog"
                    )
                digest.update(chunk)
                out.write(chunk)
                if progress:
                    progress(done, entry.size)
        if done != entry.size:
            raise ModelDownloadError(
                f"{entry.name}: the transfer from {source} stopped after {done} of "
                f"{entry.size} bytes; check the connection and run the install again"
            )
        if digest.hexdigest() != entry.sha256:
            raise ModelDownloadError(
                f"{entry.name}: checksum mismatch for {source} (sha256 "
                f"{digest.hexdigest()}, expected {entry.sha256}); the file is damaged "
                "or not the published one, so it was not installed"
            )
        return Path(tmp)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and getattr(exc, "errno", None) in LOCAL_WRITE_ERRORS:
            raise ModelDownloadError(f"{entry.name}: {os_error_message(exc, directory, 'write into')}") from None
        if isinstance(exc, (OSError, http.client.HTTPException)) and not isinstance(exc, ModelDownloadError):
            raise ModelDownloadError(
                f"{entry.name}: could not fetch {source}: {_reason(exc)}; check the "
                "network or set PAINTERLY_MODEL_MIRROR to a folder with the files"
            ) from exc
        raise


def _open(source: str, timeout: float):
    if "://" not in source:
        return open(source, "rb")
    if not source.startswith(("http://", "https://", "file://")):
        raise ModelDownloadError(f"unsupported address {source}: use http(s) or a folder")
    request = urllib.request.Request(source, headers={"User-Agent": "painterly"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked above


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
