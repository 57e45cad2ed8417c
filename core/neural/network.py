"""The networks: one scikit-learn MLP per output (`MLPClassifier` for a categorical output, `MLPRegressor` for a
numeric one), trained an epoch at a time with `partial_fit` (one pass over the training split in minibatches of
`batch_size`, Adam at `learning_rate`; the rows are shuffled by the trainer, seeded per epoch, so a resumed training
shuffles as the lost one would have).

Weights and the optimizer's moments move in and out as plain numpy arrays (`arrays` / `restore`), stored with
`numpy.savez` and loaded with `allow_pickle=False`: a checkpoint or model file can hold numbers only, never code.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, confusion_matrix, mean_absolute_error, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor

from core.neural.features import Encoding, Target, decode_target
from core.neural.models import HeadMetrics, TrainingConfig

Head = MLPClassifier | MLPRegressor


def build(encoding: Encoding, config: TrainingConfig) -> dict[str, Head]:
    heads: dict[str, Head] = {}
    for target in encoding.targets:
        kind = MLPClassifier if target.task == "classification" else MLPRegressor
        heads[target.name] = kind(hidden_layer_sizes=tuple(config.hidden_layers), solver="adam",
                                  learning_rate_init=config.learning_rate, batch_size=config.batch_size,
                                  random_state=config.seed, shuffle=False, activation="relu")
    return heads


def _fit(head: Head, target: Target, x: np.ndarray, y: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # a batch larger than the rows (initialise's one row)
        if isinstance(head, MLPClassifier):
            head.partial_fit(x, y, classes=np.array(target.classes, dtype=object))
        else:
            head.partial_fit(x, y)


def epoch(heads: dict[str, Head], encoding: Encoding, x: np.ndarray, ys: dict[str, np.ndarray]) -> float:
    """One pass over the training split for every head; the mean of their training losses."""
    losses = []
    for target in encoding.targets:
        _fit(heads[target.name], target, x, ys[target.name])
        losses.append(float(heads[target.name].loss_))
    return float(np.mean(losses))


def initialise(heads: dict[str, Head], encoding: Encoding) -> None:
    """Give untrained heads their shapes (a `partial_fit` on one zero row), so `restore` can fill them in."""
    row = np.zeros((1, encoding.width))
    for target in encoding.targets:
        y = np.array([target.classes[0]], dtype=object) if target.task == "classification" else np.array([0.0])
        _fit(heads[target.name], target, row, y)


def arrays(heads: dict[str, Head]) -> dict[str, np.ndarray]:
    """Every head's weights, biases and Adam state, as named arrays."""
    out: dict[str, np.ndarray] = {}
    for name, head in heads.items():
        optimizer = head._optimizer  # noqa: SLF001 - the moments are what make resuming exact
        for i, (coef, intercept) in enumerate(zip(head.coefs_, head.intercepts_, strict=True)):
            out[f"{name}|coef|{i}"] = coef
            out[f"{name}|intercept|{i}"] = intercept
        for i, (m, v) in enumerate(zip(optimizer.ms, optimizer.vs, strict=True)):
            out[f"{name}|m|{i}"] = m
            out[f"{name}|v|{i}"] = v
        out[f"{name}|t"] = np.array([optimizer.t, head.t_, head.n_iter_], dtype=float)
        out[f"{name}|loss_curve"] = np.array(head.loss_curve_, dtype=float)
    return out


def restore(heads: dict[str, Head], encoding: Encoding, stored: dict[str, np.ndarray]) -> None:
    """Fill initialised-shape heads with stored arrays, in place (the optimizer holds references to them)."""
    initialise(heads, encoding)
    for name, head in heads.items():
        optimizer = head._optimizer  # noqa: SLF001
        for i in range(len(head.coefs_)):
            head.coefs_[i][...] = stored[f"{name}|coef|{i}"]
            head.intercepts_[i][...] = stored[f"{name}|intercept|{i}"]
        for i in range(len(optimizer.ms)):
            optimizer.ms[i][...] = stored[f"{name}|m|{i}"]
            optimizer.vs[i][...] = stored[f"{name}|v|{i}"]
        t, samples_seen, iterations = stored[f"{name}|t"].tolist()
        optimizer.t, head.t_, head.n_iter_ = t, samples_seen, int(iterations)
        head.loss_curve_ = stored[f"{name}|loss_curve"].tolist()
        head.loss_ = head.loss_curve_[-1] if head.loss_curve_ else None


def evaluate(heads: dict[str, Head], encoding: Encoding, x: np.ndarray,
             ys: dict[str, np.ndarray]) -> list[HeadMetrics]:
    """Every output's figures on the held-out rows `x` (regression in the output's own units)."""
    metrics = []
    for target in encoding.targets:
        head, actual = heads[target.name], ys[target.name]
        predicted = head.predict(x)
        if target.task == "classification":
            labels = list(target.classes)
            matrix = confusion_matrix(actual.astype(str), predicted.astype(str), labels=labels)
            metrics.append(HeadMetrics(output=target.name, task="classification", held_out=len(actual),
                                       accuracy=float(accuracy_score(actual.astype(str), predicted.astype(str))),
                                       labels=labels, confusion_matrix=matrix.tolist()))
        else:
            truth = np.array([decode_target(target.model_copy(update={"integer": False}), v) for v in actual])
            guess = np.array([decode_target(target.model_copy(update={"integer": False}), v) for v in predicted])
            r2 = float(r2_score(truth, guess)) if len(truth) > 1 else None
            metrics.append(HeadMetrics(output=target.name, task="regression", held_out=len(actual),
                                       mae=float(mean_absolute_error(truth, guess)), r2=r2))
    return metrics


def validation(metrics: list[HeadMetrics]) -> dict[str, float]:
    """The per-epoch validation figure of each output: accuracy, or R² (omitted while undefined)."""
    figures = {}
    for m in metrics:
        value = m.accuracy if m.task == "classification" else m.r2
        if value is not None:
            figures[m.output] = round(value, 6)
    return figures


def outputs(heads: dict[str, Head], encoding: Encoding, x: np.ndarray) -> list[dict[str, Any]]:
    """Per target for each row of `x`, through scikit-learn: the value and, for a classification, the probability
    of every class (what core/neural/forward.py must agree with)."""
    results = []
    for target in encoding.targets:
        head = heads[target.name]
        if target.task == "classification":
            classes = [str(c) for c in head.classes_]
            results.append({"target": target, "probabilities": head.predict_proba(x), "classes": classes})
        else:
            results.append({"target": target, "values": head.predict(x)})
    return results
