"""Run one configuration: validate, pack plain arrays, call the jitted engine.

    >>> import zclab
    >>> r = zclab.simulate(zclab.Config(policy="ring-quarter-stall", n_packets=50_000))
    >>> 0 < r.summary["mpps"] < 2 and r.summary["invariant_violations"] == 0
    True

``simulate`` also takes a preset name, a dict, or keyword overrides::

    >>> zclab.simulate("tcp_stream_64k", policy="linux-3.14", n_packets=10_000).summary["zerocopy_fraction"]
    1.0
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
import warnings
from typing import Any, Mapping

import numpy as np

from .config import Config, ConfigError, size_distribution
from .engine import layout as L
from .engine.core import run
from .engine.histogram import N_BUCKETS, new_histogram
from .presets import preset_kind
from .result import Result, summarize

__all__ = ["simulate", "as_config", "kernel_args", "variant", "warmup", "SimulationError", "InvariantViolation"]


class SimulationError(RuntimeError):
    """A run could not finish (it hit the event cap)."""


class InvariantViolation(SimulationError):
    """A host-side invariant failed in a run with ``debug=True``."""


def as_config(config: Config | str | Mapping[str, Any] | None = None, **overrides: Any) -> Config:
    """Normalise what users pass as a configuration.

    ``config`` may be a :class:`Config`, a preset name (any kind), a dict of
    parameters, or None (the defaults); ``overrides`` are applied on top.
    """
    if config is None:
        return Config(**overrides)
    if isinstance(config, Config):
        return config.replace(**overrides) if overrides else config
    if isinstance(config, str):
        kind = preset_kind(config)
        if kind is None:
            from .presets import PRESET_KINDS

            names = ", ".join(n for table in PRESET_KINDS.values() for n in table)
            raise ConfigError("preset", config, f"unknown preset; known presets: {names}")
        return Config(**{kind: config, **overrides})
    if isinstance(config, Mapping):
        return Config(**{**dict(config), **overrides})
    raise ConfigError("config", config, "must be a Config, a preset name or a dict of parameters")


def kernel_args(cfg: Config) -> dict[str, np.ndarray]:
    """The engine's inputs: the parameter record, one row per flow, the flows'
    shares and size tables as alias tables."""
    params = np.zeros(1, L.P)
    p = params[0]
    flows = cfg.flow_specs()
    dummy = cfg.lower_dev == "dummy"
    for field, value in (
        ("n_total", cfg.warmup_packets + cfg.n_packets),
        ("warmup_packets", cfg.warmup_packets),
        ("trace_packets", cfg.trace_packets),
        ("max_events", cfg.max_events or default_max_events(cfg)),
        ("debug", cfg.debug),
        ("seed", cfg.seed),
        ("poisson", cfg.arrival == "poisson"),
        ("qdisc_len", cfg.qdisc_len),
        ("ring_size", cfg.ring_size),
        ("signal_every_publish", cfg.signal_every_publish),
        ("zerocopy", cfg.mode == "zerocopy"),
        ("goodcopy_len", goodcopy_threshold(cfg)),
        ("pend_limit", cfg.pend_limit),
        ("pend_placement", {"seed": L.PLACE_SEED, "stall": L.PLACE_STALL, "copy_fallback": L.PLACE_FALLBACK,
                       "empty_break": L.PLACE_EMPTY_BREAK}[cfg.pend_placement]),
        ("reap_threshold", cfg.reap_threshold),
        ("out_of_order", cfg.completion == "out_of_order"),
        ("wake_on_completion", {"never": L.WAKE_NEVER, "always": L.WAKE_ALWAYS, "le2_or_16": L.WAKE_LE2_OR_16,
                  "le1_or_16": L.WAKE_LE1_OR_16}[cfg.wake_on_completion]),
        ("copy_via_heads", {"never": L.VIA_NEVER, "always": L.VIA_ALWAYS, "when_pending": L.VIA_WHEN_PENDING}[cfg.copy_via_heads]),
        ("max_pend_rule", L.LIMIT_MODULO if cfg.max_pend_rule == "modulo" else L.LIMIT_OVER),
        # v3.12's test (upend_idx + vq->num - VHOST_MAX_PEND) % UIO_MAXIOV == done_idx, as
        # (span + limit_add) & (uio - 1) == 0 with span = upend_idx - done_idx
        ("modulo_add", cfg.ring_size - cfg.max_pend),
        ("heads_full_copy", cfg.heads_full_copy),
        ("weight_packets", cfg.weight_packets),
        ("busyloop_timeout_ns", cfg.busyloop_timeout_ns),
        ("uio_maxiov", cfg.uio_maxiov),
        ("weight_bytes", cfg.weight_bytes),
        ("wire_overhead_bytes", cfg.wire_overhead_bytes),
        ("txqueuelen", cfg.txqueuelen),
        # a dummy lower device: no wire time, the skb freed (and its callback run) at transmit
        ("dma_latency_dist", L.DMA_FIXED if dummy else {"fixed": L.DMA_FIXED, "exponential": L.DMA_EXPONENTIAL,
                                                "lognormal": L.DMA_LOGNORMAL}[cfg.dma_latency_dist]),
        ("per_packet_ns", cfg.per_packet_ns),
        ("copy_ns_per_byte", cfg.copy_ns_per_byte),
        ("zc_setup_ns", cfg.zc_setup_ns),
        ("pin_ns_per_page", cfg.pin_ns_per_page),
        ("callback_ns", cfg.callback_ns),
        ("signal_ns", cfg.signal_ns),
        ("kick_ns", cfg.kick_ns),
        ("requeue_ns", cfg.requeue_ns),
        ("guest_xmit_ns", cfg.guest_xmit_ns),
        ("irq_latency_ns", cfg.irq_latency_ns),
        ("wake_latency_ns", cfg.wake_latency_ns),
        ("wire_ns_per_byte", 0.0 if dummy else 8.0 / cfg.line_rate_gbps),
        ("dma_base_ns", 0.0 if dummy else cfg.dma_base_ns),
        ("dma_sigma", cfg.dma_sigma),
        ("duplicate_head_p", cfg.duplicate_head_p),
        # a ring smaller than 2 + MAX_SKB_FRAGS (no real device's) restarts only when empty
        ("guest_stop_free", min(cfg.guest_stop_free, cfg.ring_size)),
        ("guest_cb_delayed", cfg.guest_cb_delayed),
        ("select_zcopy", cfg.select_zcopy),
        ("n_flows", len(flows)),
        ("tx_batch", cfg.tx_batch),
        ("used_ring_ns", cfg.used_ring_ns),
        ("host_stack_ns_per_packet", cfg.host_stack_ns_per_packet),
        ("host_stack_ns_per_byte", cfg.host_stack_ns_per_byte),
        ("local_rx_ns_per_packet", cfg.local_rx_ns_per_packet),
        # a dummy has no queue (IFF_NO_QUEUE), no ring and no wire time: the synthetic
        # device with no delay is exactly that (model.md section 1)
        ("coalesced", cfg.nic_completion == "coalesced" and not dummy),
        ("backpressure", cfg.qdisc == "backpressure" or dummy),
        ("tx_ring_size", cfg.tx_ring_size),
        ("bql_limit_bytes", cfg.bql_limit_bytes),
        ("tx_coalesce_ns", cfg.tx_coalesce_usecs * 1e3),
        ("tx_max_coalesced_frames", cfg.tx_max_coalesced_frames),
        ("tx_clean_latency_ns", cfg.tx_clean_latency_ns),
        ("gso_size", 0 if dummy else cfg.gso_size),
        ("gso_hdr_bytes", cfg.gso_hdr_bytes),
        ("gx", uses_guest_extensions(cfg)),
        ("guest_napi_tx", cfg.guest_napi_tx),
        ("guest_indirect_desc", cfg.guest_indirect_desc),
        ("socks", uses_sockets(cfg)),
        ("guest_truesize_overhead", cfg.guest_truesize_overhead),
        ("guest_tx_poll_ns", cfg.guest_tx_poll_ns),
    ):
        p[field] = value

    fl_i = np.zeros((len(flows), L.N_FI), np.int64)
    fl_f = np.zeros((len(flows), L.N_FF), np.float64)
    sizes, thresh, alias = [], [], []
    for f, flow in enumerate(flows):
        dist = size_distribution(flow)
        fl_i[f, L.FI_SIZE_OFF] = len(sizes)
        if flow["size_dist"] == "uniform":
            fl_i[f, L.FI_SIZE_KIND] = L.SIZE_UNIFORM
            fl_i[f, L.FI_SIZE_MIN], fl_i[f, L.FI_SIZE_MAX] = dist
        else:
            fl_i[f, L.FI_SIZE_KIND] = L.SIZE_CYCLE if flow["size_dist"] == "cycle" else L.SIZE_TABLE
            t, a = alias_table(dist[1])
            sizes += dist[0]
            thresh += t
            alias += a
            fl_i[f, L.FI_SIZE_N] = len(dist[0])
        fl_i[f, L.FI_DEST] = L.DEST_LOCAL if flow["dest"] == "local" else L.DEST_WIRE
        fl_i[f, L.FI_LIMITED] = _has_limiter(flow)
        fl_i[f, L.FI_EQUEUE] = flow["egress_queue"]
        fl_f[f, L.FF_GAP] = 1e9 / flow["rate_pps"]
        fl_f[f, L.FF_STRAGGLER_P] = flow["straggler_p"]
        fl_f[f, L.FF_STRAGGLER_NS] = flow["straggler_ns"]
        fl_f[f, L.FF_LIM_NS] = 1e9 / flow["egress_rate_pps"] if flow["egress_rate_pps"] > 0 else 0.0
        fl_f[f, L.FF_LIM_NS_PER_BYTE] = 8000.0 / flow["egress_rate_mbps"] if flow["egress_rate_mbps"] > 0 else 0.0
        fl_f[f, L.FF_DELAY] = flow["egress_delay_ns"]
        fl_i[f, L.FI_SNDBUF] = flow["guest_sndbuf_bytes"]
        fl_i[f, L.FI_TSQ] = flow["guest_tsq_bytes"]
    for field, col in (("size_kind", L.FI_SIZE_KIND), ("size_min", L.FI_SIZE_MIN), ("size_max", L.FI_SIZE_MAX),
                       ("size_n", L.FI_SIZE_N)):
        p[field] = fl_i[0, col]
    p["straggler_p"], p["straggler_ns"] = fl_f[0, L.FF_STRAGGLER_P], fl_f[0, L.FF_STRAGGLER_NS]
    share = [flow["share"] for flow in flows]
    f_thresh, f_alias = alias_table([w / sum(share) for w in share])
    return {
        "params": params, "fl_i": fl_i, "fl_f": fl_f,
        "flow_thresh": np.array(f_thresh, np.int64), "flow_alias": np.array(f_alias, np.int64),
        "size_vals": np.array(sizes or [0], np.int64), "size_thresh": np.array(thresh or [2**32], np.int64),
        "size_alias": np.array(alias or [0], np.int64),
    }


VNET_HDR_LEN = 12
"""struct virtio_net_hdr_mrg_rxbuf: the header in front of every frame (VERSION_1)."""


def goodcopy_threshold(cfg: Config) -> int:
    """The engine's size test as one number: a packet of ``size_bytes`` goes
    zero-copy when it is larger than this.

    The kernel compares ``len``, the descriptor's bytes less what vhost itself
    strips (vhost_hlen, get_tx_bufs): with ``vnet_hdr="socket"`` (a tap opened
    with IFF_VNET_HDR, how QEMU sets it up) that includes the 12-byte header.
    The V5 patch copies ``len <= VHOST_GOODCOPY_LEN`` (``goodcopy_test="le"``);
    mainline sends ``len >= VHOST_GOODCOPY_LEN`` zero-copy (``"lt"``: it copies
    ``len < VHOST_GOODCOPY_LEN``).

    >>> goodcopy_threshold(Config(policy="linux-6.1"))  # 244-byte frames: 256 with the header
    243
    >>> goodcopy_threshold(Config(policy="seed-2011", vnet_hdr="vhost"))
    256
    """
    hdr = VNET_HDR_LEN if cfg.vnet_hdr == "socket" else 0
    return cfg.goodcopy_len - (1 if cfg.goodcopy_test == "lt" else 0) - hdr


def _has_limiter(flow: Mapping[str, Any]) -> bool:
    """A qdisc holds this flow's skbs: a rate (netem rate, tbf) or a delay (netem)."""
    return flow["egress_rate_pps"] > 0 or flow["egress_rate_mbps"] > 0 or flow["egress_delay_ns"] > 0


