"""Numba compiler pipeline for the generated chunk functions: their array arguments do not overlap.

Numba cannot tell whether two array arguments share memory, so LLVM guards
each vectorised loop that writes one array and reads another with run-time
overlap checks, and keeps a scalar copy of the loop for when they fail. In the
per-copy functions of a batched chunk loop, called for every copy and step,
these checks cost about as much as a fifth of the hidden layer's update.

The chunk loop's array arguments are the arrays of one
:class:`compsim.engine.state.StateStore`, each passed once under its own name,
and the store guarantees that no two of them share memory (``adopt`` copies
an array that would). The generated serial functions are therefore compiled
with :class:`NoAliasCompiler`, which marks their pointer arguments ``noalias``
(the promise Numba itself makes for the bodies of ``prange`` loops whose
arguments it finds distinct). The kernels they call are compiled as usual:
where LLVM inlines one, the promise reaches its loops too.
"""
from numba.core.compiler import Compiler


class NoAliasCompiler(Compiler):
    """Numba's standard pipeline, with every pointer argument of the compiled function marked ``noalias``.

    Use (``@njit(pipeline_class=NoAliasCompiler)``) only for functions that are never given two
    overlapping arrays, nor views of one array of which one is written.
    """

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)
