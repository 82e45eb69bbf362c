"""The configuration of one simulation: every model parameter, validated.

:class:`Config` is frozen and flat. Its field names are the public contract of
docs/model.md section 5: the same names are ``--set`` keys on the command
line, papermill parameters and the columns of sweep frames.

    >>> from zclab import Config
    >>> cfg = Config(policy="ring-quarter-stall", workload="tcp_stream_64k", n_packets=100_000)
    >>> cfg.max_pend_rule, cfg.size_bytes
    ('ring_quarter', 65536)
    >>> cfg.replace(max_pend=64).max_pend
    64
    >>> Config.from_dict(cfg.to_dict()) == cfg
    True

A bad value raises :class:`ConfigError` naming the field, the value and what is
allowed::

    >>> Config(ring_size=300)
    Traceback (most recent call last):
    ...
    zclab.model.config.ConfigError: ring_size=300: must be a power of two from 2 to 32768

Presets (:mod:`zclab.model.presets`) set groups of knobs: ``policy`` (the kernel
era's zero-copy bookkeeping), ``workload`` (what the guest sends) and ``host``
(CPU costs). Explicit arguments override a preset. ``replace(policy=...)``
switches the whole bundle: the new preset's knobs replace the old ones, then the
other changes apply.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import inspect
import io
import json
import math
import numbers
import os
import reprlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .presets import HOST_PRESETS, POLICY_ALIASES, POLICY_PRESETS, PRESET_KINDS, WORKLOAD_PRESETS

__all__ = ["Config", "ConfigError", "PARAMETERS", "COMBINATIONS", "MAX_PACKET_BYTES", "allowed", "did_you_mean"]

#: Largest packet (one descriptor chain) the model accepts: a 64 KB GSO frame.
MAX_PACKET_BYTES = 65536
#: Fewest TX ring descriptors: a 64 KB skb takes 17 (a context descriptor and 16 pages).
MIN_TX_RING = 17
#: Largest vring.num a virtio ring may have.
MAX_RING_SIZE = 32768
#: SOCK_MIN_SNDBUF (include/net/sock.h, 6.1): 2 * (2048 + SKB_DATA_ALIGN(sizeof(struct
#: sk_buff))), the least sk_sndbuf setsockopt(SO_SNDBUF) leaves.
SOCK_MIN_SNDBUF = 4608
#: The caps on run length keep counters far from int64 overflow.
MAX_PACKETS = 10**12
# Bounds that keep the engine's arithmetic finite (issue 20): a time is a float64 of
# nanoseconds, and with every cost and latency at most MAX_NS (1,000 s), every per-byte
# cost at most MAX_NS_PER_BYTE on 64 KB, rates of at least 1 packet/s (1 kbit/s) and
# at most 2 * MAX_PACKETS packets, no time of a run comes near float64's 1.8e308 (the
# longest single step, a lognormal DMA delay's tail at dma_sigma 10, stays below 1e35
# ns): never infinite, which the engine takes for "never". The queues' lengths
# (txqueuelen, qdisc_len) are bounded by the memory their arrays take.
MAX_NS = 1e12
MAX_NS_PER_BYTE = 1e6
IMIX_TABLE = ((64, 7.0), (576, 4.0), (1500, 1.0))
# Field defaults are the default presets' values, so the two cannot drift apart.
_POLICY0 = POLICY_PRESETS["seed-2011"]
_WORKLOAD0 = WORKLOAD_PRESETS["imix"]
_HOST0 = HOST_PRESETS["assumed-2011"]


class ConfigError(ValueError):
    """A parameter value is not allowed.

    Attributes ``field``, ``value`` and ``allowed`` say which, what was given,
    and what would have been accepted.
    """

    def __init__(self, field: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}={short_repr(value)}: {allowed}")


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 120
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 8, 8, 8


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to a line: an error message quotes what was given, and a
    value from a file can be a list of a million items.

        >>> short_repr(100), short_repr("imix"), short_repr(list(range(100)))
        ('100', "'imix'", '[0, 1, 2, 3, 4, 5, 6, 7, ...]')
    """
    return _REPR.repr(value)


