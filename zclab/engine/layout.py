"""Index constants of the arrays that carry parameters into the engine and
results out of it.

The jitted engine takes plain arrays (fast to dispatch, always cacheable);
these names keep both sides readable. Numba freezes module-level integers as
compile-time constants, so ``ip[I_RING]`` costs the same as a literal index.
"""

# --- enumerations --------------------------------------------------------------------
ARRIVAL_SATURATE, ARRIVAL_POISSON = 0, 1
SIZE_TABLE, SIZE_UNIFORM = 0, 1
PLACE_SEED, PLACE_STALL, PLACE_FALLBACK = 0, 1, 2
DMA_FIXED, DMA_EXPONENTIAL, DMA_LOGNORMAL = 0, 1, 2

#: Trace ``path`` codes: how vhost sent a packet.
PATH_COPY, PATH_ZEROCOPY, PATH_FALLBACK = 0, 1, 2
PATH_NAMES = ("copy", "zerocopy", "copy_fallback")

# --- integer parameters (ip) -----------------------------------------------------------
(
    I_N_TOTAL,  # warmup_packets + n_packets
    I_WARMUP,
    I_TRACE,
    I_MAX_EVENTS,
    I_DEBUG,
    I_SEED,
    I_ARRIVAL,
    I_QDISC_LEN,
    I_SIZE_KIND,
    I_SIZE_MIN,
    I_SIZE_MAX,
    I_RING,
    I_SIGNAL_EVERY,
    I_ZEROCOPY,
    I_GOODCOPY,
    I_LIMIT,  # the pending limit in force (max_pend or ring quarter)
    I_PLACEMENT,
    I_REAP,
    I_OOO,
    I_WAKE_ON_COMPLETION,
    I_COPY_VIA_HEADS,
    I_UIO,
    I_WEIGHT,
    I_OVERHEAD,
    I_NIC_QLEN,
    I_DMA_DIST,
    N_IP,
) = range(27)

# --- float parameters (fp) -------------------------------------------------------------
(
    F_RATE_PPS,
    F_PER_PACKET,
    F_COPY_PER_BYTE,
    F_ZC_SETUP,
    F_PIN_PER_PAGE,
    F_CALLBACK,
    F_SIGNAL,
    F_KICK,
    F_REQUEUE,
    F_GUEST_XMIT,
    F_IRQ_LATENCY,
    F_WAKE_LATENCY,
    F_WIRE_NS_PER_BYTE,  # 8 / line_rate_gbps
    F_DMA_BASE,
    F_DMA_SIGMA,
    F_STRAGGLER_P,
    F_STRAGGLER_NS,
    F_DUPLICATE_P,
    N_FP,
) = range(19)

# --- results (out) ---------------------------------------------------------------------
# Raw sums over the measured window; zclab.result turns them into the summary.
OUT_NAMES = (
    "status",  # STATUS_* below
    "t_start",
    "t_end",
    "returned",  # heads returned in the window
    "returned_bytes",
    "returned_zc",
    "wire_packets",  # skbs whose whole transmission lies in the window
    "wire_bytes",
    "worker_busy_ns",
    "callback_ns",
    "guest_busy_ns",
    "outstanding_area",
    "outstanding_max",
    "hol_area",
    "inflight_area",
    "heads_hold_sum",  # time heads spent in heads[] (record -> release)
    "heads_released",
    "stall_ns",
    "stalls",
    "span_stalls",
    "nic_wait_ns",
    "ring_full_ns",
    "lat_sum",
    "lat_max",
    "signals",
    "kicks",
    "requeues",
    "fallbacks",
    "arrivals",
    "drops",
    "qdisc_area",
    "qdisc_delay_sum",
    "qdisc_dequeued",
    "release_batches",
    "duplicates",
    "guest_bad_ring",
    "guest_early_free",
    "guest_avail_overruns",
    "violations",
    "first_violation",
    "first_violation_t",
    "events",
    "deadlocked",
)
OUT = {name: i for i, name in enumerate(OUT_NAMES)}
(
    O_STATUS,
    O_T_START,
    O_T_END,
    O_RETURNED,
    O_RETURNED_BYTES,
    O_RETURNED_ZC,
    O_WIRE_PACKETS,
    O_WIRE_BYTES,
    O_WORKER_BUSY_NS,
    O_CALLBACK_NS,
    O_GUEST_BUSY_NS,
    O_OUTSTANDING_AREA,
    O_OUTSTANDING_MAX,
    O_HOL_AREA,
    O_INFLIGHT_AREA,
    O_HEADS_HOLD_SUM,
    O_HEADS_RELEASED,
    O_STALL_NS,
    O_STALLS,
    O_SPAN_STALLS,
    O_NIC_WAIT_NS,
    O_RING_FULL_NS,
    O_LAT_SUM,
    O_LAT_MAX,
    O_SIGNALS,
    O_KICKS,
    O_REQUEUES,
    O_FALLBACKS,
    O_ARRIVALS,
    O_DROPS,
    O_QDISC_AREA,
    O_QDISC_DELAY_SUM,
    O_QDISC_DEQUEUED,
    O_RELEASE_BATCHES,
    O_DUPLICATES,
    O_GUEST_BAD_RING,
    O_GUEST_EARLY_FREE,
    O_GUEST_AVAIL_OVERRUNS,
    O_VIOLATIONS,
    O_FIRST_VIOLATION,
    O_FIRST_VIOLATION_T,
    O_EVENTS,
    O_DEADLOCKED,
    N_OUT,
) = range(44)

STATUS_DONE, STATUS_DEADLOCK, STATUS_MAX_EVENTS, STATUS_VIOLATION = 0, 1, 2, 3

#: Invariant violation codes (first_violation); see docs/model.md section 3.
VIOLATIONS = {
    1: "time went backwards",
    2: "a slot of heads[] was overwritten while held",
    3: "a head was released that was not done",
    4: "a completion arrived for a slot that was not pending",
    5: "a used-ring entry is not a head the guest posted",
    6: "outstanding heads exceeded ring_size or uio_maxiov",
    7: "a ring overflowed",
    8: "bytes posted differ from bytes sent plus bytes in flight",
}

# --- trace columns -----------------------------------------------------------------------
TRACE_F = ("t_post", "t_fetch", "t_submit", "t_wire_start", "t_wire_done", "t_dma_done", "t_used")
TRACE_I = ("seq", "head", "len", "path")
(T_POST, T_FETCH, T_SUBMIT, T_WIRE_START, T_WIRE_DONE, T_DMA_DONE, T_USED) = range(7)
(T_SEQ, T_HEAD, T_LEN, T_PATH) = range(4)
