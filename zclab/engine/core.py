"""The event loop: one guest vCPU, one vhost worker, one NIC, the completion callback.

``run`` is jit-compiled and takes only arrays (layout in :mod:`.layout`); call
it through :func:`zclab.simulate`, which validates the configuration first.
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

Statistics are running sums in local variables (registers, not memory), the
latency percentiles a fixed log-bucketed histogram: memory does not grow
with the number of packets.
"""

import math

import numpy as np
from numba import njit

from . import heap, rng
from . import layout as L
from .histogram import bucket_of_bits

INF = math.inf
PAGE_SHIFT = 12  # pages(len) = ceil(len / 4096)

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
def _draw_size(s, kind, size_min, size_max, size_vals, size_cum):
    """One packet size: from a table (fixed, imix, bimodal, empirical) or uniform."""
    if kind == L.SIZE_UNIFORM:
        return size_min + int(rng.uniform(s) * (size_max - size_min + 1))
    n = size_vals.shape[0]
    if n == 1:
        return size_vals[0]
    u = rng.uniform(s)
    for i in range(n - 1):
        if u < size_cum[i]:
            return size_vals[i]
    return size_vals[n - 1]


@njit(inline="always")
def _draw_dma(s, dist, base, sigma, straggler_p, straggler_ns):
    """Completion delay after the wire: the device's TX clean-up, maybe held."""
    if dist == L.DMA_FIXED:
        d = base
    elif dist == L.DMA_EXPONENTIAL:
        d = rng.exponential(s, base)
    else:
        d = rng.lognormal(s, base, sigma)
    if straggler_p > 0.0 and rng.uniform(s) < straggler_p:
        d += straggler_ns
    return d