def yaml_load(text: str) -> Any:
    """``yaml.safe_load`` without aliases (``*name``): zclab's files never need them,
    and nested aliases expand a few lines into billions of items (a "billion laughs"
    file) once anything walks them. Raises yaml.YAMLError naming the line."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "an alias (*name): not allowed in zclab's files", mark)
            return super().compose_node(parent, index)

    loader = NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _p(default, kind, group, doc, unit="", **rule):
    """Declare a parameter: its default, type, group and documentation."""
    meta = {"kind": kind, "group": group, "doc": doc, "unit": unit, **rule}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, init=False, slots=True)
class Config:
    """All parameters of one run. See docs/model.md for each one's meaning and source."""

    # run ---------------------------------------------------------------------
    n_packets: int = _p(1_000_000, "int", "run", "measured packets (returned to the guest)", min=1, max=MAX_PACKETS)
    warmup_packets: int = _p(10_000, "int", "run", "packets simulated first and not measured", min=0, max=MAX_PACKETS)
    seed: int = _p(1, "int", "run", "random seed", min=0, max=2**63 - 1)
    trace_packets: int = _p(0, "int", "run", "per-packet trace of the first N packets posted after warmup", min=0, max=50_000_000)
    max_events: int = _p(0, "int", "run", "hard cap on simulated events, 0: 100 per packet + 10 million", min=0, max=2**62)
    debug: bool = _p(False, "bool", "run", "stop with an error at the first invariant violation")
    # workload ----------------------------------------------------------------
    workload: str = _p("imix", "preset", "workload", "workload preset name", choices=tuple(WORKLOAD_PRESETS))
    arrival: str = _p(_WORKLOAD0["arrival"], "choice", "workload", "closed-loop bulk sender or open-loop Poisson", choices=("saturate", "poisson"))
    rate_pps: float = _p(500_000.0, "float", "workload", "Poisson arrival rate", unit="packets/s", min=1.0, max=1e10)
    qdisc_len: int = _p(1000, "int", "workload", "guest qdisc capacity (Poisson); arrivals beyond it are dropped", unit="packets", min=0, max=1_000_000)
    size_dist: str = _p(_WORKLOAD0["size_dist"], "choice", "workload", "packet size distribution ('cycle': size_table's sizes posted in turn)", choices=("fixed", "uniform", "imix", "bimodal", "empirical", "cycle"))
    size_bytes: int = _p(1500, "int", "workload", "size for size_dist='fixed'", unit="bytes", min=1, max=MAX_PACKET_BYTES)
    size_min: int = _p(64, "int", "workload", "smallest size for 'uniform'", unit="bytes", min=1, max=MAX_PACKET_BYTES)
    size_max: int = _p(1500, "int", "workload", "largest size for 'uniform'", unit="bytes", min=1, max=MAX_PACKET_BYTES)
    small_bytes: int = _p(64, "int", "workload", "small size for 'bimodal'", unit="bytes", min=1, max=MAX_PACKET_BYTES)
    large_bytes: int = _p(65536, "int", "workload", "large size for 'bimodal'", unit="bytes", min=1, max=MAX_PACKET_BYTES)
    small_fraction: float = _p(0.5, "float", "workload", "fraction of small packets for 'bimodal'", min=0.0, max=1.0)
    size_table: tuple | None = _p(None, "size_table", "workload", "sizes and weights for 'empirical': '64:7,576:4,1500:1', pairs, or a CSV file (size,weight); sizes in turn for 'cycle': '1500,64'")
    dest: str = _p("wire", "choice", "workload", "where the packets go: out of the NIC, or to a socket on the host (guest-to-host)", choices=("wire", "local"))
    egress_rate_pps: float = _p(0.0, "float", "workload", "egress limiter (a host qdisc such as netem or tbf) in packets/s; 0: none", unit="packets/s", min=0.0, max=1e10, off_or_min=1.0)
    egress_rate_mbps: float = _p(0.0, "float", "workload", "egress limiter in Mbit/s (instead of egress_rate_pps); 0: none", unit="Mbit/s", min=0.0, max=1e7, off_or_min=0.001)
    egress_delay_ns: float = _p(0.0, "float", "workload", "a fixed delay (netem delay) that holds each skb, in order, before its device; 0: none", unit="ns", min=0.0, max=1e12)
    egress_queue: int = _p(1000, "int", "workload", "packets the egress limiter (or delay) holds; beyond it they are dropped", unit="packets", min=1, max=1_000_000)
    flows: tuple | None = _p(None, "flows", "workload", "several flows sharing the virtqueue: a list of tables (JSON text, or a .json/.toml/.yaml file); see docs/model.md")
    # virtqueue ---------------------------------------------------------------
    ring_size: int = _p(256, "int", "virtqueue", "vring.num: descriptors in the TX ring", pow2=True, min=2, max=MAX_RING_SIZE)
    signal_every_publish: bool = _p(False, "bool", "virtqueue", "interrupt the guest at every used-ring publish (no event-index suppression)")
    vnet_hdr: str = _p("socket", "choice", "virtqueue", "who takes the 12-byte virtio-net header: the tap socket (IFF_VNET_HDR, as QEMU sets it up: vhost's length test counts it) or vhost (VHOST_NET_F_VIRTIO_NET_HDR)", choices=("socket", "vhost"))
    # vhost -------------------------------------------------------------------
    mode: str = _p(_POLICY0["mode"], "choice", "vhost", "TX path: copy every packet, or zero-copy large ones", choices=("copy", "zerocopy"))
    policy: str = _p("seed-2011", "preset", "vhost", "policy preset name: a release of drivers/vhost/net.c, or a hypothetical policy", choices=tuple(POLICY_PRESETS), aliases=dict(POLICY_ALIASES))
    goodcopy_len: int = _p(256, "int", "vhost", "VHOST_GOODCOPY_LEN: shorter packets are copied (see goodcopy_test)", unit="bytes", min=0, max=MAX_PACKET_BYTES)
    goodcopy_test: str = _p(_POLICY0["goodcopy_test"], "choice", "vhost", "copy len <= goodcopy_len (the V5 patch) or len < goodcopy_len (mainline: zero-copy if len >= VHOST_GOODCOPY_LEN)", choices=("le", "lt"))
    max_pend: int = _p(128, "int", "vhost", "VHOST_MAX_PEND: the pending zero-copy limit", unit="heads", min=0, max=65536)
    max_pend_rule: str = _p(_POLICY0["max_pend_rule"], "choice", "vhost", "the pending test: more than max_pend; more than min(max_pend, ring_size // 4) (v4.15); or (upend_idx + ring_size - max_pend) % uio_maxiov == done_idx (v3.12 to v4.14)", choices=("fixed", "ring_quarter", "modulo"))
    pend_placement: str = _p(_POLICY0["pend_placement"], "choice", "vhost", "where the pending test acts: seed (only with the avail ring empty, then tx_poll_start: the worker spins), empty_break (only with the avail ring empty, then break: v3.10), stall (at the top of every iteration, then break: v3.12), copy_fallback (a long packet over the limit is copied: v4.15)", choices=("seed", "empty_break", "stall", "copy_fallback"))
    reap_threshold: int = _p(_POLICY0["reap_threshold"], "int", "vhost", "seed placement: release at the top of an iteration only above this many outstanding", unit="heads", min=0, max=65536)
    completion: str = _p("in_order", "choice", "vhost", "release the done prefix of heads[], or every done head", choices=("in_order", "out_of_order"))
    wake_on_completion: str = _p(_POLICY0["wake_on_completion"], "choice", "vhost", "when vhost_zerocopy_callback queues the worker (vhost_poll_queue): never (it only marks heads[]: v3.1), always (v3.5), le2_or_16 (cnt <= 2 || !(cnt % 16), cnt read before the put: v3.8), le1_or_16 (cnt <= 1 || !(cnt % 16), cnt after the put: v3.14); true/false mean always/never", choices=("never", "always", "le2_or_16", "le1_or_16"), aliases={True: "always", False: "never"})
    copy_via_heads: str = _p(_POLICY0["copy_via_heads"], "choice", "vhost", "which copied packets zero-copy mode records in heads[] (already done, so they return behind pending ones): always (the seed), when_pending (any at all outstanding, or a long packet), never (straight to the used ring); true/false mean always/never", choices=("always", "when_pending", "never"), aliases={True: "always", False: "never"})
    heads_full_copy: bool = _p(_POLICY0["heads_full_copy"], "bool", "vhost", "a long packet that finds heads[] full ((upend_idx + 1) % UIO_MAXIOV == done_idx) is copied (v3.12) instead of waiting")
    select_zcopy: bool = _p(_POLICY0["select_zcopy"], "bool", "vhost", "vhost_net_tx_select_zcopy: zero-copy only while tx_packets / 64 >= tx_zcopy_err (skbs copied after all), both reset every 1024 packets")
    uio_maxiov: int = _p(1024, "int", "vhost", "UIO_MAXIOV: entries of heads[]", pow2=True, min=2, max=65536)
    weight_bytes: int = _p(524288, "int", "vhost", "VHOST_NET_WEIGHT: bytes per handle_tx pass before requeueing", unit="bytes", min=1, max=2**40)
    weight_packets: int = _p(_POLICY0["weight_packets"], "int", "vhost", "VHOST_NET_PKT_WEIGHT: packets per handle_tx pass before requeueing (vhost_exceeds_weight); 0: no packet limit", unit="packets", min=0, max=2**31)
    busyloop_timeout_ns: float = _p(0.0, "float", "vhost", "busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT, given in us): how long the worker polls an empty avail ring before it waits for a kick (vhost_net_busy_poll); 0: off, the default", unit="ns", min=0.0, max=1e9)
    tx_batch: int = _p(_POLICY0["tx_batch"], "int", "vhost", "copied packets put on the used ring together (VHOST_NET_BATCH, 64 since 2018); 1: one by one", min=1, max=1024)
    # costs -------------------------------------------------------------------
    host: str = _p("assumed-2011", "preset", "costs", "host preset name", choices=tuple(HOST_PRESETS))
    per_packet_ns: float = _p(_HOST0["per_packet_ns"], "float", "costs", "worker CPU per packet: descriptor fetch, sendmsg, skb", unit="ns", min=0.0, max=MAX_NS)
    copy_ns_per_byte: float = _p(_HOST0["copy_ns_per_byte"], "float", "costs", "worker CPU per byte copied", unit="ns/byte", min=0.0, max=MAX_NS_PER_BYTE)
    zc_setup_ns: float = _p(_HOST0["zc_setup_ns"], "float", "costs", "worker CPU per zero-copy packet: ubuf_info, frags", unit="ns", min=0.0, max=MAX_NS)
    pin_ns_per_page: float = _p(_HOST0["pin_ns_per_page"], "float", "costs", "worker CPU per 4 KB page pinned (get_user_pages_fast)", unit="ns", min=0.0, max=MAX_NS)
    callback_ns: float = _p(_HOST0["callback_ns"], "float", "costs", "interrupt-context CPU per zero-copy completion (vhost_zerocopy_callback)", unit="ns", min=0.0, max=MAX_NS)
    signal_ns: float = _p(_HOST0["signal_ns"], "float", "costs", "worker CPU per interrupt sent to the guest (vhost_signal)", unit="ns", min=0.0, max=MAX_NS)
    kick_ns: float = _p(_HOST0["kick_ns"], "float", "costs", "guest CPU per kick (a VM exit)", unit="ns", min=0.0, max=MAX_NS)
    requeue_ns: float = _p(_HOST0["requeue_ns"], "float", "costs", "worker CPU to requeue itself after weight_bytes", unit="ns", min=0.0, max=MAX_NS)
    guest_xmit_ns: float = _p(_HOST0["guest_xmit_ns"], "float", "costs", "guest CPU per packet sent", unit="ns", min=0.0, max=MAX_NS)
    guest_tx_poll_ns: float = _p(_HOST0["guest_tx_poll_ns"], "float", "costs", "guest CPU per TX interrupt with guest_napi_tx (skb_xmit_done, the softirq, virtnet_poll_tx beyond freeing each skb)", unit="ns", min=0.0, max=MAX_NS)
    irq_latency_ns: float = _p(_HOST0["irq_latency_ns"], "float", "costs", "from signal to the guest running its interrupt handler", unit="ns", min=0.0, max=MAX_NS)
    wake_latency_ns: float = _p(_HOST0["wake_latency_ns"], "float", "costs", "from kick or callback to the worker running", unit="ns", min=0.0, max=MAX_NS)
    used_ring_ns: float = _p(_HOST0["used_ring_ns"], "float", "costs", "worker CPU per used-ring update (vhost_add_used_n), once per batch", unit="ns", min=0.0, max=MAX_NS)
    host_stack_ns_per_packet: float = _p(_HOST0["host_stack_ns_per_packet"], "float", "costs", "host CPU outside vhost per packet: tap, bridge, driver", unit="ns", min=0.0, max=MAX_NS)
    host_stack_ns_per_byte: float = _p(_HOST0["host_stack_ns_per_byte"], "float", "costs", "host CPU outside vhost per byte: GSO segmentation, checksums", unit="ns/byte", min=0.0, max=MAX_NS_PER_BYTE)
    tx_clean_latency_ns: float = _p(_HOST0["tx_clean_latency_ns"], "float", "costs", "from the NIC's TX interrupt to its clean-up freeing skbs (interrupt delivery, NAPI scheduling; nic_completion='coalesced')", unit="ns", min=0.0, max=MAX_NS)
    local_rx_ns_per_packet: float = _p(_HOST0["local_rx_ns_per_packet"], "float", "costs", "host CPU of the local receiver per packet (dest='local')", unit="ns", min=0.0, max=MAX_NS)
    cpu_ghz: float = _p(_HOST0["cpu_ghz"], "float", "costs", "host clock, for cycles per byte", unit="GHz", min_exclusive=0.0, max=100.0)
    # NIC ---------------------------------------------------------------------
    lower_dev: str = _p("nic", "choice", "nic", "the device under the tap or macvtap: a NIC (qdisc, TX ring, line rate, completions), or a dummy, which frees each skb as it sends it (IFF_NO_QUEUE: no qdisc, no wire time; the callback runs inside sendmsg unless an egress limiter holds the skb; the other NIC fields are then not used)", choices=("nic", "dummy"))
    nic_completion: str = _p("coalesced", "choice", "nic", "how the NIC's TX completions free skbs: 'coalesced', the real driver (one TX ring completed in order as the wire finishes each skb, freed in batches by the clean-up after interrupt coalescing: tx_coalesce_usecs, tx_max_coalesced_frames, tx_clean_latency_ns); 'synthetic', model version 3's random delay per skb after the wire (dma_latency_dist, dma_base_ns, stragglers), which reorders completions by itself", choices=("coalesced", "synthetic"))
    qdisc: str = _p("pfifo_fast", "choice", "nic", "the host qdisc in front of the NIC: 'pfifo_fast', a FIFO of txqueuelen packets that drops when full (a dropped zero-copy skb completes at the drop); 'backpressure', synthetic: a lossless queue of txqueuelen packets, the worker waits for room", choices=("pfifo_fast", "backpressure"))
    txqueuelen: int = _p(1000, "int", "nic", "the qdisc's limit (DEFAULT_TX_QUEUE_LEN); with nic_completion='synthetic' it counts every skb not yet wholly on the wire (there is no TX ring), with 'coalesced' those waiting for the ring. Also the local receiver's queue", unit="packets", min=1, max=1_000_000)
    tx_ring_size: int = _p(_HOST0["tx_ring_size"], "int", "nic", "TX ring descriptors (ethtool -G tx); an skb takes 1 + one per 4 KB page of its frame; the driver stops the queue when the next skb does not fit (nic_completion='coalesced')", unit="descriptors", min=MIN_TX_RING, max=65536)
    bql_limit_bytes: int = _p(0, "int", "nic", "byte queue limits: a fixed limit on the bytes in the TX ring (dql's dynamic limit is not modelled); 0: off", unit="bytes", min=0, max=2**40)
    tx_coalesce_usecs: float = _p(_HOST0["tx_coalesce_usecs"], "float", "nic", "interrupt coalescing: the TX interrupt fires this long after the first completion not yet cleaned (ethtool -C tx-usecs)", unit="us", min=0.0, max=1e6)
    tx_max_coalesced_frames: int = _p(_HOST0["tx_max_coalesced_frames"], "int", "nic", "... or at this many completions since the last interrupt, if sooner (ethtool -C tx-frames); 0: no frame count", unit="completions", min=0, max=65536)
    gso_size: int = _p(1448, "int", "nic", "GSO/TSO segment payload (MSS): a larger frame goes on the wire as ceil((len - gso_hdr_bytes) / gso_size) segments, each with the headers and wire_overhead_bytes; 0: a frame is one frame on the wire", unit="bytes", min=0, max=MAX_PACKET_BYTES)
    gso_hdr_bytes: int = _p(66, "int", "nic", "headers repeated on each GSO segment: Ethernet 14 + IPv4 20 + TCP with timestamps 32", unit="bytes", min=0, max=1024)
    line_rate_gbps: float = _p(_HOST0["line_rate_gbps"], "float", "nic", "wire speed", unit="Gbit/s", min=0.001, max=100_000.0)
    wire_overhead_bytes: int = _p(24, "int", "nic", "preamble, FCS, inter-frame gap per packet (per segment)", unit="bytes", min=0, max=MAX_PACKET_BYTES)
    dma_latency_dist: str = _p("exponential", "choice", "nic", "nic_completion='synthetic': distribution of the completion delay after the wire", choices=("fixed", "exponential", "lognormal"))
    dma_base_ns: float = _p(_HOST0["dma_base_ns"], "float", "nic", "nic_completion='synthetic': mean completion delay after the last bit left", unit="ns", min=0.0, max=MAX_NS)
    dma_sigma: float = _p(0.5, "float", "nic", "nic_completion='synthetic': lognormal shape (sigma of the log)", min_exclusive=0.0, max=10.0)
    straggler_p: float = _p(0.0, "float", "nic", "probability that a completion is held longer (nic_completion='synthetic' on the wire; a slow local receiver)", min=0.0, max=1.0)
    straggler_ns: float = _p(1_000_000.0, "float", "nic", "extra delay of a held completion", unit="ns", min=0.0, max=MAX_NS)
    # guest -------------------------------------------------------------------
    guest_stop_free: int = _p(19, "int", "guest", "the guest stops its queue after a post that leaves fewer free descriptors, and restarts it once this many are free again: virtio-net's 2 + MAX_SKB_FRAGS is 19 (17 frags with 4 KB pages; one descriptor per packet with indirect descriptors); at most ring_size is used; 1 (zclab's guest of model versions 1 to 4, presets.SIMPLE_GUEST): only when none is left", unit="descriptors", min=1, max=MAX_RING_SIZE)
    guest_cb_delayed: bool = _p(True, "bool", "guest", "a stopped guest asks for its interrupt once 3/4 of the outstanding buffers are used (virtqueue_enable_cb_delayed, virtio-net's), not at the next one (virtqueue_enable_cb, zclab's guest of model versions 1 to 4)")
    guest_napi_tx: bool = _p(True, "bool", "guest", "virtio_net's napi_tx module parameter (4.12 on; true by default from 5.3): the skb keeps its socket charge until a TX interrupt's virtnet_poll_tx (or the next start_xmit) frees it, and start_xmit arms the interrupt at every packet; false (virtio-net before 5.3, and zclab's guest of model versions 1 to 4): start_xmit calls skb_orphan, and the interrupt is asked for only when the queue stops")
    guest_indirect_desc: bool = _p(True, "bool", "guest", "VIRTIO_RING_F_INDIRECT_DESC: a packet takes one ring descriptor (zclab's guest so far); false: 1 for the virtio-net header, 1 for the linear part (the gso_hdr_bytes of headers) and one per 4 KB page of the rest (xmit_skb, skb_to_sgvec), and the ring's free count, the stop and restart thresholds count descriptors")
    guest_sndbuf_bytes: int = _p(_WORKLOAD0["guest_sndbuf_bytes"], "int", "guest", "each flow's socket send buffer (sk_sndbuf; net.core.wmem_default is 212992): a sender blocks while the truesize of its skbs not yet freed is at least this (sock_alloc_send_pskb) and wakes once it is below half (sock_def_write_space); 0: off", unit="bytes", min=0, max=2**31 - 1, off_or_min=SOCK_MIN_SNDBUF)
    guest_tsq_bytes: int = _p(_WORKLOAD0["guest_tsq_bytes"], "int", "guest", "each flow's TCP small queues limit (tcp_small_queue_check; tcp_limit_output_bytes is 1 MiB from 5.0): a sender holds while the truesize of its skbs not yet freed is above this; 0: off", unit="bytes", min=0, max=2**31 - 1)
    guest_truesize_overhead: int = _p(576, "int", "guest", "skb->truesize less the packet's length, charged to its socket: SKB_DATA_ALIGN(sizeof(struct sk_buff)) + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 (256 + 320)", unit="bytes", min=0, max=65536)
    duplicate_head_p: float = _p(0.0, "float", "guest", "adversarial guest: probability that a post writes its head twice", min=0.0, max=1.0)

    def __init__(self, **params: Any):
        values = _resolve(_RESOLVED_DEFAULTS, params, from_resolved=_RESOLVED_DEFAULTS is not None)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    # -- construction helpers -------------------------------------------------
    def replace(self, **changes: Any) -> "Config":
        """A copy with ``changes`` applied.

        Naming a preset (``policy``, ``workload``, ``host``) resets that
        preset's knobs to the new preset's values before the other changes.
        """
        values = _resolve({f.name: getattr(self, f.name) for f in _FIELDS}, changes, from_resolved=True)
        new = object.__new__(Config)  # values checked above: not a second time through __init__
        for name, value in values.items():
            object.__setattr__(new, name, value)
        return new

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as a plain Python value (str, int, float, bool or None).

        ``size_table`` becomes its canonical text form ``"64:7,576:4,1500:1"``.
        """
        out = {}
        for f in _FIELDS:
            v = getattr(self, f.name)
            if f.name == "size_table":
                v = _size_table_text(v)
            elif f.name == "flows":
                v = _flows_text(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
        """Rebuild a configuration from :meth:`to_dict` output (or any subset)."""
        return cls(**dict(d))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Config":
        """The configuration of one row of a sweep's frame (or of ``zclab.load()``'s):
        its parameter columns, the result columns left out. A missing size table or
        flows table (NaN in a frame that mixes points with and without one) is None.

        >>> import zclab
        >>> df = zclab.sweep(Config(n_packets=500), {"ring_size": [128, 256]}, store=None, workers=1, progress=False)
        >>> row = df.iloc[1]
        >>> bool(zclab.simulate(Config.from_row(row)).summary["mpps"] == row["mpps"])
        True
        """
        d = {}
        for k, v in row.items():
            if k not in PARAMETERS:
                continue
            if PARAMETERS[k]["kind"] in ("size_table", "flows") and isinstance(v, float) and math.isnan(v):
                v = None
            elif hasattr(v, "item") and not isinstance(v, (str, bytes)):
                v = v.item()  # a NumPy scalar of the frame's column
            d[k] = v
        return cls(**d)

    # -- derived quantities ---------------------------------------------------
    @property
    def pend_limit(self) -> int:
        """The pending limit in force: max_pend, or min(max_pend, ring_size // 4); under
        max_pend_rule='modulo', the one pending count at which v3.12's test fires
        ((max_pend - ring_size) % uio_maxiov: never, if that is above ring_size)."""
        if self.max_pend_rule == "ring_quarter":
            return min(self.max_pend, self.ring_size // 4)
        if self.max_pend_rule == "modulo":
            # the only pending count at which v3.12's equality holds; above ring_size it never does
            return (self.max_pend - self.ring_size) % self.uio_maxiov
        return self.max_pend

    def size_distribution(self) -> tuple[tuple[int, ...], tuple[float, ...]] | tuple[int, int]:
        """The packet sizes and their probabilities, or (min, max) for 'uniform'."""
        return size_distribution({k: getattr(self, k) for k in _INHERITED})

    def flow_specs(self) -> list[dict]:
        """The flows sharing the virtqueue, every field resolved (one flow "all" by default)."""
        return _resolve_flows(self)

    def mean_size(self) -> float:
        """Mean packet size of the workload in bytes."""
        dist = self.size_distribution()
        if self.size_dist == "uniform":
            return (dist[0] + dist[1]) / 2.0
        sizes, probs = dist
        return float(sum(s * p for s, p in zip(sizes, probs)))


def size_distribution(p: Mapping[str, Any]) -> tuple[tuple[int, ...], tuple[float, ...]] | tuple[int, int]:
    """Sizes and probabilities of a workload or flow (its size_* fields), or (min, max) if uniform."""
    d = p["size_dist"]
    if d == "uniform":
        return (p["size_min"], p["size_max"])
    if d == "fixed":
        table = ((p["size_bytes"], 1.0),)
    elif d == "imix":
        table = IMIX_TABLE
    elif d == "bimodal":
        table = ((p["small_bytes"], p["small_fraction"]), (p["large_bytes"], 1.0 - p["small_fraction"]))
    else:
        table = p["size_table"]
    total = sum(w for _, w in table)
    return tuple(s for s, _ in table), tuple(w / total for _, w in table)


# --- parameter table and resolution ---------------------------------------------------

_FIELDS = dataclasses.fields(Config)
#: name -> metadata of every parameter (kind, group, doc, unit and rule).
PARAMETERS = {f.name: dict(f.metadata, default=f.default) for f in _FIELDS}
_DEFAULTS = {f.name: f.default for f in _FIELDS}
_RESOLVED_DEFAULTS = None  # Config()'s values, checked once below (after the helpers it needs)
_PRESET_FIELDS = tuple(PRESET_KINDS)  # ("policy", "workload", "host")

Config.__signature__ = inspect.Signature(  # keyword help in Jupyter and IDEs
    [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in _DEFAULTS.items()]
)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'ring_size'?"`` for a misspelt name, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


#: Parameters of earlier model versions that were renamed: what to use instead.
RENAMED = {
    "nic_queue_len": ("renamed txqueuelen (model version 4): the qdisc's limit in front of the NIC's TX ring, "
                      "which now drops when full (qdisc='pfifo_fast'); set qdisc='backpressure' and "
                      "nic_completion='synthetic' with txqueuelen for the old lossless device queue"),
}


def _resolve(base: Mapping[str, Any] | None, given: Mapping[str, Any], from_resolved: bool = False) -> dict:
    """Defaults, then presets, then explicit values; validate the whole.

    ``base`` is a resolved configuration's values (``from_resolved``: already checked
    and normalised, so only what ``given`` and its presets change is checked again:
    a sweep builds a million points in seconds, not minutes) or the raw defaults.
    """
    if base is None:  # building _RESOLVED_DEFAULTS itself
        base = _DEFAULTS
    for name in given:
        if name in RENAMED:
            raise ConfigError(name, given[name], RENAMED[name])
        if name not in _DEFAULTS:
            raise ConfigError(name, given[name], "unknown parameter" + did_you_mean(name, _DEFAULTS))
    values = dict(base)
    dirty = set(values) if not from_resolved else set(given)
    for kind in _PRESET_FIELDS:
        # A fresh Config applies every preset it names; replace() only the ones changed.
        if from_resolved and kind not in given:
            continue
        name = given.get(kind, values[kind])
        name = _check_value(kind, name)
        values.update(PRESET_KINDS[kind][name])
        dirty.update(PRESET_KINDS[kind][name])
    for name, value in given.items():
        values[name] = value
    for name in dirty:
        values[name] = _check_value(name, values[name])
    _check_combinations(values)
    return values


def _check_value(name: str, value: Any) -> Any:
    """Type and range check of one parameter; returns the normalised value."""
    meta = PARAMETERS[name]
    kind = meta["kind"]
    if kind in ("choice", "preset"):
        aliases = meta.get("aliases", {})
        if kind == "choice" and _is_bool(value) and bool(value) in aliases:
            return aliases[bool(value)]  # true/false of a field that was a flag before model version 4
        if isinstance(value, str) and value in aliases:
            value = aliases[value]
        elif isinstance(value, str) and value.lower() in ("true", "false") and (value.lower() == "true") in aliases:
            value = aliases[value.lower() == "true"]  # --set wake_on_completion=true
        if not isinstance(value, str) or value not in meta["choices"]:
            raise ConfigError(name, value, "must be one of " + ", ".join(repr(c) for c in meta["choices"]))
        return value
    if kind == "bool":
        if _is_bool(value):
            return bool(value)
        raise ConfigError(name, value, "must be true or false")
    if kind == "size_table":
        return None if value is None else _parse_size_table(value)
    if kind == "flows":
        return None if value is None else _parse_flows(value)
    if kind == "int":
        value = _as_int(name, value)
    else:  # float
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(name, value, "must be a number")
        value = float(value) + 0.0  # -0.0 is 0.0: one configuration, one key and seed
        if not math.isfinite(value):
            raise ConfigError(name, value, "must be a finite number")
    lo, hi = meta.get("min"), meta.get("max")
    if meta.get("pow2") and (value < lo or value > hi or value & (value - 1)):
        raise ConfigError(name, value, "must be " + allowed(name))
    if "min_exclusive" in meta and value <= meta["min_exclusive"]:
        raise ConfigError(name, value, "must be " + allowed(name))
    if "off_or_min" in meta and 0 < value < meta["off_or_min"]:
        raise ConfigError(name, value, "must be " + allowed(name))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(name, value, "must be " + allowed(name))
    return value


def _is_bool(value: Any) -> bool:
    """True or False, also as NumPy's bool (a sweep frame's own values)."""
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def allowed(name: str) -> str:
    """What parameter ``name`` accepts, in words (the end of its error message).

    >>> allowed("ring_size")
    'a power of two from 2 to 32768'
    >>> allowed("completion")
    "one of 'in_order', 'out_of_order'"
    """
    meta = PARAMETERS[name]
    kind, lo, hi = meta["kind"], meta.get("min"), meta.get("max")
    if kind in ("choice", "preset"):
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    if kind == "bool":
        return "true or false"
    if kind == "size_table":
        return "'size:weight' pairs separated by commas, (size, weight) pairs, or a CSV file (size,weight)"
    if kind == "flows":
        return "a list of flow tables: JSON text, or a .json, .toml or .yaml file"
    what = "an integer" if kind == "int" else "a number"

    def num(x):  # integers exactly (2**63 - 1, not 9.22337e+18)
        return str(int(x)) if kind == "int" else f"{x:g}"

    if meta.get("pow2"):
        return f"a power of two from {lo} to {hi}"
    if "off_or_min" in meta:
        return f"0 (off) or from {num(meta['off_or_min'])} to {num(hi)}"
    if "min_exclusive" in meta:
        return f"greater than {num(meta['min_exclusive'])}" + (f" and at most {num(hi)}" if hi is not None else "")
    if lo is not None and hi is not None:
        return f"from {num(lo)} to {num(hi)}"
    if lo is not None:
        return f"at least {num(lo)}"
    if hi is not None:
        return f"at most {num(hi)}"
    return what


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(name, value, "must be an integer")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)  # 1e6 from a papermill cell or a YAML file
    raise ConfigError(name, value, "must be an integer")


#: The rules between parameters that _check_combinations enforces, in words, by the
#: parameter an error names (``zclab params`` shows them beside each one's range).
COMBINATIONS = {
    "max_pend": "at most uio_maxiov",
    "reap_threshold": "below uio_maxiov",
    "size_min": "at most size_max (size_dist='uniform')",
    "size_table": "required when size_dist='empirical' (no size twice) or 'cycle' (sizes without weights)",
    "n_packets": f"warmup_packets + n_packets at most {MAX_PACKETS}",
    "egress_rate_mbps": "not together with egress_rate_pps",
    "trace_packets": "at most n_packets",
    "guest_indirect_desc": "false needs ring_size at least the descriptors of the largest packet (see virtio_descs: 18 for 64 KB)",
}


def _check_combinations(v: dict) -> None:
    if v["max_pend"] > v["uio_maxiov"]:
        raise ConfigError("max_pend", v["max_pend"], f"must not exceed uio_maxiov={v['uio_maxiov']} (the size of heads[])")
    if v["reap_threshold"] >= v["uio_maxiov"]:
        raise ConfigError("reap_threshold", v["reap_threshold"], f"must be below uio_maxiov={v['uio_maxiov']}")
    if v["size_dist"] == "uniform" and v["size_min"] > v["size_max"]:
        raise ConfigError("size_min", v["size_min"], f"must not exceed size_max={v['size_max']}")
    _check_size_table("size_table", v["size_dist"], v["size_table"])
    total = v["warmup_packets"] + v["n_packets"]
    if total > MAX_PACKETS:
        raise ConfigError("n_packets", v["n_packets"], f"warmup_packets + n_packets must be at most {MAX_PACKETS:g}")
    if v["egress_rate_pps"] > 0 and v["egress_rate_mbps"] > 0:
        raise ConfigError("egress_rate_mbps", v["egress_rate_mbps"], "give egress_rate_pps or egress_rate_mbps, not both")
    if v["flows"] is not None:
        for i, flow in enumerate(v["flows"]):
            _check_flow(i, flow, v)
    if v["trace_packets"] > v["n_packets"]:
        raise ConfigError("trace_packets", v["trace_packets"], f"must not exceed n_packets={v['n_packets']}")
    if not v["guest_indirect_desc"]:
        # a chain longer than the ring can never be posted (virtqueue_add_split: -ENOSPC)
        specs = [{**{k: v[k] for k in _INHERITED}, **dict(f)} for f in (v["flows"] or ({},))]
        largest = max(_largest_size(spec) for spec in specs)
        need = virtio_descs(largest, v["gso_hdr_bytes"])
        if need > v["ring_size"]:
            raise ConfigError("guest_indirect_desc", False,
                              f"a {largest}-byte packet takes {need} descriptors without indirect descriptors, more "
                              f"than ring_size={v['ring_size']}: use a ring of at least {need} or indirect descriptors")


def virtio_descs(length: int, hdr_bytes: int) -> int:
    """Ring descriptors a packet of ``length`` bytes takes without indirect descriptors
    (guest_indirect_desc=False): one for the virtio-net header (xmit_skb's sg_set_buf,
    when it is not pushed into the linear part), one for the linear part holding the
    headers (``hdr_bytes``, gso_hdr_bytes: a TCP sender's layout; none if empty) and one
    per 4 KB page of the rest, the page fragments (skb_to_sgvec: one entry each).

    >>> virtio_descs(64, 66), virtio_descs(1500, 66), virtio_descs(65536, 66), virtio_descs(65536, 0)
    (2, 3, 18, 17)
    """
    linear = min(length, hdr_bytes)
    return 1 + (1 if linear > 0 else 0) + (length - linear + 4095) // 4096


def _largest_size(spec: Mapping[str, Any]) -> int:
    """The largest packet a workload or flow can send."""
    dist = size_distribution(spec)
    if spec["size_dist"] == "uniform":
        return dist[1]
    return max(s for s, q in zip(*dist) if q > 0)


def _check_size_table(where: str, dist: str, table) -> None:
    """What each size distribution asks of its table."""
    if dist not in ("empirical", "cycle"):
        return
    if table is None:
        example = "'64:7,576:4,1500:1' or a CSV file" if dist == "empirical" else "'1500,64'"
        raise ConfigError(where, None, f"size_dist={dist!r} needs a size table, e.g. {example}")
    text = _size_table_text(table)
    if dist == "empirical":
        sizes = [s for s, _ in table]
        if len(set(sizes)) != len(sizes):
            raise ConfigError(where, text, "lists a size twice")
    elif any(w != 1 for _, w in table):
        raise ConfigError(where, text, "size_dist='cycle' posts each listed size once, in turn: give sizes "
                                       "without weights, e.g. '1500,64' (list a size twice to send it twice)")


# --- empirical size tables --------------------------------------------------------------

def _parse_size_table(value: Any) -> tuple[tuple[int, float], ...]:
    """Normalise a size table to ((size, weight), ...).

    Accepts "64:7,576:4", a path to a CSV file with columns size,weight (a header
    row is optional), a mapping {size: weight} or a sequence of pairs.
    """
    name = "size_table"
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value).strip()
        if text.lower().endswith(".csv") or (os.sep in text and ":" not in text):
            pairs = _read_size_csv(text)
        else:
            if not text:
                raise ConfigError(name, value, "is empty; give 'size:weight' pairs separated by commas")
            pairs = []
            for item in text.split(","):
                parts = item.split(":")
                if len(parts) == 1:
                    parts.append("1")  # a size alone: weight 1 ('1500,64' for size_dist='cycle')
                if len(parts) != 2:
                    raise ConfigError(name, value, f"entry {item.strip()!r} is not 'size:weight' or a size")
                pairs.append((parts[0].strip(), parts[1].strip()))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Iterable):
        pairs = [(v, 1) if isinstance(v, numbers.Real) else v for v in value]  # sizes alone: weight 1
    else:
        raise ConfigError(name, value, "must be 'size:weight,...', a CSV path, a mapping or a list of pairs")
    if not pairs:
        raise ConfigError(name, value, "is empty; give at least one size with a positive weight")
    table = []
    for pair in pairs:
        try:
            size, weight = pair
            size_f, weight = float(size), float(weight)
        except (TypeError, ValueError):
            raise ConfigError(name, value, f"entry {pair!r} is not a (size, weight) pair of numbers") from None
        if not size_f.is_integer() or not 1 <= size_f <= MAX_PACKET_BYTES:
            raise ConfigError(name, value, f"size {size!r} must be an integer from 1 to {MAX_PACKET_BYTES}")
        if not math.isfinite(weight) or weight < 0:
            raise ConfigError(name, value, f"weight {weight!r} of size {int(size_f)} must be a finite number >= 0")
        table.append((int(size_f), weight))
    if sum(w for _, w in table) <= 0:
        raise ConfigError(name, value, "weights must not all be zero")
    return tuple(table)


#: the largest size table, flows or spec file read (a table of a few hundred rows is
#: kilobytes; /dev/zero or a stray dump would otherwise fill memory)
MAX_TABLE_FILE_BYTES = 16 * 2**20


def read_table_file(name: str, path: str, what: str = "the file") -> str:
    """The text of a file a parameter names (a size table, flows), refused by name if it
    is not a regular file, not UTF-8 text or larger than MAX_TABLE_FILE_BYTES."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise ConfigError(name, path, f"{what} is not a regular file")
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read(MAX_TABLE_FILE_BYTES + 1)
    except UnicodeDecodeError:
        raise ConfigError(name, path, f"{what} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(name, path, f"cannot read {what} ({exc.strerror})") from None
    if len(text) > MAX_TABLE_FILE_BYTES:
        raise ConfigError(name, path, f"{what} is larger than {MAX_TABLE_FILE_BYTES // 2**20} MiB: refused")
    return text


def _read_size_csv(path: str) -> list[tuple[str, str]]:
    text = read_table_file("size_table", path, "the CSV file")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].lstrip().startswith("#")]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # header
    bad = [r for r in rows if len(r) != 2]
    if bad:
        raise ConfigError("size_table", path, f"CSV rows must be 'size,weight'; found {bad[0]!r}")
    return [(r[0], r[1]) for r in rows]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _size_table_text(table) -> str | None:
    if table is None:
        return None
    if all(w == 1 for _, w in table):
        return ",".join(str(s) for s, _ in table)  # sizes alone (a 'cycle' table)
    return ",".join(f"{s}:{w:g}" if w == int(w) and abs(w) < 1e15 else f"{s}:{w!r}" for s, w in table)


