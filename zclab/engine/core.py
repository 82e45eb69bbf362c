"""The event loop: one guest vCPU, one vhost worker, one NIC, the completion callback.

``run`` is jit-compiled and takes a parameter record and plain arrays (layout
in :mod:`.layout`); call it through :func:`zclab.simulate`, which validates
the configuration first.
The model is docs/model.md; comments name the kernel function each step
mirrors (drivers/vhost/net.c and vhost.c of the seed patch unless noted).

Events are few and typed, so the loop keeps one next-event time per actor
instead of a general event queue: the guest (``g_next``), the worker
(``w_next``), the Poisson source (``a_next``), and a min-heap for DMA
completions, which arrive out of order. Simultaneous events run in a fixed
order: completion, worker, guest, arrival. Within one event an actor's
bookkeeping happens at the event's time; CPU it spends (a signal, a kick)
delays its next step. The plain-Python reference model (:mod:`zclab.reference`)
follows the same rules and agrees to the bit.

Statistics are running sums in the output record (the five integrals that
move at every event in registers), the latency percentiles a fixed
log-bucketed histogram: memory does not grow with the number of packets.

Written for speed as well as for reading: one function, so that numba inlines
everything; parameters read from their record where used rather than held in
locals, and array indices masked so that they are provably non-negative (see
NONNEG). Each of these was measured against the C anchor
(benchmarks/bench_engine.py).
"""

import math

import numpy as np
from numba import njit

from . import heap, rng
from . import layout as L
from .histogram import bucket_of_bits

INF = math.inf
PAGE_SHIFT = 12  # pages(len) = ceil(len / 4096)
# Every array index below is ANDed with a mask known to be non-negative (built
# with & NONNEG). numba supports negative indices: for an index the compiler
# cannot prove non-negative it emits a compare, a select and keeps the array's
# length live, on every access. The masks cost nothing and remove all of that.
NONNEG = 0x7FFFFFFF

# heads[] slot states (the seed marks done with heads[i].len = VHOST_DMA_DONE_LEN)
H_FREE, H_PENDING, H_DONE = 0, 1, 2
# what the worker's pending event (at w_next) does: finish the packet in
# service, or start a new handle_tx pass (after a wake-up or a requeue)
PH_SERVICE_END, PH_NEW_PASS = 0, 1
# why the worker has no pending event (w_next == INF)
W_RUN, W_IDLE, W_POLL, W_STALL = 0, 1, 2, 3
# the worker stopped on the pending limit (or heads span), or on a full device queue
STOP_NONE, STOP_LIMIT, STOP_NIC = 0, 1, 2
# guest vCPU: transmitting, about to run (irq or arrival), queue stopped, nothing to send
G_TX, G_READY, G_BLOCKED, G_IDLE = 0, 1, 2, 3


@njit(inline="always")
def _draw_size(s, p, size_vals, size_thresh, size_alias):
    """One packet size: uniform, or from a table by Walker's alias method.

    One 64-bit draw: the high 32 bits pick a column i (multiply-shift), the low
    32 bits keep i if below its threshold, else take its alias. The choice is
    arithmetic, not a branch: sizes are random, so a branch would mispredict.
    """
    if p.size_kind == L.SIZE_UNIFORM:
        return p.size_min + int(rng.uniform(s) * (p.size_max - p.size_min + 1))
    n = size_vals.shape[0]
    if n == 1:
        return size_vals[0]
    r = rng.next_u64(s)
    i = np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
    i &= NONNEG
    keep = (np.int64(r & np.uint64(0xFFFFFFFF)) - size_thresh[i]) >> 63  # -1: keep i
    a = size_alias[i] & NONNEG
    return size_vals[(a ^ ((a ^ i) & keep)) & NONNEG]