def uses_sockets(cfg: Config) -> bool:
    """Does any flow's socket limit what its sender may have in flight (guest_sndbuf_bytes, guest_tsq_bytes)?"""
    return any(f["guest_sndbuf_bytes"] > 0 or f["guest_tsq_bytes"] > 0 for f in cfg.flow_specs())


def uses_guest_extensions(cfg: Config) -> bool:
    """Does the guest use a rule of the extended variant: napi_tx, chained descriptors (no
    indirect descriptors), or a socket limit that can hold a packet? Without napi_tx
    start_xmit orphans each skb at its post, so a bulk sender's limit never holds one (the
    plain variant is then exact); an open-loop socket still holds what waits in the guest
    qdisc."""
    return cfg.guest_napi_tx or not cfg.guest_indirect_desc or (uses_sockets(cfg) and cfg.arrival == "poisson")


def uses_extensions(cfg: Config) -> bool:
    """Does the run need the engine's extended variant (a trace, the coalesced NIC or a
    qdisc that drops, several flows, an egress limiter or delay, local delivery, batched
    copies, an adversarial guest, or the virtio-net guest's napi_tx, chained descriptors
    or socket limits)?
    Batched copies only exist in copy mode: zero-copy mode returns each copy at once."""
    flows = cfg.flow_specs()
    # the coalesced NIC and a qdisc that drops too (the plain variant's wire is the
    # synthetic NIC with a lossless queue: the anchors' path, kept free of their branches)
    nic = cfg.lower_dev == "nic" and (cfg.nic_completion == "coalesced" or cfg.qdisc != "backpressure"
                                      or cfg.gso_size > 0)
    return (cfg.trace_packets > 0 or nic or len(flows) > 1 or (cfg.tx_batch > 1 and cfg.mode == "copy") or cfg.duplicate_head_p > 0
            or any(f["dest"] == "local" or _has_limiter(f) for f in flows) or uses_guest_extensions(cfg))


