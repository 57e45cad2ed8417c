"""Pure feature encoding: from samples' `input`/`output` objects to the numbers a network takes, and back.

The schema is inferred from the training samples: nested objects are flattened to dotted names
(`constraints.timeLimit`); an input whose values are all numbers (or booleans) is numeric, standardised with the
training mean and standard deviation; any other input is categorical, one-hot over the values seen in training (an
unseen value encodes as all zeros). An output whose values are all numbers is a regression target (standardised
for training, reported in its own units); any other output is a classification target over the values seen.

No I/O and no clock: the same samples always give the same encoding, which is stored with the model version as
JSON and re-applied at prediction time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.errors import ValidationFailed

MAX_CATEGORIES = 200


class Feature(BaseModel):
    name: str
    kind: Literal["numeric", "categorical"]
    mean: float = 0.0
    scale: float = 1.0
    categories: list[str] = Field(default_factory=list)
    frequencies: list[float] = Field(default_factory=list, description="each category's share of the training rows")

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories)


class Target(BaseModel):
    name: str
    task: Literal["classification", "regression"]
    classes: list[str] = Field(default_factory=list)
    mean: float = 0.0
    scale: float = 1.0
    integer: bool = False  # every training value was a whole number: predictions are rounded


class Encoding(BaseModel):
    features: list[Feature]
    targets: list[Target]

    @property
    def width(self) -> int:
        return sum(feature.width for feature in self.features)

    def columns(self) -> list[tuple[Feature, int, int]]:
        """Each feature with its [start, end) columns in an encoded row."""
        spans, start = [], 0
        for feature in self.features:
            spans.append((feature, start, start + feature.width))
            start += feature.width
        return spans


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted names; lists and other values are kept as they are."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not (isinstance(value, float) and not math.isfinite(value))


def category(value: Any) -> str:
    """The category a categorical value falls in: strings as they are, anything else as its JSON-ish text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("Request validation failed",
                            details=[{"field": field, "constraint": "training_data", "message": message}])


MAX_MAGNITUDE = 1e12  # beyond it, means and spreads lose the precision scaling needs


def _mean_scale(name: str, values: list[float]) -> tuple[float, float]:
    if any(abs(v) > MAX_MAGNITUDE for v in values):
        raise _invalid(name, f"numbers beyond ±{MAX_MAGNITUDE:g} cannot be scaled")
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return mean, spread if spread > 1e-12 else 1.0


def infer(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> Encoding:
    """The encoding of these (flattened) samples. Raises ValidationFailed (400) naming what is wrong: no inputs,
    outputs that differ between samples, a categorical output with a single value."""
    if not inputs:
        raise _invalid("trainingData.samples", "no samples")
    names = sorted({name for row in inputs for name in row})
    if not names:
        raise _invalid("trainingData.samples[].input", "samples have no input fields")
    output_names = sorted(outputs[0])
    if not output_names:
        raise _invalid("trainingData.samples[].output", "samples have no output fields")
    for index, row in enumerate(outputs):
        if sorted(row) != output_names:
            raise _invalid(f"trainingData.samples[{index}].output",
                           f"every sample needs the same outputs: {', '.join(output_names)}")
    features = []
    for name in names:
        values = [row[name] for row in inputs if row.get(name) is not None]
        if values and all(is_number(v) for v in values):
            mean, scale = _mean_scale(f"trainingData.samples[].input.{name}", [float(v) for v in values])
            features.append(Feature(name=name, kind="numeric", mean=mean, scale=scale))
        else:
            categories = sorted({category(v) for v in values})
            if len(categories) > MAX_CATEGORIES:
                raise _invalid(f"trainingData.samples[].input.{name}",
                               f"{len(categories)} distinct values; at most {MAX_CATEGORIES} for a categorical input")
            counts = [sum(1 for v in values if category(v) == c) for c in categories]
            shares = [round(n / len(inputs), 6) for n in counts]
            features.append(Feature(name=name, kind="categorical", categories=categories, frequencies=shares))
    targets = []
    for name in output_names:
        values = [row[name] for row in outputs]
        if any(v is None for v in values):
            raise _invalid(f"trainingData.samples[].output.{name}", "null outputs cannot be learnt")
        if all(is_number(v) and not isinstance(v, bool) for v in values):
            mean, scale = _mean_scale(f"trainingData.samples[].output.{name}", [float(v) for v in values])
            integer = all(float(v).is_integer() for v in values)
            targets.append(Target(name=name, task="regression", mean=mean, scale=scale, integer=integer))
        else:
            classes = sorted({category(v) for v in values})
            if len(classes) < 2:
                raise _invalid(f"trainingData.samples[].output.{name}",
                               f"only one value ({classes[0]!r}) in the samples: nothing to learn")
            targets.append(Target(name=name, task="classification", classes=classes))
    return Encoding(features=features, targets=targets)


def encode_row(encoding: Encoding, row: Mapping[str, Any]) -> list[float]:
    """One flattened input as numbers. A missing numeric value encodes as the training mean (0 after scaling), a
    missing or unseen category as all zeros."""
    encoded: list[float] = []
    for feature in encoding.features:
        value = row.get(feature.name)
        if feature.kind == "numeric":
            encoded.append((float(value) - feature.mean) / feature.scale if is_number(value) else 0.0)
        else:
            seen = category(value) if value is not None else None
            encoded.extend(1.0 if seen == c else 0.0 for c in feature.categories)
    return encoded


def encode_target(target: Target, value: Any) -> Any:
    if target.task == "classification":
        return category(value)
    return (float(value) - target.mean) / target.scale


def decode_target(target: Target, value: float) -> float | int:
    """A regression output back in its own units (a whole number when every training value was one)."""
    raw = value * target.scale + target.mean
    return int(round(raw)) if target.integer else raw


def baseline(feature: Feature) -> list[float]:
    """A feature's columns at its training average: the mean (0 after scaling), or each category's share."""
    if feature.kind == "numeric":
        return [0.0]
    return list(feature.frequencies) if feature.frequencies else [0.0] * feature.width


def missing(encoding: Encoding, row: Mapping[str, Any]) -> list[str]:
    """The features the model was trained on that `row` (flattened) lacks."""
    return [feature.name for feature in encoding.features if row.get(feature.name) is None]


def wrong_types(encoding: Encoding, row: Mapping[str, Any]) -> list[str]:
    """Numeric features given something that is not a number."""
    return [f.name for f in encoding.features
            if f.kind == "numeric" and row.get(f.name) is not None and not is_number(row[f.name])]


def split(count: int, validation_split: float, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices): a seeded shuffle, at least one sample on each side."""
    import random

    order = list(range(count))
    random.Random(seed).shuffle(order)
    held = min(max(1, round(count * validation_split)), count - 1)
    return sorted(order[held:]), sorted(order[:held])


def describe(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def names(encoding: Encoding) -> Iterable[str]:
    return (feature.name for feature in encoding.features)
