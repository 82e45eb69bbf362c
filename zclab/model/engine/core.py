"""The event loop: one guest vCPU, one vhost worker, the NIC and the host's
local receiver, per-flow egress limiters, the completion callback.

``run`` is jit-compiled and takes a parameter record and plain arrays (layout
in :mod:`.layout`); call it through :func:`zclab.simulate`, which validates
the configuration first. The model is docs/model.md; comments name the kernel
function each step mirrors (drivers/vhost/net.c and vhost.c of the seed patch
unless noted).

Reading guide: each part of ``run`` (line numbers in this file; tests/test_engine_guide.py
checks them), the kernel code it mirrors, and the methods of
``zclab.model.reference.ReferenceModel`` that say the same in plain Python. The helpers above
``run`` are named for theirs: ``_exceeds`` (vhost_exceeds_maxpend), ``_callback_queues``
(the callback's vhost_poll_queue rule), ``_qdisc_run`` (qdisc_restart -> ndo_start_xmit),
``_deliver`` (the destination: the wire, netem/tbf, a local socket).

=========  ===========================================================================  ====================================
lines      kernel (drivers/vhost/net.c unless noted)                                     reference
=========  ===========================================================================  ====================================
 603-637   the set-up: the guest's free ids, avail and used rings (virtio_ring.c)       __init__
 638-673   heads[] of UIO_MAXIOV entries, upend_idx and done_idx                        Heads, __init__
 674-729   the NIC's queue, TX ring and qdisc; the local receiver                       Device, __init__
 730-776   the actors' next-event times                                                 __init__
 777-794   the running sums (layout.RUN)                                                Stats, open_window
 795-821   the next event, ties in a fixed order                                        run
 822-856   time-weighted statistics over (now, t]                                       integrate
 857-903   vhost_zerocopy_callback (a synthetic NIC's DMA done, a drop, a local copy)   completion, zerocopy_callback
 904-954   the TX clean-up: ixgbe_clean_tx_irq / mlx5e_poll_tx_cq, free_old_xmit_skbs   nic_clean
 955-997   netem / tbf releasing an skb (sch_netem.c, sch_tbf.c)                        limiter_release, deliver
 998-1210  handle_tx: sendmsg of the packet in service (tun/macvtap)                    worker_step, submit
1211-1334  vhost_zerocopy_signal_used, vhost_add_used_and_signal_n                      signal_used, add_used
1335-1478  vhost_exceeds_maxpend, vhost_get_vq_desc, zcopy_used                         fetch, Heads.exceeds
1479-1552  start_xmit, virtnet_poll_tx (virtio_net.c)                                   guest_event, guest_start_xmit, tx_poll
1553-1767  the guest's qdisc and socket (sock_alloc_send_pskb)                          arrival, to_qdisc, sock_try
1768-1799  the end-of-run checks (bytes conserved)                                      finish
=========  ===========================================================================  ====================================

Events are few and typed, so the loop keeps one next-event time per actor
instead of a general event queue: the guest (``g_next``), the worker
(``w_next``), the open-loop sources (``a_next``, the earliest of the flows'),
the egress limiters (``lim_next``), the coalesced NIC's next clean-up
(``o.clean_t``: its TX ring completes in order, see ``_qdisc_run``), and a
min-heap for the other completions of zero-copy skbs (a synthetic NIC's, which
arrive out of order: those of skbs still queued for the wire wait in submission
order until the wire has finished them, see ``cq``; a drop's; a local copy's).
Rules shared with the plain-Python reference model (:mod:`zclab.model.reference`),
which agrees to the bit:

* simultaneous events run in the order completion, the NIC's clean-up, limiter
  release, worker, guest, arrival; completions at the same time in submission
  order, limiter releases in flow order; one clean-up frees its skbs, and runs
  their callbacks, in ring order, after it has moved the qdisc's skbs into the
  freed descriptors;
* within one event an actor's bookkeeping happens at the event's time; CPU it
  spends (a signal, a used-ring update, a kick, a requeue) delays its next step;
* time-weighted statistics integrate the state between consecutive events.

Statistics are running sums in the output record (the integrals that move at
every event in locals), latency percentiles a fixed log-bucketed histogram
(one more per flow when there are several): memory does not grow with the
number of packets.

Written for speed as well as for reading: one function, so that numba inlines
everything; parameters read from their record where used rather than held in
locals; heads[] and the avail ring as arrays of records (layout.HEAD, DESC),
one base pointer each rather than one per field; array indices masked so that
they are provably non-negative (see NONNEG); per-flow bookkeeping only when
there are several flows; the invariant checks, the end of the run, the
opening of the window and the worker's rare stops marked ``unlikely`` (see
:mod:`.hints`). Where the code takes an unusual shape for speed, a tag such as
``(perf E3)`` names the entry of docs/performance.md ("Why the engine's code
looks as it does") that gives the measurement.
"""

import math

import numpy as np
from numba import njit

from . import heap, rng
from . import layout as L
from .hints import unlikely
from .histogram import bucket_of_bits

INF = math.inf
PAGE_SHIFT = 12  # pages(len) = ceil(len / 4096)
# Every array index below is ANDed with a mask known to be non-negative (built
# with & NONNEG). numba supports negative indices: for an index the compiler
# cannot prove non-negative it emits a compare, a select and keeps the array's
# length live, on every access. The masks cost nothing and remove all of that.
NONNEG = 0x7FFFFFFF

# ids[]: the guest's posted flag and, above it, vhost's count of fetched posts
ID_POSTED, ID_FETCH = 1, 2
# heads[] slot states (the seed marks done with heads[i].len = VHOST_DMA_DONE_LEN)
H_FREE, H_PENDING, H_DONE = 0, 1, 2
# what the worker's pending event (at w_next) does: finish the packet in
# service, start a new handle_tx pass (after a wake-up or a requeue), or go on
# with the same pass (after busy polling)
PH_SERVICE_END, PH_NEW_PASS, PH_RESUME = 0, 1, 2
# what the worker waits for: nothing (running), a kick (idle), the seed's
# tx_poll_start (it spins: see the completion), a completion that queues it (stopped
# on the pending limit), any completion (heads[] full: the model's own stop), or the
# end of busy polling (w_next is then its deadline)
W_RUN, W_IDLE, W_POLL, W_STALL, W_SPAN, W_BUSY = 0, 1, 2, 3, 4, 5
# the worker stopped on the pending limit (or heads span), or on a full device queue
STOP_NONE, STOP_LIMIT, STOP_NIC = 0, 1, 2
# rows of the coalesced NIC's integer matrix (core.run's nq): the TX ring (descriptors,
# length, heads[] index or -1), the host qdisc (length, flow, heads[] index or -1,
# sequence number), and the heads[] indices one clean-up frees
NQ_DESC, NQ_LEN, NQ_IDX, NQ_QLEN, NQ_QFLOW, NQ_QIDX, NQ_QSEQ, NQ_CB, N_NQ = range(9)
# guest vCPU: transmitting, about to run (irq or arrival), queue stopped, nothing to send
G_TX, G_READY, G_BLOCKED, G_IDLE = 0, 1, 2, 3


# --- random draws ------------------------------------------------------------------------------

@njit(inline="always")
def _draw_alias(s, vals, thresh, alias, off, n):
    """Walker's alias method on entries off..off+n of a table, from one 64-bit draw:
    the high 32 bits pick a column i (multiply-shift), the low 32 bits keep i if
    below its threshold, else take its alias. The choice is arithmetic, not a
    branch: the values are random, so a branch would mispredict."""
    r = rng.next_u64(s)
    i = np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32)) & NONNEG
    keep = (np.int64(r & np.uint64(0xFFFFFFFF)) - thresh[(off + i) & NONNEG]) >> 63  # -1: keep i
    a = alias[(off + i) & NONNEG] & NONNEG
    return vals[(off + (a ^ ((a ^ i) & keep))) & NONNEG]


@njit(inline="always")
def _draw_size(s, p, multi, fl_i, f, size_vals, size_thresh, size_alias):
    """One packet size of flow f: uniform, from its table, or its table's next
    entry ('cycle': no draw; the flow's row keeps the position). One flow: its
    row is in the parameter record (flow 0's table starts at 0)."""
    if not multi:
        if p.size_kind == L.SIZE_UNIFORM:
            return p.size_min + int(rng.uniform(s) * (p.size_max - p.size_min + 1))
        if p.size_n == 1:
            return size_vals[0]
        if p.size_kind == L.SIZE_CYCLE:
            return _next_in_cycle(fl_i, 0, size_vals)
        return _draw_alias(s, size_vals, size_thresh, size_alias, 0, p.size_n)
    if fl_i[f, L.FI_SIZE_KIND] == L.SIZE_UNIFORM:
        lo = fl_i[f, L.FI_SIZE_MIN]
        return lo + int(rng.uniform(s) * (fl_i[f, L.FI_SIZE_MAX] - lo + 1))
    n = fl_i[f, L.FI_SIZE_N]
    if n == 1:
        return size_vals[fl_i[f, L.FI_SIZE_OFF] & NONNEG]
    if fl_i[f, L.FI_SIZE_KIND] == L.SIZE_CYCLE:
        return _next_in_cycle(fl_i, f, size_vals)
    return _draw_alias(s, size_vals, size_thresh, size_alias, fl_i[f, L.FI_SIZE_OFF], n)


@njit(inline="always")
def _next_in_cycle(fl_i, f, size_vals):
    """size_dist='cycle': the sizes of flow f's table in turn, from its first."""
    i = fl_i[f, L.FI_CYCLE]
    fl_i[f, L.FI_CYCLE] = i + 1 if i + 1 < fl_i[f, L.FI_SIZE_N] else 0
    return size_vals[(fl_i[f, L.FI_SIZE_OFF] + i) & NONNEG]


@njit(inline="always")
def _draw_dma(s, p, straggler_p, straggler_ns):
    """Completion delay after the wire: the device's TX clean-up, maybe held
    back by a straggler (the flow's probability and delay). ``s`` is the
    generator's state as a record (see ``rs_rec`` in :func:`run`); the worker's
    wire path writes this out (see there): keep the two alike."""
    if p.dma_latency_dist == L.DMA_FIXED:
        d = p.dma_base_ns
    elif p.dma_latency_dist == L.DMA_EXPONENTIAL:
        d = rng.exponential(s, p.dma_base_ns)
    else:
        d = rng.lognormal(s, p.dma_base_ns, p.dma_sigma)
    if straggler_p > 0.0 and rng.uniform(s) < straggler_p:
        d += straggler_ns
    return d


# --- vhost's rules --------------------------------------------------------------------------------

@njit(inline="always")
def _exceeds(p, n_held, span, umask):
    """The pending test of the release: more than the limit outstanding (the seed's
    refcnt > VHOST_MAX_PEND; v4.15's vhost_exceeds_maxpend), or v3.12's equality
    (upend_idx + vq->num - VHOST_MAX_PEND) % UIO_MAXIOV == done_idx, which holds at
    one pending count only (span = upend_idx - done_idx; limit_add = num - max_pend)."""
    if p.max_pend_rule == L.LIMIT_MODULO:
        return ((span + p.modulo_add) & umask) == 0
    return n_held > p.pend_limit


@njit(inline="always")
def _end_spin(o, p, now, spun_since):
    """The seed's tx_poll_start with a writable socket (tap's and macvtap's
    sk_sndbuf is INT_MAX): vhost_poll_start finds POLLOUT and queues the worker at
    once, so it runs handle_tx again and again, busy all along, until a round finds
    a completion to release or a new post. Returns the CPU it burnt (counted now,
    when the spin ends) and when its next round starts (requeue_ns on)."""
    spin = now - spun_since
    o.poll_spin_ns += spin
    return spin + p.requeue_ns, now + p.requeue_ns