def alias_table(probs) -> tuple[list[int], list[int]]:
    """Walker's alias table (Vose's construction, deterministic order).

    Returns integer thresholds in [0, 2**32] and alias indices. A draw of 64
    random bits r picks column ``i = ((r >> 32) * n) >> 32`` and keeps it if
    ``r & 0xFFFFFFFF < thresh[i]``, else takes ``alias[i]``.
    """
    n = len(probs)
    scaled = [q * n for q in probs]
    prob, alias = [1.0] * n, list(range(n))
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        lo, hi = small.pop(), large.pop()
        prob[lo], alias[lo] = scaled[lo], hi
        scaled[hi] = (scaled[hi] + scaled[lo]) - 1.0
        (small if scaled[hi] < 1.0 else large).append(hi)
    return [min(round(q * 2**32), 2**32) for q in prob], alias


def default_max_events(cfg: Config) -> int:
    """The event cap when ``max_events=0``: generous for any sane run.

    A packet costs about 2-4 events; open-loop overload adds an arrival event per
    dropped packet. The cap only exists so that no run can loop forever.
    """
    per_packet = 100
    if cfg.arrival == "poisson":
        per_packet += 10  # arrivals of dropped packets
    return per_packet * (cfg.warmup_packets + cfg.n_packets) + 10_000_000


