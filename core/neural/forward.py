"""A trained network's forward pass in plain numpy, from its stored arrays: what predictions run.

The same arithmetic as scikit-learn's `MLPClassifier`/`MLPRegressor` prediction (ReLU hidden layers; softmax over
the classes, logistic for two classes, identity for a regression) without scikit-learn: the API process never
imports it (2.5 s), and one row costs a few matrix products instead of scikit-learn's per-call validation.
tests/test_neural.py checks the two agree.
"""

from __future__ import annotations

import numpy as np

Layers = list[tuple[np.ndarray, np.ndarray]]


def layers(arrays: dict[str, np.ndarray], head: str) -> Layers:
    """A head's (weights, bias) per layer, from the arrays `network.arrays` stored."""
    found, index = [], 0
    while f"{head}|coef|{index}" in arrays:
        found.append((arrays[f"{head}|coef|{index}"], arrays[f"{head}|intercept|{index}"]))
        index += 1
    return found


def forward(net: Layers, x: np.ndarray, task: str) -> np.ndarray:
    """Class probabilities (rows × classes) for a classification, values (rows) for a regression."""
    activation = x
    last = len(net) - 1
    for index, (weights, bias) in enumerate(net):
        activation = activation @ weights + bias
        if index < last:
            np.maximum(activation, 0, out=activation)
    if task == "regression":
        return activation[:, 0]
    if activation.shape[1] == 1:  # two classes: one logistic unit
        positive = 1 / (1 + np.exp(-activation[:, 0]))
        return np.column_stack([1 - positive, positive])
    activation = np.exp(activation - activation.max(axis=1, keepdims=True))
    return activation / activation.sum(axis=1, keepdims=True)
