"""Files of the neural capability in the data dir: a training's checkpoint (`neural/trainings/<id>/`) and model
versions' weights (`neural/models/<model id>/<training id>.npz`).

Arrays are written with `numpy.savez` (numbers only) to a temporary file that is then renamed, so a worker killed
mid-write leaves the previous checkpoint whole; each file's sha256 is kept beside it (the checkpoint's JSON, the
version's row) and checked before it is loaded, with `allow_pickle=False`. Nothing a user uploads is ever loaded
from here: every file was written by this module.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.datadir import PRIVATE_DIR, PRIVATE_FILE
from core.settings import Settings

CHECKPOINT = "checkpoint.npz"
CHECKPOINT_META = "checkpoint.json"
DATASET = "dataset.json"


class CorruptFile(Exception):
    """A file whose bytes are not what was written (its sha256 differs)."""


def neural_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "neural"


def training_dir(settings: Settings, training_id: str) -> Path:
    return neural_dir(settings) / "trainings" / training_id


def model_path(model_id: str, training_id: str) -> str:
    """A version's file, relative to the data dir."""
    return f"neural/models/{model_id}/{training_id}.npz"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # writers never share one
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def dump_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> tuple[str, int]:
    """(sha256, size) of the file written."""
    data = dump_arrays(arrays)
    _atomic_write(path, data)
    return sha256(data), len(data)


def read_arrays(path: Path, expected_sha256: str) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    if sha256(data) != expected_sha256:
        raise CorruptFile(f"{path.name}: sha256 differs from the one recorded when it was written")
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def write_checkpoint(folder: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """The arrays in a file of their own (named by their sha256), then the JSON naming that file and digest,
    renamed last; then the previous arrays go. A worker killed at any point leaves a JSON whose arrays are there:
    a checkpoint is whole or the previous one (one shared arrays file could be a newer epoch than its JSON)."""
    data = dump_arrays(arrays)
    digest = sha256(data)
    name = f"checkpoint-{digest[:16]}.npz"
    _atomic_write(folder / name, data)
    _atomic_write(folder / CHECKPOINT_META, json.dumps({**meta, "sha256": digest, "arrays": name}).encode())
    for old in folder.glob("checkpoint*.npz"):
        if old.name != name:
            old.unlink(missing_ok=True)


def read_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The last checkpoint, or None when there is none or it does not check out (then training starts over)."""
    try:
        meta = json.loads((folder / CHECKPOINT_META).read_text())
        name = meta.get("arrays", CHECKPOINT)  # a checkpoint written before the arrays had their own name
        if "/" in name or name.startswith("."):
            return None
        return meta, read_arrays(folder / name, meta["sha256"])
    except (FileNotFoundError, KeyError, ValueError, CorruptFile):
        return None


def checkpoint_epoch(folder: Path) -> int | None:
    """The epoch of the last checkpoint (tests, and operators looking at a training's folder)."""
    try:
        return int(json.loads((folder / CHECKPOINT_META).read_text())["epoch"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def write_dataset(folder: Path, samples: list[dict[str, Any]]) -> None:
    _atomic_write(folder / DATASET, json.dumps(samples).encode())


def read_dataset(folder: Path) -> list[dict[str, Any]] | None:
    try:
        return json.loads((folder / DATASET).read_text())
    except FileNotFoundError:
        return None


def remove_training(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