def simulate(config: Config | str | Mapping[str, Any] | None = None, **overrides: Any) -> Result:
    """Simulate one configuration and return its :class:`~zclab.Result`.

    Raises :class:`~zclab.ConfigError` for bad parameters (before anything
    runs), :class:`SimulationError` if the run hits ``max_events``, and
    :class:`InvariantViolation` on a violation when ``debug=True``. A deadlock
    is not an error: it is a finding, reported as ``summary["deadlocked"]``.

    The run itself is compiled code, which does not see a KeyboardInterrupt:
    an interrupt (Jupyter's stop button) takes effect when the run returns. The
    engine simulates 10 to 40 million packets a second; for a long run, time a
    short one first (``Result.wall_s``). ``zclab simulate`` ends at a Ctrl-C.

    >>> r = simulate(n_packets=5_000, completion="out_of_order")
    >>> r.summary["packets"], r.config.completion
    (5000, 'out_of_order')
    """
    cfg = as_config(config, **overrides)
    args = kernel_args(cfg)
    n_flows = len(args["fl_i"])
    out_run = np.zeros(1, L.RUN)
    hist = new_histogram()
    multi = n_flows > 1
    flow_res_i = np.zeros((n_flows, len(L.FLOW_I)), np.int64)
    flow_res_f = np.zeros((n_flows, len(L.FLOW_F)), np.float64)
    flow_hist = np.zeros((n_flows, N_BUCKETS) if multi else (1, 1), np.int64)
    n_trace = cfg.trace_packets
    trace_f = np.full((n_trace, len(L.TRACE_F)), np.nan)
    trace_i = np.full((n_trace, len(L.TRACE_I)), -1, np.int64)
    call = (args["params"], args["fl_i"], args["fl_f"], args["flow_thresh"], args["flow_alias"], args["size_vals"],
            args["size_thresh"], args["size_alias"], out_run, hist, flow_res_i, flow_res_f, flow_hist, trace_f, trace_i)
    extended, open_loop, ooo = variant(cfg)
    # Variants: without the extended features (a trace, flows, limiters, local delivery,
    # batching, the coalesced NIC, the virtio-net guest), closed loop or in order, numba
    # compiles that machinery out (an omitted argument is a constant; each variant is
    # compiled on first use and cached on disk).
    kw = {"extended": True} if extended else {}
    if open_loop:
        kw["open_loop"] = True
    if ooo:
        kw["ooo"] = True
    t0 = time.perf_counter()
    status = _run_engine(call, kw)
    wall = time.perf_counter() - t0
    rec = out_run[0]
    if status == L.STATUS_MAX_EVENTS:
        raise SimulationError(
            f"the run stopped after max_events={int(args['params'][0]['max_events'])} events having returned "
            f"{int(rec['m_returned'])} of n_packets={cfg.n_packets} measured packets; "
            "raise max_events if the configuration is meant to be this slow (for example heavy open-loop overload)"
        )
    if status == L.STATUS_VIOLATION or (cfg.debug and rec["violations"] > 0):
        # (debug stops the loop at a violation; one found by the end-of-run checks,
        # byte conservation, ends a run that finished: debug raises for it too)
        code = int(rec["first_violation"])
        raise InvariantViolation(
            f"invariant violated at t={rec['first_violation_t']:.1f} ns: {L.VIOLATIONS.get(code, code)} (debug=True)"
        )
    out = record_dict(rec)
    summary = summarize(out, hist, cfg, flow_res_i, flow_res_f, flow_hist)
    trace = _trace_frame(trace_f, trace_i) if n_trace else None
    return Result(config=cfg, summary=summary, trace=trace, wall_s=wall)


