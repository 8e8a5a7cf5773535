"""Vector instructions that Numba's compiler does not find by itself.

:func:`list_nonzero` lists the indices of the non-zero entries of an int32
array, 16 at a time: one comparison, one *compress store* (the flagged
lanes' indices written contiguously: ``vpcompressd`` on CPUs with AVX-512;
LLVM expands it into scalar stores on other CPUs) and one population count per
16 entries, instead of a store and a dependent add per entry. On CUDA devices
(whose compiler lacks the compress store) it is the scalar loop.
"""
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.cpu import CPUContext
from numba.extending import intrinsic

#: entries a compress store handles at once (one 512-bit vector of int32)
LANES = 16


@intrinsic
def _compress_nonzero(typingctx, values, start, out, m):
    """Indices ``start .. start + 15`` whose ``values`` are non-zero, ascending, into ``out[m:]``; returns ``m`` plus
    their number. ``values`` and ``out``: contiguous int32 arrays."""
    for arr in (values, out):
        if not (isinstance(arr, types.Array) and arr.dtype == types.int32 and arr.ndim == 1 and arr.layout == "C"):
            return None

    def codegen(context, builder, signature, args):
        if not isinstance(context, CPUContext):  # NVVM (CUDA) has no compress store: the scalar loop
            return context.compile_internal(builder, _compress_scalar, signature, args)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vec = ir.VectorType(i32, LANES)
        src = context.make_array(signature.args[0])(context, builder, args[0]).data
        dst = context.make_array(signature.args[2])(context, builder, args[2]).data
        first, m = args[1], args[3]
        block = builder.load(builder.bitcast(builder.gep(src, [first]), vec.as_pointer()), align=4)
        flags = builder.icmp_unsigned("!=", block, ir.Constant(vec, [0] * LANES))
        base = builder.insert_element(ir.Constant(vec, ir.Undefined), builder.trunc(first, i32), ir.Constant(i32, 0))
        base = builder.shuffle_vector(base, ir.Constant(vec, ir.Undefined), ir.Constant(vec, [0] * LANES))
        indices = builder.add(base, ir.Constant(vec, list(range(LANES))))
        store = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vec, i32.as_pointer(), flags.type]),
            f"llvm.masked.compressstore.v{LANES}i32")
        builder.call(store, [indices, builder.gep(dst, [m]), flags])
        found = builder.ctpop(builder.bitcast(flags, ir.IntType(LANES)))
        return builder.add(m, builder.zext(found, i64))

    return types.int64(values, types.int64, out, types.int64), codegen


def _compress_scalar(values, start, out, m):
    """:func:`_compress_nonzero` one entry at a time."""
    return _list_range(values, start, start + LANES, out, m)


@njit(cache=True, inline="always")
def _list_range(values, first, stop, out, m):
    """The indices ``first <= i < stop`` with ``values[i] != 0`` into ``out[m:]``, branch-free; returns ``m`` plus
    their number."""
    for i in range(first, stop):
        out[m] = i
        m += 1 if values[i] != 0 else 0
    return m


@njit(cache=True)
def list_nonzero(values, out):
    """The indices ``i`` with ``values[i] != 0``, ascending, into ``out``; returns their number.

    ``values`` and ``out``: contiguous int32 arrays, ``out`` at least as long as ``values``.
    """
    n = values.shape[0]
    whole = n - n % LANES
    m = 0
    for start in range(0, whole, LANES):
        m = _compress_nonzero(values, start, out, m)
    return _list_range(values, whole, n, out, m)
