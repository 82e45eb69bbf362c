"""The engine's data layout: the parameter and result records, enumerations,
violation codes and trace columns.

``P`` holds the parameters (built from a Config by zclab.model.simulation, read-only
in the engine); ``RUN`` receives the clock, the event count and every running
sum of the measured window (zclab.model.result turns it into the summary).
"""

import numpy as np

# --- enumerations --------------------------------------------------------------------
SIZE_TABLE, SIZE_UNIFORM, SIZE_CYCLE = 0, 1, 2
PLACE_SEED, PLACE_STALL, PLACE_FALLBACK, PLACE_EMPTY_BREAK = 0, 1, 2, 3
DMA_FIXED, DMA_EXPONENTIAL, DMA_LOGNORMAL = 0, 1, 2
#: the pending test (max_pend_rule): over a limit, or v3.12's modulo equality
LIMIT_OVER, LIMIT_MODULO = 0, 1
#: when vhost_zerocopy_callback queues the worker (wake_on_completion)
WAKE_NEVER, WAKE_ALWAYS, WAKE_LE2_OR_16, WAKE_LE1_OR_16 = 0, 1, 2, 3
#: which copied packets zero-copy mode records in heads[] (copy_via_heads)
VIA_NEVER, VIA_ALWAYS, VIA_WHEN_PENDING = 0, 1, 2

#: Trace ``path`` codes: how vhost sent a packet.
PATH_COPY, PATH_ZEROCOPY, PATH_FALLBACK = 0, 1, 2
PATH_NAMES = ("copy", "zerocopy", "copy_fallback")

STATUS_DONE, STATUS_DEADLOCK, STATUS_MAX_EVENTS, STATUS_VIOLATION = 0, 1, 2, 3

#: Invariant violation codes (RUN.first_violation, 0: none); see docs/model.md section 3.
(V_TIME_BACKWARDS, V_HEAD_OVERWRITTEN, V_RELEASED_NOT_DONE, V_COMPLETION_NOT_PENDING, V_USED_NOT_POSTED,
 V_OUTSTANDING, V_RING_OVERFLOW, V_BYTES) = range(1, 9)
VIOLATIONS = {
    V_TIME_BACKWARDS: "time went backwards",
    V_HEAD_OVERWRITTEN: "a slot of heads[] was overwritten while held",
    V_RELEASED_NOT_DONE: "a head was released that was not done",
    V_COMPLETION_NOT_PENDING: "a completion arrived for a slot that was not pending",
    V_USED_NOT_POSTED: "a used-ring entry is not a head the guest posted",
    V_OUTSTANDING: "outstanding heads exceeded ring_size or uio_maxiov",
    V_RING_OVERFLOW: "a ring overflowed",
    V_BYTES: "bytes posted differ from bytes sent plus bytes in flight",
}


def _struct(*fields):
    return np.dtype(list(fields), align=True)


i8, f8, b1 = np.int64, np.float64, np.int8