def _run_engine(call: tuple, kw: dict) -> int:
    """``core.run(*call, **kw)``; if loading its variant from numba's on-disk cache fails
    (a file truncated by a full disk or a killed write), the cache is reported with its
    directory, emptied and the variant compiled again, once."""
    try:
        return run(*call, **kw)
    except Exception as exc:
        tb, from_cache = exc.__traceback__, False
        while tb is not None:
            from_cache |= tb.tb_frame.f_code.co_filename.replace(os.sep, "/").endswith("numba/core/caching.py")
            tb = tb.tb_next
        if not from_cache:
            raise
        where = getattr(run._cache, "_cache_path", "numba's cache directory")
        warnings.warn(f"zclab: the engine's compiled code in numba's cache ({where}) is damaged "
                      f"({type(exc).__name__}: {exc}); emptied, the engine compiles again", RuntimeWarning, stacklevel=3)
        run._cache.flush()  # an empty index: every variant is compiled (and saved) anew
        return run(*call, **kw)


def record_dict(rec) -> dict[str, float]:
    """A numpy record as a dict of Python numbers."""
    return {name: rec[name].item() for name in rec.dtype.names}


def _trace_frame(trace_f: np.ndarray, trace_i: np.ndarray):
    import pandas as pd

    df = pd.DataFrame(trace_i, columns=list(L.TRACE_I))
    for j, name in enumerate(L.TRACE_F):
        df[name] = trace_f[:, j]
    df = df[df["seq"] >= 0].reset_index(drop=True)
    df["path"] = pd.Categorical.from_codes(df["path"].clip(lower=0), categories=list(L.PATH_NAMES))
    df.loc[df["t_fetch"].isna(), "path"] = None
    return df[["seq", "head", "len", "flow", "path", "used_idx", *L.TRACE_F]]


