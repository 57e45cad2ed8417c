"""Artifact stores: where the bytes live. `local` (default): files under `<data dir>/artifacts`; `s3`: an
S3-compatible bucket through boto3 (optional: `pip install boto3`), configured by STELLARFLOW_ARTIFACT_S3_*
and the usual AWS_* variables. Both are addressed by a storage key that the database row holds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from core.settings import Settings

CHUNK = 64 * 1024


class ArtifactStore(Protocol):
    def put(self, key: str, source: Path) -> None: ...

    def open(self, key: str) -> Iterator[bytes]: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key {key!r} leaves the artifact store")
        return path

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)

    def open(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Store:
    def __init__(self, settings: Settings) -> None:
        try:
            import boto3  # type: ignore[import-not-found]
        except ImportError as err:  # optional dependency
            raise RuntimeError("STELLARFLOW_ARTIFACT_STORE=s3 needs boto3 (pip install boto3)") from err
        if not settings.artifact_s3_bucket:
            raise RuntimeError("STELLARFLOW_ARTIFACT_STORE=s3 needs STELLARFLOW_ARTIFACT_S3_BUCKET")
        self.bucket = settings.artifact_s3_bucket
        self.prefix = settings.artifact_s3_prefix
        self.client = boto3.client("s3", endpoint_url=settings.artifact_s3_endpoint_url)

    def put(self, key: str, source: Path) -> None:
        self.client.upload_file(str(source), self.bucket, self.prefix + key)

    def open(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        try:
            while chunk := body.read(CHUNK):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception:  # noqa: BLE001 - botocore's ClientError: absent
            return False
        return True


def store_for(settings: Settings) -> ArtifactStore:
    if settings.artifact_store == "s3":
        return S3Store(settings)
    if settings.artifact_store != "local":
        raise RuntimeError(f"STELLARFLOW_ARTIFACT_STORE must be local or s3, not {settings.artifact_store!r}")
    return LocalStore(settings.artifacts_dir)
