"""A zclab :class:`~zclab.Config` as one run of the real kernel: what the driver, the
module parameter and the qdisc on the lower device must be.

    >>> from zclab import Config
    >>> s = scenario(Config(size_dist="cycle", size_table="1500,64", n_packets=2000, egress_delay_ns=2e6))
    >>> s.sizes, s.zcopytx, s.dest, s.netem
    ((1500, 64), 1, 'wire', 'delay 2000us limit 1000')
    >>> scenario(Config(size_dist="fixed", completion="out_of_order"))
    Traceback (most recent call last):
    ...
    zclab.model.config.ConfigError: completion='out_of_order': the real kernel releases zero-copy buffers in order (vhost_zerocopy_signal_used); the kernel harness allows 'in_order'

Fields that mean the same thing in the kernel keep their names: n_packets, ring_size,
size_dist ('fixed' or 'cycle'), size_bytes, size_table, mode (the module parameter
experimental_zcopytx), dest ('wire': macvtap on a dummy device; 'local': a tap into the
host's own stack), egress_delay_ns (netem delay on the dummy), egress_rate_pps and
egress_rate_mbps (netem rate), egress_queue (netem limit), vnet_hdr. A field the kernel
cannot honour, set to anything but the kernel's own behaviour, is refused by name. The
cost and NIC-timing fields (groups "costs" and "nic") and the policy knobs describe the
model's machine and the kernel era it imitates, not this kernel: they are ignored, as
are warmup_packets (every packet of a kernel run counts, from an idle vhost), seed,
trace_packets (the trace always holds every packet), max_events and debug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model.config import PARAMETERS, Config, ConfigError
from ...model.presets import POLICY_PRESETS

__all__ = ["Scenario", "scenario", "HONOURED", "REFUSED", "IGNORED", "MAX_PACKETS", "MIN_FRAME", "MAX_FRAME", "MAX_SIZES"]

#: Largest n_packets a run takes, by backend. Under emulation the kernel sends some ten
#: thousand packets a second; the per-packet kprobe trace holds the first 200,000.
MAX_PACKETS = {"qemu": 200_000, "host": 10_000_000}
#: Ethernet frame sizes the driver builds: IPv4/UDP from 60 bytes; above 1514 a TCPv4 GSO
#: frame (IPv4 total length at most 65535).
MIN_FRAME, MAX_FRAME = 60, 65549
#: Sizes a 'cycle' table may list.
MAX_SIZES = 64
MAX_GSO_NO_HDR = 1514
TRACE_KB = 16384

# Kernel constants of drivers/vhost/net.c (6.1) and the values a Config must keep.
_KERNEL_CONSTANT = {
    "goodcopy_len": (256, "VHOST_GOODCOPY_LEN is 256 in the kernel"),
    "max_pend": (128, "VHOST_MAX_PEND is 128 in the kernel"),
    "uio_maxiov": (1024, "UIO_MAXIOV (the size of heads[]) is 1024 in the kernel"),
    "weight_bytes": (0x80000, "VHOST_NET_WEIGHT is 0x80000 bytes in the kernel"),
    "busyloop_timeout_ns": (0.0, "the harness leaves busy polling off (busyloop_timeout 0, the kernel's default)"),
}
_POLICY_KNOBS = frozenset(k for p in POLICY_PRESETS.values() for k in p) | {"policy"}
#: Fields a kernel run ignores: the model's machine (costs, NIC timing), the kernel era
#: it imitates (policy knobs), and run bookkeeping of the simulator.
IGNORED = frozenset(
    {n for n, m in PARAMETERS.items() if m["group"] in ("costs", "nic") and n != "straggler_p"}
    | ((_POLICY_KNOBS - {"mode"}) & set(PARAMETERS))  # mode is the module parameter: honoured
    | {"warmup_packets", "seed", "trace_packets", "max_events", "debug", "workload",
       # the guest is driver.c, not virtio-net (compare.DRIVER_GUEST says what it does)
       "guest_stop_free", "guest_cb_delayed", "guest_napi_tx", "guest_indirect_desc", "guest_sndbuf_bytes",
       "guest_tsq_bytes", "guest_truesize_overhead",
       # only meaningful with a size distribution or arrival process the harness refuses
       "rate_pps", "qdisc_len", "size_min", "size_max", "small_bytes", "large_bytes", "small_fraction"}
)


#: Fields a kernel run carries out under the same name.
HONOURED = frozenset({"n_packets", "ring_size", "size_dist", "size_bytes", "size_table", "mode", "dest",
                      "egress_delay_ns", "egress_rate_pps", "egress_rate_mbps", "egress_queue", "vnet_hdr"})
#: Fields refused unless they hold the kernel's own behaviour.
REFUSED = frozenset({"arrival", "flows", "completion", "duplicate_head_p", "straggler_p", "signal_every_publish",
                     *_KERNEL_CONSTANT})


@dataclass(frozen=True)
class Scenario:
    """One kernel run, derived from a Config by :func:`scenario`."""

    config: Config
    dest: str  # "wire": macvtap on dum0; "local": tap into the stack
    sizes: tuple[int, ...]  # Ethernet frames, posted in turn
    n_packets: int
    ring_size: int
    zcopytx: int  # vhost_net experimental_zcopytx
    vnet_hdr: str  # "socket" | "vhost"
    netem: str | None  # arguments of `tc qdisc add dev dum0 root netem ...`, or None
    trace_kb: int = TRACE_KB  # per-CPU kprobe trace buffer; 200,000 packets need under 16 MB

    def driver_args(self, device: str, tracefs: str | None = None, watchdog_s: float = 5.0) -> list[str]:
        """The driver's arguments: ``device`` is the macvtap char device (wire) or the tap name (local)."""
        args = ["-m" if self.dest == "wire" else "-t", device, "-s", ",".join(map(str, self.sizes)),
                "-n", str(self.n_packets), "-q", str(self.ring_size), "-W", f"{watchdog_s:g}"]
        if self.vnet_hdr == "vhost":
            args.append("-V")
        if tracefs:
            args += ["-K", tracefs, "-B", str(self.trace_kb)]
        return args

    def size_of(self, seq: int) -> int:
        return self.sizes[seq % len(self.sizes)]

    def describe(self) -> str:
        """One line: ``wire 1500 B zerocopy ring 256 x2000 netem 'delay 2000000ns limit 1000'``."""
        sizes = "/".join(map(str, self.sizes))
        text = f"{self.dest} {sizes} B {'zerocopy' if self.zcopytx else 'copy'} ring {self.ring_size} x{self.n_packets}"
        if self.vnet_hdr != "socket":
            text += f" vnet_hdr={self.vnet_hdr}"
        return text + (f" netem '{self.netem}'" if self.netem else "")