@njit(inline="always")
def _draw_dma(s, p):
    """Completion delay after the wire: the device's TX clean-up, maybe held."""
    if p.dma_dist == L.DMA_FIXED:
        d = p.dma_base
    elif p.dma_dist == L.DMA_EXPONENTIAL:
        d = rng.exponential(s, p.dma_base)
    else:
        d = rng.lognormal(s, p.dma_base, p.dma_sigma)
    if p.straggler_p > 0.0 and rng.uniform(s) < p.straggler_p:
        d += p.straggler_ns
    return d


@njit(inline="always")
def _device_reap(o, nic_start, nic_done, nic_len, head, n, nmask, upto, t_start):
    """skbs whose last bit left by ``upto`` leave the device queue; goodput counts
    those sent wholly within the measured window. Returns the new (head, n)."""
    while n > 0 and nic_done[head & nmask] <= upto:
        if nic_start[head & nmask] >= t_start:
            o.wire_packets += 1
            o.wire_bytes += nic_len[head & nmask]
        head = (head + 1) & nmask
        n -= 1
    return head, n


@njit(inline="always")
def _open_window(o, n_held):
    """The last warm-up packet is returned: every running sum restarts now
    (per-packet sums only ever count packets returned after this)."""
    o.wire_packets = 0
    o.wire_bytes = 0
    o.callback_ns = 0.0
    o.stall_ns = 0.0
    o.nic_wait_ns = 0.0
    o.ring_full_ns = 0.0
    o.qdisc_area = 0.0
    o.qdisc_delay_sum = 0.0
    o.stalls = 0
    o.span_stalls = 0
    o.signals = 0
    o.kicks = 0
    o.requeues = 0
    o.fallbacks = 0
    o.arrivals = 0
    o.drops = 0
    o.qdisc_dequeued = 0
    o.release_batches = 0
    o.duplicates = 0
    o.guest_bad_ring = 0
    o.guest_early_free = 0
    o.guest_avail_overruns = 0
    o.outstanding_max = n_held