@njit(inline="always")
def _end_busy_poll(o, now, w_busy_until):
    """Busy polling ends now (a post, or work queued by a callback): the time it had
    left was counted when it was scheduled; returns that time, to take back."""
    left = w_busy_until - now
    o.busypoll_ns -= left
    return left


@njit(inline="always")
def _callback_queues(p, pending):
    """Whether vhost_zerocopy_callback queues the worker (vhost_poll_queue), given
    the zero-copy skbs still in flight after this one: the count vhost_net_ubuf_put
    returns is that plus vhost's own reference."""
    if p.wake_on_completion == L.WAKE_ALWAYS:
        return True
    if p.wake_on_completion == L.WAKE_NEVER:
        return False
    if p.wake_on_completion == L.WAKE_LE2_OR_16:
        cnt = pending + 2  # v3.8 to v3.13 read the count before the put
        return cnt <= 2 or cnt % 16 == 0
    cnt = pending + 1  # from v3.14: cnt = vhost_net_ubuf_put(ubufs)
    return cnt <= 1 or cnt % 16 == 0


# --- the virtio-net guest ---------------------------------------------------------------------------

@njit(inline="always")
def _vdescs(p, length):
    """Ring descriptors a packet takes without indirect descriptors (config.virtio_descs):
    the virtio-net header (xmit_skb's sg_set_buf), the linear part holding the headers
    (gso_hdr bytes; none if empty) and one per 4 KB page of the rest (skb_to_sgvec)."""
    linear = length if length < p.gso_hdr_bytes else p.gso_hdr_bytes
    return 1 + (1 if linear > 0 else 0) + ((length - linear + 4095) >> PAGE_SHIFT)


@njit(inline="always")
def _sock_try(wmem, sleeping, sndbuf, tsq):
    """The sender of a flow tries to send: sock_alloc_send_pskb sleeps while
    sk_wmem_alloc >= sk_sndbuf (until sock_def_write_space wakes it), and
    tcp_small_queue_check holds while sk_wmem_alloc > the limit. Returns (it may,
    asleep). Scalars only (see _callback_wakes)."""
    if sndbuf > 0:
        if sleeping:
            return False, 1
        if wmem >= sndbuf:
            return False, 1
    return tsq == 0 or wmem <= tsq, 0


@njit(inline="always")
def _sock_wakes(wmem, sleeping, sndbuf):
    """After a free (sock_wfree): sock_def_write_space wakes a sleeping sender once
    sk_wmem_alloc < sk_sndbuf / 2 (sock_writeable). Returns whether it still sleeps."""
    return 1 if sleeping and wmem >= (sndbuf >> 1) else 0


@njit(inline="always")
def _any_room(fl_i, n_flows):
    """Would any flow's next try succeed (_sock_try without its effect)?"""
    for f in range(n_flows):
        sndbuf = fl_i[f, L.FI_SNDBUF]
        wmem = fl_i[f, L.FI_WMEM]
        tsq = fl_i[f, L.FI_TSQ]
        if (sndbuf == 0 or (fl_i[f, L.FI_SLEEP] == 0 and wmem < sndbuf)) and (tsq == 0 or wmem <= tsq):
            return True
    return False


# --- the completion callback ----------------------------------------------------------------------

@njit(inline="always")
def _callback_wakes(o, p, now, pending, w_next, w_phase, w_wait, w_busy_until):
    """The wake-up rule of vhost_zerocopy_callback, in one place for every callback run
    by an event (a completion, the NIC's clean-up), given the zero-copy skbs still in
    flight after it: a spinning seed worker (tx_poll_start) sees it on its next round; a
    worker stopped because heads[] was full (the model's own stop) runs again; otherwise
    only if the release's callback queues it (_callback_queues), which also ends busy
    polling (vhost_has_work). Scalars and the run record only: no reference counting.
    Returns the worker's new (w_next, w_phase, w_wait, w_busy_until) and the CPU time
    to add to its busy time. The heap completion in ``run`` writes the same rule out
    (perf E1): keep the two alike."""
    if w_wait == W_RUN:
        return w_next, w_phase, w_wait, w_busy_until, 0.0
    if w_wait == W_POLL:
        busy, nxt = _end_spin(o, p, now, w_busy_until)
        return nxt, PH_NEW_PASS, W_RUN, nxt, busy
    if w_wait == W_SPAN:
        return max(now + p.wake_latency_ns, w_busy_until), PH_NEW_PASS, W_RUN, w_busy_until, 0.0
    if _callback_queues(p, pending):
        if w_wait == W_BUSY:
            return now, PH_NEW_PASS, W_RUN, now, -_end_busy_poll(o, now, w_busy_until)
        return max(now + p.wake_latency_ns, w_busy_until), PH_NEW_PASS, W_RUN, w_busy_until, 0.0
    return w_next, w_phase, w_wait, w_busy_until, 0.0


# --- the devices ---------------------------------------------------------------------------------

@njit(inline="always")
def _wire_bytes(p, length):
    """Bytes a frame occupies on the wire: a GSO frame larger than one segment goes out
    as ceil((len - gso_hdr) / gso_size) segments (skb_gso_segment, or the NIC's TSO),
    each carrying the headers again; every segment its preamble, FCS and gap."""
    if p.gso_size > 0 and length > p.gso_size + p.gso_hdr_bytes:
        segs = (length - p.gso_hdr_bytes + p.gso_size - 1) // p.gso_size
        return length + (segs - 1) * p.gso_hdr_bytes + segs * p.wire_overhead_bytes
    return length + p.wire_overhead_bytes


@njit(inline="always")
def _descs(length):
    """TX descriptors an skb takes: a context descriptor and one per 4 KB page of its
    frame (ixgbe_tx_map maps each fragment; a zero-copy skb's fragments are the
    guest's pages)."""
    return 1 + ((length + 4095) >> PAGE_SHIFT)


@njit(inline="always")
def _ring_fits(o, p, length):
    """Does the TX ring take this skb now? Its descriptors must be free, and with byte
    queue limits the bytes in the ring must not exceed the limit (netdev_tx_sent_queue
    stops the queue once dql_avail < 0, i.e. when they do)."""
    return o.rg_desc + _descs(length) <= p.tx_ring_size and (p.bql_limit_bytes == 0 or o.rg_bytes <= p.bql_limit_bytes)


@njit(inline="always")
def _qdisc_run(o, p, now, nic_t, nic_i, nic_head, nic_n, nic_free, nmask, nq, qdmask, rg_t, rgmask,
               tracing, trace_f):
    """qdisc_run -> dev_hard_start_xmit: the qdisc's skbs go, in order, into the TX ring
    while it has room (the driver stops the queue when the next one does not fit:
    netif_tx_stop_queue). In the ring an skb goes on the wire in order at line rate
    and its descriptors complete (a CQE) when its last bit has left. Interrupt
    coalescing: the interrupt fires at the first completion not yet cleaned plus
    tx_coalesce_usecs, or at the tx_max_coalesced_frames-th, if sooner; the clean-up
    runs tx_clean_latency_ns later. Returns the new (nic_n, nic_free)."""
    while o.qd_n > 0:
        q = o.qd_head & qdmask
        length = nq[NQ_QLEN, q]
        if not _ring_fits(o, p, length):
            break
        o.qd_head = (o.qd_head + 1) & qdmask
        o.qd_n -= 1
        start = nic_free if nic_free > now else now
        done = start + _wire_bytes(p, length) * p.wire_ns_per_byte
        nic_free = done
        tail = (nic_head + nic_n) & nmask
        nic_t[0, tail] = start
        nic_t[1, tail] = done
        nic_i[0, tail] = length
        nic_i[1, tail] = nq[NQ_QFLOW, q]
        nic_n += 1
        e = (o.rg_head + o.rg_n) & rgmask
        d = _descs(length)
        rg_t[e] = done
        nq[NQ_DESC, e] = d
        nq[NQ_LEN, e] = length
        nq[NQ_IDX, e] = nq[NQ_QIDX, q]  # the heads[] index of a zero-copy skb, -1 otherwise
        o.rg_n += 1
        o.rg_desc += d
        o.rg_bytes += length
        # (written out again in the worker's sendmsg: keep the two alike)
        if o.rg_n == 1:
            o.irq_t = done + p.tx_coalesce_ns  # the first completion not yet cleaned starts the timer
        if p.tx_max_coalesced_frames > 0 and o.rg_n == p.tx_max_coalesced_frames and done < o.irq_t:
            o.irq_t = done  # ... and the frame count may fire it sooner
        o.clean_t = o.irq_t + p.tx_clean_latency_ns
        if unlikely(tracing):
            k = nq[NQ_QSEQ, q] - p.warmup_packets
            if k >= 0 and k < p.trace_packets:
                trace_f[k, L.T_WIRE_START] = start
                trace_f[k, L.T_WIRE_DONE] = done
    return nic_n, nic_free


@njit(inline="always")
def _reap(o, fs, multi, q_t, q_i, head, n, mask, upto, t_start, local):
    """skbs a device has finished by ``upto`` leave its queue; goodput counts those
    handled wholly within the measured window (sent on the wire, or received by
    the local socket). A device's queue is two arrays: times (start, done) and
    (length, flow) per skb. Returns the new (head, n)."""
    while n > 0 and q_t[1, head & mask] <= upto:
        if q_t[0, head & mask] >= t_start:
            length = q_i[0, head & mask]
            if local:
                o.local_packets += 1
                o.local_bytes += length
            else:
                o.wire_packets += 1
                o.wire_bytes += length
            if multi:
                f = q_i[1, head & mask]
                fs[f, L.FR_DELIVERED] += 1
                fs[f, L.FR_DELIVERED_BYTES] += length
        head = (head + 1) & mask
        n -= 1
    return head, n


@njit(inline="always")
def _deliver(t, length, f, zc, seq, p, fl_i, sp, sns, rs, o,
             nic_t, nic_i, nic_head, nic_n, nic_free, loc_t, loc_i, loc_head, loc_n, loc_free, mask,
             tracing, trace_f, extended):
    """An skb of flow f (straggler probability sp and delay sns) reaches its
    destination at time t. On the wire: in order at line rate; a zero-copy skb
    completes when the device is done with it. To a local socket (guest-to-host)
    from an egress limiter: the host cannot hand guest pages to a receiver, so a
    zero-copy skb is copied at delivery (skb_orphan_frags_rx -> skb_copy_ubufs)
    and completes then, its callback reporting failure (the caller marks heads[]
    so: tx_zcopy_err). Straight from sendmsg, the worker has already copied it
    (the caller passes zc = 0). Returns the new (nic_n,
    nic_free, loc_n, loc_free) and when a zero-copy skb completes (the caller
    queues the completion: with the heap in here, numba would count references
    to it on every call)."""
    t_zc = INF
    k = seq - p.warmup_packets if tracing else -1
    if not extended or fl_i[f, L.FI_DEST] == L.DEST_WIRE:
        start = nic_free if nic_free > t else t
        done = start + _wire_bytes(p, length) * p.wire_ns_per_byte
        nic_free = done
        tail = (nic_head + nic_n) & mask
        nic_t[0, tail] = start
        nic_t[1, tail] = done
        nic_i[0, tail] = length
        nic_i[1, tail] = f
        nic_n += 1
        if zc:
            t_zc = done + _draw_dma(rs, p, sp, sns)
    else:
        start = loc_free if loc_free > t else t
        copy = p.copy_ns_per_byte * length if zc else 0.0
        done = start + copy + p.local_rx_ns_per_packet
        if sp > 0.0 and rng.uniform(rs) < sp:
            done += sns  # a slow receiver holds this one
        loc_free = done
        tail = (loc_head + loc_n) & mask
        loc_t[0, tail] = start
        loc_t[1, tail] = done
        loc_i[0, tail] = length
        loc_i[1, tail] = f
        loc_n += 1
        o.local_cpu_ns += copy + p.local_rx_ns_per_packet
        if zc:
            t_zc = start + copy
    if unlikely(tracing) and k >= 0 and k < p.trace_packets:
        trace_f[k, L.T_WIRE_START] = start
        trace_f[k, L.T_WIRE_DONE] = done
    return nic_n, nic_free, loc_n, loc_free, t_zc