# --- records ---------------------------------------------------------------------------
P = _struct(
    ("n_total", i8), ("warmup_packets", i8), ("trace_packets", i8), ("max_events", i8), ("debug", b1), ("seed", i8),
    ("poisson", b1), ("qdisc_len", i8),
    ("ring_size", i8), ("signal_every_publish", b1), ("zerocopy", b1), ("goodcopy_len", i8), ("pend_limit", i8),
    ("pend_placement", i8), ("reap_threshold", i8), ("out_of_order", b1), ("wake_on_completion", i8), ("copy_via_heads", i8),
    ("max_pend_rule", i8), ("modulo_add", i8), ("heads_full_copy", b1), ("weight_packets", i8), ("busyloop_timeout_ns", f8),
    ("uio_maxiov", i8), ("weight_bytes", i8), ("wire_overhead_bytes", i8), ("txqueuelen", i8), ("dma_latency_dist", i8),
    ("per_packet_ns", f8), ("copy_ns_per_byte", f8), ("zc_setup_ns", f8), ("pin_ns_per_page", f8),
    ("callback_ns", f8), ("signal_ns", f8), ("kick_ns", f8), ("requeue_ns", f8), ("guest_xmit_ns", f8),
    ("irq_latency_ns", f8), ("wake_latency_ns", f8), ("wire_ns_per_byte", f8), ("dma_base_ns", f8),
    ("dma_sigma", f8), ("duplicate_head_p", f8), ("guest_stop_free", i8), ("guest_cb_delayed", b1), ("select_zcopy", b1),
    # flows, destinations, batching, the host outside vhost
    ("n_flows", i8), ("tx_batch", i8), ("used_ring_ns", f8), ("host_stack_ns_per_packet", f8), ("host_stack_ns_per_byte", f8),
    ("local_rx_ns_per_packet", f8),
    # the NIC (model.md section 1): coalesced completions and the TX ring, the qdisc, GSO
    ("coalesced", b1), ("backpressure", b1), ("tx_ring_size", i8), ("bql_limit_bytes", i8), ("tx_coalesce_ns", f8), ("tx_max_coalesced_frames", i8),
    ("tx_clean_latency_ns", f8), ("gso_size", i8), ("gso_hdr_bytes", i8),
    # the virtio-net guest (model.md section 1): napi_tx, chained descriptors, per-flow sockets
    # (their limits are in the flows' rows); gx: any of them, the extended guest path
    ("gx", b1), ("guest_napi_tx", b1), ("guest_indirect_desc", b1), ("socks", b1), ("guest_truesize_overhead", i8), ("guest_tx_poll_ns", f8),
    # flow 0 again, read through the record on the single-flow path (one pointer,
    # not a matrix's data, shape and strides kept live across the event loop)
    ("size_kind", i8), ("size_min", i8), ("size_max", i8), ("size_n", i8),
    ("straggler_p", f8), ("straggler_ns", f8),
)

# --- per-flow parameters: int64 and float64 matrices, one row per flow ---------------------
# FI_CYCLE and the columns after FI_TSQ are the engine's own (written by the run): the next
# entry of a 'cycle' size table; the flow's socket: the truesize of its skbs not yet freed
# (sk_wmem_alloc), its sender asleep in sock_alloc_send_pskb, whether it may send now,
# and the head and length of its sends waiting for room (open loop)
(FI_DEST, FI_LIMITED, FI_EQUEUE, FI_SIZE_KIND, FI_SIZE_MIN, FI_SIZE_MAX, FI_SIZE_OFF, FI_SIZE_N, FI_CYCLE,
 FI_SNDBUF, FI_TSQ, FI_WMEM, FI_SLEEP, FI_ROOM, FI_BL_HEAD, FI_BL_N, N_FI) = range(17)
(FF_GAP, FF_STRAGGLER_P, FF_STRAGGLER_NS, FF_LIM_NS, FF_LIM_NS_PER_BYTE, FF_DELAY, N_FF) = range(7)
DEST_WIRE, DEST_LOCAL = 0, 1

# --- per-flow results: int64 and float64 matrices, one row per flow --------------------------
FLOW_I = ("returned", "zc", "delivered", "delivered_bytes", "qdisc_drops", "egress_drops", "nic_drops", "sock_drops")
FLOW_F = ("lat_sum",)
(FR_RETURNED, FR_ZC, FR_DELIVERED, FR_DELIVERED_BYTES, FR_QDISC_DROPS, FR_EGRESS_DROPS, FR_NIC_DROPS,
 FR_SOCK_DROPS) = range(8)
(FR_LAT_SUM,) = range(1)

