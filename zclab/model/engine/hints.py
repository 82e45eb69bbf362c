"""Branch hints for the compiler, as in the kernel's ``unlikely()``.

``if unlikely(cond):`` tells LLVM that the branch is rarely taken (the
``llvm.expect`` intrinsic, which becomes branch weights). The engine marks its
invariant checks, the end of the run, the opening of the measured window and
the worker's rare stops so. LLVM weighs block placement and register
allocation by how often blocks run; without the hints it guesses, and on the
event loop it guessed badly: 3 to 8% faster on IMIX with them (measured: see
docs/performance.md).

``unlikely`` is an intrinsic, usable in compiled code only: numba lowers the
call in place, into the caller's branch, where LLVM turns an expect into
branch weights. It used to be an ``@overload(inline="always")`` with a Python
fallback, but inlining an overload makes numba run dead-code elimination over
the whole caller once more: a fifth of the engine's compile time (a variant
took 85 s, 62 s without; docs/performance.md).
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def unlikely(typingctx, cond):
    """``cond``, with the hint that it is almost always false (compiled code only).

    >>> from numba import njit
    >>> njit(lambda x: 1 if unlikely(x > 4) else 0)(3)
    0
    """
    if not isinstance(cond, types.Boolean):
        return None

    def codegen(context, builder, sig, args):
        i1 = ir.IntType(1)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i1, [i1, i1]), "llvm.expect.i1")
        return builder.call(fn, [args[0], ir.Constant(i1, 0)])

    return types.boolean(cond), codegen