@njit(inline="always")
def _lim_min(p, lim_n, lim_head, lim_rel, lim_mask):
    """The earliest release of any egress limiter, and its flow (INF, -1 if none)."""
    t = INF
    who = -1
    for f in range(p.n_flows):
        if lim_n[f] > 0:
            r = lim_rel[f, lim_head[f] & lim_mask]
            if r < t:
                t = r
                who = f
    return t, who


@njit(inline="always")
def _open_window(o, n_held, fs, ff):
    """The last warm-up packet is returned: every running sum restarts now
    (per-packet sums only ever count packets returned after this)."""
    o.wire_packets = 0
    o.wire_bytes = 0
    o.local_packets = 0
    o.local_bytes = 0
    o.callback_ns = 0.0
    o.stall_ns = 0.0
    o.nic_wait_ns = 0.0
    o.ring_full_ns = 0.0
    o.qdisc_area = 0.0
    o.qdisc_delay_sum = 0.0
    o.stack_cpu_ns = 0.0
    o.local_cpu_ns = 0.0
    o.stalls = 0
    o.span_stalls = 0
    o.signals = 0
    o.kicks = 0
    o.requeues = 0
    o.fallbacks = 0
    o.arrivals = 0
    o.drops = 0
    o.egress_drops = 0
    o.nic_drops = 0
    o.qdisc_dequeued = 0
    o.release_batches = 0
    o.used_updates = 0
    o.poll_spin_ns = 0.0
    o.busypoll_ns = 0.0
    o.duplicates = 0
    o.guest_bad_ring = 0
    o.guest_early_free = 0
    o.guest_avail_overruns = 0
    o.sock_wait_ns = 0.0
    o.sock_drops = 0
    o.tx_polls = 0
    o.outstanding_max = n_held
    fs[:, :] = 0
    ff[:, :] = 0.0


def _pow2_at_least(n):
    c = 1
    while c < n:
        c *= 2
    return c


_pow2 = njit(inline="always")(_pow2_at_least)


