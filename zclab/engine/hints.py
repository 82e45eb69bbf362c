"""Branch hints for the compiler, as in the kernel's ``unlikely()``.

``if unlikely(cond):`` tells LLVM that the branch is rarely taken (the
``llvm.expect`` intrinsic, which becomes branch weights). The engine marks its
invariant checks, the end of the run, the opening of the measured window and
the worker's rare stops so. LLVM weighs block placement and register
allocation by how often blocks run; without the hints it guesses, and on the
event loop it guessed badly: 3 to 8% faster on IMIX with them (measured: see
docs/performance.md). Outside compiled code ``unlikely`` returns its argument::

    >>> unlikely(3 > 4)
    False
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload


def unlikely(cond: bool) -> bool:
    """``cond``, with the hint that it is almost always false (compiled code only)."""
    return cond


@intrinsic
def _expect_false(typingctx, cond):
    if not isinstance(cond, types.Boolean):
        return None

    def codegen(context, builder, sig, args):
        i1 = ir.IntType(1)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i1, [i1, i1]), "llvm.expect.i1")
        return builder.call(fn, [args[0], ir.Constant(i1, 0)])

    return types.boolean(cond), codegen


# Inlined in numba's own IR, so that the intrinsic's result feeds the caller's
# branch directly: LLVM turns an expect into branch weights only there.
@overload(unlikely, inline="always")
def _unlikely_jit(cond):
    if isinstance(cond, types.Boolean):
        return lambda cond: _expect_false(cond)
    return None
