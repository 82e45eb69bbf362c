"""Named bundles of parameters: policies, workloads and hosts.

A preset sets a group of knobs at once; a knob given explicitly to
:class:`zclab.Config` overrides the preset's value::

    >>> from zclab import Config
    >>> Config(policy="mainline-stall").pend_placement
    'stall'
    >>> Config(policy="mainline-stall", pend_placement="seed").pend_placement
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

__all__ = ["POLICY_PRESETS", "WORKLOAD_PRESETS", "HOST_PRESETS", "PRESET_KINDS", "preset_kind"]


def _frozen(table: dict[str, dict]) -> Mapping[str, Mapping]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in table.items()})


#: Policy presets: the zero-copy bookkeeping of the kernel's history.
POLICY_PRESETS = _frozen(
    {
        # The V5 4/6 patch as posted (May 2011): the pending limit only acts when
        # the avail ring is empty (tx_poll_start), release at the top of each loop
        # iteration, the callback only marks heads[] done, and copied packets are
        # recorded in heads[] already done (so they queue behind pending ones).
        "seed-2011": {
            "pend_placement": "seed",
            "max_pend_rule": "fixed",
            "wake_on_completion": False,
            "reap_threshold": 0,
            "copy_via_heads": True,
        },
        # handle_tx of v3.13..v4.14: release every iteration, break out while
        # vhost_exceeds_maxpend() (min(VHOST_MAX_PEND, vq->num >> 2)), the callback
        # queues the worker (vhost_poll_queue), copies go straight to the used ring
        # (vhost_add_used_and_signal).
        "mainline-stall": {
            "pend_placement": "stall",
            "max_pend_rule": "ring_quarter",
            "wake_on_completion": True,
            "reap_threshold": 0,
            "copy_via_heads": False,
        },
        # v4.15+ (commit 1e6f74536de0, "vhost_net: do not stall on zerocopy
        # depletion"): never stop; over the limit a packet takes the copy path.
        "mainline-fallback": {
            "pend_placement": "copy_fallback",
            "max_pend_rule": "ring_quarter",
            "wake_on_completion": True,
            "reap_threshold": 0,
            "copy_via_heads": False,
        },
    }
)

#: Workload presets: what the guest transmits.
WORKLOAD_PRESETS = _frozen(
    {
        # simple IMIX (64, 576, 1500 bytes at 7:4:1) from a bulk sender
        "imix": {"arrival": "saturate", "size_dist": "imix"},
        # netperf TCP_STREAM with 64 KB GSO packets: the seed's favourable case
        "tcp_stream_64k": {"arrival": "saturate", "size_dist": "fixed", "size_bytes": 65536},
        # minimum-size packets from a bulk sender (pktgen/testpmd-like)
        "small_64": {"arrival": "saturate", "size_dist": "fixed", "size_bytes": 64},
        # open-loop IMIX at 500 kpps, a request/response or packet-generator mix
        "poisson_imix": {"arrival": "poisson", "size_dist": "imix", "rate_pps": 500_000.0},
        # half small, half 64 KB: the mix where a size threshold matters most
        "bimodal_64k": {
            "arrival": "saturate",
            "size_dist": "bimodal",
            "small_bytes": 64,
            "large_bytes": 65536,
            "small_fraction": 0.5,
        },
    }
)

#: Host presets: CPU costs (ns) and latencies (ns) of a machine.
HOST_PRESETS = _frozen(
    {
        # A 2011 host (Westmere-class Xeon, 2.5 GHz, 10 GbE ixgbe) as *assumed*
        # before calibration; every value is argued in docs/model.md.
        "assumed-2011": {
            "per_packet_ns": 1000.0,
            "copy_ns_per_byte": 0.25,
            "zc_setup_ns": 300.0,
            "pin_ns_per_page": 150.0,
            "callback_ns": 150.0,
            "signal_ns": 500.0,
            "kick_ns": 2000.0,
            "requeue_ns": 300.0,
            "guest_xmit_ns": 1500.0,
            "irq_latency_ns": 5000.0,
            "wake_latency_ns": 3000.0,
            "cpu_ghz": 2.5,
            "line_rate_gbps": 10.0,
            "dma_base_ns": 20000.0,
            # not modelled in this preset: the used-ring update is part of
            # per_packet_ns, and the host outside vhost is left out
            "used_ring_ns": 0.0,
            "host_stack_ns_per_packet": 0.0,
            "host_stack_ns_per_byte": 0.0,
            "local_rx_ns_per_packet": 0.0,
        },
    }
)

#: The preset kinds and the configuration field that names each one.
PRESET_KINDS = MappingProxyType(
    {"policy": POLICY_PRESETS, "workload": WORKLOAD_PRESETS, "host": HOST_PRESETS}
)


def preset_kind(name: str) -> str | None:
    """Return which kind of preset ``name`` is (``"policy"``, ...), or None."""
    for kind, table in PRESET_KINDS.items():
        if name in table:
            return kind
    return None
