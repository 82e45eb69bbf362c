"""zclab.trust.kernel.compare: lining the model up with the kernel, packet by packet.

The fast tests feed it traces whose answer is known (the model against itself, then
with one path and one return changed); tests/test_kernel_qemu.py runs the kernel."""

import pandas as pd
import pytest

from zclab import Config, simulate
from zclab.trust.kernel import compare


class Fake:
    """A kernel run as compare reads it: a trace and a summary."""

    def __init__(self, trace, **summary):
        self.trace, self.summary = trace, {"pps": 50_000.0, "emulated": True, **summary}


def model_trace(cfg):
    t = simulate(compare.model_config(cfg)).trace
    return t[["seq", "head", "len", "path", "used_idx"]].assign(
        path=lambda d: d["path"].astype(str).replace({"copy_fallback": "copy"}))


def test_the_model_agrees_with_itself_and_a_changed_path_or_return_is_found():
    cfg = Config(size_dist="cycle", size_table="1500,9000,64", n_packets=300, warmup_packets=0, mode="copy")
    t = model_trace(cfg)
    m = simulate(compare.model_config(cfg))
    row = compare.agreement("x", cfg, Fake(t), m)
    assert row["paths_agree"] and row["order_agrees"] and row["paths_differ"] == 0
    assert row["paths_compared"] == 300 and row["ooo_kernel"] == row["ooo_model"] == 0

    bad = t.copy()
    bad.loc[10, "path"] = "copy" if bad.loc[10, "path"] == "zerocopy" else "zerocopy"
    bad.loc[[3, 4], "used_idx"] = bad.loc[[4, 3], "used_idx"].to_numpy()  # two returns swapped
    row = compare.agreement("x", cfg, Fake(bad), m)
    assert row["paths_differ"] == 1 and row["first_path_difference"] == 10 and not row["order_agrees"]
    assert row["ooo_kernel"] == 1 and row["max_displacement_kernel"] == 1


def test_unknown_kernel_paths_are_not_compared():
    cfg = Config(size_dist="fixed", size_bytes=1500, n_packets=100, warmup_packets=0)
    t = model_trace(cfg)
    t["path"] = pd.Categorical([None] * 50 + ["zerocopy"] * 50, categories=["copy", "zerocopy"])
    row = compare.agreement("x", cfg, Fake(t), simulate(compare.model_config(cfg)))
    assert row["paths_known"] == row["paths_compared"] == 50 and row["paths_agree"]


def test_returns_out_of_order_counts_overtaken_returns_and_the_largest_displacement():
    t = pd.DataFrame({"seq": range(6), "used_idx": [2, 3, 0, 1, 5, -1]})  # used order 2, 3, 0, 1, 4
    assert compare.returns_out_of_order(t) == (2, 3)


def test_where_timing_decides_only_the_first_paths_and_returns_are_held_to_the_kernel():
    cfg = Config(size_dist="fixed", size_bytes=1500, ring_size=256, egress_delay_ns=2e6, egress_queue=100_000,
                 n_packets=400, warmup_packets=0)
    assert compare.timing_decides(cfg) and not compare.timing_decides(cfg.replace(egress_delay_ns=0.0))
    t = model_trace(cfg)
    late = t.copy()
    late.loc[200:, "path"] = "zerocopy"  # after the first completions: timing's business
    row = compare.agreement("x", cfg, Fake(late), simulate(compare.model_config(cfg)))
    assert row["paths_agree"] and row["paths_compared"] == 66  # limit 64, + 1 zero-copy, + the first copy


def test_the_fit_makes_the_model_send_at_the_kernels_rate():
    cfg = Config(size_dist="fixed", size_bytes=1500, n_packets=5_000, warmup_packets=0)
    costs = compare.fit_rate(Fake(None, pps=40_000.0), cfg)
    s = simulate(compare.model_config(cfg, **costs).replace(trace_packets=0, warmup_packets=500)).summary
    assert s["mpps"] * 1e6 == pytest.approx(40_000.0, rel=0.01)
    with pytest.raises(ValueError, match="no rate"):
        compare.fit_rate(Fake(None, pps=0.0), cfg)


def test_kernel_runs_kept_on_disk_read_back_the_same(tmp_path):
    cfg = Config(size_dist="cycle", size_table="1500,64", n_packets=50, warmup_packets=0)
    t = model_trace(cfg)
    t["path"] = pd.Categorical(t["path"], categories=["copy", "zerocopy"])
    compare.save_kernel_runs(["a"], [cfg], [Fake(t, kernel="6.1.0")], tmp_path)
    names, configs, runs = compare.load_kernel_runs(tmp_path)
    assert names == ["a"] and configs == [cfg] and runs[0].summary["kernel"] == "6.1.0"
    pd.testing.assert_frame_equal(runs[0].trace, t.reset_index(drop=True))
    assert not list(tmp_path.glob("*.tmp"))
