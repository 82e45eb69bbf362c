"""``unlikely`` changes how the engine is compiled, never what it computes: it
returns its argument, and it reaches LLVM as branch weights
(the engine's 3 to 8% on IMIX rests on that; see zclab/model/engine/hints.py)."""

import re

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from zclab.model.engine.hints import unlikely


def test_outside_compiled_code_it_is_refused_by_name():
    # an intrinsic: lowered in the caller, never called (see zclab/model/engine/hints.py)
    with pytest.raises(NotImplementedError, match="pure-python"):
        unlikely(True)


@njit
def _first_above(a, lim):
    for i in range(a.shape[0]):
        if unlikely(a[i] > lim):
            return i
    return -1


@njit
def _first_above_plain(a, lim):
    for i in range(a.shape[0]):
        if a[i] > lim:
            return i
    return -1


def test_in_compiled_code_it_returns_its_argument():
    a = np.arange(100.0)
    for lim, first in ((-1.0, 0), (0.0, 1), (49.5, 50), (98.0, 99), (99.0, -1), (1e9, -1)):
        assert _first_above(a, lim) == _first_above_plain(a, lim) == first


_WEIGHTS = re.compile(r'!\{!"branch_weights"(, !"expected")?, i32 1, i32 2000\}')


def _hinted(fn):
    fn(np.arange(3.0), 1.0)
    return bool(_WEIGHTS.search(fn.inspect_llvm(fn.signatures[0])))


def test_the_hint_reaches_llvm_as_branch_weights():
    # llvm.expect(cond, false) becomes weights of 1 against 2000 on the branch it
    # feeds; if numba stored the intrinsic's result first, the hint would be lost
    assert _hinted(_first_above)
    assert not _hinted(_first_above_plain)


def test_it_takes_only_a_boolean():
    @njit
    def f(x):
        return unlikely(x)

    with pytest.raises(TypingError):
        f(1)
