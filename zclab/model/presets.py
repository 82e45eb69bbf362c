"""Named bundles of parameters: policies, workloads and hosts.

A preset sets a group of knobs at once; a knob given explicitly to
:class:`zclab.Config` overrides the preset's value::

    >>> from zclab import Config
    >>> Config(policy="linux-3.13").pend_placement
    'stall'
    >>> Config(policy="linux-3.13", pend_placement="seed").pend_placement
    'seed'

Three kinds, each one field of the configuration:

``policy``
    How vhost bounds and releases zero-copy buffers, era by era of
    ``drivers/vhost/net.c``.
``workload``
    What the guest sends: arrival process and packet sizes.
``host``
    CPU costs and latencies of the machine (see docs/model.md for the
    source or assumption behind every number).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

__all__ = ["POLICY_PRESETS", "POLICY_ALIASES", "WORKLOAD_PRESETS", "HOST_PRESETS", "PRESET_KINDS", "SYNTHETIC_NIC", "SIMPLE_GUEST",
           "preset_kind"]


def _frozen(table: dict[str, dict]) -> Mapping[str, Mapping]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in table.items()})


#: Policy presets: the zero-copy bookkeeping of drivers/vhost/net.c, release by
#: release. docs/model.md section 2 gives the table (a row per rule, a column per
#: release) with the function each rule comes from and the trees it was read in.
#: Each preset builds on the one before it and states what changed; ``mode`` is the
#: release's default of the experimental_zcopytx module parameter (the seed had
#: none: zero-copy whenever the socket is SOCK_ZEROCOPY, as macvtap's is).
_SEED = {
    # The V5 4/6 patch as posted (May 2011). handle_tx releases at the top of each
    # iteration while refcnt > VHOST_MAX_ZEROCOPY_PEND, a macro the patch never
    # defines (zclab: reap_threshold 0, i.e. whenever anything is outstanding); with
    # the avail ring empty and refcnt > VHOST_MAX_PEND it calls tx_poll_start, and the
    # socket (sk_sndbuf INT_MAX, as QEMU sets it) is always writable, so
    # vhost_poll_start queues the worker at once: it spins until a completion or a
    # post; the callback only marks heads[] done; every packet of a zero-copy socket
    # takes a slot of heads[], a copy already done (VHOST_DMA_DONE_LEN).
    "mode": "zerocopy",
    "pend_placement": "seed",
    "max_pend_rule": "fixed",
    "wake_on_completion": "never",
    "reap_threshold": 0,
    "copy_via_heads": "always",
    "heads_full_copy": False,
    "goodcopy_test": "le",  # if (len <= VHOST_GOODCOPY_LEN) copy
    "select_zcopy": False,
    "tx_batch": 1,
    "weight_packets": 0,
}
# v3.1 (bab632d69ee4, "vhost: vhost TX zero-copy support"), to v3.3: the patch as
# merged; experimental_zcopytx defaults to 0; `if (len < VHOST_GOODCOPY_LEN)` copy;
# vhost_zerocopy_signal_used on every iteration; num_pends > VHOST_MAX_PEND, only
# when the avail ring is empty, then tx_poll_start; the callback only marks.
_V3_1 = {**_SEED, "mode": "copy", "goodcopy_test": "lt"}
# v3.5 (the change is absent in 3.3.8 and present in 3.5.0; no 3.4 tree was read),
# to v3.7: vhost_zerocopy_callback queues the worker every time (vhost_poll_queue).
_V3_5 = {**_V3_1, "wake_on_completion": "always"}
# v3.8 ("enable/disable zero copy tx dynamically", Nov 2012), to v3.9:
# vhost_net_tx_select_zcopy (tx_packets / 64 >= tx_zcopy_err); the callback queues
# the worker when cnt <= 2 || !(cnt % 16), cnt read before its put; experimental_zcopytx
# defaults to 1; zcopy_used = zcopy && (len >= VHOST_GOODCOPY_LEN || upend_idx !=
# done_idx): a short packet takes a slot of heads[] only while any is outstanding.
_V3_8 = {**_V3_5, "mode": "zerocopy", "select_zcopy": True, "wake_on_completion": "le2_or_16",
         "copy_via_heads": "when_pending"}
# v3.10 to v3.11: tx_poll_start is gone; over VHOST_MAX_PEND with the avail ring
# empty, handle_tx breaks and only the callback's vhost_poll_queue restarts it.
_V3_10 = {**_V3_8, "pend_placement": "empty_break"}
# v3.12 to v3.13: at the top of the loop, after vhost_zerocopy_signal_used,
# `if ((upend_idx + vq->num - VHOST_MAX_PEND) % UIO_MAXIOV == done_idx) break;`
# (true at one pending count only: never on a 256- or 512-entry ring, at 128 on a
# 1024-entry one, with nothing pending on a 128-entry one); copies no longer enter
# heads[]; zcopy_used = len >= VHOST_GOODCOPY_LEN && (upend_idx + 1) % UIO_MAXIOV !=
# done_idx && vhost_net_tx_select_zcopy(net): a full heads[] means a copy.
_V3_12 = {**_V3_10, "pend_placement": "stall", "max_pend_rule": "modulo", "copy_via_heads": "never",
          "heads_full_copy": True}
# v3.14 to v4.14: cnt = vhost_net_ubuf_put(ubufs); if (cnt <= 1 || !(cnt % 16)).
_V3_14 = {**_V3_12, "wake_on_completion": "le1_or_16"}
# v4.15 (1e6f74536de0, "do not stall on zerocopy depletion") to v4.16:
# vhost_exceeds_maxpend is (upend_idx + UIO_MAXIOV - done_idx) % UIO_MAXIOV >
# min(VHOST_MAX_PEND, vq->num >> 2), and moves into zcopy_used: a copy, not a stop.
_V4_15 = {**_V3_14, "pend_placement": "copy_fallback", "max_pend_rule": "ring_quarter"}
# v6.1 (the kernel the real-kernel harness drives, zclab.trust.kernel): VHOST_NET_PKT_WEIGHT
# 256 (v4.18; 2 * vq->num in v4.17) in vhost_exceeds_weight; handle_tx_copy returns
# copies VHOST_NET_BATCH (64) at a time (v4.19); experimental_zcopytx defaults to 0
# again (v5.3, 098eadce3c62).
_V6_1 = {**_V4_15, "mode": "copy", "tx_batch": 64, "weight_packets": 256}

POLICY_PRESETS = _frozen(
    {
        "seed-2011": _SEED,
        "linux-3.1": _V3_1,
        "linux-3.5": _V3_5,
        "linux-3.8": _V3_8,
        "linux-3.10": _V3_10,
        "linux-3.12": _V3_12,
        "linux-3.14": _V3_14,
        "linux-4.15": _V4_15,
        "linux-6.1": _V6_1,
        # HYPOTHETICAL, no release: v4.15's limit min(max_pend, ring_size / 4) with a
        # stall at the top of handle_tx, as v3.12 stalled, until a completion queues
        # the worker. zclab called it "mainline-stall" before model version 4; no
        # study presents it as the kernel's.
        "ring-quarter-stall": {**_V3_5, "mode": "zerocopy", "pend_placement": "stall",
                               "max_pend_rule": "ring_quarter", "copy_via_heads": "never",
                               "goodcopy_test": "le"},
    }
)

#: Names that are not releases, kept so that old notebooks and specs run: each is
#: read as the preset it names here (docs/model.md section 2).
POLICY_ALIASES = MappingProxyType(
    {
        # the ring-quarter limit with a stall was never a release: v3.12 to v4.14 had
        # the modulo test; the old name, which claimed v3.13 to v4.14, means the
        # release of most of that range
        "mainline-stall": "linux-3.14",
        # v3.13 has v3.12's rules exactly
        "linux-3.13": "linux-3.12",
        # v4.15's copy fallback, now with the release's length test, select_zcopy,
        # wake-up rule and ring batching
        "mainline-fallback": "linux-4.15",
    }
)

#: Workload presets: what the guest transmits.
# The sockets a workload's flows send from (docs/model.md section 1, Sockets), as a 6.1
# guest has them: a datagram socket's sk_sndbuf is net.core.wmem_default, 212992
# (SK_WMEM_MAX); a TCP socket is held by TCP small queues at tcp_limit_output_bytes,
# 1 MiB from 5.0 (its sk_sndbuf counts the unacknowledged write queue, sk_wmem_queued,
# which zclab does not model: off). Both bind only with napi_tx (guest_napi_tx).
_UDP = {"guest_sndbuf_bytes": 212992, "guest_tsq_bytes": 0}
_TCP = {"guest_sndbuf_bytes": 0, "guest_tsq_bytes": 1 << 20}

WORKLOAD_PRESETS = _frozen(
    {
        # simple IMIX (64, 576, 1500 bytes at 7:4:1) from a bulk sender on datagram sockets
        "imix": {"arrival": "saturate", "size_dist": "imix", **_UDP},
        # netperf TCP_STREAM with 64 KB GSO packets: the seed's favourable case
        "tcp_stream_64k": {"arrival": "saturate", "size_dist": "fixed", "size_bytes": 65536, **_TCP},
        # minimum-size packets from a bulk sender (pktgen/testpmd-like)
        "small_64": {"arrival": "saturate", "size_dist": "fixed", "size_bytes": 64, **_UDP},
        # open-loop IMIX at 500 kpps, a request/response or packet-generator mix
        "poisson_imix": {"arrival": "poisson", "size_dist": "imix", "rate_pps": 500_000.0, **_UDP},
        # half small, half 64 KB on TCP (requests and bulk data): the mix where a size
        # threshold matters most
        "bimodal_64k": {
            "arrival": "saturate",
            "size_dist": "bimodal",
            "small_bytes": 64,
            "large_bytes": 65536,
            "small_fraction": 0.5,
            **_TCP,
        },
    }
)

#: Host presets: CPU costs (ns) and latencies (ns) of a machine. Each builds on the one
#: before it and states what it changes.
#
# A 2011 host (Westmere-class Xeon, 2.5 GHz, 10 GbE ixgbe) as *assumed* before
# calibration; every value is argued in docs/model.md. The ranges over which the
# published statements still hold (docs/calibration.md) are noted where the record
# bounds a value.
_ASSUMED_2011 = {
    # assumption (no measurement): descriptor fetch, sendmsg, skb set-up; bounded above
    # by 2010 "vhost reaches 10 GbE line rate with 64 KB" and by the 2012 "minor"
    # guest-to-host regression
    "per_packet_ns": 1000.0,
    # assumption: copy_from_user at about 4 GB/s, cache-cold; bounded by the vendor's
    # "no throughput change" (copy must keep line rate at 64 KB)
    "copy_ns_per_byte": 0.25,
    # assumptions: the zero-copy extras; bounded by the 2012 "minor" regression
    "zc_setup_ns": 300.0,
    "pin_ns_per_page": 150.0,
    "callback_ns": 150.0,
    # assumptions, not constrained by any statement in the record
    "signal_ns": 500.0,
    "kick_ns": 2000.0,
    "requeue_ns": 300.0,
    "guest_xmit_ns": 1500.0,
    # assumption: a TX interrupt's CPU in the guest with napi_tx (the vector, an EOI
    # exit without APICv, the softirq, virtnet_poll_tx's fixed part), about the cost of
    # a kick's exit on 2011 hardware; only used with guest_napi_tx
    "guest_tx_poll_ns": 2000.0,
    "irq_latency_ns": 5000.0,
    "wake_latency_ns": 3000.0,
    "cpu_ghz": 2.5,  # the model's contract: a Westmere-class Xeon
    "line_rate_gbps": 10.0,  # 10 GbE (ixgbe), the seed's setting
    "dma_base_ns": 20000.0,  # assumption, not constrained by the record
    # The NIC's TX ring and its interrupt coalescing: ixgbe (82599, 10 GbE) of the Linux
    # 3.0/3.1 era, drivers/net/ixgbe/ (a stored copy of ixgbe.h and ixgbe_main.c; the
    # exact release was not pinned). tx_ring_count = IXGBE_DEFAULT_TXD (512).
    # ixgbe_sw_init sets tx_itr_setting = 1: dynamic ITR, APPROXIMATED here by the state
    # a saturating sender settles in (ixgbe_update_itr: above 20 bytes/us ->
    # bulk_latency, 8,000 interrupts/s): 125 us, fixed. ixgbe has no frame count (its
    # tx-frames-irq is the clean-up budget IXGBE_DEFAULT_TX_WORK, 256, not
    # moderation): 0.
    "tx_ring_size": 512,
    "tx_coalesce_usecs": 125.0,
    "tx_max_coalesced_frames": 0,
    # assumption: MSI-X delivery, napi_schedule and the NET_RX softirq running
    # ixgbe_poll -> ixgbe_clean_tx_irq on a 2011 Xeon
    "tx_clean_latency_ns": 2000.0,
    # not modelled in this preset: 2011 vhost had no used-ring batching (the update is
    # part of per_packet_ns), and the host outside vhost is left out
    "used_ring_ns": 0.0,
    "host_stack_ns_per_packet": 0.0,
    "host_stack_ns_per_byte": 0.0,
    "local_rx_ns_per_packet": 0.0,
}
# The same host calibrated against the published record (zclab/trust/calibration.py,
# docs/calibration.md). Only host_stack_ns_per_byte is fitted to a number; every other
# value is assumed-2011's, kept because every statement holds with it (the ranges
# scanned one at a time, x1/8 to x8 at the full size, the fitted value refitted).
_CALIBRATED_2011 = {
    **_ASSUMED_2011,
    # FITTED (least squares) to the vendor's "up to 15% less host CPU with zero-copy
    # for large packets to an external network" at 64 KB, line rate; the host CPU
    # outside vhost is counted per byte
    "host_stack_ns_per_byte": 1.107,  # +- 0.133
    # assumption: a host socket receiving a 64 KB skb (protocol work and wake-up; the
    # copy to user space is not modelled); no statement bounds it since the worker
    # copies zero-copy skbs to a local socket (model version 3)
    "local_rx_ns_per_packet": 2000.0,
}
# A host of 2015-2018 (Broadwell i7-5600U, 2.6 GHz): the calibrated-2011 costs and
# latencies halved (assumption: about twice the per-core speed), except what is
# fitted, measured or taken from a driver below.
_HALVED = ("zc_setup_ns", "pin_ns_per_page", "callback_ns", "signal_ns", "kick_ns", "requeue_ns", "guest_xmit_ns",
           "guest_tx_poll_ns", "irq_latency_ns", "wake_latency_ns", "dma_base_ns", "tx_clean_latency_ns",
           "local_rx_ns_per_packet")
_MODERN = {
    **_CALIBRATED_2011,
    **{name: _CALIBRATED_2011[name] / 2 for name in _HALVED},
    # per_packet_ns and used_ring_ns FITTED to the 2018 copy-path rates (3.1 Mpps one
    # by one, 3.9 Mpps with batched used-ring updates)
    "per_packet_ns": 248.9,  # +- 1.9
    "used_ring_ns": 67.2,  # +- 3.6
    "copy_ns_per_byte": 0.1,  # assumption: ~10 GB/s in-cache copy
    "cpu_ghz": 2.6,  # i7-5600U base clock (the 2018 measurement's CPU)
    "line_rate_gbps": 10.0,  # assumption: a 10 GbE NIC
    "host_stack_ns_per_byte": 0.55,  # assumption: calibrated-2011's value halved, rounded
    # The NIC's TX ring and its interrupt coalescing: mlx5e (ConnectX-4/5), Linux 6.1,
    # drivers/net/ethernet/mellanox/mlx5/core/en.h: MLX5E_PARAMS_DEFAULT_LOG_SQ_SIZE 0xa
    # (1024 send-queue entries), MLX5E_PARAMS_DEFAULT_TX_CQ_MODERATION_USEC 0x10 and
    # _PKTS 0x20 (16 us, 32 completions). mlx5e_build_nic_params turns TX DIM (adaptive
    # moderation) on where the device has cq_moderation: APPROXIMATED here by the
    # static default, fixed (the value with DIM off).
    "tx_ring_size": 1024,
    "tx_coalesce_usecs": 16.0,
    "tx_max_coalesced_frames": 32,
}
HOST_PRESETS = _frozen({"assumed-2011": _ASSUMED_2011, "calibrated-2011": _CALIBRATED_2011, "modern-host": _MODERN})

#: The NIC of model version 3 and before, named as what it is: synthetic. A random
#: completion delay per skb after the wire (dma_latency_dist, stragglers), a lossless
#: device queue of txqueuelen skbs that makes the worker wait, and a GSO frame on the
#: wire as one frame. No kernel does this (docs/model.md section 1); the studies and
#: checks built on it pin it explicitly with ``Config(**SYNTHETIC_NIC, ...)``.
SYNTHETIC_NIC = MappingProxyType({"nic_completion": "synthetic", "qdisc": "backpressure", "gso_size": 0})

#: The guest of model versions 1 to 4, kept as an option and named as what it is: it
#: stops its queue only when no descriptor is free, asks for an interrupt at the next
#: return, orphans its skbs at the post (napi_tx off), and its sockets have no limit
#: (a ``replace(workload=...)`` brings the workload's back: they then hold only what
#: waits in an open-loop guest's qdisc). virtio-net (the default) stops below 2 + MAX_SKB_FRAGS free descriptors, asks
#: at 3/4 of the outstanding and, with napi_tx, keeps each skb charged to its socket
#: until the host has returned it (docs/model.md section 1). The studies and checks
#: built on the older guest pin it with ``Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, ...)``.
SIMPLE_GUEST = MappingProxyType({"guest_stop_free": 1, "guest_cb_delayed": False, "guest_napi_tx": False,
                                 "guest_indirect_desc": True, "guest_sndbuf_bytes": 0, "guest_tsq_bytes": 0})

#: The preset kinds and the configuration field that names each one.
PRESET_KINDS = MappingProxyType(
    {"policy": POLICY_PRESETS, "workload": WORKLOAD_PRESETS, "host": HOST_PRESETS}
)


def preset_kind(name: str) -> str | None:
    """Return which kind of preset ``name`` is (``"policy"``, ...), or None."""
    for kind, table in PRESET_KINDS.items():
        if name in table:
            return kind
    return "policy" if name in POLICY_ALIASES else None
