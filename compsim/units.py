"""Quantities at the API edge: values with units (Brian2 or ``quantities``) converted to compsim's units.

compsim computes in plain numbers with fixed units: time in ms, potential
in mV, conductance in nS, current in pA, capacitance in pF, rate in Hz
(dimensionless models, such as the segregated-dendrite neurons, in "1").
Every parameter check (:mod:`compsim.checks`) passes its value through
:func:`magnitude` first, so a user may write ``tau=20 * brian2.ms`` or
``rates=5 * pq.Hz`` as well as ``tau=20.0``: a quantity is converted to the
parameter's unit, and a quantity of the wrong dimension is an error naming
the parameter. Neither library is imported unless such a value is given.
"""
import numpy as np

#: compsim's units, as Brian2 expressions (evaluated in brian2's namespace) and ``quantities`` strings
_BRIAN2 = {"ms": "ms", "mV": "mV", "nS": "nS", "pA": "pA", "pF": "pF", "Hz": "Hz", "1/mV": "1 / mV", "1": "1"}
_QUANTITIES = {"1": "dimensionless"}


def _library(value):
    """``'brian2'``, ``'quantities'`` or None: which unit library ``value`` comes from."""
    module = type(value).__module__ or ""
    if module.startswith("brian2.") and hasattr(value, "dim"):
        return "brian2"
    if module.startswith("quantities.") and hasattr(value, "rescale"):
        return "quantities"
    return None


def magnitude(value, unit, label):
    """``value`` in ``unit`` as a plain float or array; plain numbers and arrays pass unchanged.

    ``unit``: one of compsim's unit strings ("ms", "mV", "nS", "pA", "pF",
    "Hz", "1/mV", "1"), or None for a parameter that takes plain numbers only.
    ``label``: how the error names the parameter (e.g. ``"Network: parameter 'dt'"``).
    """
    library = _library(value)
    if library is None:
        return value
    if unit is None or unit not in _BRIAN2:
        raise ValueError(f"{label} takes a plain number, got the quantity {value!r}")
    if library == "brian2":
        import brian2
        from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

        target = eval(_BRIAN2[unit], {}, vars(brian2))  # noqa: S307 - a fixed expression from the table above
        if not have_same_dimensions(value, target):
            raise ValueError(f"{label} must have the dimension of {unit} ({get_dimensions(target)}), got {value!r} "
                             f"({get_dimensions(value)})")
        converted = np.asarray(value / target, dtype=np.float64)
    else:
        try:
            converted = np.asarray(value.rescale(_QUANTITIES.get(unit, unit)).magnitude, dtype=np.float64)
        except ValueError:
            raise ValueError(f"{label} must have the dimension of {unit}, got {value!r} "
                             f"({value.dimensionality})") from None
    return float(converted) if converted.ndim == 0 else converted