def variant(cfg: Config) -> tuple[bool, bool, bool]:
    """The compiled variant of the engine a configuration runs in: (extended,
    open_loop, ooo), the compile-time arguments of ``core.run``.

    >>> variant(Config(completion="out_of_order"))  # the coalesced NIC: extended
    (True, False, True)
    >>> from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC
    >>> variant(Config(**SYNTHETIC_NIC, **SIMPLE_GUEST))  # the older NIC and guest: plain
    (False, False, False)
    >>> variant(Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, trace_packets=10))  # a trace: extended
    (True, False, False)
    """
    return uses_extensions(cfg), cfg.arrival == "poisson", cfg.completion == "out_of_order"


def _variant_config(extended: bool, open_loop: bool, ooo: bool) -> Config:
    """A small configuration that runs in the given variant (local delivery and a trace
    make it extended)."""
    from .presets import SIMPLE_GUEST, SYNTHETIC_NIC

    nic = {} if extended else {**SYNTHETIC_NIC, **SIMPLE_GUEST}  # the plain variant's wire and guest
    return Config(n_packets=100, warmup_packets=0, trace_packets=10 if extended else 0, dest="local" if extended else "wire",
                  arrival="poisson" if open_loop else "saturate", completion="out_of_order" if ooo else "in_order", **nic)


