"""Comparison helpers for reference activations (float64 math on any array-likes)."""
from __future__ import annotations

import numpy as np


def _pair(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return a, b


def cosine_similarity(a, b) -> float:
    """Cosine of the angle between a and b, both flattened. Two all-zero arrays give 1.0."""
    a, b = _pair(a, b)
    a, b = a.ravel(), b.ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def max_abs_diff(a, b) -> float:
    """max |a - b| over all elements (0.0 for empty arrays)."""
    a, b = _pair(a, b)
    return float(np.max(np.abs(a - b))) if a.size else 0.0
