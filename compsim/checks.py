"""Input validation with error messages that name the parameter and the allowed range."""
import math

import numpy as np

from .units import magnitude


def check_number(name, value, *, lo=None, hi=None, lo_open=False, hi_open=False, unit="", owner=""):
    """Return ``value`` as float after checking it is finite and inside [lo, hi].

    ``lo_open``/``hi_open`` make the bound strict. The ValueError names
    ``owner.name``, the allowed range and the offending value. A quantity
    (Brian2, ``quantities``) is converted to ``unit`` first (:mod:`compsim.units`;
    ``unit=""``: plain numbers only).
    """
    label = f"{owner}: parameter '{name}'" if owner else f"parameter '{name}'"
    value = magnitude(value, unit or None, label)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{label} must be finite, got {x}")
    u = f" {unit}" if unit else ""
    if lo is not None and (x < lo or (lo_open and x == lo)):
        op = ">" if lo_open else ">="
        raise ValueError(f"{label} must be {op} {lo}{u}, got {x}{u}")
    if hi is not None and (x > hi or (hi_open and x == hi)):
        op = "<" if hi_open else "<="
        raise ValueError(f"{label} must be {op} {hi}{u}, got {x}{u}")
    return x


def check_positive(name, value, unit="", owner=""):
    """Strictly positive finite number (time constants, dt, conductances that scale)."""
    return check_number(name, value, lo=0.0, lo_open=True, unit=unit, owner=owner)


def check_count(name, value, *, lo=1, owner=""):
    """Integer >= lo (population sizes, step counts)."""
    label = f"{owner}: parameter '{name}'" if owner else f"parameter '{name}'"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{label} must be an integer >= {lo}, got {value!r}")
    if value < lo:
        raise ValueError(f"{label} must be an integer >= {lo}, got {value}")
    return int(value)


def check_array(name, value, shape, *, lo=None, hi=None, owner="", dtype=np.float64, unit=None):
    """Broadcast ``value`` to ``shape`` as a finite array inside [lo, hi] (a quantity converted to ``unit`` first)."""
    label = f"{owner}: parameter '{name}'" if owner else f"parameter '{name}'"
    value = magnitude(value, unit, label)
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be numeric, got {type(value).__name__} {str(value)[:40]!r}") from None
    try:
        arr = np.broadcast_to(arr, shape).copy()
    except ValueError:
        raise ValueError(f"{label} must be a scalar or an array of shape {shape}, got shape {arr.shape}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(f"{label} must be finite everywhere, got {arr[tuple(idx)]} at index {tuple(int(j) for j in idx)}")
    if lo is not None and (arr < lo).any():
        raise ValueError(f"{label} must be >= {lo} everywhere, got min {arr.min()}")
    if hi is not None and (arr > hi).any():
        raise ValueError(f"{label} must be <= {hi} everywhere, got max {arr.max()}")
    return arr


def check_choice(name, value, choices, owner=""):
    """``value`` must be one of ``choices``."""
    if value not in choices:
        label = f"{owner}: parameter '{name}'" if owner else f"parameter '{name}'"
        raise ValueError(f"{label} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def index_array(name, value, n, owner=""):
    """Neuron indices in [0, n) from an integer array or a boolean mask of length ``n``."""
    label = f"{owner}: parameter '{name}'" if owner else f"parameter '{name}'"
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{label}: a boolean mask must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{label} must hold integer indices (or a boolean mask), got dtype {arr.dtype}")
    arr = arr.astype(np.int64).ravel()
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{label} must index [0, {n - 1}], got range [{arr.min()}, {arr.max()}]")
    return arr