#: The run: clock and counters (whole run), then the sums of the measured window.
RUN = _struct(
    ("now", f8), ("events", i8), ("status", i8), ("measuring", b1), ("finished", b1), ("violation", i8),
    ("posted", i8), ("returned", i8), ("t_start", f8), ("t_end", f8),
    ("bytes_posted", i8), ("bytes_fetched", i8), ("bytes_submitted", i8),
    ("violations", i8), ("first_violation", i8), ("first_violation_t", f8), ("deadlocked", b1),
    # window sums
    ("m_returned", i8), ("m_bytes", i8), ("m_zc", i8), ("wire_packets", i8), ("wire_bytes", i8),
    ("worker_busy_ns", f8), ("callback_ns", f8), ("guest_busy_ns", f8),
    ("outstanding_area", f8), ("outstanding_max", i8), ("hol_area", f8), ("inflight_area", f8),
    ("heads_hold_sum", f8), ("heads_released", i8), ("stall_ns", f8), ("stalls", i8), ("span_stalls", i8),
    ("nic_wait_ns", f8), ("ring_full_ns", f8), ("lat_sum", f8), ("lat_max", f8),
    ("signals", i8), ("kicks", i8), ("requeues", i8), ("fallbacks", i8), ("arrivals", i8), ("drops", i8),
    ("qdisc_area", f8), ("qdisc_delay_sum", f8), ("qdisc_dequeued", i8), ("release_batches", i8),
    ("duplicates", i8), ("guest_bad_ring", i8), ("guest_early_free", i8), ("guest_avail_overruns", i8),
    ("stack_cpu_ns", f8), ("local_cpu_ns", f8), ("local_packets", i8), ("local_bytes", i8), ("egress_drops", i8),
    ("used_updates", i8), ("nic_drops", i8), ("poll_spin_ns", f8), ("busypoll_ns", f8),
    ("sock_wait_ns", f8), ("sock_drops", i8), ("tx_polls", i8),
    # the engine's own: the NIC's TX ring (head, skbs, descriptors and bytes in it), the
    # time its next interrupt fires and its clean-up runs (INF: none due), the host
    # qdisc in front of it (head, skbs); records, not locals (see cq_head)
    ("rg_head", i8), ("rg_n", i8), ("rg_desc", i8), ("rg_bytes", i8), ("irq_t", f8), ("clean_t", f8),
    ("qd_head", i8), ("qd_n", i8),
    # the engine's own: the head and length of its FIFO of the wire's completions (core.run's cq)
    ("cq_head", i8), ("cq_n", i8),
    # the engine's own: the virtio-net guest's state (extended variant): its TX callback
    # armed, a TX interrupt's virtnet_poll_tx due (and when), the bulk sender waiting for
    # room in a socket, a drawn packet held until it fits, free ring descriptors
    ("g_cb", b1), ("g_poll", b1), ("g_poll_t", f8), ("g_sockwait", b1), ("g_held", b1), ("g_dfree", i8),
)

# --- trace columns -----------------------------------------------------------------------
TRACE_F = ("t_post", "t_fetch", "t_submit", "t_wire_start", "t_wire_done", "t_dma_done", "t_used")
TRACE_I = ("seq", "head", "len", "path", "flow", "used_idx")
(T_POST, T_FETCH, T_SUBMIT, T_WIRE_START, T_WIRE_DONE, T_DMA_DONE, T_USED) = range(7)
(T_SEQ, T_HEAD, T_LEN, T_PATH, T_FLOW, T_USED_IDX) = range(6)


# The random generator's state (xoshiro256**, see rng.py) viewed as a record
# (core.run's rs_rec): numba counts references to arrays, not to records.
RNG = np.dtype([("s0", np.uint64), ("s1", np.uint64), ("s2", np.uint64), ("s3", np.uint64)], align=True)


#: One slot of heads[] (the seed's vq->heads[], with what the model needs of each
#: packet): state (free, pending, done: VHOST_DMA_DONE_LEN), when posted and
#: recorded, descriptor id, length, flow, zero-copy or not, copied after all
#: (skb_copy_ubufs: vhost_zerocopy_callback's success = false), sequence number. One
#: record array rather than eight arrays: the event loop keeps one base pointer
#: live instead of eight (2 to 3.5% faster on the C anchor's configurations,
#: measured side by side with the engine before; see docs/performance.md).
HEAD = _struct(("post", f8), ("rec", f8), ("id", i8), ("len", i8), ("flow", i8), ("seq", i8),
               ("state", b1), ("zc", b1), ("failed", b1))

#: A descriptor on its way through vhost (an avail-ring entry; a copy waiting for
#: its used-ring update): when posted, its id, length, flow and sequence number.
DESC = _struct(("post", f8), ("id", i8), ("len", i8), ("flow", i8), ("seq", i8))