# --- flows -----------------------------------------------------------------------------------

#: What a flow may set; any field it leaves out comes from the configuration's own value.
FLOW_FIELDS = (
    "name", "share", "rate_pps", "size_dist", "size_bytes", "size_min", "size_max", "small_bytes",
    "large_bytes", "small_fraction", "size_table", "dest", "egress_rate_pps", "egress_rate_mbps",
    "egress_delay_ns", "egress_queue", "straggler_p", "straggler_ns", "guest_sndbuf_bytes", "guest_tsq_bytes",
)
_INHERITED = FLOW_FIELDS[2:]  # taken from the configuration when a flow does not set them


def _parse_flows(value: Any) -> tuple:
    """Normalise a flows table to a tuple of flows, each a tuple of (field, value) pairs."""
    name = "flows"
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value).strip()
        suffix = os.path.splitext(text)[1].lower()
        if suffix in (".json", ".toml", ".yaml", ".yml"):
            value = _read_flows_file(text, suffix)
        else:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(name, value, f"must be a JSON list of tables or a .json/.toml/.yaml file ({exc.msg})") from None
    if isinstance(value, Mapping) and "flows" in value:
        value = value["flows"]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(name, value, "must be a list of tables, one per flow")
    flows = []
    for i, flow in enumerate(value):
        if isinstance(flow, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in flow):
            flow = dict(flow)  # the normalised form, from a Config
        if not isinstance(flow, Mapping):
            raise ConfigError(f"flows[{i}]", flow, "must be a table of flow fields (name, share, size_dist, dest, ...)")
        unknown = [k for k in flow if k not in FLOW_FIELDS]
        if unknown:
            raise ConfigError(f"flows[{i}].{unknown[0]}", flow[unknown[0]], "unknown flow field"
                              + did_you_mean(unknown[0], FLOW_FIELDS) + f" (allowed: {', '.join(FLOW_FIELDS)})")
        if "name" not in flow:
            raise ConfigError(f"flows[{i}]", dict(flow), "needs a name")
        flows.append(tuple((k, _check_flow_value(i, k, flow[k])) for k in FLOW_FIELDS if k in flow))
    if not flows:
        raise ConfigError(name, value, "is empty; give at least one flow, or leave flows unset for one flow")
    if len(flows) > 16:
        raise ConfigError(name, f"{len(flows)} flows", "at most 16 flows")
    names = [dict(f)["name"] for f in flows]
    if len(set(names)) != len(names):
        raise ConfigError(name, names, "flow names must be unique")
    return tuple(flows)


