"""The ``linux-6.1`` policy preset against what the real 6.1 vhost-net did.

Each test is one row of the table in docs/kernel.md (first seen on Debian's
6.1.192 under QEMU, ../shared/design/real-kernel.md): the kernel's facts that
timing does not decide, predicted packet by packet. The lower device is a
```dummy`` (``lower_dev="dummy"``: it frees each skb as it sends it, inside sendmsg). Sequence numbers are 0-based (the kernel table counts from 1).
"""

import pytest

from zclab import Config, simulate
from zclab.trust.kernel.compare import DRIVER_GUEST

#: macvtap on a dummy device: the skb is freed when it is sent, so its zero-copy
#: callback fires at once (netem, if any, holds it first: egress_delay_ns)
DUMMY = dict(lower_dev="dummy")


def kernel_run(n=2_000, **params):
    params.setdefault("mode", "zerocopy")  # vhost_net loaded with experimental_zcopytx=1, as the harness does
    # the harness's guest (driver.c polls the used ring; not virtio-net), as zclab.trust.kernel runs it
    cfg = Config(policy="linux-6.1", warmup_packets=0, n_packets=n, trace_packets=n, **DUMMY, **{**DRIVER_GUEST, **params})
    r = simulate(cfg)
    t = r.trace
    returned = t[t["used_idx"] >= 0].sort_values("used_idx")
    return r, t, returned["seq"].tolist()


def test_small_frames_are_copied_and_returned_in_order():
    r, t, order = kernel_run(size_dist="fixed", size_bytes=64)
    assert (t["path"] == "copy").all()
    assert order == sorted(order) == list(range(len(order)))


def test_mtu_frames_go_zero_copy_and_return_in_order_when_nothing_holds_them():
    r, t, order = kernel_run(size_dist="fixed", size_bytes=1500)
    assert (t["path"] == "zerocopy").all()
    assert order == list(range(2_000))
    assert r.summary["zerocopy_fraction"] == 1.0


def test_zero_copy_off_copies_everything_in_order():
    r, t, order = kernel_run(mode="copy", size_dist="fixed", size_bytes=1500)
    assert (t["path"] == "copy").all() and order == list(range(2_000))


@pytest.mark.parametrize("ring, limit", [(256, 64), (512, 128), (1024, 128)])
def test_netem_holding_skbs_makes_the_first_over_the_limit_a_copy_returned_first(ring, limit):
    """vhost_exceeds_maxpend tests pending > min(VHOST_MAX_PEND, num >> 2), strictly:
    the first limit + 1 packets go zero-copy; the next is copied (the v4.15 fallback)
    and, with every zero-copy skb held 2 ms by netem, is the first returned."""
    r, t, order = kernel_run(n=1_000, size_dist="fixed", size_bytes=1500, ring_size=ring,
                             egress_delay_ns=2e6, egress_queue=100_000)
    path = t["path"].astype(str).tolist()
    assert path[: limit + 1] == ["zerocopy"] * (limit + 1)
    assert path[limit + 1] == "copy_fallback"
    assert order[:3] == [limit + 1, limit + 2, limit + 3]


def test_alternating_sizes_return_in_order_when_nothing_holds_them():
    """The dummy frees each zero-copy skb inside sendmsg, so vhost_zerocopy_signal_used
    right after it returns the 1500 B packet before the next 64 B copy goes on the ring."""
    r, t, order = kernel_run(size_dist="cycle", size_table="1500,64")
    assert t["path"].astype(str).tolist()[:4] == ["zerocopy", "copy", "zerocopy", "copy"]
    assert order == list(range(2_000))


def test_alternating_sizes_return_the_copied_small_ones_first():
    """1500 / 64 B in turn with netem holding skbs: the 64 B copies (packets 1, 3, 5, ...)
    go to the used ring at once (vhost_add_used_and_signal), the held ones later."""
    r, t, order = kernel_run(n=1_000, size_dist="cycle", size_table="1500,64", egress_delay_ns=2e6,
                             egress_queue=100_000)
    assert t["len"].tolist()[:4] == [1500, 64, 1500, 64]
    assert order[:5] == [1, 3, 5, 7, 9]


def test_local_delivery_tries_zero_copy_once_in_64_and_every_try_is_copied_later():
    """A tap into the host's stack: each zero-copy skb is copied at delivery
    (skb_orphan_frags_rx), its callback reports failure, and vhost_net_tx_select_zcopy
    allows zero-copy again only when tx_packets / 64 >= tx_zcopy_err: packets 0, 64,
    128, ... of each 1024 (both counters reset then). The kernel tried 313 of 20,000."""
    n = 20_000
    r, t, order = kernel_run(n=n, dest="local", size_dist="fixed", size_bytes=1500)
    zc = t.index[t["path"] == "zerocopy"].tolist()
    assert zc == [i for i in range(n) if i % 64 == 0]
    assert len(zc) == 313
    assert order == list(range(n))  # nothing is held: in order


def test_without_the_heuristic_every_local_packet_would_be_tried():
    r, t, _ = kernel_run(dest="local", size_dist="fixed", size_bytes=1500, select_zcopy=False)
    assert (t["path"] == "zerocopy").all()


def test_used_idx_is_each_packets_position_in_the_used_ring():
    r, t, order = kernel_run(n=3_000, size_dist="cycle", size_table="1500,64,9000", egress_delay_ns=1e5,
                             egress_queue=100_000)
    done = t[t["used_idx"] >= 0]
    # distinct positions in the 3,000 returns; a few went to packets posted after the
    # traced ones, which overtook held ones
    assert done["used_idx"].is_unique and done["used_idx"].max() < 3_000 and len(done) > 2_900
    assert set(range(100)) <= set(done["used_idx"])
    # the used ring is written in time order
    by_idx = done.sort_values("used_idx")
    assert by_idx["t_used"].is_monotonic_increasing
    assert (t.loc[t["used_idx"] < 0, "t_used"].isna()).all()
