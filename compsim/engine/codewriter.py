"""What every backend's code generator shares: the array arguments, imports and named tuples of a
generated module (:class:`ModuleWriter`); :mod:`compsim.engine.cpu` and :mod:`compsim.engine.cuda` add
the loop structure."""
from .state import StateStore


class ModuleWriter:
    """The arguments (store arrays), imports and preamble of a generated module."""

    def __init__(self, store):
        self.store = store
        self.args = []  # store keys, the array arguments of the generated loop
        self.imports = {}
        self.preamble = []
        self._tuples = {}
        self.lines = []

    def array(self, owner, field):
        """Register store array ``owner.field`` as an argument of the generated loop; returns its name."""
        name = StateStore.key(owner, field)
        if name not in self.args:
            self.store[name]  # noqa: B018 - fails early on an undeclared array
            self.args.append(name)
        return name

    def use(self, function, alias=None):
        """Import a module-level Numba function into the generated module; returns its local name."""
        py_func = getattr(function, "py_func", function)
        alias = alias or py_func.__name__
        line = f"from {py_func.__module__} import {py_func.__name__}" + (
            f" as {alias}" if alias != py_func.__name__ else "")
        previous = self.imports.setdefault(alias, line)
        if previous != line:
            raise ValueError(f"two kernels would be imported as {alias!r}: {previous!r} and {line!r}")
        return alias

    def named_tuple(self, type_name, fields):
        """Define a named tuple type in the generated module (the kernels' constants ``c``); returns its name.

        The variable and the type share one name (Numba's parallel lowering
        refers to the type by its name); models with equal names and fields share it.
        """
        name, k = type_name, 1
        while name in self._tuples and self._tuples[name] != tuple(fields):
            k += 1
            name = f"{type_name}{k}"
        if name not in self._tuples:
            self._tuples[name] = tuple(fields)
            self.preamble.append(f"{name} = namedtuple({name!r}, {list(fields)!r})")
        return name