@njit(cache=True)
def run(params, size_vals, size_thresh, size_alias, out_run, hist, trace_f, trace_i, tracing=False):
    """Simulate one configuration.

    ``params`` is a one-element array of ``layout.P``; results land in
    ``out_run`` (one ``layout.RUN`` record), the latency histogram ``hist`` and
    the trace arrays. Returns the status code.
    """
    # ---- parameters (read once: the loop keeps them in registers) ----------------------
    # Called without ``tracing``, the argument is a compile-time False: the
    # trace bookkeeping is compiled out of that variant (both are cached).
    # Parameters are read from the record where they are used: a load either
    # way, but not a value the loop must carry in a register.
    p = params[0]
    o = out_run[0]  # every running sum lives here (see layout.RUN)
    ring = p.ring
    umask = (p.uio - 1) & NONNEG
    idmask = (ring - 1) & NONNEG  # descriptor ids are below ring_size

    rs = np.empty(4, np.uint64)
    rng.seed(rs, p.seed)
    hist[:] = 0

    # ---- guest driver (virtio_net): descriptor ids, avail and used rings ----------------
    g_free_ids = np.empty(ring, np.int64)
    for i in range(ring):
        g_free_ids[i] = ring - 1 - i
    g_nfree = ring
    g_data = np.zeros(ring, np.int8)  # vq->data[id] != NULL: the guest thinks id is posted
    host_inflight = np.zeros(ring, np.int64)  # posts of each id fetched and not yet returned
    acap = ring  # the avail ring: at most vring.num unconsumed entries
    amask = (acap - 1) & NONNEG
    av_id = np.empty(acap, np.int64)
    av_len = np.empty(acap, np.int64)
    av_post = np.empty(acap, np.float64)
    av_seq = np.empty(acap, np.int64)
    av_head = 0
    av_n = 0
    ucap = 4 * ring
    umask_used = (ucap - 1) & NONNEG
    used_ids = np.empty(ucap, np.int64)
    used_head = 0
    used_n = 0
    qcap = 1  # guest qdisc (Poisson): sizes and arrival times
    while qcap < p.qdisc_len + 1:
        qcap *= 2
    qmask = (qcap - 1) & NONNEG
    q_len = np.empty(qcap, np.int64)
    q_arr = np.empty(qcap, np.float64)
    q_head = 0
    q_n = 0

    # ---- vhost zero-copy bookkeeping: heads[] of UIO_MAXIOV entries ----------------------
    # Indices are absolute (slot = idx & umask) so that spans need no modular arithmetic.
    h_state = np.zeros(p.uio, np.int8)
    h_id = np.empty(p.uio, np.int64)
    h_len = np.empty(p.uio, np.int64)
    h_post = np.empty(p.uio, np.float64)
    h_rec = np.empty(p.uio, np.float64)  # when recorded
    h_zc = np.empty(p.uio, np.int8)  # 1: zero-copy, 0: copied (done at once)
    h_seq = np.empty(p.uio, np.int64)
    upend_idx = 0  # next slot to record
    done_idx = 0  # oldest held slot
    n_held = 0  # heads recorded and not yet returned: "outstanding"
    n_done = 0  # of those, done
    prefix_end = 0  # in order: end of the done run that starts at done_idx
    done_list = np.empty(p.uio, np.int64)  # out of order: done, not yet released, in completion order
    n_done_list = 0
    hp = np.empty(2 * p.uio, np.float64)  # DMA completions in flight: (time, key) min-heap
    hp_n = 0

    # ---- NIC: skbs not yet wholly on the wire, in order ----------------------------------
    ncap = 1
    while ncap < p.nic_qlen + 1:
        ncap *= 2
    nmask = (ncap - 1) & NONNEG
    nic_start = np.empty(ncap, np.float64)
    nic_done = np.empty(ncap, np.float64)
    nic_len = np.empty(ncap, np.int64)
    nic_head = 0
    nic_n = 0
    nic_free = 0.0  # when the wire is free

    # ---- actors ----------------------------------------------------------------------------
    now = 0.0
    posted = 0  # avail entries written: the next sequence number
    returned = 0  # used entries written
    g_state = G_READY  # starts its first transmit at t = 0
    g_stopped = False  # netif_stop_queue'd for lack of descriptors
    g_next = 0.0
    g_busy_until = 0.0
    g_id = 0
    g_len = 0
    a_next = INF
    if p.poisson:
        g_state = G_IDLE
        g_next = INF
        a_next = rng.exponential(rs, p.mean_gap)

    w_next = INF
    w_phase = PH_NEW_PASS
    w_wait = W_IDLE  # waits for a kick
    w_stop = STOP_NONE
    w_busy_until = 0.0
    pass_bytes = 0
    s_id = 0  # the packet in service
    s_len = 0
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
    violation = 0  # set by a check in this event, counted below

    fuse = False  # the worker's step at the current instant is provably the next event
    while True:
        # ---- next event: completion, worker, guest, arrival (ties in that order) -----------
        t_c = hp[0] if hp_n > 0 else INF
        if fuse:
            # Same instant, nothing due before it: skip the selection and the
            # integration over a zero interval (it would add exact zeros).
            t = now
            fuse = False
        else:
            t_host = t_c if t_c <= w_next else w_next
            if g_next < t_host:
                t_host = g_next
            if t_host == INF and (not p.poisson or g_state != G_IDLE):
                status = L.STATUS_DEADLOCK  # nothing can ever wake anyone (model.md section 2)
                break
            t = t_host if t_host <= a_next else a_next
            if t < now:
                violation = 1

            # ---- integrate the state over (now, t] ---------------------------------------
            # The three sums that move at nearly every event stay in registers; the
            # rare ones sit behind branches that are almost never taken. Busy times
            # are added when a busy interval is scheduled (see worker_busy below).
            dt = t - now
            out_area += n_held * dt
            if not p.ooo:  # loop-invariant: no head-of-line blocking out of order
                hol_area += (n_done - (prefix_end - done_idx)) * dt
            inflight_area += (posted - returned) * dt
            if g_stopped:
                o.ring_full_ns += dt
            if w_stop == STOP_LIMIT:
                o.stall_ns += dt
            elif w_stop == STOP_NIC:
                o.nic_wait_ns += dt
            if p.poisson:
                o.qdisc_area += q_n * dt
            now = t
        events += 1
        if events > p.max_events:
            status = L.STATUS_MAX_EVENTS
            break

        guest_try = False  # the guest looks for its next packet at the end of this event
        guest_ready = now  # when it can start (after a kick's cost)
        if t == t_c:
            # ---- DMA completion: vhost_zerocopy_callback -------------------------------------
            idx = heap.top_key(hp)
            hp_n = heap.pop(hp, hp_n)
            slot = idx & umask
            if h_state[slot] != H_PENDING:
                violation = 4
            h_state[slot] = H_DONE
            n_done += 1
            k = h_seq[slot] - p.warmup if tracing else -1
            if tracing and k >= 0 and k < p.trace_n:
                trace_f[k, L.T_DMA_DONE] = now
            if p.ooo:
                done_list[n_done_list & NONNEG] = idx
                n_done_list += 1
            elif idx == prefix_end:
                while prefix_end < upend_idx and h_state[prefix_end & umask] == H_DONE:
                    prefix_end += 1
            o.callback_ns += p.callback
            # The seed's callback only marks the head; mainline's also queues the worker
            # (vhost_poll_queue). A worker stopped on the limit waits for completions.
            if w_next == INF and (w_wait == W_POLL or w_wait == W_STALL or (w_wait == W_IDLE and p.wake_on_completion)):
                w_next = max(now + p.wake_latency, w_busy_until)
                w_phase = PH_NEW_PASS
                w_wait = W_RUN

        elif t == w_next:
            # ---- vhost worker: one step of handle_tx -------------------------------------
            w_next = INF
            w_stop = STOP_NONE
            t_w = now  # when the worker's next packet can start (signals cost it CPU)
            direct = False  # a copy to put on the used ring at once
            requeue = False
            if w_phase == PH_SERVICE_END:
                # sendmsg returns: the skb is queued on the device, in order, at line rate
                start = nic_free if nic_free > now else now
                wire_done = start + (s_len + p.overhead) * p.wire_ns_per_byte
                nic_free = wire_done
                tail = (nic_head + nic_n) & nmask
                nic_start[tail] = start
                nic_done[tail] = wire_done
                nic_len[tail] = s_len
                nic_n += 1
                bytes_submitted += s_len
                k = s_seq - p.warmup
                if tracing and k >= 0 and k < p.trace_n:
                    trace_f[k, L.T_SUBMIT] = now
                    trace_f[k, L.T_WIRE_START] = start
                    trace_f[k, L.T_WIRE_DONE] = wire_done
                if s_path == L.PATH_ZEROCOPY:
                    # the guest's pages stay pinned until the device is done with them
                    d = _draw_dma(rs, p)
                    hp_n = heap.push(hp, hp_n, wire_done + d, s_slot)
                elif s_slot < 0:
                    direct = True  # vhost_add_used_and_signal
                pass_bytes += s_len
                requeue = pass_bytes >= p.weight  # VHOST_NET_WEIGHT: vhost_poll_queue + break
            else:
                pass_bytes = 0  # a new handle_tx pass

            # ---- return heads: the copied packet, then vhost_zerocopy_signal_used -------------
            release = p.zerocopy and not requeue and (p.placement != L.PLACE_SEED or n_held > p.reap)
            for part in range(2):
                if part == 0:
                    n_pub = 1 if direct else 0
                elif release:
                    n_pub = n_done_list if p.ooo else prefix_end - done_idx
                else:
                    n_pub = 0
                if n_pub == 0:
                    continue
                for j in range(n_pub):
                    if part == 0:
                        head, post, length, zc, seq, t_rec = s_id, s_post, s_len, 0, s_seq, -1.0
                    else:
                        idx = done_list[j & NONNEG] if p.ooo else done_idx + j
                        slot = idx & umask
                        if h_state[slot] != H_DONE:
                            violation = 3
                        h_state[slot] = H_FREE
                        n_held -= 1
                        n_done -= 1
                        head, post, length, zc, t_rec = h_id[slot], h_post[slot], h_len[slot], h_zc[slot], h_rec[slot]
                        seq = h_seq[slot] if tracing else 0
                    # vhost_add_used: only heads the guest posted, once per post
                    if host_inflight[head & idmask] <= 0:
                        violation = 5
                    host_inflight[head & idmask] -= 1
                    if used_n == ucap:
                        violation = 7
                    else:
                        used_ids[(used_head + used_n) & umask_used] = head
                        used_n += 1
                    returned += 1
                    k = seq - p.warmup
                    if tracing and k >= 0 and k < p.trace_n:
                        trace_f[k, L.T_USED] = now
                    if returned > p.warmup:
                        lat = now - post
                        o.m_returned += 1
                        o.m_bytes += length
                        o.m_zc += zc
                        o.lat_sum += lat
                        if lat > o.lat_max:
                            o.lat_max = lat
                        hist[bucket_of_bits(np.float64(lat if lat > 1.0 else 1.0).view(np.int64))] += 1
                        if t_rec >= 0.0:
                            o.heads_hold_sum += now - t_rec
                            o.heads_released += 1
                        if returned == p.n_total:
                            finished = True
                            break
                    elif returned == p.warmup:
                        # The measured window opens: every running sum restarts now.
                        t_start = now
                        _open_window(o, n_held)
                        out_area = hol_area = inflight_area = 0.0
                        # busy intervals are counted when scheduled: keep what lies past now
                        worker_busy = max(w_busy_until - now, 0.0)
                        guest_busy = max(g_busy_until - now, 0.0)
                if finished:
                    break
                if part == 1:
                    if p.ooo:
                        n_done_list = 0
                        while done_idx < upend_idx and h_state[done_idx & umask] == H_FREE:
                            done_idx += 1
                    else:
                        done_idx = prefix_end
                    o.release_batches += 1
                # vhost_signal: interrupt the guest if it stopped its queue
                if p.signal_every or g_state == G_BLOCKED:
                    t_w += p.signal
                    o.signals += 1
                    if g_state == G_BLOCKED:
                        g_state = G_READY
                        g_next = t_w + p.irq_latency
            if finished:
                break

            # ---- fetch the next packet: limits, then vhost_get_vq_desc --------------------
            w_busy_until = t_w
            # skbs whose last bit has left leave the device queue; goodput counts
            # those sent wholly within the measured window
            nic_head, nic_n = _device_reap(o, nic_start, nic_done, nic_len, nic_head, nic_n, nmask, now, t_start)
            if requeue:
                w_next = t_w + p.requeue
                w_busy_until = w_next
                w_phase = PH_NEW_PASS
                o.requeues += 1
            elif p.zerocopy and p.placement == L.PLACE_STALL and n_held > p.limit:
                # vhost_exceeds_maxpend: break; the completion callback queues us
                w_wait = W_STALL
                w_stop = STOP_LIMIT
                o.stalls += 1
            elif nic_n >= p.nic_qlen:
                # sendmsg would find no room: wait until the device has sent one
                w_next = max(nic_done[nic_head & nmask], t_w)
                w_phase = PH_NEW_PASS
                w_stop = STOP_NIC
            elif av_n == 0:
                if p.zerocopy and p.placement == L.PLACE_SEED and n_held > p.limit:
                    # seed: tx_poll_start, woken by completions and not by kicks
                    w_wait = W_POLL
                    w_stop = STOP_LIMIT
                    o.stalls += 1
                else:
                    w_wait = W_IDLE  # vhost_enable_notify: wait for a kick
            else:
                length = av_len[av_head & amask]
                path = L.PATH_COPY
                need_slot = False
                if p.zerocopy:
                    if length > p.goodcopy:
                        path = L.PATH_ZEROCOPY
                        if p.placement == L.PLACE_FALLBACK and n_held > p.limit:
                            path = L.PATH_FALLBACK  # v4.15: copy rather than stall
                    need_slot = path == L.PATH_ZEROCOPY or p.copy_via_heads
                    if need_slot and (upend_idx - done_idx + 1 >= p.uio or n_held >= ring):
                        # a new head may not take a slot of heads[] that is still held
                        if path == L.PATH_ZEROCOPY and p.placement == L.PLACE_FALLBACK and not p.copy_via_heads:
                            path = L.PATH_FALLBACK
                            need_slot = False
                        else:
                            path = -1
                if path < 0:
                    w_wait = W_STALL
                    w_stop = STOP_LIMIT
                    o.stalls += 1
                    o.span_stalls += 1
                else:
                    s_id = av_id[av_head & amask]
                    s_len = length
                    s_post = av_post[av_head & amask]
                    if tracing:
                        s_seq = av_seq[av_head & amask]
                    s_path = path
                    av_head = (av_head + 1) & amask
                    av_n -= 1
                    host_inflight[s_id & idmask] += 1
                    bytes_fetched += length
                    if path == L.PATH_ZEROCOPY:
                        service = p.per_packet + p.zc_setup + p.pin_per_page * ((length + 4095) >> PAGE_SHIFT)
                    else:
                        service = p.per_packet + p.copy_per_byte * length
                        if path == L.PATH_FALLBACK:
                            o.fallbacks += 1
                    s_slot = -1
                    if need_slot:
                        slot = upend_idx & umask
                        if h_state[slot] != H_FREE:
                            violation = 2
                        s_slot = upend_idx
                        h_id[slot] = s_id
                        h_len[slot] = length
                        h_post[slot] = s_post
                        if tracing:
                            h_seq[slot] = s_seq
                        h_rec[slot] = t_w
                        upend_idx += 1
                        n_held += 1
                        if path == L.PATH_ZEROCOPY:
                            h_state[slot] = H_PENDING
                            h_zc[slot] = 1
                        else:
                            h_state[slot] = H_DONE  # VHOST_DMA_DONE_LEN at once
                            h_zc[slot] = 0
                            n_done += 1
                            if p.ooo:
                                done_list[n_done_list & NONNEG] = s_slot
                                n_done_list += 1
                            elif prefix_end == s_slot:
                                prefix_end += 1
                        if n_held > ring or upend_idx - done_idx >= p.uio:
                            violation = 6
                        if n_held > o.outstanding_max:
                            o.outstanding_max = n_held
                    k = s_seq - p.warmup
                    if tracing and k >= 0 and k < p.trace_n:
                        trace_f[k, L.T_FETCH] = t_w
                        trace_i[k, L.T_PATH] = path
                    w_phase = PH_SERVICE_END
                    w_next = t_w + service
                    w_busy_until = w_next
            # the worker is busy from now until w_busy_until: signals, then the
            # packet's service or the requeue
            worker_busy += w_busy_until - now

        elif t == g_next:
            # ---- guest vCPU: start_xmit ends (post), or its interrupt handler runs --------
            if g_state == G_TX:
                # virtqueue_add_outbuf + the avail ring write
                for dup in range(2):
                    if av_n >= ring:
                        # A guest whose free count was corrupted (it freed a head the
                        # host still held) writes over an unconsumed entry; vhost's
                        # avail-index check refuses it (vhost_get_vq_desc).
                        o.guest_avail_overruns += 1
                        break
                    slot = (av_head + av_n) & amask
                    av_id[slot] = g_id
                    av_len[slot] = g_len
                    av_post[slot] = now
                    if tracing:
                        av_seq[slot] = posted
                    k = posted - p.warmup
                    if tracing and k >= 0 and k < p.trace_n:
                        trace_f[k, L.T_POST] = now
                        trace_i[k, L.T_SEQ] = posted
                        trace_i[k, L.T_HEAD] = g_id
                        trace_i[k, L.T_LEN] = g_len
                    posted += 1
                    av_n += 1
                    bytes_posted += g_len
                    # adversarial guest: the same head once more (the review's concern)
                    if dup == 1 or p.duplicate_p == 0.0 or rng.uniform(rs) >= p.duplicate_p:
                        break
                    o.duplicates += 1
                # virtqueue_kick, only if the worker waits for one (event index)
                if w_next == INF and w_wait == W_IDLE:
                    w_next = max(now + p.wake_latency, w_busy_until)
                    w_phase = PH_NEW_PASS
                    w_wait = W_RUN
                    guest_ready = now + p.kick  # the VM exit: guest CPU
                    guest_busy += p.kick
                    o.kicks += 1
            guest_try = True

        else:
            # ---- open-loop arrival at the guest qdisc ----------------------------------------
            a_next = now + rng.exponential(rs, p.mean_gap)
            length = _draw_size(rs, p, size_vals, size_thresh, size_alias)
            o.arrivals += 1
            if g_state == G_IDLE or q_n < p.qdisc_len:
                slot = (q_head + q_n) & qmask
                q_len[slot] = length
                q_arr[slot] = now
                q_n += 1
                guest_try = g_state == G_IDLE  # an idle guest sends at once (qdisc bypass)
            else:
                o.drops += 1

        if guest_try:
            # free_old_xmit_skbs: reclaim every used head before the next transmit
            while used_n > 0:
                head = used_ids[used_head & umask_used]
                used_head = (used_head + 1) & umask_used
                used_n -= 1
                if g_data[head & idmask] != 0:
                    g_data[head & idmask] = 0
                    g_free_ids[g_nfree & NONNEG] = head
                    g_nfree += 1
                    if host_inflight[head & idmask] > 0:
                        o.guest_early_free += 1  # another post of this id is still with the host
                else:
                    o.guest_bad_ring += 1  # BAD_RING: "id %u is not a head!"
            g_stopped = False
            # the vCPU runs one thing at a time: a kick still under way delays the next send
            ready = guest_ready if guest_ready > g_busy_until else g_busy_until
            if p.poisson and q_n == 0:
                g_state = G_IDLE
                g_next = INF
                g_busy_until = ready
            elif g_nfree == 0:
                # netif_stop_queue + virtqueue_enable_cb: wait for an interrupt
                g_state = G_BLOCKED
                g_stopped = True
                g_next = INF
                g_busy_until = ready
            else:
                g_nfree -= 1
                g_id = g_free_ids[g_nfree & NONNEG]
                g_data[g_id & idmask] = 1
                if p.poisson:
                    g_len = q_len[q_head & qmask]
                    o.qdisc_delay_sum += now - q_arr[q_head & qmask]
                    o.qdisc_dequeued += 1
                    q_head = (q_head + 1) & qmask
                    q_n -= 1
                else:
                    g_len = _draw_size(rs, p, size_vals, size_thresh, size_alias)
                g_state = G_TX
                g_next = ready + p.guest_xmit
                g_busy_until = g_next
                guest_busy += p.guest_xmit

        if violation:
            if o.violations == 0:
                o.first_violation = violation
                o.first_violation_t = now
            o.violations += 1
            violation = 0
            if p.debug:
                status = L.STATUS_VIOLATION
                break
        # A wake-up with no latency (a kick, a completion) makes the worker due now;
        # if no completion is due by now, its step is the next event.
        fuse = w_next == now and (hp_n == 0 or hp[0] > now)

    # ---- end of run ------------------------------------------------------------------------
    nic_head, nic_n = _device_reap(o, nic_start, nic_done, nic_len, nic_head, nic_n, nmask, now, t_start)
    # bytes in = bytes on the wire + bytes still in flight
    in_avail = 0
    for j in range(av_n):
        in_avail += av_len[(av_head + j) & amask]
    in_service = s_len if (w_next < INF and w_phase == PH_SERVICE_END) else 0
    if bytes_posted != bytes_fetched + in_avail or bytes_fetched != bytes_submitted + in_service:
        if o.violations == 0:
            o.first_violation = 8
            o.first_violation_t = now
        o.violations += 1

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
