"""The reading guide at the top of the engine (zclab/model/engine/core.py) stays true: its line
ranges are the parts of ``run``, marked in the code by ``# ---- `` comments, and the
reference model's methods it names exist. (Issue 21, part 5.)"""

import re
from pathlib import Path

import zclab.model.engine.core as core
from zclab.model import reference
from zclab.model.engine import layout as L

SOURCE = Path(core.__file__).read_text()
LINES = SOURCE.split("\n")
ROWS = [(int(a), int(b), refs) for a, b, refs in
        re.findall(r"^\s*(\d+)-(\d+)\s+.+?\s{2,}([\w., ]+)$", core.__doc__, re.M)]


def test_the_guide_covers_run_part_by_part_from_its_markers():
    markers = [i + 1 for i, line in enumerate(LINES) if re.match(r"\s+# ---- ", line)]
    assert [a for a, _, _ in ROWS] == markers, "a part of run was added, moved or removed: redo the guide"
    for (a, b, _), (nxt, _, _) in zip(ROWS, ROWS[1:]):
        assert b == nxt - 1
    assert ROWS[-1][1] == len(SOURCE.rstrip("\n").split("\n"))


def test_the_reference_methods_the_guide_names_exist():
    for _, _, refs in ROWS:
        for name in (r.strip() for r in refs.split(",")):
            owner, _, attr = name.rpartition(".")
            obj = getattr(reference, owner) if owner else reference.ReferenceModel
            assert hasattr(obj, attr) or hasattr(reference, attr), name


def test_every_violation_code_is_named_and_the_engine_sets_none_by_number():
    names = {v: k for k, v in vars(L).items() if k.startswith("V_")}
    assert sorted(names) == sorted(L.VIOLATIONS) == list(range(1, 9))
    for path in (Path(core.__file__), Path(reference.__file__)):
        text = path.read_text()
        assert not re.search(r"violation\"?\]? = [0-9]", text.replace("violation = 0", "")), path


def test_the_parameter_record_uses_the_configs_names():
    """A field of the record that passes a Config field through carries its name (and so
    its unit); the others are derived, and each is listed here with what it derives from."""
    from zclab.model.config import PARAMETERS

    derived = {"n_total", "poisson", "zerocopy", "pend_limit", "out_of_order", "modulo_add", "tx_coalesce_ns",
               "wire_ns_per_byte", "n_flows", "coalesced", "backpressure", "gx", "socks",
               "size_kind", "size_n"}
    assert set(L.P.names) - set(PARAMETERS) == derived
