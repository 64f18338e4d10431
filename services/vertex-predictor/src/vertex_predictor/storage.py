"""Moving a model bundle between a local directory and Cloud Storage.

The client is google-cloud-storage, so ``STORAGE_EMULATOR_HOST`` points it at an emulator.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

GCS_SCHEME = "gs://"


class StorageError(RuntimeError):
    """A bundle could not be read from or written to Cloud Storage."""


def is_gcs_uri(uri: str) -> bool:
    return uri.startswith(GCS_SCHEME)


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` → (``bucket``, ``a/b``) with no leading or trailing slash."""
    if not is_gcs_uri(uri):
        raise StorageError(f"not a gs:// URI: {uri!r}")
    bucket, _, prefix = uri[len(GCS_SCHEME) :].partition("/")
    if not bucket:
        raise StorageError(f"no bucket in {uri!r}")
    return bucket, prefix.strip("/")


def _client():  # google.cloud.storage.Client, imported lazily
    from google.cloud import storage

    return storage.Client()


def download_dir(uri: str, dest: Path) -> Path:
    """Copy every object under the gs:// prefix ``uri`` into ``dest``, keeping relative paths."""
    bucket, prefix = split_gcs_uri(uri)
    listing_prefix = f"{prefix}/" if prefix else ""
    count = 0
    for blob in _client().list_blobs(bucket, prefix=listing_prefix):
        relative = PurePosixPath(blob.name[len(listing_prefix) :])
        if blob.name.endswith("/") or not relative.parts:
            continue  # "folder" placeholder objects
        if relative.is_absolute() or ".." in relative.parts:
            raise StorageError(f"refusing object name outside the bundle: {blob.name!r}")
        target = dest.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
        count += 1
    if count == 0:
        raise StorageError(f"no objects under {uri}")
    return dest


@contextmanager
def local_bundle(uri: str) -> Iterator[Path]:
    """Yield a local directory holding the bundle at ``uri`` (a local path or gs://).

    A gs:// bundle goes to a fresh temporary directory, never the working directory (the
    server's working directory may be read-only or shared), and is removed afterwards:
    the loaded model lives in memory.
    """
    if not is_gcs_uri(uri):
        yield Path(uri)
        return
    workdir = Path(tempfile.mkdtemp(prefix="churn-bundle-"))
    try:
        yield download_dir(uri, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def exists(uri: str) -> bool:
    bucket, name = split_gcs_uri(uri)
    return _client().bucket(bucket).blob(name).exists()


def upload_dir(source: Path, uri: str) -> list[str]:
    """Upload every file under ``source`` to the gs:// prefix ``uri``; return the object URIs."""
    bucket_name, prefix = split_gcs_uri(uri)
    bucket = _client().bucket(bucket_name)
    uploaded = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = "/".join(filter(None, [prefix, path.relative_to(source).as_posix()]))
        bucket.blob(name).upload_from_filename(str(path))
        uploaded.append(f"{GCS_SCHEME}{bucket_name}/{name}")
    if not uploaded:
        raise StorageError(f"no files to upload in {source}")
    return uploaded
