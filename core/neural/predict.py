"""Predictions from a registered model version, with the reasons for them.

A version's networks are loaded once per process (`load`: the file's sha256 checked against the registry's,
arrays only), kept in a small LRU cache keyed by (model, version, sha256), and run in numpy (core/neural/forward.py).

Reasons come from occlusion, one forward pass for all features together: each feature in turn is replaced by its
training average (a numeric feature by its training mean, a categorical one by the mix of its values in training),
and the change in the output is that feature's contribution — for a categorical output, to the probability of the
predicted class; for a numeric one, to the value in its own units. The largest contributions become plain sentences.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from pydantic import BaseModel

from core.errors import ValidationFailed
from core.neural import features, store
from core.neural.features import Encoding, Feature
from core.neural.forward import Layers, forward, layers
from core.neural.models import Contribution, ModelVersion
from core.settings import Settings

CACHE_SIZE = 32
REASONS = 3


class Loaded(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    encoding: Encoding
    heads: dict[str, Layers]


_cache: OrderedDict[tuple[str, int, str], Loaded] = OrderedDict()
_lock = threading.Lock()


def cached(version: ModelVersion) -> Loaded | None:
    """The version's networks if this process has them loaded (no file read, no thread hop)."""
    key = (version.model_id, version.version, version.sha256)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    return None


def load(settings: Settings, version: ModelVersion) -> Loaded:
    if (found := cached(version)) is not None:
        return found
    key = (version.model_id, version.version, version.sha256)
    encoding = Encoding.model_validate(version.encoding)
    arrays = store.read_arrays(settings.data_dir.resolve() / version.path, version.sha256)
    loaded = Loaded(encoding=encoding, heads={t.name: layers(arrays, t.name) for t in encoding.targets})
    with _lock:
        _cache[key] = loaded
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


def cached_models() -> int:
    return len(_cache)


def check_input(encoding: Encoding, row: dict[str, Any]) -> None:
    """400 naming every feature the model needs that the input lacks, or that should be a number and is not."""
    details = [{"field": f"input.{name}", "constraint": "required", "message": "the model needs this feature"}
               for name in features.missing(encoding, row)]
    details += [{"field": f"input.{name}", "constraint": "type", "message": "must be a number"}
                for name in features.wrong_types(encoding, row)]
    if details:
        names = ", ".join(d["field"].removeprefix("input.") for d in details)
        raise ValidationFailed(f"Input does not fit the model: {names}", details=details)


def _baseline_rows(encoding: Encoding, encoded: list[float]) -> np.ndarray:
    """The input itself, then one copy per feature with that feature's columns at its training average (the mean,
    or the mix of categories seen in training)."""
    rows = [list(encoded)]
    for feature, start, end in encoding.columns():
        row = list(encoded)
        row[start:end] = features.baseline(feature)
        rows.append(row)
    return np.array(rows, dtype=float)


def _baseline(feature: Feature) -> str:
    if feature.kind == "numeric":
        return f"the training average of {feature.mean:.4g}"
    return f"the training mix of {feature.name} values"


def _sentence(c: Contribution, feature: Feature, task: str, predicted: Any) -> str:
    shown = features.describe(c.value)
    if task == "classification":
        direction = "raised" if c.effect > 0 else "lowered"
        return (f"{c.feature} = {shown} {direction} the probability of {c.output} = {predicted!r} from "
                f"{c.without:.3f} to {c.with_:.3f}, compared with {_baseline(feature)}")
    direction = "added" if c.effect > 0 else "took"
    amount = f"{abs(c.effect):.4g}"
    return (f"{c.feature} = {shown} {direction} {amount} {'to' if c.effect > 0 else 'from'} {c.output} "
            f"(predicted {features.describe(predicted)}), compared with {_baseline(feature)}")


def predict(loaded: Loaded, row: dict[str, Any]) -> dict[str, Any]:
    """{"values": {output: value}, "probabilities": {output: {class: p}}, "confidence": min over categorical
    outputs of the predicted class's probability (None with numeric outputs only), "contributions", "reasoning"}."""
    encoding = loaded.encoding
    check_input(encoding, row)
    encoded = features.encode_row(encoding, row)
    matrix = _baseline_rows(encoding, encoded)
    values: dict[str, Any] = {}
    probabilities: dict[str, dict[str, float]] = {}
    confidences: list[float] = []
    contributions: list[tuple[Contribution, Feature, str, Any]] = []
    spans = encoding.columns()
    for target in encoding.targets:
        output = forward(loaded.heads[target.name], matrix, target.task)
        if target.task == "classification":
            p = output
            best = int(np.argmax(p[0]))
            label = target.classes[best]
            values[target.name] = label
            probabilities[target.name] = {c: round(float(v), 6) for c, v in zip(target.classes, p[0], strict=True)}
            confidences.append(float(p[0][best]))
            for (feature, _, _), without in zip(spans, p[1:, best], strict=True):
                contributions.append((Contribution(feature=feature.name, value=row.get(feature.name),
                                                   output=target.name, effect=float(p[0][best] - without),
                                                   without=float(without), with_=float(p[0][best])),
                                      feature, "classification", label))
        else:
            decoded = [float(features.decode_target(target.model_copy(update={"integer": False}), v))
                       for v in output]
            values[target.name] = features.decode_target(target, float(output[0]))
            for (feature, _, _), without in zip(spans, decoded[1:], strict=True):
                contributions.append((Contribution(feature=feature.name, value=row.get(feature.name),
                                                   output=target.name, effect=decoded[0] - without,
                                                   without=without, with_=decoded[0]),
                                      feature, "regression", values[target.name]))
    reasons = []
    for target in encoding.targets:  # the strongest reasons of each output, then the next ones, up to REASONS each
        mine = [c for c in contributions if c[0].output == target.name]
        if target.task == "regression":
            mine.sort(key=lambda c: abs(c[0].effect) / (target.scale or 1.0), reverse=True)
        else:
            mine.sort(key=lambda c: abs(c[0].effect), reverse=True)
        reasons += [_sentence(*c) for c in mine[:REASONS] if abs(c[0].effect) > 1e-9]
    return {"values": values, "probabilities": probabilities,
            "confidence": round(min(confidences), 6) if confidences else None,
            "contributions": [c[0] for c in contributions], "reasoning": reasons}