def warmup(*configs: Config, every_variant: bool = False, processes: int = 1) -> float:
    """Compile (or load from the on-disk cache) the engine's variants that
    ``configs`` run in (the default configuration's if none is given; all
    eight with ``every_variant=True``); returns the seconds taken.

    The engine is compiled in a separate variant for each combination of the
    extended features, open loop and out-of-order release (see :func:`variant`),
    each on its first use (about a minute on one core of this project's 2-core
    machine: docs/performance.md) and then cached on disk. Call this before timing anything, and before starting
    worker processes, so that they load a variant instead of each compiling it.

    A compile uses one core: with ``processes`` above 1 (POSIX only), the
    variants neither loaded in this process nor in the on-disk cache are
    compiled by up to that many forked processes at once, each its share, and
    then loaded here from the cache (see :func:`_compile_share` for how their
    writes to numba's cache are kept apart). Each takes up to 0.9 GB.

    >>> seconds = warmup(Config(completion="out_of_order"))
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"warmup: processes={processes!r}: give a whole number, 1 or more")
    wanted = {variant(c) for c in configs} if configs else {variant(Config())}
    if every_variant:
        wanted = set(itertools.product((False, True), repeat=3))
    t0 = time.perf_counter()
    missing = sorted(wanted - _loaded_variants() - (_cached_variants() or set()))
    if processes > 1 and len(missing) > 1 and hasattr(os, "fork"):
        n = min(processes, len(missing))
        ctx = multiprocessing.get_context("fork")
        children = [ctx.Process(target=_compile_share, args=(missing[i::n],), daemon=True) for i in range(n)]
        for child in children:
            child.start()
        try:
            for child in children:
                child.join()
        except BaseException:  # Ctrl-C (the children ignore it): no compiler left running
            for child in children:
                child.kill()
            raise
        for child in children:
            if child.exitcode != 0:  # its share is compiled below, here
                warnings.warn(f"zclab.warmup: a compiling process exited with code {child.exitcode}; "
                              "compiling its variants in this process", RuntimeWarning, stacklevel=2)
    for v in sorted(wanted):
        simulate(_variant_config(*v))
    return time.perf_counter() - t0


def _flags(sig) -> tuple[bool, bool, bool]:
    """The variant of a signature of ``core.run``: a flag left out is typed Omitted."""
    from numba.core import types

    return tuple(not isinstance(t, types.Omitted) for t in sig[-3:])


def _loaded_variants() -> set[tuple[bool, bool, bool]]:
    """The variants this process has compiled or loaded."""
    return {_flags(sig) for sig in run.signatures}


def _cached_variants() -> set[tuple[bool, bool, bool]] | None:
    """The variants numba's on-disk cache holds for this source on this machine, read
    from its index without loading any; None if it cannot be read (numba internals:
    warmup then merely forks where loading would have done, and ``to_compile``
    reports nothing)."""
    try:
        cache = run._cache
        codegen = run.targetctx.codegen()
        magic, stamp = codegen.magic_tuple(), cache._index_key((), codegen)[2]
        return {_flags(sig) for sig, m, s in cache._cache_file._load_index() if m == magic and s == stamp}
    except Exception:
        return None


def to_compile(*configs: Config) -> set[tuple[bool, bool, bool]]:
    """The variants of the engine that simulating ``configs`` in this process must
    first compile (about a minute each): neither loaded here nor in numba's on-disk
    cache. Empty when the cache cannot be read (nothing is known either way).

    >>> _ = simulate(n_packets=100); to_compile(Config(n_packets=5))
    set()
    """
    wanted = {variant(c) for c in configs} - _loaded_variants()
    cached = _cached_variants() if wanted else set()
    return set() if cached is None else wanted - cached


def _compile_share(variants: list[tuple[bool, bool, bool]]) -> None:
    """In a forked process: compile (or load) ``variants`` into numba's on-disk cache.

    numba adds an entry to a function's cache by reading its index, adding the
    entry, writing the index back and writing the compiled code to a data file
    named after the entry's number. Two processes doing so at once can each drop
    the other's entry from the index, or both write the same data file, and then
    one variant's entry names the other's code. Here each such write holds an
    exclusive lock on a file in the cache directory, so the writes of these
    processes follow one another. (Loading needs no lock: numba replaces a file
    whole, by renaming, so a reader sees the old one or the new one.)
    """
    import fcntl
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the parent's to handle

    from numba.core import caching

    save = caching.IndexDataCacheFile.save

    def locked_save(self, key, data):
        with open(os.path.join(self._cache_path, ".zclab-warmup.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            save(self, key, data)  # the lock goes with the file's closing

    caching.IndexDataCacheFile.save = locked_save
    for v in variants:
        simulate(_variant_config(*v))