def _check_flow_value(i: int, key: str, value: Any) -> Any:
    where = f"flows[{i}].{key}"
    if key == "name":
        if not isinstance(value, str) or not value.isidentifier():
            raise ConfigError(where, value, "must be a name of letters, digits and _ (it names the summary fields)")
        return value
    if key == "share":
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ConfigError(where, value, "must be a number greater than 0 (a relative weight)")
        return float(value)
    try:
        return _check_value(key, value)
    except ConfigError as exc:
        raise ConfigError(where, value, exc.allowed) from None


def _check_flow(i: int, flow: tuple, v: dict) -> None:
    f = {**{k: v[k] for k in _INHERITED}, **dict(flow)}
    where = f"flows[{i}]"
    if f["egress_rate_pps"] > 0 and f["egress_rate_mbps"] > 0:
        raise ConfigError(f"{where}.egress_rate_mbps", f["egress_rate_mbps"], "give egress_rate_pps or egress_rate_mbps, not both")
    if f["size_dist"] == "uniform" and f["size_min"] > f["size_max"]:
        raise ConfigError(f"{where}.size_min", f["size_min"], f"must not exceed size_max={f['size_max']}")
    _check_size_table(f"{where}.size_table", f["size_dist"], f["size_table"])


def _read_flows_file(path: str, suffix: str) -> Any:
    text = read_table_file("flows", path)
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        return yaml_load(text)
    except Exception as exc:  # a parse error of any of the three formats
        raise ConfigError("flows", path, f"cannot parse the file: {exc}") from None


def _flows_text(flows) -> str | None:
    if flows is None:
        return None
    out = []
    for flow in flows:
        d = dict(flow)
        if d.get("size_table") is not None:
            d["size_table"] = _size_table_text(d["size_table"])
        out.append(d)
    return json.dumps(out, separators=(",", ":"))


def _resolve_flows(cfg: "Config") -> list[dict]:
    """Every flow with every field, unset ones from the configuration (one flow 'all' if none)."""
    base = {k: getattr(cfg, k) for k in _INHERITED}
    if cfg.flows is None:
        return [{"name": "all", "share": 1.0, **base}]
    return [{"share": 1.0, **base, **dict(flow)} for flow in cfg.flows]


_RESOLVED_DEFAULTS = _resolve(None, {})