@njit(cache=True)
def run(ip, fp, size_vals, size_cum, out, hist, trace_f, trace_i):
    """Simulate one configuration.

    Fills ``out`` (raw sums, see ``layout.OUT_NAMES``), the latency histogram
    ``hist`` and the trace arrays; returns the status code.
    """
    # ---- parameters --------------------------------------------------------------------
    n_total = ip[L.I_N_TOTAL]
    warmup = ip[L.I_WARMUP]
    trace_n = ip[L.I_TRACE]
    max_events = ip[L.I_MAX_EVENTS]
    debug = ip[L.I_DEBUG] != 0
    poisson = ip[L.I_ARRIVAL] == L.ARRIVAL_POISSON
    qdisc_len = ip[L.I_QDISC_LEN]
    size_kind = ip[L.I_SIZE_KIND]
    size_min = ip[L.I_SIZE_MIN]
    size_max = ip[L.I_SIZE_MAX]
    ring = ip[L.I_RING]
    signal_every = ip[L.I_SIGNAL_EVERY] != 0
    zerocopy = ip[L.I_ZEROCOPY] != 0
    goodcopy = ip[L.I_GOODCOPY]
    limit = ip[L.I_LIMIT]
    placement = ip[L.I_PLACEMENT]
    reap = ip[L.I_REAP]
    ooo = ip[L.I_OOO] != 0
    wake_on_completion = ip[L.I_WAKE_ON_COMPLETION] != 0
    copy_via_heads = ip[L.I_COPY_VIA_HEADS] != 0
    uio = ip[L.I_UIO]
    umask = uio - 1
    weight = ip[L.I_WEIGHT]
    overhead = ip[L.I_OVERHEAD]
    nic_qlen = ip[L.I_NIC_QLEN]
    dma_dist = ip[L.I_DMA_DIST]

    mean_gap = 1e9 / fp[L.F_RATE_PPS]
    per_packet = fp[L.F_PER_PACKET]
    copy_per_byte = fp[L.F_COPY_PER_BYTE]
    zc_setup = fp[L.F_ZC_SETUP]
    pin_per_page = fp[L.F_PIN_PER_PAGE]
    callback_cost = fp[L.F_CALLBACK]
    signal_cost = fp[L.F_SIGNAL]
    kick_cost = fp[L.F_KICK]
    requeue_cost = fp[L.F_REQUEUE]
    guest_xmit = fp[L.F_GUEST_XMIT]
    irq_latency = fp[L.F_IRQ_LATENCY]
    wake_latency = fp[L.F_WAKE_LATENCY]
    wire_ns_per_byte = fp[L.F_WIRE_NS_PER_BYTE]
    dma_base = fp[L.F_DMA_BASE]
    dma_sigma = fp[L.F_DMA_SIGMA]
    straggler_p = fp[L.F_STRAGGLER_P]
    straggler_ns = fp[L.F_STRAGGLER_NS]
    duplicate_p = fp[L.F_DUPLICATE_P]

    rs = np.empty(4, np.uint64)
    rng.seed(rs, ip[L.I_SEED])
    bits_f = np.empty(1, np.float64)  # float -> bit pattern, for the histogram bucket
    bits_i = bits_f.view(np.int64)
    hist[:] = 0

    # ---- guest driver (virtio_net): descriptor ids, avail and used rings ----------------
    g_free_ids = np.empty(ring, np.int64)
    for i in range(ring):
        g_free_ids[i] = ring - 1 - i
    g_nfree = ring
    g_data = np.zeros(ring, np.int8)  # vq->data[id] != NULL: the guest thinks id is posted
    host_inflight = np.zeros(ring, np.int64)  # posts of each id fetched and not yet returned
    acap = ring  # the avail ring: at most vring.num unconsumed entries
    amask = acap - 1
    av_id = np.empty(acap, np.int64)
    av_len = np.empty(acap, np.int64)
    av_post = np.empty(acap, np.float64)
    av_seq = np.empty(acap, np.int64)
    av_head = 0
    av_n = 0
    ucap = 4 * ring
    umask_used = ucap - 1
    used_ids = np.empty(ucap, np.int64)
    used_head = 0
    used_n = 0
    qcap = 1  # guest qdisc (Poisson): sizes and arrival times
    while qcap < qdisc_len + 1:
        qcap *= 2
    qmask = qcap - 1
    q_len = np.empty(qcap, np.int64)
    q_arr = np.empty(qcap, np.float64)
    q_head = 0
    q_n = 0

    # ---- vhost zero-copy bookkeeping: heads[] of UIO_MAXIOV entries ----------------------
    # Indices are absolute (slot = idx & umask) so that spans need no modular arithmetic.
    h_state = np.zeros(uio, np.int8)
    h_id = np.empty(uio, np.int64)
    h_len = np.empty(uio, np.int64)
    h_post = np.empty(uio, np.float64)
    h_rec = np.empty(uio, np.float64)  # when recorded
    h_zc = np.empty(uio, np.int8)  # 1: zero-copy, 0: copied (done at once)
    h_seq = np.empty(uio, np.int64)
    upend_idx = 0  # next slot to record
    done_idx = 0  # oldest held slot
    n_held = 0  # heads recorded and not yet returned: "outstanding"
    n_done = 0  # of those, done
    prefix_end = 0  # in order: end of the done run that starts at done_idx
    done_list = np.empty(uio, np.int64)  # out of order: done, not yet released, in completion order
    n_done_list = 0
    hp_t = np.empty(uio, np.float64)  # DMA completions in flight (min-heap)
    hp_k = np.empty(uio, np.int64)
    hp_n = 0

    # ---- NIC: skbs not yet wholly on the wire, in order ----------------------------------
    ncap = 1
    while ncap < nic_qlen + 1:
        ncap *= 2
    nmask = ncap - 1
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
    if poisson:
        g_state = G_IDLE
        g_next = INF
        a_next = rng.exponential(rs, mean_gap)

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
    measuring = warmup == 0
    t_start = 0.0
    m_returned = 0
    m_bytes = 0
    m_zc = 0
    wire_pkts = 0
    wire_bytes = 0
    worker_busy = 0.0
    callback_ns = 0.0
    guest_busy = 0.0
    out_area = 0.0
    out_max = 0
    hol_area = 0.0
    inflight_area = 0.0
    hold_sum = 0.0
    released = 0
    stall_ns = 0.0
    stalls = 0
    span_stalls = 0
    nic_wait_ns = 0.0
    ring_full_ns = 0.0
    lat_sum = 0.0
    lat_max = 0.0
    signals = 0
    kicks = 0
    requeues = 0
    fallbacks = 0
    arrivals = 0
    drops = 0
    q_area = 0.0
    q_delay_sum = 0.0
    q_dequeued = 0
    batches = 0
    duplicates = 0
    bad_ring = 0
    early_free = 0
    overruns = 0
    violations = 0
    first_violation = 0
    first_violation_t = 0.0
    # byte conservation: posted = fetched + in avail; fetched = submitted + in service
    bytes_posted = 0
    bytes_fetched = 0
    bytes_submitted = 0

    status = L.STATUS_DONE
    events = 0
    finished = False
    violation = 0  # set by a check in this event, counted below

    while True:
        # ---- next event: completion, worker, guest, arrival (ties in that order) -----------
        t_c = hp_t[0] if hp_n > 0 else INF
        t_host = t_c if t_c <= w_next else w_next
        if g_next < t_host:
            t_host = g_next
        if t_host == INF and (not poisson or g_state != G_IDLE):
            status = L.STATUS_DEADLOCK  # nothing can ever wake anyone (model.md section 2)
            break
        t = t_host if t_host <= a_next else a_next
        events += 1
        if events > max_events:
            status = L.STATUS_MAX_EVENTS
            break
        if t < now:
            violation = 1

        # ---- integrate the state over (now, t] ---------------------------------------------
        if measuring:
            dt = t - now
            out_area += n_held * dt
            if not ooo:
                hol_area += (n_done - (prefix_end - done_idx)) * dt
            inflight_area += (posted - returned) * dt
            b = w_busy_until - now
            if b > 0.0:
                worker_busy += b if b < dt else dt
            b = g_busy_until - now
            if b > 0.0:
                guest_busy += b if b < dt else dt
            if g_stopped:
                ring_full_ns += dt
            if w_stop == STOP_LIMIT:
                stall_ns += dt
            elif w_stop == STOP_NIC:
                nic_wait_ns += dt
            if poisson:
                q_area += q_n * dt
        now = t
        # skbs whose last bit has left: goodput counts those sent wholly in the window
        while nic_n > 0 and nic_done[nic_head] <= now:
            if measuring and nic_start[nic_head] >= t_start:
                wire_pkts += 1
                wire_bytes += nic_len[nic_head]
            nic_head = (nic_head + 1) & nmask
            nic_n -= 1

        guest_try = False  # the guest looks for its next packet at the end of this event
        guest_ready = now  # when it can start (after a kick's cost)
        if t == t_c:
            # ---- DMA completion: vhost_zerocopy_callback -------------------------------------
            idx = hp_k[0]
            hp_n = heap.pop(hp_t, hp_k, hp_n)
            slot = idx & umask
            if h_state[slot] != H_PENDING:
                violation = 4
            h_state[slot] = H_DONE
            n_done += 1
            k = h_seq[slot] - warmup
            if k >= 0 and k < trace_n:
                trace_f[k, L.T_DMA_DONE] = now
            if ooo:
                done_list[n_done_list] = idx
                n_done_list += 1
            elif idx == prefix_end:
                while prefix_end < upend_idx and h_state[prefix_end & umask] == H_DONE:
                    prefix_end += 1
            if measuring:
                callback_ns += callback_cost
            # The seed's callback only marks the head; mainline's also queues the worker
            # (vhost_poll_queue). A worker stopped on the limit waits for completions.
            if w_next == INF and (w_wait == W_POLL or w_wait == W_STALL or (w_wait == W_IDLE and wake_on_completion)):
                w_next = max(now + wake_latency, w_busy_until)
                w_phase = PH_NEW_PASS
                w_wait = W_RUN

        elif t == w_next:
            # ---- vhost worker: one step of handle_tx -------------------------------------
            w_next = INF
            w_stop = STOP_NONE
            t_w = now  # when the worker's next packet can start (signals cost CPU)
            direct = False  # a copy to put on the used ring at once
            requeue = False
            if w_phase == PH_SERVICE_END:
                # sendmsg returns: the skb is queued on the device, in order, at line rate
                start = nic_free if nic_free > now else now
                wire_done = start + (s_len + overhead) * wire_ns_per_byte
                nic_free = wire_done
                tail = (nic_head + nic_n) & nmask
                nic_start[tail] = start
                nic_done[tail] = wire_done
                nic_len[tail] = s_len
                nic_n += 1
                bytes_submitted += s_len
                k = s_seq - warmup
                if k >= 0 and k < trace_n:
                    trace_f[k, L.T_SUBMIT] = now
                    trace_f[k, L.T_WIRE_START] = start
                    trace_f[k, L.T_WIRE_DONE] = wire_done
                if s_path == L.PATH_ZEROCOPY:
                    # the guest's pages stay pinned until the device is done with them
                    d = _draw_dma(rs, dma_dist, dma_base, dma_sigma, straggler_p, straggler_ns)
                    hp_n = heap.push(hp_t, hp_k, hp_n, wire_done + d, s_slot)
                elif s_slot < 0:
                    direct = True  # vhost_add_used_and_signal
                pass_bytes += s_len
                requeue = pass_bytes >= weight  # VHOST_NET_WEIGHT: vhost_poll_queue + break
            else:
                pass_bytes = 0  # a new handle_tx pass

            # ---- return heads: the copied packet, then vhost_zerocopy_signal_used -------------
            release = zerocopy and not requeue and (placement != L.PLACE_SEED or n_held > reap)
            for part in range(2):
                if part == 0:
                    n_pub = 1 if direct else 0
                elif release:
                    n_pub = n_done_list if ooo else prefix_end - done_idx
                else:
                    n_pub = 0
                if n_pub == 0:
                    continue
                for j in range(n_pub):
                    if part == 0:
                        head, post, length, zc, seq, t_rec = s_id, s_post, s_len, 0, s_seq, -1.0
                    else:
                        idx = done_list[j] if ooo else done_idx + j
                        slot = idx & umask
                        if h_state[slot] != H_DONE:
                            violation = 3
                        h_state[slot] = H_FREE
                        n_held -= 1
                        n_done -= 1
                        head, post, length, zc, seq, t_rec = h_id[slot], h_post[slot], h_len[slot], h_zc[slot], h_seq[slot], h_rec[slot]
                    # vhost_add_used: only heads the guest posted, once per post
                    if host_inflight[head] <= 0:
                        violation = 5
                    host_inflight[head] -= 1
                    if used_n == ucap:
                        violation = 7
                    else:
                        used_ids[(used_head + used_n) & umask_used] = head
                        used_n += 1
                    returned += 1
                    k = seq - warmup
                    if k >= 0 and k < trace_n:
                        trace_f[k, L.T_USED] = now
                    if returned > warmup:
                        lat = now - post
                        m_returned += 1
                        m_bytes += length
                        m_zc += zc
                        lat_sum += lat
                        if lat > lat_max:
                            lat_max = lat
                        bits_f[0] = lat if lat > 1.0 else 1.0
                        hist[bucket_of_bits(bits_i[0])] += 1
                        if t_rec >= 0.0:
                            hold_sum += now - t_rec
                            released += 1
                        if returned == n_total:
                            finished = True
                            break
                    elif returned == warmup:
                        t_start = now  # the measured window opens
                if finished:
                    break
                if part == 1:
                    if ooo:
                        n_done_list = 0
                        while done_idx < upend_idx and h_state[done_idx & umask] == H_FREE:
                            done_idx += 1
                    else:
                        done_idx = prefix_end
                    if measuring:
                        batches += 1
                # vhost_signal: interrupt the guest if it stopped its queue
                if signal_every or g_state == G_BLOCKED:
                    t_w += signal_cost
                    if measuring:
                        signals += 1
                    if g_state == G_BLOCKED:
                        g_state = G_READY
                        g_next = t_w + irq_latency
            if finished:
                break

            # ---- fetch the next packet: limits, then vhost_get_vq_desc --------------------
            w_busy_until = t_w
            if requeue:
                w_next = t_w + requeue_cost
                w_busy_until = w_next
                w_phase = PH_NEW_PASS
                if measuring:
                    requeues += 1
            elif zerocopy and placement == L.PLACE_STALL and n_held > limit:
                # vhost_exceeds_maxpend: break; the completion callback queues us
                w_wait = W_STALL
                w_stop = STOP_LIMIT
                if measuring:
                    stalls += 1
            elif nic_n >= nic_qlen:
                # sendmsg would find no room: wait until the device has sent one
                w_next = max(nic_done[nic_head], t_w)
                w_phase = PH_NEW_PASS
                w_stop = STOP_NIC
            elif av_n == 0:
                if zerocopy and placement == L.PLACE_SEED and n_held > limit:
                    # seed: tx_poll_start, woken by completions and not by kicks
                    w_wait = W_POLL
                    w_stop = STOP_LIMIT
                    if measuring:
                        stalls += 1
                else:
                    w_wait = W_IDLE  # vhost_enable_notify: wait for a kick
            else:
                length = av_len[av_head]
                path = L.PATH_COPY
                need_slot = False
                if zerocopy:
                    if length > goodcopy:
                        path = L.PATH_ZEROCOPY
                        if placement == L.PLACE_FALLBACK and n_held > limit:
                            path = L.PATH_FALLBACK  # v4.15: copy rather than stall
                    need_slot = path == L.PATH_ZEROCOPY or copy_via_heads
                    if need_slot and (upend_idx - done_idx + 1 >= uio or n_held >= ring):
                        # a new head may not take a slot of heads[] that is still held
                        if path == L.PATH_ZEROCOPY and placement == L.PLACE_FALLBACK and not copy_via_heads:
                            path = L.PATH_FALLBACK
                            need_slot = False
                        else:
                            path = -1
                if path < 0:
                    w_wait = W_STALL
                    w_stop = STOP_LIMIT
                    if measuring:
                        stalls += 1
                        span_stalls += 1
                else:
                    s_id = av_id[av_head]
                    s_len = length
                    s_post = av_post[av_head]
                    s_seq = av_seq[av_head]
                    s_path = path
                    av_head = (av_head + 1) & amask
                    av_n -= 1
                    host_inflight[s_id] += 1
                    bytes_fetched += length
                    if path == L.PATH_ZEROCOPY:
                        service = per_packet + zc_setup + pin_per_page * ((length + 4095) >> PAGE_SHIFT)
                    else:
                        service = per_packet + copy_per_byte * length
                        if path == L.PATH_FALLBACK and measuring:
                            fallbacks += 1
                    s_slot = -1
                    if need_slot:
                        slot = upend_idx & umask
                        if h_state[slot] != H_FREE:
                            violation = 2
                        s_slot = upend_idx
                        h_id[slot] = s_id
                        h_len[slot] = length
                        h_post[slot] = s_post
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
                            if ooo:
                                done_list[n_done_list] = s_slot
                                n_done_list += 1
                            elif prefix_end == s_slot:
                                prefix_end += 1
                        if n_held > ring or upend_idx - done_idx >= uio:
                            violation = 6
                        if measuring and n_held > out_max:
                            out_max = n_held
                    k = s_seq - warmup
                    if k >= 0 and k < trace_n:
                        trace_f[k, L.T_FETCH] = t_w
                        trace_i[k, L.T_PATH] = path
                    w_phase = PH_SERVICE_END
                    w_next = t_w + service
                    w_busy_until = w_next

        elif t == g_next:
            # ---- guest vCPU: start_xmit ends (post), or its interrupt handler runs --------
            if g_state == G_TX:
                # virtqueue_add_outbuf + the avail ring write
                for dup in range(2):
                    if av_n >= ring:
                        # A guest whose free count was corrupted (it freed a head the
                        # host still held) writes over an unconsumed entry; vhost's
                        # avail-index check refuses it (vhost_get_vq_desc).
                        if measuring:
                            overruns += 1
                        break
                    slot = (av_head + av_n) & amask
                    av_id[slot] = g_id
                    av_len[slot] = g_len
                    av_post[slot] = now
                    av_seq[slot] = posted
                    k = posted - warmup
                    if k >= 0 and k < trace_n:
                        trace_f[k, L.T_POST] = now
                        trace_i[k, L.T_SEQ] = posted
                        trace_i[k, L.T_HEAD] = g_id
                        trace_i[k, L.T_LEN] = g_len
                    posted += 1
                    av_n += 1
                    bytes_posted += g_len
                    # adversarial guest: the same head once more (the review's concern)
                    if dup == 1 or duplicate_p == 0.0 or rng.uniform(rs) >= duplicate_p:
                        break
                    if measuring:
                        duplicates += 1
                # virtqueue_kick, only if the worker waits for one (event index)
                if w_next == INF and w_wait == W_IDLE:
                    w_next = max(now + wake_latency, w_busy_until)
                    w_phase = PH_NEW_PASS
                    w_wait = W_RUN
                    guest_ready = now + kick_cost
                    if measuring:
                        kicks += 1
            guest_try = True

        else:
            # ---- open-loop arrival at the guest qdisc ----------------------------------------
            a_next = now + rng.exponential(rs, mean_gap)
            length = _draw_size(rs, size_kind, size_min, size_max, size_vals, size_cum)
            if measuring:
                arrivals += 1
            if g_state == G_IDLE or q_n < qdisc_len:
                slot = (q_head + q_n) & qmask
                q_len[slot] = length
                q_arr[slot] = now
                q_n += 1
                guest_try = g_state == G_IDLE  # an idle guest sends at once (qdisc bypass)
            elif measuring:
                drops += 1

        if guest_try:
            # free_old_xmit_skbs: reclaim every used head before the next transmit
            while used_n > 0:
                head = used_ids[used_head]
                used_head = (used_head + 1) & umask_used
                used_n -= 1
                if g_data[head] != 0:
                    g_data[head] = 0
                    g_free_ids[g_nfree] = head
                    g_nfree += 1
                    if host_inflight[head] > 0 and measuring:
                        early_free += 1  # another post of this id is still with the host
                elif measuring:
                    bad_ring += 1  # BAD_RING: "id %u is not a head!"
            g_stopped = False
            if poisson and q_n == 0:
                g_state = G_IDLE
                g_next = INF
                g_busy_until = guest_ready
            elif g_nfree == 0:
                # netif_stop_queue + virtqueue_enable_cb: wait for an interrupt
                g_state = G_BLOCKED
                g_stopped = True
                g_next = INF
                g_busy_until = guest_ready
            else:
                g_nfree -= 1
                g_id = g_free_ids[g_nfree]
                g_data[g_id] = 1
                if poisson:
                    g_len = q_len[q_head]
                    if measuring:
                        q_delay_sum += now - q_arr[q_head]
                        q_dequeued += 1
                    q_head = (q_head + 1) & qmask
                    q_n -= 1
                else:
                    g_len = _draw_size(rs, size_kind, size_min, size_max, size_vals, size_cum)
                g_state = G_TX
                g_next = guest_ready + guest_xmit
                g_busy_until = g_next

        if violation:
            if violations == 0:
                first_violation = violation
                first_violation_t = now
            violations += 1
            violation = 0
            if debug:
                status = L.STATUS_VIOLATION
                break
        if not measuring and returned >= warmup:
            measuring = True

    # ---- end of run ------------------------------------------------------------------------
    if finished:
        while nic_n > 0 and nic_done[nic_head] <= now:
            if nic_start[nic_head] >= t_start:
                wire_pkts += 1
                wire_bytes += nic_len[nic_head]
            nic_head = (nic_head + 1) & nmask
            nic_n -= 1
    # bytes in = bytes on the wire + bytes still in flight
    in_avail = 0
    for j in range(av_n):
        in_avail += av_len[(av_head + j) & amask]
    in_service = s_len if (w_next < INF and w_phase == PH_SERVICE_END) else 0
    if bytes_posted != bytes_fetched + in_avail or bytes_fetched != bytes_submitted + in_service:
        if violations == 0:
            first_violation = 8
            first_violation_t = now
        violations += 1

    out[L.O_STATUS] = status
    out[L.O_T_START] = t_start
    out[L.O_T_END] = now
    out[L.O_RETURNED] = m_returned
    out[L.O_RETURNED_BYTES] = m_bytes
    out[L.O_RETURNED_ZC] = m_zc
    out[L.O_WIRE_PACKETS] = wire_pkts
    out[L.O_WIRE_BYTES] = wire_bytes
    out[L.O_WORKER_BUSY_NS] = worker_busy
    out[L.O_CALLBACK_NS] = callback_ns
    out[L.O_GUEST_BUSY_NS] = guest_busy
    out[L.O_OUTSTANDING_AREA] = out_area
    out[L.O_OUTSTANDING_MAX] = out_max
    out[L.O_HOL_AREA] = hol_area
    out[L.O_INFLIGHT_AREA] = inflight_area
    out[L.O_HEADS_HOLD_SUM] = hold_sum
    out[L.O_HEADS_RELEASED] = released
    out[L.O_STALL_NS] = stall_ns
    out[L.O_STALLS] = stalls
    out[L.O_SPAN_STALLS] = span_stalls
    out[L.O_NIC_WAIT_NS] = nic_wait_ns
    out[L.O_RING_FULL_NS] = ring_full_ns
    out[L.O_LAT_SUM] = lat_sum
    out[L.O_LAT_MAX] = lat_max
    out[L.O_SIGNALS] = signals
    out[L.O_KICKS] = kicks
    out[L.O_REQUEUES] = requeues
    out[L.O_FALLBACKS] = fallbacks
    out[L.O_ARRIVALS] = arrivals
    out[L.O_DROPS] = drops
    out[L.O_QDISC_AREA] = q_area
    out[L.O_QDISC_DELAY_SUM] = q_delay_sum
    out[L.O_QDISC_DEQUEUED] = q_dequeued
    out[L.O_RELEASE_BATCHES] = batches
    out[L.O_DUPLICATES] = duplicates
    out[L.O_GUEST_BAD_RING] = bad_ring
    out[L.O_GUEST_EARLY_FREE] = early_free
    out[L.O_GUEST_AVAIL_OVERRUNS] = overruns
    out[L.O_VIOLATIONS] = violations
    out[L.O_FIRST_VIOLATION] = first_violation
    out[L.O_FIRST_VIOLATION_T] = first_violation_t
    out[L.O_EVENTS] = events
    out[L.O_DEADLOCKED] = 1.0 if status == L.STATUS_DEADLOCK else 0.0
    return status
