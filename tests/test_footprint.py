"""A process that only simulates does not load pandas (about 90 MB of its peak
memory: the benchmark's 100-million-packet run must stay under 300 MB on a fresh
install). pandas comes in with the first sweep, store or trace."""

import subprocess
import sys

CODE = """
import sys, zclab
r = zclab.simulate(n_packets=2000, warmup_packets=0)
assert r.summary["packets"] == 2000
print("pandas" in sys.modules)
r = zclab.simulate(n_packets=2000, warmup_packets=0, trace_packets=10)
print("pandas" in sys.modules, type(r.trace).__name__)
"""


def test_simulate_alone_does_not_import_pandas():
    out = subprocess.run([sys.executable, "-c", CODE], check=True, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "True", "DataFrame"]