def _refuse(name: str, value: Any, why: str, allowed: str) -> ConfigError:
    return ConfigError(name, value, f"{why}; the kernel harness allows {allowed}")


def scenario(cfg: Config, backend: str = "qemu") -> Scenario:
    """Translate ``cfg`` into a kernel run, or raise ConfigError naming the first field the
    real kernel cannot honour."""
    if cfg.arrival != "saturate":
        raise _refuse("arrival", cfg.arrival, "the driver posts whenever the ring has room (a closed-loop sender)", "'saturate'")
    if cfg.flows is not None:
        raise _refuse("flows", "(flows)", "the driver sends one flow", "none")
    for name, (value, why) in _KERNEL_CONSTANT.items():
        if getattr(cfg, name) != value:
            raise _refuse(name, getattr(cfg, name), why, repr(value))
    if cfg.completion != "in_order":
        raise _refuse("completion", cfg.completion,
                      "the real kernel releases zero-copy buffers in order (vhost_zerocopy_signal_used)", "'in_order'")
    if cfg.duplicate_head_p > 0:
        raise _refuse("duplicate_head_p", cfg.duplicate_head_p, "the driver posts each head once", "0")
    if cfg.straggler_p > 0:
        raise _refuse("straggler_p", cfg.straggler_p, "the dummy device frees every skb at once", "0 (hold skbs with egress_delay_ns)")
    if cfg.signal_every_publish:
        raise _refuse("signal_every_publish", True,
                      "the driver asks for interrupts only when it waits (VRING_AVAIL_F_NO_INTERRUPT)", "false")

    vnet_hdr = cfg.vnet_hdr
    dist = cfg.size_dist
    if dist == "fixed":
        sizes = (cfg.size_bytes,)
        size_field = "size_bytes"
    elif dist == "cycle":
        sizes = tuple(int(s) for s, _ in cfg.size_table or ())
        size_field = "size_table"
        if not sizes or len(sizes) > MAX_SIZES:
            raise _refuse("size_table", cfg.to_dict()["size_table"], f"a cycle lists 1 to {MAX_SIZES} sizes", f"1 to {MAX_SIZES} sizes")
    else:
        raise _refuse("size_dist", dist, "the driver posts fixed sizes or a fixed cycle of sizes", "'fixed', 'cycle'")
    top = MAX_FRAME if vnet_hdr == "socket" else MAX_GSO_NO_HDR
    for s in sizes:
        if not MIN_FRAME <= s <= top:
            value = s if size_field == "size_bytes" else cfg.to_dict()["size_table"]
            extra = "" if vnet_hdr == "socket" else " (GSO frames need the header in the socket: vnet_hdr='socket')"
            raise _refuse(size_field, value, f"Ethernet frames of {MIN_FRAME} to {top} bytes{extra}",
                          f"sizes from {MIN_FRAME} to {top}")

    limit = MAX_PACKETS.get(backend, MAX_PACKETS["host"])
    if cfg.n_packets > limit:
        raise _refuse("n_packets", cfg.n_packets, f"the {backend} backend runs at most {limit:,} packets", f"1 to {limit}")

    delay = cfg.egress_delay_ns
    rate_bps = 0.0
    if cfg.egress_rate_mbps > 0:
        rate_bps = cfg.egress_rate_mbps * 1e6
    elif cfg.egress_rate_pps > 0:
        # netem's rate is in bits; the mean frame of the cycle makes the mean packet rate exact
        rate_bps = cfg.egress_rate_pps * 8.0 * sum(sizes) / len(sizes)
    if cfg.dest == "local":
        for name, value in (("egress_delay_ns", delay), ("egress_rate_pps", cfg.egress_rate_pps),
                            ("egress_rate_mbps", cfg.egress_rate_mbps)):
            if value > 0:
                raise _refuse(name, value, "with dest='local' the tap delivers into the host's stack: there is no egress device",
                              "0 (or dest='wire')")
    netem = None
    if delay > 0 or rate_bps > 0:
        parts = []
        if delay > 0:
            us = f"{delay / 1000:.3f}".rstrip("0").rstrip(".")
            parts.append(f"delay {us}us")  # tc reads no "ns"
        if rate_bps > 0:
            parts.append(f"rate {round(rate_bps)}bit")
        parts.append(f"limit {cfg.egress_queue}")
        netem = " ".join(parts)
    return Scenario(config=cfg, dest=cfg.dest, sizes=sizes, n_packets=cfg.n_packets, ring_size=cfg.ring_size,
                    zcopytx=1 if cfg.mode == "zerocopy" else 0, vnet_hdr=vnet_hdr, netem=netem)