@njit(cache=True)
def run(params, fl_i, fl_f, flow_thresh, flow_alias, size_vals, size_thresh, size_alias,
        out_run, hist, flow_res_i, flow_res_f, flow_hist, trace_f, trace_i,
        extended=False, open_loop=False, ooo=False):
    """Simulate one configuration; returns the status (layout.STATUS_*).

    Inputs (zclab.model.simulation.kernel_args builds them from a Config; F flows, S
    entries in all the flows' size tables, T traced packets, B = histogram.N_BUCKETS):

    ===============  ===============  =======  ============================================
    argument         shape            dtype    what
    ===============  ===============  =======  ============================================
    params           (1,)             layout.P the parameters, named as the Config's fields
    fl_i, fl_f       (F, N_FI/N_FF)   i8, f8   one row per flow (layout.FI_*, FF_*); the
                                               columns after FI_TSQ are the run's own state
    flow_thresh,     (F,)             i8       the flows' shares as an alias table
    flow_alias
    size_vals,       (S,)             i8       every flow's sizes as alias tables; a
    size_thresh,                               flow's row gives its offset and length
    size_alias
    ===============  ===============  =======  ============================================

    Outputs, written in place (zeroed by the caller):

    ===============  ===============  =======  ============================================
    out_run          (1,)             RUN      clock, counters and the window's sums
    hist             (B,)             i8       latency histogram (log buckets)
    flow_res_i/_f    (F, 8) / (F, 1)  i8, f8   per-flow counts and latency sums
    flow_hist        (F, B) or (1,1)  i8       per-flow histograms (several flows only)
    trace_f/_i       (T, 7) / (T, 6)  f8, i8   per-packet times and fields (TRACE_F/_I)
    ===============  ===============  =======  ============================================

    ``extended``, ``open_loop`` and ``ooo`` select the compiled variant: omitted,
    each is a compile-time False (zclab.model.simulation.variant picks them).
    """
    # Called without ``extended``, ``open_loop`` or ``ooo``, the argument is a
    # compile-time False and numba builds (and caches) a variant without that
    # machinery: the features a plain run does not use (the trace, several flows,
    # egress limiters, the local receiver, batched copies, the coalesced NIC); the
    # open-loop sources and the guest qdisc; the out-of-order release (and, with
    # ``ooo``, the in-order one) (perf E2). Parameters are read from the record where
    # they are used: a load either way, but not a value the loop carries in a register.
    p = params[0]
    # The coalesced NIC and a dropping qdisc run only in the extended variant (simulate
    # sends them there): in the plain one these fold to constants and the wire path is the
    # synthetic NIC's alone (perf E3)
    coal = extended and p.coalesced != 0
    bp = (not extended) or p.backpressure != 0
    if open_loop != p.poisson or ooo != p.out_of_order:
        raise ValueError("core.run: open_loop and ooo must be params.poisson and params.out_of_order (simulate passes them)")
    if p.duplicate_head_p > 0.0 and not extended:
        raise ValueError("core.run: an adversarial guest (duplicate_head_p > 0) needs extended=True (simulate passes it)")
    # The trace is recorded in the extended variant, behind a runtime test: a variant
    # of its own would double the variants to compile (perf E4)
    tracing = extended and p.trace_packets > 0
    if p.trace_packets > 0 and not extended:
        raise ValueError("core.run: a trace (trace_packets > 0) needs extended=True (simulate passes it)")
    o = out_run[0]  # every running sum lives here (see layout.RUN)
    ring = p.ring_size
    umask = (p.uio_maxiov - 1) & NONNEG
    idmask = (ring - 1) & NONNEG  # descriptor ids are below ring_size
    multi = extended and p.n_flows > 1  # per-flow bookkeeping only when there are several flows
    fs = flow_res_i
    ff = flow_res_f

    rs = np.empty(4, np.uint64)
    rng.seed(rs, p.seed)
    fl_i[:, L.FI_CYCLE] = 0  # 'cycle' size tables start at their first entry
    # The virtio-net guest's rules (model.md section 1), in the extended variant only: gx any
    # of them, napi_tx, the flows' sockets, and indirect descriptors (one per packet)
    gx = extended and p.gx != 0
    napi = gx and p.guest_napi_tx != 0
    socks = gx and p.socks != 0
    for col in (L.FI_WMEM, L.FI_SLEEP, L.FI_ROOM, L.FI_BL_HEAD, L.FI_BL_N):
        fl_i[:, col] = 0
    # The same state seen as a record, for the inlined helpers that branch
    # (_deliver, _draw_dma): numba counts references, atomically, to an array
    # such a helper is handed, but not to a record (perf E5).
    # Only the variant with _deliver takes the view (a dummy record otherwise).
    rs_rec = rs.view(L.RNG)[0] if extended else np.zeros(1, L.RNG)[0]
    hist[:] = 0

    # ---- guest driver (virtio_net): descriptor ids, avail and used rings ----------------
    g_free_ids = np.empty(ring, np.int64)
    for i in range(ring):
        g_free_ids[i] = ring - 1 - i
    g_nfree = ring
    o.g_dfree = ring  # free descriptors (gx: a packet may take several)
    # per descriptor id, what its reclaim gives back: descriptors, flow, truesize (gx)
    gid = np.zeros((3, ring if gx else 1), np.int64)
    # the flows' sends waiting for room in their socket (open loop): length, arrival time
    bcap = _pow2(p.qdisc_len + 1) if socks and open_loop else 1
    bmask = (bcap - 1) & NONNEG
    bl_len = np.zeros((p.n_flows, bcap), np.int64)
    bl_arr = np.zeros((p.n_flows, bcap), np.float64)
    # Per descriptor id, packed in one word: bit 0, vq->data[id] != NULL (the guest
    # thinks id is posted); the rest, ID_FETCH per post of it vhost has fetched and
    # not yet returned. One load and one store per use instead of two arrays.
    ids = np.zeros(ring, np.int64)
    acap = ring  # the avail ring: at most vring.num unconsumed entries
    amask = (acap - 1) & NONNEG
    avail = np.zeros(acap, L.DESC)  # its entries (layout.DESC)
    av_head = 0
    av_n = 0
    ucap = 4 * ring if extended else 1  # the plain variant keeps no used ring (see vhost_add_used)
    umask_used = (ucap - 1) & NONNEG
    used_ids = np.empty(ucap, np.int64)
    used_head = 0
    used_n = 0
    qcap = _pow2(p.qdisc_len + 1)  # guest qdisc (open loop): sizes, flows, arrival times
    qmask = (qcap - 1) & NONNEG
    q_len = np.empty(qcap, np.int64)
    q_flow = np.zeros(qcap, np.int64)
    q_arr = np.empty(qcap, np.float64)
    q_head = 0
    q_n = 0

    # ---- vhost zero-copy bookkeeping: heads[] of UIO_MAXIOV entries ----------------------
    # Indices are absolute (slot = idx & umask) so that spans need no modular arithmetic.
    heads = np.zeros(p.uio_maxiov, L.HEAD)  # vq->heads[]: one record per slot (layout.HEAD)
    upend_idx = 0  # next slot to record
    done_idx = 0  # oldest held slot
    n_held = 0  # heads recorded and not yet returned: "outstanding"
    n_done = 0  # of those, done
    prefix_end = 0  # in order: end of the done run that starts at done_idx
    done_list = np.empty(p.uio_maxiov, np.int64)  # out of order: done, not yet released, in completion order
    n_done_list = 0
    hp = np.empty(2 * p.uio_maxiov, np.float64)  # completions in flight: (time, key) min-heap
    hp[0] = INF  # an empty heap's top (see heap.pop)
    hp_n = 0
    # Completions of zero-copy skbs on the wire wait in submission order, with the
    # time the wire finishes them, and enter the heap only once that time is not
    # after the heap's earliest (at a push, or after a pop). A completion comes
    # after its skb's wire time, and wire times grow in submission order, so the
    # heap's top is still the earliest completion of all, ties included: the same
    # order of events. Behind a busy wire (64 KB packets) the heap holds two or three
    # completions instead of the hundred queued behind it, and a pop sifts one level
    # instead of seven (perf E6). The FIFO's head and count live in the run record
    # (o.cq_head, o.cq_n), not in locals (perf E7).
    cqcap = _pow2(2 * p.uio_maxiov)
    cqmask = (cqcap - 1) & NONNEG
    cq = np.empty((cqcap, 3), np.float64)  # (wire done, completion time, key)
    o.cq_head = 0
    o.cq_n = 0
    # vhost_net_tx_select_zcopy (2012): packets sent since the last reset and the
    # zero-copy skbs among them that were copied after all (net->tx_packets, tx_zcopy_err)
    tx_packets = 0
    tx_zcopy_err = 0
    # copied packets waiting for a used-ring update (copy mode, tx_batch)
    bcap = _pow2(p.tx_batch)
    batch = np.zeros(bcap, L.DESC)
    b_n = 0

    # ---- devices: the NIC (skbs not yet wholly on the wire) and the local receiver ---------
    # (the coalesced NIC's ring and qdisc feed the wire: room for both, see _qdisc_run)
    ncap = _pow2(p.txqueuelen + (p.tx_ring_size if coal else 0) + 1)
    nmask = (ncap - 1) & NONNEG
    nic_t = np.empty((2, ncap), np.float64)  # start and end of each skb's transmission
    nic_i = np.zeros((2, ncap), np.int64)  # its length and flow
    nic_head = 0
    nic_n = 0
    nic_free = 0.0  # when the wire is free
    lmask = nmask  # the local receiver queue has the same capacity
    loc_t = np.empty((2, ncap), np.float64)
    loc_i = np.zeros((2, ncap), np.int64)
    loc_head = 0
    loc_n = 0
    loc_free = 0.0
    # The coalesced NIC (model.md section 1): the host qdisc in front of the TX ring
    # (length, flow, heads[] index of a zero-copy skb or -1, sequence number), the ring
    # (each skb's completion time; its descriptors, length and heads[] index), and the
    # zero-copy skbs one clean-up frees, in ring order. Their heads and counts live in
    # the run record (o.qd_*, o.rg_*), as cq's do.
    # The integers of all three in one matrix (rows NQ_*): each array the loop keeps is
    # a base pointer, a shape and strides live across it (perf E8).
    qdcap = _pow2(p.txqueuelen + 1) if coal else 1
    qdmask = (qdcap - 1) & NONNEG
    rgcap = _pow2(p.tx_ring_size + 1) if coal else 1
    rgmask = (rgcap - 1) & NONNEG
    rg_t = np.empty(rgcap, np.float64)
    nq = np.empty((N_NQ, max(qdcap, rgcap)), np.int64)
    o.rg_head = 0
    o.rg_n = 0
    o.rg_desc = 0
    o.rg_bytes = 0
    o.irq_t = INF
    o.clean_t = INF
    o.qd_head = 0
    o.qd_n = 0
    # egress limiters, one FIFO per flow: what each holds and when it lets it go
    lcap = 1
    n_limited = 0
    for f in range(p.n_flows if extended else 0):
        if fl_i[f, L.FI_LIMITED]:
            n_limited += 1
            lcap = max(lcap, _pow2(fl_i[f, L.FI_EQUEUE]))
    any_limiter = extended and n_limited > 0
    lim_mask = (lcap - 1) & NONNEG
    lim_rel = np.empty((p.n_flows, lcap), np.float64)
    lim_len = np.empty((p.n_flows, lcap), np.int64)
    lim_slot = np.empty((p.n_flows, lcap), np.int64)
    lim_zc = np.empty((p.n_flows, lcap), np.int64)
    lim_seq = np.empty((p.n_flows, lcap), np.int64)
    lim_head = np.zeros(p.n_flows, np.int64)
    lim_n = np.zeros(p.n_flows, np.int64)
    lim_free = np.zeros(p.n_flows, np.float64)
    lim_next = INF
    lim_who = -1

    # ---- actors ----------------------------------------------------------------------------
    now = 0.0
    posted = 0  # avail entries written: the next sequence number
    returned = 0  # used entries written
    g_state = G_READY  # starts its first transmit at t = 0
    g_stopped = False  # blocked for lack of descriptors (ring_full_ns)
    g_qstop = False  # netif_stop_subqueue'd: a post left fewer than stop_free descriptors
    g_used_event = 0  # the guest wants an interrupt once more than this many are used
    o.g_cb = False  # napi_tx: the TX callback is armed
    o.g_poll = False  # napi_tx: a TX interrupt's virtnet_poll_tx is due at o.g_poll_t
    o.g_poll_t = INF
    o.g_sockwait = False  # the bulk sender waits for room in a socket
    o.g_held = False  # a drawn packet (g_len, g_flow) waits until it fits
    g_next = 0.0
    g_busy_until = 0.0
    g_id = 0
    g_len = 0
    g_flow = 0
    a_next = INF  # the earliest arrival of any flow (open loop), and its flow
    a_flow = 0
    a_next_f = np.full(p.n_flows, INF)
    flow_ids = np.arange(p.n_flows)
    if open_loop:
        g_state = G_IDLE
        g_next = INF
        for f in range(p.n_flows):
            a_next_f[f] = rng.exponential(rs, fl_f[f, L.FF_GAP])
            if a_next_f[f] < a_next:
                a_next = a_next_f[f]
                a_flow = f

    w_next = INF
    w_phase = PH_NEW_PASS
    w_wait = W_IDLE  # waits for a kick
    w_stop = STOP_NONE
    w_busy_until = 0.0
    pass_bytes = 0
    pass_pkts = 0
    busy_polled = False  # this encounter with an empty avail ring has busy-polled already
    s_id = 0  # the packet in service
    s_len = 0
    s_flow = 0
    s_post = 0.0
    s_seq = 0
    s_path = L.PATH_COPY
    s_slot = -1  # its absolute heads index, -1 if not in heads[]

    # ---- statistics of the measured window -------------------------------------------------
    t_start = 0.0
    # byte conservation: posted = fetched + in avail; fetched = submitted + in service
    bytes_posted = 0
    bytes_fetched = 0
    bytes_submitted = 0

    status = L.STATUS_DONE
    out_area = hol_area = inflight_area = worker_busy = guest_busy = 0.0
    events = 0
    finished = False
    # Set by a check in this event, counted at its end. In the record, not a local:
    # a local assigned at seven checks across the loop is a value the compiler
    # merges and carries through every branch (perf E9).
    o.violation = 0

    fuse = False  # the worker's step at the current instant is provably the next event
    while True:
        # ---- next event: completion, limiter, worker, guest, arrival (ties in that order) --
        t_c = hp[0]  # INF when the heap is empty (heap.pop leaves it so)
        if coal and o.clean_t < t_c:  # the NIC's clean-up (INF when none is due): also completions
            t_c = o.clean_t
        if fuse:
            # Same instant, nothing due before it: skip the selection and the
            # integration over a zero interval (it would add exact zeros).
            t = now
            fuse = False
        else:
            t_host = t_c if t_c <= lim_next else lim_next
            if w_next < t_host:
                t_host = w_next
            if g_next < t_host:
                t_host = g_next
            t = t_host if not open_loop or t_host <= a_next else a_next
            if unlikely(t_host == INF or t < now):  # rarely: one test for both
                if t_host == INF and (t == INF or not open_loop or g_state != G_IDLE or (
                        socks and not _any_room(fl_i, p.n_flows))):
                    # nothing can ever wake anyone (model.md section 2); open loop, an idle guest
                    # waits for an arrival, unless no flow's socket can ever take one, or no
                    # arrival is due either (never dispatch at INF: the heap would pop empty)
                    status = L.STATUS_DEADLOCK
                    break
                if t < now:
                    o.violation = L.V_TIME_BACKWARDS

            # ---- integrate the state over (now, t] ---------------------------------------
            # The three sums that move at nearly every event are locals (the compiled
            # loop keeps them in stack slots, not registers: it has too many live
            # values); the other three behind one branch, taken while the ring is full or
            # the worker waits (not rare: 45% of the time of an IMIX run in order, nearly
            # all of a 64 KB one). Busy times are added when a busy interval is scheduled
            # (see worker_busy below).
            dt = t - now
            out_area += n_held * dt
            if not ooo:  # no head-of-line blocking out of order
                hol_area += (n_done - (prefix_end - done_idx)) * dt
            inflight_area += (posted - returned) * dt
            if g_stopped or w_stop != STOP_NONE:  # one test for all three
                if g_stopped:
                    o.ring_full_ns += dt
                if w_stop == STOP_LIMIT:
                    o.stall_ns += dt
                elif w_stop == STOP_NIC:
                    o.nic_wait_ns += dt
            if open_loop:
                o.qdisc_area += q_n * dt
            if gx and o.g_sockwait:
                o.sock_wait_ns += dt
            now = t
        events += 1
        if unlikely(events > p.max_events):
            status = L.STATUS_MAX_EVENTS
            break

        guest_try = False  # the guest looks for its next packet at the end of this event
        guest_ready = now  # when it can start (after a kick's cost)
        posted_now = False  # (napi_tx) this guest event posted a packet ...
        polled = False  # ... ran a TX interrupt's virtnet_poll_tx
        if t == t_c:
            if not coal or hp[0] == t:
                # ---- a completion: a synthetic NIC's DMA done, an skb dropped or copied:
                # vhost_zerocopy_callback ----------------------------------------------------
                idx = heap.top_key(hp)
                hp_n = heap.pop(hp, hp_n)
                # admit the wire's completions that may now be the earliest (see cq)
                while o.cq_n > 0 and cq[o.cq_head & NONNEG, 0] <= hp[0]:
                    hp_n = heap.push(hp, hp_n, cq[o.cq_head & NONNEG, 1], cq[o.cq_head & NONNEG, 2])
                    o.cq_head = (o.cq_head + 1) & cqmask
                    o.cq_n -= 1
                slot = idx & umask
                if unlikely(heads[slot].state != H_PENDING):
                    o.violation = L.V_COMPLETION_NOT_PENDING
                heads[slot].state = H_DONE
                n_done += 1
                k = heads[slot].seq - p.warmup_packets if tracing else -1
                if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                    trace_f[k, L.T_DMA_DONE] = now
                if ooo:
                    done_list[n_done_list & NONNEG] = idx
                    n_done_list += 1
                elif idx == prefix_end:
                    while prefix_end < upend_idx and heads[prefix_end & umask].state == H_DONE:
                        prefix_end += 1
                o.callback_ns += p.callback_ns
                if w_wait != W_RUN:
                    if w_wait == W_POLL:
                        busy, w_next = _end_spin(o, p, now, w_busy_until)
                        worker_busy += busy
                        w_busy_until = w_next
                        w_phase = PH_NEW_PASS
                        w_wait = W_RUN
                    elif w_wait == W_SPAN:
                        # heads[] was full (the model's stop, no kernel's): any completion frees it
                        w_next = max(now + p.wake_latency_ns, w_busy_until)
                        w_phase = PH_NEW_PASS
                        w_wait = W_RUN
                    elif _callback_queues(p, n_held - n_done):
                        if w_wait == W_BUSY:
                            # vhost_has_work ends busy polling; the queued pass runs at once
                            worker_busy -= _end_busy_poll(o, now, w_busy_until)
                            w_next = now
                            w_busy_until = now
                        else:  # stopped on the limit, or waiting for a kick
                            w_next = max(now + p.wake_latency_ns, w_busy_until)
                        w_phase = PH_NEW_PASS
                        w_wait = W_RUN
            else:
                # ---- the NIC's TX interrupt has fired; its clean-up runs now (ixgbe_poll ->
                # ixgbe_clean_tx_irq, mlx5e_napi_poll -> mlx5e_poll_tx_cq): every skb whose
                # descriptors are done is freed, in ring order (napi_consume_skb; a zero-copy
                # skb's ubuf callback runs as it is freed, skb_zcopy_clear)
                n_cb = 0
                while o.rg_n > 0 and rg_t[o.rg_head & rgmask] <= now:
                    e = o.rg_head & rgmask
                    o.rg_desc -= nq[NQ_DESC, e]
                    o.rg_bytes -= nq[NQ_LEN, e]
                    if nq[NQ_IDX, e] >= 0:
                        nq[NQ_CB, n_cb & NONNEG] = nq[NQ_IDX, e]
                        n_cb += 1
                    o.rg_head = (o.rg_head + 1) & rgmask
                    o.rg_n -= 1
                # the next interrupt counts from the oldest completion not yet cleaned
                o.irq_t = INF
                if o.rg_n > 0:
                    o.irq_t = rg_t[o.rg_head & rgmask] + p.tx_coalesce_ns
                    if p.tx_max_coalesced_frames > 0 and o.rg_n >= p.tx_max_coalesced_frames:
                        c_f = rg_t[(o.rg_head + p.tx_max_coalesced_frames - 1) & rgmask]
                        if c_f < o.irq_t:
                            o.irq_t = c_f
                o.clean_t = o.irq_t + p.tx_clean_latency_ns
                # netif_tx_wake_queue: the qdisc's skbs go into the freed descriptors
                nic_head, nic_n = _reap(o, fs, multi, nic_t, nic_i, nic_head, nic_n, nmask, now, t_start, False)
                nic_n, nic_free = _qdisc_run(o, p, now, nic_t, nic_i, nic_head, nic_n, nic_free, nmask, nq, qdmask,
                                             rg_t, rgmask, tracing, trace_f)
                for j in range(n_cb):
                    # vhost_zerocopy_callback of each freed zero-copy skb, in ring order (the
                    # completion above, written out again: see sync in the worker's step)
                    idx = nq[NQ_CB, j & NONNEG]
                    slot = idx & umask
                    if unlikely(heads[slot].state != H_PENDING):
                        o.violation = L.V_COMPLETION_NOT_PENDING
                    heads[slot].state = H_DONE
                    n_done += 1
                    k = heads[slot].seq - p.warmup_packets if tracing else -1
                    if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                        trace_f[k, L.T_DMA_DONE] = now
                    if ooo:
                        done_list[n_done_list & NONNEG] = idx
                        n_done_list += 1
                    elif idx == prefix_end:
                        while prefix_end < upend_idx and heads[prefix_end & umask].state == H_DONE:
                            prefix_end += 1
                    o.callback_ns += p.callback_ns
                    w_next, w_phase, w_wait, w_busy_until, busy = _callback_wakes(
                        o, p, now, n_held - n_done, w_next, w_phase, w_wait, w_busy_until)
                    worker_busy += busy

        elif extended and t == lim_next:
            # ---- an egress limiter lets an skb go on to its destination ---------------------
            f = lim_who
            e = lim_head[f] & lim_mask
            nic_head, nic_n = _reap(o, fs, multi, nic_t, nic_i, nic_head, nic_n, nmask, now, t_start, False)
            loc_head, loc_n = _reap(o, fs, multi, loc_t, loc_i, loc_head, loc_n, lmask, now, t_start, True)
            to_ring = fl_i[f, L.FI_DEST] != L.DEST_LOCAL and coal
            if fl_i[f, L.FI_DEST] == L.DEST_LOCAL and loc_n >= p.txqueuelen:
                # the device queue is full: the qdisc keeps the skb until the device
                # has finished its oldest one (netif_tx_stop_queue backpressure)
                lim_rel[f, e] = loc_t[1, loc_head & lmask]
            elif to_ring and (o.qd_n > 0 or not _ring_fits(o, p, lim_len[f, e])):
                # the driver has stopped the queue (a full TX ring): the limiter, which is
                # this flow's qdisc, keeps the skb until the ring's next clean-up
                lim_rel[f, e] = o.clean_t
            elif fl_i[f, L.FI_DEST] != L.DEST_LOCAL and not coal and nic_n >= p.txqueuelen:
                lim_rel[f, e] = nic_t[1, nic_head & nmask]
            else:
                if to_ring:
                    q = (o.qd_head + o.qd_n) & qdmask
                    nq[NQ_QLEN, q] = lim_len[f, e]
                    nq[NQ_QFLOW, q] = f
                    nq[NQ_QIDX, q] = lim_slot[f, e] if lim_zc[f, e] else -1
                    nq[NQ_QSEQ, q] = lim_seq[f, e]
                    o.qd_n += 1
                    nic_n, nic_free = _qdisc_run(o, p, now, nic_t, nic_i, nic_head, nic_n, nic_free, nmask, nq,
                                                 qdmask, rg_t, rgmask, tracing, trace_f)
                else:
                    nic_n, nic_free, loc_n, loc_free, t_zc = _deliver(
                        now, lim_len[f, e], f, lim_zc[f, e], lim_seq[f, e], p, fl_i, fl_f[f, L.FF_STRAGGLER_P],
                        fl_f[f, L.FF_STRAGGLER_NS], rs_rec, o, nic_t, nic_i, nic_head, nic_n, nic_free, loc_t, loc_i,
                        loc_head, loc_n, loc_free, nmask, tracing, trace_f, extended)
                    if lim_zc[f, e]:
                        hp_n = heap.push(hp, hp_n, t_zc, lim_slot[f, e])
                        if fl_i[f, L.FI_DEST] == L.DEST_LOCAL:
                            heads[lim_slot[f, e] & umask].failed = 1  # copied at delivery
                lim_head[f] = (lim_head[f] + 1) & lim_mask
                lim_n[f] -= 1
                # the next one was due when it was queued, but not before this one left
                if lim_n[f] > 0 and lim_rel[f, lim_head[f] & lim_mask] < now:
                    lim_rel[f, lim_head[f] & lim_mask] = now
            lim_next, lim_who = _lim_min(p, lim_n, lim_head, lim_rel, lim_mask)

        elif t == w_next:
            # ---- vhost worker: one step of handle_tx -------------------------------------
            w_next = INF
            w_stop = STOP_NONE
            w_wait = W_RUN
            t_w = now  # when the worker's next packet can start (signals cost it CPU)
            requeue = False
            if w_phase == PH_SERVICE_END:
                # sendmsg returns: the skb leaves vhost, through the flow's egress
                # limiter if it has one, to the NIC or to a local socket
                bytes_submitted += s_len
                o.stack_cpu_ns += p.host_stack_ns_per_packet + p.host_stack_ns_per_byte * s_len  # tap, bridge, driver
                k = s_seq - p.warmup_packets if tracing else -1
                if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                    trace_f[k, L.T_SUBMIT] = now
                zc = 1 if s_path == L.PATH_ZEROCOPY else 0
                sync = False  # the skb was freed inside sendmsg: its callback has run
                if extended and p.select_zcopy:
                    # vhost_net_tx_packet: every 1024 packets the error count starts again
                    tx_packets += 1
                    if tx_packets >= 1024:
                        tx_packets = 0
                        tx_zcopy_err = 0
                if any_limiter and fl_i[s_flow, L.FI_LIMITED]:
                    if lim_n[s_flow] >= fl_i[s_flow, L.FI_EQUEUE]:
                        # the limiter's queue is full: dropped, which frees the skb at once
                        o.egress_drops += 1
                        if multi:
                            fs[s_flow, L.FR_EGRESS_DROPS] += 1
                        if zc:
                            hp_n = heap.push(hp, hp_n, now, s_slot)
                    else:
                        # netem_enqueue: time_to_send = max(the last skb's, now + delay)
                        # + the skb's time at the rate (tbf: delay 0)
                        lf = lim_free[s_flow]
                        t_due = now + fl_f[s_flow, L.FF_DELAY]
                        t_rel = (lf if lf > t_due else t_due) + fl_f[s_flow, L.FF_LIM_NS] + fl_f[s_flow, L.FF_LIM_NS_PER_BYTE] * s_len
                        lim_free[s_flow] = t_rel
                        e = (lim_head[s_flow] + lim_n[s_flow]) & lim_mask
                        lim_rel[s_flow, e] = t_rel
                        lim_len[s_flow, e] = s_len
                        lim_slot[s_flow, e] = s_slot
                        lim_zc[s_flow, e] = zc
                        lim_seq[s_flow, e] = s_seq
                        lim_n[s_flow] += 1
                        lim_next, lim_who = _lim_min(p, lim_n, lim_head, lim_rel, lim_mask)
                elif not extended or fl_i[s_flow, L.FI_DEST] == L.DEST_WIRE:
                    # dev_queue_xmit -> __dev_xmit_skb: the host qdisc, then the NIC
                    if coal:
                        if o.qd_n == 0 and _ring_fits(o, p, s_len):
                            # the qdisc is empty and the driver's queue runs: into the ring now.
                            # _qdisc_run's body for one skb, written out: handed its six arrays,
                            # numba wraps each call in atomic reference counting (perf E10). (A
                            # qdisc that holds skbs holds them because its head did not fit, and
                            # only a clean-up frees descriptors: then the skb just queues.)
                            start = nic_free if nic_free > now else now
                            done = start + _wire_bytes(p, s_len) * p.wire_ns_per_byte
                            nic_free = done
                            tail = (nic_head + nic_n) & nmask
                            nic_t[0, tail] = start
                            nic_t[1, tail] = done
                            nic_i[0, tail] = s_len
                            nic_i[1, tail] = s_flow
                            nic_n += 1
                            e = (o.rg_head + o.rg_n) & rgmask
                            d = _descs(s_len)
                            rg_t[e] = done
                            nq[NQ_DESC, e] = d
                            nq[NQ_LEN, e] = s_len
                            nq[NQ_IDX, e] = s_slot if zc else -1
                            o.rg_n += 1
                            o.rg_desc += d
                            o.rg_bytes += s_len
                            if o.rg_n == 1:
                                o.irq_t = done + p.tx_coalesce_ns
                            if p.tx_max_coalesced_frames > 0 and o.rg_n == p.tx_max_coalesced_frames and done < o.irq_t:
                                o.irq_t = done
                            o.clean_t = o.irq_t + p.tx_clean_latency_ns
                            if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                                trace_f[k, L.T_WIRE_START] = start
                                trace_f[k, L.T_WIRE_DONE] = done
                        elif o.qd_n >= p.txqueuelen:
                            # pfifo_fast_enqueue -> qdisc_drop (the worker made sure of room
                            # before it fetched, under backpressure). kfree_skb ->
                            # skb_zcopy_clear: a zero-copy skb's callback runs inside sendmsg
                            o.nic_drops += 1
                            if multi:
                                fs[s_flow, L.FR_NIC_DROPS] += 1
                            sync = zc == 1
                        else:
                            # the driver has stopped the queue: the qdisc holds the skb
                            q = (o.qd_head + o.qd_n) & qdmask
                            nq[NQ_QLEN, q] = s_len
                            nq[NQ_QFLOW, q] = s_flow
                            nq[NQ_QIDX, q] = s_slot if zc else -1
                            nq[NQ_QSEQ, q] = s_seq
                            o.qd_n += 1
                    else:
                        # the synthetic NIC: no ring, every skb not yet wholly on the wire
                        # counts against txqueuelen; under pfifo_fast a full queue drops
                        drop = False
                        if not bp:
                            nic_head, nic_n = _reap(o, fs, multi, nic_t, nic_i, nic_head, nic_n, nmask, now, t_start, False)
                            drop = nic_n >= p.txqueuelen
                        if drop:
                            o.nic_drops += 1
                            if multi:
                                fs[s_flow, L.FR_NIC_DROPS] += 1
                            sync = zc == 1
                        else:
                            # the wire, written out here rather than through _deliver: the path
                            # of almost every packet (perf E11)
                            start = nic_free if nic_free > now else now
                            done = start + (_wire_bytes(p, s_len) if extended else s_len + p.wire_overhead_bytes) * p.wire_ns_per_byte
                            nic_free = done
                            tail = (nic_head + nic_n) & nmask
                            nic_t[0, tail] = start
                            nic_t[1, tail] = done
                            nic_i[0, tail] = s_len
                            nic_i[1, tail] = s_flow
                            nic_n += 1
                            if zc:
                                # _draw_dma, written out: a helper that branches and is handed an
                                # array is wrapped by numba in reference counting (perf E12)
                                if p.dma_latency_dist == L.DMA_FIXED:
                                    dma = p.dma_base_ns
                                elif p.dma_latency_dist == L.DMA_EXPONENTIAL:
                                    dma = rng.exponential(rs, p.dma_base_ns)
                                else:
                                    dma = rng.lognormal(rs, p.dma_base_ns, p.dma_sigma)
                                sp = fl_f[s_flow, L.FF_STRAGGLER_P] if multi else p.straggler_p
                                if sp > 0.0 and rng.uniform(rs) < sp:
                                    dma += fl_f[s_flow, L.FF_STRAGGLER_NS] if multi else p.straggler_ns
                                if done + dma <= now:
                                    # a dummy lower device frees the skb as it transmits it,
                                    # inside sendmsg (dev_queue_xmit -> dummy_xmit -> kfree_skb)
                                    sync = True
                                elif o.cq_n == 0 and done <= hp[0]:
                                    hp_n = heap.push(hp, hp_n, done + dma, s_slot)  # admitted at once
                                else:
                                    e = (o.cq_head + o.cq_n) & cqmask
                                    cq[e, 0] = done
                                    cq[e, 1] = done + dma
                                    cq[e, 2] = s_slot
                                    o.cq_n += 1
                            if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                                trace_f[k, L.T_WIRE_START] = start
                                trace_f[k, L.T_WIRE_DONE] = done
                else:
                    # a local socket: tap's sendmsg delivers the skb in the worker's own
                    # context (tun_get_user -> netif_receive_skb), where
                    # __netif_receive_skb_core copies a zero-copy skb's pages
                    # (skb_orphan_frags_rx -> skb_copy_ubufs; the copy is in its service
                    # time) and the callback reports failure before sendmsg returns
                    nic_n, nic_free, loc_n, loc_free, t_zc = _deliver(
                        now, s_len, s_flow, 0, s_seq, p, fl_i, fl_f[s_flow, L.FF_STRAGGLER_P], fl_f[s_flow, L.FF_STRAGGLER_NS],
                        rs_rec, o, nic_t, nic_i, nic_head, nic_n, nic_free, loc_t, loc_i, loc_head, loc_n, loc_free, nmask,
                        tracing, trace_f, extended)
                    if zc:
                        heads[s_slot & umask].failed = 1
                        sync = True
                if sync:
                    # vhost_zerocopy_callback, inside sendmsg (the worker is running:
                    # nothing to wake); the completion event does the same, written out
                    # twice because a helper handed heads[] and done_list would be
                    # wrapped in reference counting on the completion path (see _draw_dma)
                    slot = s_slot & umask
                    if unlikely(heads[slot].state != H_PENDING):
                        o.violation = L.V_COMPLETION_NOT_PENDING
                    heads[slot].state = H_DONE
                    n_done += 1
                    if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                        trace_f[k, L.T_DMA_DONE] = now
                    if ooo:
                        done_list[n_done_list & NONNEG] = s_slot
                        n_done_list += 1
                    elif s_slot == prefix_end:
                        while prefix_end < upend_idx and heads[prefix_end & umask].state == H_DONE:
                            prefix_end += 1
                    o.callback_ns += p.callback_ns
                if not zc and s_slot < 0 and not extended:
                    b_n = 1  # a copy outside heads[]: on the used ring at once (vhost_add_used_and_signal)
                elif not zc and s_slot < 0:
                    # ... or with the next batch of copies (copy mode, VHOST_NET_BATCH)
                    e = b_n & (bcap - 1) & NONNEG
                    batch[e].id = s_id
                    batch[e].len = s_len
                    batch[e].flow = s_flow
                    batch[e].post = s_post
                    batch[e].seq = s_seq
                    b_n += 1
                pass_bytes += s_len
                pass_pkts += 1
                # vhost_exceeds_weight: VHOST_NET_WEIGHT bytes or VHOST_NET_PKT_WEIGHT
                # packets in one pass: vhost_poll_queue + break
                requeue = pass_bytes >= p.weight_bytes or (p.weight_packets > 0 and pass_pkts >= p.weight_packets)
            elif w_phase == PH_NEW_PASS:
                pass_bytes = 0  # a new handle_tx pass
                pass_pkts = 0
                busy_polled = False

            # where the next packet goes, and whether its device has room
            next_f = avail[av_head & amask].flow if extended and av_n > 0 else 0
            next_limited = any_limiter and fl_i[next_f, L.FI_LIMITED] != 0
            next_local = extended and fl_i[next_f, L.FI_DEST] == L.DEST_LOCAL
            nic_head, nic_n = _reap(o, fs, multi, nic_t, nic_i, nic_head, nic_n, nmask, now, t_start, False)
            if extended:
                loc_head, loc_n = _reap(o, fs, multi, loc_t, loc_i, loc_head, loc_n, lmask, now, t_start, True)
            # (the NIC's queue makes the worker wait only under backpressure: pfifo_fast drops)
            device_full = not next_limited and (loc_n >= p.txqueuelen if next_local else (
                bp and (o.qd_n if coal else nic_n) >= p.txqueuelen))
            # copies go back in batches of tx_batch in copy mode, and always before the worker stops
            flush = b_n > 0 and (not extended or p.zerocopy or b_n >= p.tx_batch or requeue or av_n == 0 or device_full)

            # ---- return heads: the copies, then vhost_zerocopy_signal_used ---------------------
            release = p.zerocopy and not requeue and (p.pend_placement != L.PLACE_SEED or n_held > p.reap_threshold)
            for part in range(2):
                if part == 0:
                    n_pub = b_n if flush else 0
                elif release:
                    n_pub = n_done_list if ooo else prefix_end - done_idx
                    # the whole batch leaves heads[] before its used-ring update
                    n_held -= n_pub
                    n_done -= n_pub
                else:
                    n_pub = 0
                if n_pub == 0:
                    continue
                for j in range(n_pub):
                    if part == 0 and not extended:  # one copy, the one just sent
                        head, post, length, zc, t_rec, f = s_id, s_post, s_len, 0, -1.0, s_flow
                        seq = s_seq
                    elif part == 0:
                        e = j & (bcap - 1) & NONNEG
                        head, post, length, zc, t_rec, f = batch[e].id, batch[e].post, batch[e].len, 0, -1.0, batch[e].flow
                        seq = batch[e].seq if tracing else 0
                    else:
                        idx = done_list[j & NONNEG] if ooo else done_idx + j
                        slot = idx & umask
                        if unlikely(heads[slot].state != H_DONE):
                            o.violation = L.V_RELEASED_NOT_DONE
                        heads[slot].state = H_FREE
                        if extended and heads[slot].failed:
                            tx_zcopy_err += 1  # vhost_zerocopy_signal_used: VHOST_DMA_FAILED_LEN
                        head, post, length, zc, t_rec, f = heads[slot].id, heads[slot].post, heads[slot].len, heads[slot].zc, heads[slot].rec, heads[slot].flow
                        seq = heads[slot].seq if tracing else 0
                    # vhost_add_used: only heads the guest posted, once per post
                    v = ids[head & idmask]
                    if unlikely(v < ID_FETCH):
                        o.violation = L.V_USED_NOT_POSTED
                    ids[head & idmask] = v - ID_FETCH
                    if extended:
                        if unlikely(used_n == ucap):
                            o.violation = L.V_RING_OVERFLOW
                        else:
                            used_ids[(used_head + used_n) & umask_used] = head
                            used_n += 1
                    else:
                        # No adversarial guest in this variant (simulate sends those runs
                        # to the extended one): every id on the used ring is one the guest
                        # posted once, and the guest drains the ring whole, in order,
                        # before it takes an id (free_old_xmit_skbs). Handing each id
                        # straight to its free list here leaves that list the same at
                        # every take, and nothing else reads the ring (perf E13). Its checks
                        # could not fire: see the reclaim below.
                        ids[head & idmask] -= ID_POSTED
                        g_free_ids[g_nfree & NONNEG] = head
                        g_nfree += 1
                    k = seq - p.warmup_packets if tracing else -1
                    if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                        trace_f[k, L.T_USED] = now
                        trace_i[k, L.T_USED_IDX] = returned  # its position in the used ring
                    returned += 1
                    if returned > p.warmup_packets:
                        lat = now - post
                        o.m_returned += 1
                        o.m_bytes += length
                        o.m_zc += zc
                        o.lat_sum += lat
                        if unlikely(lat > o.lat_max):
                            o.lat_max = lat
                        bucket = bucket_of_bits(np.float64(lat if lat > 1.0 else 1.0).view(np.int64))
                        hist[bucket] += 1
                        if multi:
                            fs[f, L.FR_RETURNED] += 1
                            fs[f, L.FR_ZC] += zc
                            ff[f, L.FR_LAT_SUM] += lat
                            flow_hist[f, bucket] += 1
                        if t_rec >= 0.0:
                            o.heads_hold_sum += now - t_rec
                            o.heads_released += 1
                        if unlikely(returned == p.n_total):
                            finished = True
                            break
                    elif unlikely(returned == p.warmup_packets):
                        # The measured window opens: every running sum restarts now.
                        t_start = now
                        _open_window(o, n_held, fs, ff)
                        out_area = hol_area = inflight_area = 0.0
                        # busy intervals are counted when scheduled: keep what lies past now
                        worker_busy = max(w_busy_until - now, 0.0)
                        guest_busy = max(g_busy_until - now, 0.0)
                if unlikely(finished):
                    break
                if part == 0:
                    b_n = 0
                elif ooo:
                    n_done_list = 0
                    while done_idx < upend_idx and heads[done_idx & umask].state == H_FREE:
                        done_idx += 1
                else:
                    done_idx = prefix_end
                if part == 1:
                    o.release_batches += 1
                # the used-ring update (vhost_add_used_n), then vhost_signal: interrupt
                # the guest if it stopped its queue (with napi_tx: if its callback is armed)
                t_w += p.used_ring_ns
                o.used_updates += 1
                if p.signal_every_publish or ((o.g_cb if napi else g_state == G_BLOCKED) and returned > g_used_event):
                    t_w += p.signal_ns
                    o.signals += 1
                    if napi:
                        if o.g_cb:
                            # skb_xmit_done: virtqueue_disable_cb, virtqueue_napi_schedule: the
                            # poll runs when the interrupt arrives, or when the start_xmit under
                            # way ends (it runs with bottom halves off)
                            o.g_cb = False
                            if not o.g_poll:
                                o.g_poll = True
                                o.g_poll_t = t_w + p.irq_latency_ns
                                if g_state != G_TX and o.g_poll_t < g_next:
                                    g_next = o.g_poll_t
                    elif g_state == G_BLOCKED:
                        g_state = G_READY
                        g_next = t_w + p.irq_latency_ns
            if unlikely(finished):
                break

            # ---- fetch the next packet: limits, then vhost_get_vq_desc --------------------
            w_busy_until = t_w
            if requeue:
                w_next = t_w + p.requeue_ns
                w_busy_until = w_next
                w_phase = PH_NEW_PASS
                o.requeues += 1
            elif p.zerocopy and p.pend_placement == L.PLACE_STALL and _exceeds(p, n_held, upend_idx - done_idx, umask):
                # v3.12: the pending test at the top of the loop: break; a completion
                # callback that queues the worker (wake_on_completion) starts it again
                w_wait = W_STALL
                w_stop = STOP_LIMIT
                o.stalls += 1
            elif unlikely(device_full):
                # sendmsg would find no room: wait until the device has handled one
                # (a coalesced NIC makes room at its next clean-up)
                oldest = loc_t[1, loc_head & lmask] if next_local else (
                    o.clean_t if coal else nic_t[1, nic_head & nmask])
                w_next = max(oldest, t_w)
                w_phase = PH_NEW_PASS
                w_stop = STOP_NIC
            elif av_n == 0:
                if p.zerocopy and p.pend_placement == L.PLACE_SEED and _exceeds(p, n_held, upend_idx - done_idx, umask):
                    # seed: tx_poll_start; the socket is writable, so the worker spins
                    # until a completion or a post (notification stays off: no kick)
                    w_wait = W_POLL
                    w_stop = STOP_LIMIT
                    o.stalls += 1
                elif p.zerocopy and p.pend_placement == L.PLACE_EMPTY_BREAK and _exceeds(p, n_held, upend_idx - done_idx, umask):
                    # v3.10 and v3.11: the same test, then break: only a completion
                    # that queues the worker starts it again
                    w_wait = W_STALL
                    w_stop = STOP_LIMIT
                    o.stalls += 1
                elif p.busyloop_timeout_ns > 0.0 and not busy_polled:
                    # vhost_net_busy_poll: poll the avail ring (notification off) until
                    # the timeout, a post, or other work
                    busy_polled = True
                    w_wait = W_BUSY
                    w_next = t_w + p.busyloop_timeout_ns
                    w_busy_until = w_next
                    w_phase = PH_RESUME
                    o.busypoll_ns += p.busyloop_timeout_ns
                else:
                    w_wait = W_IDLE  # vhost_enable_notify: wait for a kick
            else:
                length = avail[av_head & amask].len
                path = L.PATH_COPY
                need_slot = False
                if p.zerocopy:
                    # p.goodcopy_len folds in the size test as the release writes it and the
                    # virtio-net header the socket carries (simulation.kernel_args)
                    big = length > p.goodcopy_len
                    if big:
                        path = L.PATH_ZEROCOPY
                        if p.pend_placement == L.PLACE_FALLBACK and _exceeds(p, n_held, upend_idx - done_idx, umask):
                            path = L.PATH_FALLBACK  # v4.15: copy rather than stall
                        elif extended and p.select_zcopy and tx_packets // 64 < tx_zcopy_err:
                            path = L.PATH_COPY  # vhost_net_tx_select_zcopy: too many copied later
                    # copies in heads[]: the seed's every packet; 2012's zcopy_used =
                    # len >= VHOST_GOODCOPY_LEN || upend_idx != done_idx; v3.12 none
                    need_slot = path == L.PATH_ZEROCOPY or p.copy_via_heads == L.VIA_ALWAYS or (
                        p.copy_via_heads == L.VIA_WHEN_PENDING and (big or upend_idx != done_idx))
                    if need_slot and (upend_idx - done_idx + 1 >= p.uio_maxiov or n_held >= ring):
                        # a new head may not take a slot of heads[] that is still held;
                        # v3.12: (upend_idx + 1) % UIO_MAXIOV != done_idx, or it is copied
                        if path == L.PATH_ZEROCOPY and p.copy_via_heads == L.VIA_NEVER and (
                                p.pend_placement == L.PLACE_FALLBACK or p.heads_full_copy):
                            path = L.PATH_FALLBACK
                            need_slot = False
                        else:
                            path = -1
                if unlikely(path < 0):
                    w_wait = W_SPAN
                    w_stop = STOP_LIMIT
                    o.stalls += 1
                    o.span_stalls += 1
                else:
                    busy_polled = False
                    s_id = avail[av_head & amask].id
                    s_len = length
                    s_flow = next_f
                    s_post = avail[av_head & amask].post
                    if unlikely(tracing):
                        s_seq = avail[av_head & amask].seq
                    s_path = path
                    av_head = (av_head + 1) & amask
                    av_n -= 1
                    ids[s_id & idmask] += ID_FETCH
                    bytes_fetched += length
                    if path == L.PATH_ZEROCOPY:
                        service = p.per_packet_ns + p.zc_setup_ns + p.pin_ns_per_page * ((length + 4095) >> PAGE_SHIFT)
                        if next_local and not next_limited:
                            service += p.copy_ns_per_byte * length  # skb_orphan_frags_rx in sendmsg
                    else:
                        service = p.per_packet_ns + p.copy_ns_per_byte * length
                        if path == L.PATH_FALLBACK:
                            o.fallbacks += 1
                    s_slot = -1
                    if need_slot:
                        slot = upend_idx & umask
                        if unlikely(heads[slot].state != H_FREE):
                            o.violation = L.V_HEAD_OVERWRITTEN
                        s_slot = upend_idx
                        heads[slot].id = s_id
                        heads[slot].len = length
                        if extended:
                            heads[slot].failed = 0
                        if extended:
                            heads[slot].flow = s_flow
                        heads[slot].post = s_post
                        if unlikely(tracing):
                            heads[slot].seq = s_seq
                        heads[slot].rec = t_w
                        upend_idx += 1
                        n_held += 1
                        if path == L.PATH_ZEROCOPY:
                            heads[slot].state = H_PENDING
                            heads[slot].zc = 1
                        else:
                            heads[slot].state = H_DONE  # VHOST_DMA_DONE_LEN at once
                            heads[slot].zc = 0
                            n_done += 1
                            if ooo:
                                done_list[n_done_list & NONNEG] = s_slot
                                n_done_list += 1
                            elif prefix_end == s_slot:
                                prefix_end += 1
                        if unlikely(n_held > ring or upend_idx - done_idx >= p.uio_maxiov):
                            o.violation = L.V_OUTSTANDING
                        if unlikely(n_held > o.outstanding_max):
                            o.outstanding_max = n_held
                    k = s_seq - p.warmup_packets if tracing else -1
                    if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                        trace_f[k, L.T_FETCH] = t_w
                        trace_i[k, L.T_PATH] = path
                    w_phase = PH_SERVICE_END
                    w_next = t_w + service
                    w_busy_until = w_next
            # the worker is busy from now until w_busy_until: used-ring updates and
            # signals, then the packet's service or the requeue
            worker_busy += w_busy_until - now

        elif not open_loop or t == g_next:  # closed loop: no arrivals, so this is the guest's
            # ---- guest vCPU: start_xmit ends (post), or its interrupt handler runs --------
            if g_state == G_TX:
                posted_now = True
                # virtqueue_add_outbuf + the avail ring write
                for dup in range(2):
                    if av_n >= ring:
                        # A guest whose free count went wrong (it freed a head the host still
                        # held) writes over an unconsumed entry; vhost's avail-index check
                        # refuses it (vhost_get_vq_desc).
                        o.guest_avail_overruns += 1
                        break
                    slot = (av_head + av_n) & amask
                    avail[slot].id = g_id
                    avail[slot].len = g_len
                    if extended:
                        avail[slot].flow = g_flow
                    avail[slot].post = now
                    if unlikely(tracing):
                        avail[slot].seq = posted
                    k = posted - p.warmup_packets if tracing else -1
                    if unlikely(tracing) and k >= 0 and k < p.trace_packets:
                        trace_f[k, L.T_POST] = now
                        trace_i[k, L.T_SEQ] = posted
                        trace_i[k, L.T_HEAD] = g_id
                        trace_i[k, L.T_LEN] = g_len
                        trace_i[k, L.T_FLOW] = g_flow
                    posted += 1
                    av_n += 1
                    bytes_posted += g_len
                    # adversarial guest: the same head once more (the review's concern)
                    if not extended or dup == 1 or p.duplicate_head_p == 0.0 or rng.uniform(rs) >= p.duplicate_head_p:
                        break
                    o.duplicates += 1
                if socks and not napi:
                    # start_xmit's skb_orphan (without napi_tx): the socket's charge ends here
                    fl_i[g_flow, L.FI_WMEM] -= g_len + p.guest_truesize_overhead
                    fl_i[g_flow, L.FI_SLEEP] = _sock_wakes(fl_i[g_flow, L.FI_WMEM], fl_i[g_flow, L.FI_SLEEP],
                                                           fl_i[g_flow, L.FI_SNDBUF])
                # virtqueue_kick, only if the worker waits for one (event index)
                if w_next == INF and w_wait == W_IDLE:
                    w_next = max(now + p.wake_latency_ns, w_busy_until)
                    w_phase = PH_NEW_PASS
                    w_wait = W_RUN
                    guest_ready = now + p.kick_ns  # the VM exit: guest CPU
                    guest_busy += p.kick_ns
                    o.kicks += 1
                elif unlikely(w_wait == W_POLL):
                    # the spinning worker's next round finds the post (no kick: notification is off)
                    busy, w_next = _end_spin(o, p, now, w_busy_until)
                    worker_busy += busy
                    w_busy_until = w_next
                    w_phase = PH_NEW_PASS
                    w_wait = W_RUN
                elif unlikely(w_wait == W_BUSY):
                    # busy polling sees the post at once and goes on with the same pass
                    worker_busy -= _end_busy_poll(o, now, w_busy_until)
                    w_next = now
                    w_busy_until = now
                    w_phase = PH_RESUME
                    w_wait = W_RUN
            if napi and o.g_poll and o.g_poll_t <= now:
                # virtnet_poll_tx: free_old_xmit_skbs (the reclaim below does it), then
                # virtqueue_enable_cb_prepare: the next used buffer interrupts again; its CPU
                # delays the guest's next step
                o.g_poll = False
                polled = True
                o.tx_polls += 1
                guest_busy += p.guest_tx_poll_ns
                guest_ready = (guest_ready if guest_ready > g_busy_until else g_busy_until) + p.guest_tx_poll_ns
                o.g_cb = True
                g_used_event = returned
            guest_try = True

        else:
            # ---- open-loop arrival at the guest qdisc ----------------------------------------
            f = a_flow
            a_next_f[f] = now + rng.exponential(rs, fl_f[f, L.FF_GAP])
            length = _draw_size(rs, p, multi, fl_i, f, size_vals, size_thresh, size_alias)
            a_next = a_next_f[0]
            a_flow = 0
            for j in range(1, p.n_flows if extended else 1):
                if a_next_f[j] < a_next:
                    a_next = a_next_f[j]
                    a_flow = j
            o.arrivals += 1
            admit = True
            if socks:
                ok = False
                if fl_i[f, L.FI_BL_N] == 0:
                    ok, fl_i[f, L.FI_SLEEP] = _sock_try(fl_i[f, L.FI_WMEM], fl_i[f, L.FI_SLEEP], fl_i[f, L.FI_SNDBUF],
                                                        fl_i[f, L.FI_TSQ])
                if ok:
                    fl_i[f, L.FI_WMEM] += length + p.guest_truesize_overhead  # skb_set_owner_w
                else:
                    # the sender waits for room in its socket; it holds qdisc_len sends at most
                    admit = False
                    if fl_i[f, L.FI_BL_N] < p.qdisc_len:
                        e = (fl_i[f, L.FI_BL_HEAD] + fl_i[f, L.FI_BL_N]) & bmask
                        bl_len[f, e] = length
                        bl_arr[f, e] = now
                        fl_i[f, L.FI_BL_N] += 1
                    else:
                        o.sock_drops += 1
                        if multi:
                            fs[f, L.FR_SOCK_DROPS] += 1
            if not admit:
                pass
            elif g_state == G_IDLE or q_n < p.qdisc_len:
                slot = (q_head + q_n) & qmask
                q_len[slot] = length
                if extended:
                    q_flow[slot] = f
                q_arr[slot] = now
                q_n += 1
                guest_try = g_state == G_IDLE  # an idle guest sends at once (qdisc bypass)
            else:
                o.drops += 1
                if multi:
                    fs[f, L.FR_QDISC_DROPS] += 1
                if socks:  # kfree_skb -> sock_wfree
                    fl_i[f, L.FI_WMEM] -= length + p.guest_truesize_overhead
                    fl_i[f, L.FI_SLEEP] = _sock_wakes(fl_i[f, L.FI_WMEM], fl_i[f, L.FI_SLEEP], fl_i[f, L.FI_SNDBUF])

        if guest_try:
            # free_old_xmit_skbs: reclaim every used head before the next transmit (the
            # plain variant did so as vhost returned them: see vhost_add_used above)
            while extended and used_n > 0:
                head = used_ids[used_head & umask_used]
                used_head = (used_head + 1) & umask_used
                used_n -= 1
                v = ids[head & idmask]
                if v & ID_POSTED:
                    ids[head & idmask] = v - ID_POSTED
                    g_free_ids[g_nfree & NONNEG] = head
                    g_nfree += 1
                    if gx:
                        o.g_dfree += gid[0, head & idmask]
                        if napi and socks:
                            # napi_consume_skb -> sock_wfree: the skb's socket charge ends
                            f = gid[1, head & idmask]
                            fl_i[f, L.FI_WMEM] -= gid[2, head & idmask]
                            fl_i[f, L.FI_SLEEP] = _sock_wakes(fl_i[f, L.FI_WMEM], fl_i[f, L.FI_SLEEP],
                                                              fl_i[f, L.FI_SNDBUF])
                    if v >= ID_FETCH:
                        o.guest_early_free += 1  # another post of this id is still with the host
                else:
                    o.guest_bad_ring += 1  # BAD_RING: "id %u is not a head!"
            if socks and open_loop:
                # senders that now have room go on, in flow order; each send reaches the
                # qdisc as an arrival would (an idle guest takes one at once)
                for f in range(p.n_flows):
                    while fl_i[f, L.FI_BL_N] > 0:
                        ok, fl_i[f, L.FI_SLEEP] = _sock_try(fl_i[f, L.FI_WMEM], fl_i[f, L.FI_SLEEP],
                                                            fl_i[f, L.FI_SNDBUF], fl_i[f, L.FI_TSQ])
                        if not ok:
                            break
                        e = fl_i[f, L.FI_BL_HEAD] & bmask
                        length = bl_len[f, e]
                        fl_i[f, L.FI_BL_HEAD] = (fl_i[f, L.FI_BL_HEAD] + 1) & bmask
                        fl_i[f, L.FI_BL_N] -= 1
                        fl_i[f, L.FI_WMEM] += length + p.guest_truesize_overhead
                        if (g_state == G_IDLE and q_n == 0) or q_n < p.qdisc_len:
                            slot = (q_head + q_n) & qmask
                            q_len[slot] = length
                            q_flow[slot] = f
                            q_arr[slot] = bl_arr[f, e]
                            q_n += 1
                        else:
                            o.drops += 1
                            if multi:
                                fs[f, L.FR_QDISC_DROPS] += 1
                            fl_i[f, L.FI_WMEM] -= length + p.guest_truesize_overhead
                            fl_i[f, L.FI_SLEEP] = _sock_wakes(fl_i[f, L.FI_WMEM], fl_i[f, L.FI_SLEEP],
                                                              fl_i[f, L.FI_SNDBUF])
            g_stopped = False
            if gx:
                o.g_sockwait = False
            # the vCPU runs one thing at a time: a kick still under way delays the next send
            ready = guest_ready if guest_ready > g_busy_until else g_busy_until
            # (napi_tx) a TX poll still to run wakes a guest that waits
            g_wait = o.g_poll_t if napi and o.g_poll else INF
            nfree = o.g_dfree if gx else g_nfree  # free descriptors
            if open_loop and q_n == 0:
                g_state = G_IDLE
                g_next = g_wait
                g_busy_until = ready
            else:
                # 1: the queue is stopped, or the next chain does not fit; 2: no socket has room
                why = 1 if nfree == 0 or (g_qstop and nfree < p.guest_stop_free) else 0
                need = 1  # descriptors the packet takes
                if gx and why == 0:
                    if not open_loop and not o.g_held:
                        if socks:
                            # every flow's sender tries (sock_alloc_send_pskb, tcp_small_queue_check)
                            why = 2
                            for f in range(p.n_flows):
                                ok, fl_i[f, L.FI_SLEEP] = _sock_try(fl_i[f, L.FI_WMEM], fl_i[f, L.FI_SLEEP],
                                                                    fl_i[f, L.FI_SNDBUF], fl_i[f, L.FI_TSQ])
                                fl_i[f, L.FI_ROOM] = 1 if ok else 0
                                if ok:
                                    why = 0
                        if why == 0:
                            # a bulk sender: a flow drawn by share among those with room
                            if multi:
                                g_flow = _draw_alias(rs, flow_ids, flow_thresh, flow_alias, 0, p.n_flows)
                                while socks and fl_i[g_flow, L.FI_ROOM] == 0:
                                    g_flow = _draw_alias(rs, flow_ids, flow_thresh, flow_alias, 0, p.n_flows)
                                g_len = _draw_size(rs, p, multi, fl_i, g_flow, size_vals, size_thresh, size_alias)
                            else:
                                g_flow = 0
                                g_len = _draw_size(rs, p, multi, fl_i, 0, size_vals, size_thresh, size_alias)
                            if socks:
                                fl_i[g_flow, L.FI_WMEM] += g_len + p.guest_truesize_overhead  # skb_set_owner_w
                            o.g_held = True
                    if why == 0 and not p.guest_indirect_desc:
                        need = _vdescs(p, q_len[q_head & qmask] if open_loop else g_len)
                        if nfree < need:
                            why = 1  # the chain does not fit: wait, as a stopped queue does
                if why == 1:
                    # the queue is stopped (virtio-net's start_xmit: num_free < 2 + MAX_SKB_FRAGS)
                    # and what free_old_xmit_skbs reclaimed does not restart it (virtnet_poll_tx:
                    # num_free >= 2 + MAX_SKB_FRAGS): wait for an interrupt, asked for once 3/4
                    # of the outstanding buffers are used (virtqueue_enable_cb_delayed) or at the
                    # next (virtqueue_enable_cb). With napi_tx the driver asks when it stops the
                    # queue, in the start_xmit that posted; a TX poll's request (the next) stands.
                    g_state = G_BLOCKED
                    g_stopped = True
                    g_next = g_wait
                    g_busy_until = ready
                    if not napi or (posted_now and not polled):
                        if napi:
                            o.g_cb = True
                        g_used_event = returned + (((posted - returned) * 3) >> 2 if p.guest_cb_delayed else 0)
                elif why == 2:
                    # no socket has room: wait for a TX interrupt's frees (napi_tx)
                    g_state = G_BLOCKED
                    o.g_sockwait = True
                    g_next = g_wait
                    g_busy_until = ready
                else:
                    g_nfree -= 1
                    if gx:
                        o.g_dfree -= need
                    g_qstop = (o.g_dfree if gx else g_nfree) < p.guest_stop_free  # netif_stop_subqueue after this packet
                    g_id = g_free_ids[g_nfree & NONNEG]
                    ids[g_id & idmask] |= ID_POSTED
                    if open_loop:
                        g_len = q_len[q_head & qmask]
                        g_flow = q_flow[q_head & qmask] if extended else 0
                        o.qdisc_delay_sum += now - q_arr[q_head & qmask]
                        o.qdisc_dequeued += 1
                        q_head = (q_head + 1) & qmask
                        q_n -= 1
                    elif gx:
                        o.g_held = False  # drawn above
                    else:
                        # a bulk sender: each packet belongs to a flow drawn by share
                        if multi:
                            g_flow = _draw_alias(rs, flow_ids, flow_thresh, flow_alias, 0, p.n_flows)
                            g_len = _draw_size(rs, p, multi, fl_i, g_flow, size_vals, size_thresh, size_alias)
                        else:  # one flow: row 0, a constant the compiler folds
                            g_len = _draw_size(rs, p, multi, fl_i, 0, size_vals, size_thresh, size_alias)
                    if gx:
                        gid[0, g_id & idmask] = need
                        gid[1, g_id & idmask] = g_flow
                        gid[2, g_id & idmask] = g_len + p.guest_truesize_overhead
                    if napi:
                        # start_xmit with napi_tx (no xmit_more: kick): virtqueue_disable_cb,
                        # free_old_xmit_skbs, virtqueue_enable_cb_delayed
                        o.g_cb = True
                        g_used_event = returned + (((posted - returned) * 3) >> 2 if p.guest_cb_delayed else 0)
                    g_state = G_TX
                    g_next = ready + p.guest_xmit_ns
                    g_busy_until = g_next
                    guest_busy += p.guest_xmit_ns

        if unlikely(o.violation != 0):
            if o.violations == 0:
                o.first_violation = o.violation
                o.first_violation_t = now
            o.violations += 1
            o.violation = 0
            if p.debug:
                status = L.STATUS_VIOLATION
                break
        # A wake-up with no latency (a kick, a completion) makes the worker due now;
        # if nothing ranked before it is due by now, its step is the next event.
        fuse = w_next == now and hp[0] > now and lim_next > now and (not coal or o.clean_t > now)

    # ---- end of run ------------------------------------------------------------------------
    nic_head, nic_n = _reap(o, fs, multi, nic_t, nic_i, nic_head, nic_n, nmask, now, t_start, False)
    if extended:
        loc_head, loc_n = _reap(o, fs, multi, loc_t, loc_i, loc_head, loc_n, lmask, now, t_start, True)
    # bytes in = bytes delivered + bytes still in flight
    in_avail = 0
    for j in range(av_n):
        in_avail += avail[(av_head + j) & amask].len
    in_service = s_len if (w_next < INF and w_phase == PH_SERVICE_END) else 0
    if bytes_posted != bytes_fetched + in_avail or bytes_fetched != bytes_submitted + in_service:
        if o.violations == 0:
            o.first_violation = L.V_BYTES
            o.first_violation_t = now
        o.violations += 1

    if w_wait == W_POLL:  # a spin still under way: its CPU so far
        worker_busy += now - w_busy_until
        o.poll_spin_ns += now - w_busy_until
    if w_wait == W_BUSY:  # busy polling past the end is not counted
        o.busypoll_ns -= max(w_busy_until - now, 0.0)
    o.outstanding_area = out_area
    o.hol_area = hol_area
    o.inflight_area = inflight_area
    # busy intervals were counted whole when scheduled: drop what lies past the end
    o.worker_busy_ns = worker_busy - max(w_busy_until - now, 0.0)
    o.guest_busy_ns = guest_busy - max(g_busy_until - now, 0.0)
    o.status = status
    o.t_start = t_start
    o.t_end = now
    o.events = events
    o.deadlocked = status == L.STATUS_DEADLOCK
    return status
