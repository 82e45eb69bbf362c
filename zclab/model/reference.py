"""A plain-Python reference implementation of the zclab model, for reading and
for differential tests against the numba engine.

It simulates the same model (docs/model.md) with objects instead of arrays:
the guest's descriptor free list and qdisc, the worker's ``handle_tx`` steps,
the :class:`Heads` ring with ``upend_idx`` and ``done_idx``, :class:`Flow` s
with their :class:`Limiter`, two :class:`Device` s (the NIC and the local
receiver), and completions in a ``heapq``. It draws the same random numbers in the same order and applies the
same tie-breaking rules, so it must produce *identical* summaries:

    >>> from zclab import Config, simulate
    >>> from zclab.model.reference import simulate_reference
    >>> cfg = Config(n_packets=2_000, warmup_packets=100)
    >>> simulate_reference(cfg).summary == simulate(cfg).summary
    True

It is about a hundred times slower than the engine; use it for small runs.

Rules shared with the engine (any change must be made in both):

* Events at the same time run in the order: completion, the NIC's clean-up,
  egress-limiter release, worker, guest, open-loop arrival; completions at the
  same time in submission order, limiter releases and arrivals in flow order. A
  clean-up frees its skbs in ring order, sets the next interrupt, moves the
  qdisc's skbs into the ring, then runs the freed skbs' callbacks in ring order.
* Within an event an actor's bookkeeping happens at the event's time; the CPU
  it spends (signals, kicks, requeues) delays its next step.
* Time-weighted statistics integrate the state between consecutive events.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

from .config import Config, size_distribution, virtio_descs
from .engine import layout as L
from .engine.histogram import N_BUCKETS
from .engine.rng import ZIGGURAT_EXP_R, ziggurat_exp_tables
from .result import Result, summarize
from .simulation import VNET_HDR_LEN, alias_table, as_config, default_max_events, uses_sockets

__all__ = ["simulate_reference", "Xoshiro256", "histogram_bucket"]

INF = math.inf
MASK64 = (1 << 64) - 1
# the exponential's ziggurat, as plain Python ints and floats
_ZE_K, _ZE_W, _ZE_F = (arr.tolist() for arr in ziggurat_exp_tables())


# --- random numbers: xoshiro256** seeded by splitmix64 ------------------------------------

class Xoshiro256:
    """xoshiro256** (Blackman and Vigna), the engine's generator, in Python ints."""

    def __init__(self, seed: int):
        self.s = []
        x = seed & MASK64
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next_u64(self) -> int:
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform(self) -> float:
        return float(self.next_u64() >> 11) * (1.0 / 9007199254740992.0)

    def exponential(self, mean: float) -> float:
        """The ziggurat of :func:`zclab.model.engine.rng.exponential`, step for step."""
        while True:
            ri = self.next_u64() >> 3
            layer = ri & 0xFF
            ri >>= 8
            x = float(ri) * _ZE_W[layer]
            if ri < _ZE_K[layer]:
                return mean * x
            if layer == 0:
                return mean * (ZIGGURAT_EXP_R - math.log1p(-self.uniform()))
            if (_ZE_F[layer - 1] - _ZE_F[layer]) * self.uniform() + _ZE_F[layer] < math.exp(-x):
                return mean * x

    def lognormal(self, mean: float, sigma: float) -> float:
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        return mean * math.exp(sigma * z - 0.5 * sigma * sigma)


def histogram_bucket(x: float) -> int:
    """Latency bucket of x: binary exponent and 7 mantissa bits (frexp, not bit tricks)."""
    m, e = math.frexp(max(x, 1.0))  # x = m * 2**e, 0.5 <= m < 1
    return min((e - 1) * 128 + int((2.0 * m - 1.0) * 128), N_BUCKETS - 1)


#: Running sums that restart when the measured window opens (per-packet sums
#: only count packets returned after it opened).
WINDOW_SUMS = (
    "wire_packets", "wire_bytes", "local_packets", "local_bytes", "callback_ns", "outstanding_area",
    "hol_area", "inflight_area", "stall_ns", "nic_wait_ns", "ring_full_ns", "qdisc_area", "qdisc_delay_sum",
    "stack_cpu_ns", "local_cpu_ns", "stalls", "span_stalls", "signals", "kicks", "requeues", "fallbacks",
    "arrivals", "drops", "egress_drops", "nic_drops", "qdisc_dequeued", "release_batches", "used_updates", "duplicates",
    "guest_bad_ring", "guest_early_free", "guest_avail_overruns", "poll_spin_ns", "busypoll_ns",
    "sock_wait_ns", "sock_drops", "tx_polls",
)


# --- the actors ----------------------------------------------------------------------------

@dataclass
class Packet:
    """One avail-ring entry: a descriptor head posted by the guest."""

    seq: int  # order of posting
    head: int  # descriptor id
    length: int
    t_post: float
    flow: int = 0


@dataclass
class HeadEntry:
    """One entry of vq->heads[]: a packet vhost has sent and not yet returned."""

    packet: Packet
    zerocopy: bool
    t_record: float
    done: bool
    failed: bool = False  # copied after all (skb_copy_ubufs): VHOST_DMA_FAILED_LEN


class Heads:
    """vq->heads[] with upend_idx and done_idx (indices kept absolute)."""

    def __init__(self, size: int, in_order: bool):
        self.size = size
        self.in_order = in_order
        self.slots: dict[int, HeadEntry] = {}  # absolute index -> entry (held only)
        self.upend_idx = 0
        self.done_idx = 0
        self.done_order: list[int] = []  # out of order: done, in completion order

    @property
    def outstanding(self) -> int:
        return len(self.slots)

    def span_full(self) -> bool:
        """Would a new head take a slot that is still held?"""
        return self.upend_idx - self.done_idx + 1 >= self.size

    def record(self, entry: HeadEntry) -> int:
        idx = self.upend_idx
        self.slots[idx] = entry
        self.upend_idx += 1
        if entry.done and not self.in_order:
            self.done_order.append(idx)
        return idx

    def mark_done(self, idx: int) -> bool:
        """vhost_zerocopy_callback: returns False if the slot was not pending."""
        entry = self.slots.get(idx)
        ok = entry is not None and not entry.done
        if entry is not None:
            entry.done = True
            if not self.in_order:
                self.done_order.append(idx)
        return ok

    def done_prefix(self) -> int:
        """Length of the run of done entries starting at done_idx."""
        n = 0
        while self.done_idx + n < self.upend_idx and self.slots[self.done_idx + n].done:
            n += 1
        return n

    def hol_blocked(self) -> int:
        """Done entries held behind a pending one (in order)."""
        if not self.in_order:
            return 0
        n_done = sum(1 for e in self.slots.values() if e.done)
        return n_done - self.done_prefix()

    def pending(self) -> int:
        """Zero-copy skbs sent and not yet completed (vhost_net_ubuf_put's count, less its own reference)."""
        return sum(1 for e in self.slots.values() if not e.done)

    def exceeds(self, cfg: Config) -> bool:
        """The release's pending test (max_pend_rule): more than the limit
        outstanding, or v3.12's (upend_idx + vq->num - VHOST_MAX_PEND) % UIO_MAXIOV
        == done_idx."""
        if cfg.max_pend_rule == "modulo":
            return (self.upend_idx + cfg.ring_size - cfg.max_pend - self.done_idx) % self.size == 0
        return self.outstanding > cfg.pend_limit

    def releasable(self) -> list[int]:
        """vhost_zerocopy_signal_used: the indices it returns, in order."""
        if self.in_order:
            return list(range(self.done_idx, self.done_idx + self.done_prefix()))
        return list(self.done_order)


@dataclass
class Device:
    """A destination: the NIC (in order at line rate) or the host's local receiver.
    Its queue holds (start, done, length, flow) of the skbs it has not finished."""

    queue: deque = field(default_factory=deque)
    free_at: float = 0.0


@dataclass
class RingEntry:
    """An skb in the NIC's TX ring: when its descriptors complete (its last bit left the
    wire), how many it takes, its length, its heads[] index if zero-copy (else -1)."""

    cqe: float
    descs: int
    length: int
    idx: int


@dataclass
class Limiter:
    """A flow's egress limiter (netem, tbf): a FIFO released at a fixed rate,
    after a fixed delay (netem delay)."""

    ns_per_packet: float
    ns_per_byte: float
    capacity: int
    delay: float = 0.0
    queue: deque = field(default_factory=deque)  # (release time, packet, zero-copy?, heads index)
    free_at: float = 0.0


class Flow:
    """One flow's resolved parameters, its size table and its limiter."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.name = spec["name"]
        self.sizes = size_distribution(spec)
        self.uniform = spec["size_dist"] == "uniform"
        self.cycle = spec["size_dist"] == "cycle"
        self.cycle_pos = 0  # 'cycle': the next entry of the table
        if not self.uniform:
            self.thresh, self.alias = alias_table(self.sizes[1])
        self.local = spec["dest"] == "local"
        self.mean_gap = 1e9 / spec["rate_pps"]
        self.straggler_p = spec["straggler_p"]
        self.straggler_ns = spec["straggler_ns"]
        pps, mbps, delay = spec["egress_rate_pps"], spec["egress_rate_mbps"], spec["egress_delay_ns"]
        self.limiter = None
        if pps > 0 or mbps > 0 or delay > 0:
            self.limiter = Limiter(1e9 / pps if pps > 0 else 0.0, 8000.0 / mbps if mbps > 0 else 0.0,
                                   spec["egress_queue"], delay)
        self.a_next = INF  # next open-loop arrival
        # the flow's socket: its limits, the truesize of its skbs not yet freed
        # (sk_wmem_alloc), its sender asleep in sock_alloc_send_pskb, and (open loop) the
        # sends waiting for room: (length, arrival time)
        self.sndbuf = spec["guest_sndbuf_bytes"]
        self.tsq = spec["guest_tsq_bytes"]
        self.wmem = 0
        self.sleeping = False
        self.backlog: deque = deque()


class Stats:
    """Running sums over the measured window (the fields of the engine's RUN record)."""

    def __init__(self, n_flows: int):
        self.o = dict.fromkeys(L.RUN.names, 0)
        self.hist = [0] * N_BUCKETS
        self.flows = [self.new_flow() for _ in range(n_flows)]
        self.flow_hist = [[0] * N_BUCKETS for _ in range(n_flows)]

    @staticmethod
    def new_flow() -> dict:
        return {**dict.fromkeys(L.FLOW_I, 0), **dict.fromkeys(L.FLOW_F, 0.0)}


# --- the model -------------------------------------------------------------------------------

def alias_draw(rng: "Xoshiro256", thresh: list[int], alias: list[int]) -> int:
    """Walker's alias method on one 64-bit draw (the engine's _draw_alias)."""
    r = rng.next_u64()
    i = ((r >> 32) * len(thresh)) >> 32
    return i if (r & 0xFFFFFFFF) < thresh[i] else alias[i]


class ReferenceModel:
    """One run of the model. See the module docstring for the shared rules."""

    def __init__(self, cfg: Config):
        self.c = cfg
        self.rng = Xoshiro256(cfg.seed)
        self.zerocopy = cfg.mode == "zerocopy"
        self.poisson = cfg.arrival == "poisson"
        self.limit = cfg.pend_limit
        self.n_total = cfg.warmup_packets + cfg.n_packets
        self.max_events = cfg.max_events or default_max_events(cfg)
        self.dummy = cfg.lower_dev == "dummy"  # frees each skb as it sends it: no wire time, no delay
        self.wire_ns_per_byte = 0.0 if self.dummy else 8.0 / cfg.line_rate_gbps
        self.flows = [Flow(spec) for spec in cfg.flow_specs()]
        self.multi = len(self.flows) > 1
        shares = [f.spec["share"] for f in self.flows]
        self.share_thresh, self.share_alias = alias_table([w / sum(shares) for w in shares])
        self.st = Stats(len(self.flows))
        self.trace: dict[int, dict] = {}

        # guest (virtio_net)
        self.free_ids = list(range(cfg.ring_size - 1, -1, -1))  # pop() gives 0, 1, ...
        self.posted_ids = set()  # vq->data[id] != NULL
        self.qdisc: deque = deque()  # (length, flow, arrival time)
        self.g_state = "ready"  # tx, ready, blocked, idle
        self.g_stopped = False
        self.g_qstop = False  # netif_stop_subqueue'd after a post
        self.g_used_event = 0
        self.g_next = 0.0
        self.g_busy_until = 0.0
        self.g_packet: tuple[int, int, int] | None = None  # (head, length, flow) being sent
        # the virtio-net guest's rules (model.md section 1): napi_tx, chained descriptors, sockets
        self.napi = cfg.guest_napi_tx
        self.socks = uses_sockets(cfg)
        self.d_free = cfg.ring_size  # free ring descriptors
        self.id_info: dict[int, tuple[int, int, int]] = {}  # head -> (descriptors, flow, truesize)
        self.g_cb = False  # napi_tx: the TX callback is armed (used_event set)
        self.g_poll = False  # napi_tx: a TX interrupt's virtnet_poll_tx is due at g_poll_t
        self.g_poll_t = INF
        self.g_sockwait = False  # the bulk sender waits for room in a socket
        self.g_held: tuple[int, int] | None = None  # a drawn (length, flow) that did not fit yet
        self.posted_now = self.polled = False  # this guest event posted, ran a TX poll
        if self.poisson:
            self.g_state, self.g_next = "idle", INF
            for flow in self.flows:
                flow.a_next = self.rng.exponential(flow.mean_gap)
        # rings
        self.avail: deque[Packet] = deque()
        self.used: deque[int] = deque()
        self.host_inflight = [0] * cfg.ring_size
        # vhost
        self.heads = Heads(cfg.uio_maxiov, cfg.completion == "in_order")
        # vhost_net_tx_select_zcopy's counters: net->tx_packets, net->tx_zcopy_err
        self.tx_packets = 0
        self.tx_zcopy_err = 0
        self.completions: list[tuple[float, int]] = []  # heap of (time, heads index)
        self.batch: list[Packet] = []  # copies waiting for a used-ring update
        self.w_next = INF
        self.w_phase = "new_pass"  # service_end or new_pass
        self.w_wait = "idle"  # run, idle (wants a kick), poll (seed: spins), stall (limit), span (heads[] full), busy (busy polling)
        self.busy_polled = False  # this encounter with an empty avail ring has busy-polled
        self.pass_packets = 0
        self.w_stop = None  # None, "limit", "nic"
        self.w_busy_until = 0.0
        self.pass_bytes = 0
        self.in_service: tuple[Packet, str, int] | None = None  # (packet, path, heads index or -1)
        self.wire = Device()
        self.local = Device()
        # the NIC (model.md section 1); a dummy has no queue, ring or wire time
        self.coalesced = cfg.nic_completion == "coalesced" and not self.dummy
        self.backpressure = cfg.qdisc == "backpressure" or self.dummy
        self.gso_size = 0 if self.dummy else cfg.gso_size
        self.txq: deque = deque()  # the host qdisc (pfifo_fast): (packet, zero-copy?, heads index)
        self.ring: deque[RingEntry] = deque()  # the TX ring, in order
        self.ring_desc = 0
        self.ring_bytes = 0
        self.irq_t = INF  # when the TX interrupt fires
        self.clean_t = INF  # when its clean-up runs
        # run
        self.now = 0.0
        self.posted = 0
        self.returned = 0
        self.t_start = 0.0
        self.finished = False
        self.violation = 0
        self.bytes_posted = self.bytes_fetched = self.bytes_submitted = 0

    # -- helpers ------------------------------------------------------------------------------
    def count(self, name: str, value: float = 1.0) -> None:
        self.st.o[name] += value

    def open_window(self) -> None:
        """The last warm-up packet is returned: every running sum restarts now."""
        self.t_start = self.now
        o = self.st.o
        for name in WINDOW_SUMS:
            o[name] = 0
        o["outstanding_max"] = self.heads.outstanding
        # busy intervals are counted whole when scheduled: keep what lies past now
        o["worker_busy_ns"] = max(self.w_busy_until - self.now, 0.0)
        o["guest_busy_ns"] = max(self.g_busy_until - self.now, 0.0)
        self.st.flows = [Stats.new_flow() for _ in self.flows]

    def draw_size(self, f: int) -> int:
        flow = self.flows[f]
        if flow.uniform:
            lo, hi = flow.sizes
            return lo + int(self.rng.uniform() * (hi - lo + 1))
        sizes = flow.sizes[0]
        if len(sizes) == 1:
            return sizes[0]
        if flow.cycle:  # the listed sizes in turn; no random draw
            size = sizes[flow.cycle_pos]
            flow.cycle_pos = (flow.cycle_pos + 1) % len(sizes)
            return size
        return sizes[alias_draw(self.rng, flow.thresh, flow.alias)]

    def draw_dma_delay(self, flow: Flow) -> float:
        c = self.c
        if self.dummy:
            d = 0.0
        elif c.dma_latency_dist == "fixed":
            d = c.dma_base_ns
        elif c.dma_latency_dist == "exponential":
            d = self.rng.exponential(c.dma_base_ns)
        else:
            d = self.rng.lognormal(c.dma_base_ns, c.dma_sigma)
        if flow.straggler_p > 0.0 and self.rng.uniform() < flow.straggler_p:
            d += flow.straggler_ns
        return d

    def traced(self, seq: int) -> dict | None:
        k = seq - self.c.warmup_packets
        if 0 <= k < self.c.trace_packets:
            return self.trace.setdefault(k, {})
        return None

    def wake_worker(self) -> None:
        self.w_next = max(self.now + self.c.wake_latency_ns, self.w_busy_until)
        self.w_phase = "new_pass"
        self.w_wait = "run"

    def end_spin(self) -> None:
        """The seed's tx_poll_start with a writable socket: the worker has run
        handle_tx over and over since it stopped (busy all along); its next round,
        requeue_ns on, sees what woke it (a completion, or a post)."""
        spin = self.now - self.w_busy_until
        self.count("poll_spin_ns", spin)
        self.count("worker_busy_ns", spin + self.c.requeue_ns)
        self.w_next = self.w_busy_until = self.now + self.c.requeue_ns
        self.w_phase = "new_pass"
        self.w_wait = "run"

    def end_busy_poll(self, phase: str) -> None:
        """Busy polling ends now (a post, or other work): the time it had left is not spent."""
        left = self.w_busy_until - self.now
        self.count("busypoll_ns", -left)
        self.count("worker_busy_ns", -left)
        self.w_next = self.w_busy_until = self.now
        self.w_phase = phase
        self.w_wait = "run"

    def callback_queues(self) -> bool:
        """vhost_zerocopy_callback's vhost_poll_queue: never, always, or when the
        count vhost_net_ubuf_put returns (skbs in flight + 1) is small or a multiple of 16."""
        rule = self.c.wake_on_completion
        if rule in ("never", "always"):
            return rule == "always"
        if rule == "le2_or_16":  # v3.8 to v3.13: the count read before the put
            cnt = self.heads.pending() + 2
            return cnt <= 2 or cnt % 16 == 0
        cnt = self.heads.pending() + 1  # from v3.14: cnt = vhost_net_ubuf_put(ubufs)
        return cnt <= 1 or cnt % 16 == 0

    def next_limiter(self) -> tuple[float, int]:
        """The earliest release of any egress limiter, and its flow (ties: lowest flow)."""
        best, who = INF, -1
        for f, flow in enumerate(self.flows):
            if flow.limiter is not None and flow.limiter.queue and flow.limiter.queue[0][0] < best:
                best, who = flow.limiter.queue[0][0], f
        return best, who

    def next_arrival(self) -> tuple[float, int]:
        best, who = INF, 0
        for f, flow in enumerate(self.flows):
            if flow.a_next < best:
                best, who = flow.a_next, f
        return best, who

    # -- the event loop ----------------------------------------------------------------------
    def run(self) -> str:
        while True:
            t_c = self.completions[0][0] if self.completions else INF
            t_lim, _ = self.next_limiter()
            # ties: a completion, the NIC's clean-up, a limiter, the worker, the guest
            candidates = [(t_c, 0), (self.clean_t, 1), (t_lim, 2), (self.w_next, 3), (self.g_next, 4)]
            t_host, actor = min(candidates)
            if t_host == INF and (not self.poisson or self.g_state != "idle" or (
                    self.socks and not any(self.sock_room(f) for f in range(len(self.flows))))):
                # nothing can ever wake anyone; open loop, an idle guest waits for an arrival,
                # unless every flow's socket is full and no free can ever come
                return "deadlock"
            a_next, _ = self.next_arrival()
            if a_next < t_host:
                t, actor = a_next, 5
            else:
                t = t_host
            self.st.o["events"] += 1
            if self.st.o["events"] > self.max_events:
                return "max_events"
            if t < self.now:
                self.violation = L.V_TIME_BACKWARDS
            self.integrate(t - self.now)
            self.now = t
            self.device_progress()
            self.guest_try = False
            self.guest_ready = self.now
            self.posted_now = self.polled = False
            if actor == 0:
                self.completion()
            elif actor == 1:
                self.nic_clean()
            elif actor == 2:
                self.limiter_release()
            elif actor == 3:
                self.worker_step()
                if self.finished:
                    return "done"
            elif actor == 4:
                self.guest_event()
            else:
                self.arrival()
            if self.guest_try:
                self.guest_start_xmit()
            if self.violation:
                o = self.st.o
                if o["violations"] == 0:
                    o["first_violation"], o["first_violation_t"] = self.violation, self.now
                o["violations"] += 1
                self.violation = 0
                if self.c.debug:
                    return "violation"

    def integrate(self, dt: float) -> None:
        """Time-weighted state over the interval since the last event."""
        o, h = self.st.o, self.heads
        o["outstanding_area"] += h.outstanding * dt
        if h.in_order:
            o["hol_area"] += h.hol_blocked() * dt
        o["inflight_area"] += (self.posted - self.returned) * dt
        o["ring_full_ns"] += dt * self.g_stopped
        o["sock_wait_ns"] += dt * self.g_sockwait
        o["stall_ns"] += dt * (self.w_stop == "limit")
        o["nic_wait_ns"] += dt * (self.w_stop == "nic")
        o["qdisc_area"] += len(self.qdisc) * dt

    def device_progress(self) -> None:
        """skbs a device has finished leave its queue; goodput counts those handled
        wholly within the measured window."""
        for device, kind in ((self.wire, "wire"), (self.local, "local")):
            q = device.queue
            while q and q[0][1] <= self.now:
                start, _, length, f = q.popleft()
                if start >= self.t_start:
                    self.count(f"{kind}_packets")
                    self.count(f"{kind}_bytes", length)
                    if self.multi:
                        self.st.flows[f]["delivered"] += 1
                        self.st.flows[f]["delivered_bytes"] += length

    # -- completion callback and limiters ---------------------------------------------------------
    def completion(self) -> None:
        """A completion from the heap: a synthetic NIC's DMA done, a dropped or copied skb."""
        _, idx = heapq.heappop(self.completions)
        self.zerocopy_callback(idx)

    def nic_clean(self) -> None:
        """The NIC's TX interrupt has fired and its clean-up runs (ixgbe_clean_tx_irq,
        mlx5e_poll_tx_cq): every skb whose descriptors are done is freed, in ring order,
        a zero-copy one running its callback (napi_consume_skb -> skb_zcopy_clear); then
        the next interrupt is set from the oldest completion not yet cleaned, and the
        qdisc's skbs go into the freed descriptors (netif_tx_wake_queue -> qdisc_run)."""
        freed = []
        while self.ring and self.ring[0].cqe <= self.now:
            e = self.ring.popleft()
            self.ring_desc -= e.descs
            self.ring_bytes -= e.length
            if e.idx >= 0:
                freed.append(e.idx)
        c = self.c
        self.irq_t = INF
        if self.ring:
            self.irq_t = self.ring[0].cqe + c.tx_coalesce_usecs * 1e3
            f = c.tx_max_coalesced_frames
            if f > 0 and len(self.ring) >= f and self.ring[f - 1].cqe < self.irq_t:
                self.irq_t = self.ring[f - 1].cqe
        self.clean_t = self.irq_t + c.tx_clean_latency_ns
        self.qdisc_run()
        for idx in freed:
            self.zerocopy_callback(idx)

    @staticmethod
    def descs(length: int) -> int:
        """TX descriptors of an skb: a context descriptor and one per 4 KB page (ixgbe_tx_map)."""
        return 1 + ((length + 4095) >> 12)

    def ring_fits(self, length: int) -> bool:
        """Descriptors free for it, and (BQL) the bytes in the ring not above the limit."""
        c = self.c
        return (self.ring_desc + self.descs(length) <= c.tx_ring_size
                and (c.bql_limit_bytes == 0 or self.ring_bytes <= c.bql_limit_bytes))

    def wire_bytes(self, length: int) -> int:
        """A GSO frame on the wire: its segments, each with the headers and the overhead."""
        c, g, h = self.c, self.gso_size, self.c.gso_hdr_bytes
        if g > 0 and length > g + h:
            segs = (length - h + g - 1) // g
            return length + (segs - 1) * h + segs * c.wire_overhead_bytes
        return length + c.wire_overhead_bytes

    def qdisc_run(self) -> None:
        """The qdisc's skbs into the TX ring while it has room; each on the wire in order,
        its completion when its last bit has left; interrupt coalescing (see nic_clean)."""
        c = self.c
        while self.txq and self.ring_fits(self.txq[0][0].length):
            packet, zc, idx = self.txq.popleft()
            dev = self.wire
            start = dev.free_at if dev.free_at > self.now else self.now
            done = start + self.wire_bytes(packet.length) * self.wire_ns_per_byte
            dev.free_at = done
            dev.queue.append((start, done, packet.length, packet.flow))
            e = RingEntry(done, self.descs(packet.length), packet.length, idx if zc else -1)
            self.ring.append(e)
            self.ring_desc += e.descs
            self.ring_bytes += e.length
            if len(self.ring) == 1:
                self.irq_t = done + c.tx_coalesce_usecs * 1e3
            if c.tx_max_coalesced_frames > 0 and len(self.ring) == c.tx_max_coalesced_frames and done < self.irq_t:
                self.irq_t = done
            self.clean_t = self.irq_t + c.tx_clean_latency_ns
            tr = self.traced(packet.seq)
            if tr is not None:
                tr.update(t_wire_start=start, t_wire_done=done)

    def zerocopy_callback(self, idx: int) -> None:
        """vhost_zerocopy_callback: mark the head done; mainline also queues the worker."""
        if not self.heads.mark_done(idx):
            self.violation = L.V_COMPLETION_NOT_PENDING
        tr = self.traced(self.heads.slots[idx].packet.seq)
        if tr is not None:
            tr["t_dma_done"] = self.now
        self.count("callback_ns", self.c.callback_ns)
        w = self.w_wait
        if w == "poll":
            self.end_spin()
        elif w == "span":
            self.wake_worker()  # heads[] was full: any completion frees it
        elif w in ("stall", "idle", "busy") and self.callback_queues():
            if w == "busy":
                self.end_busy_poll("new_pass")  # vhost_has_work ends busy polling
            else:
                self.wake_worker()

    def limiter_release(self) -> None:
        """An egress limiter lets its oldest skb go on to the destination."""
        _, f = self.next_limiter()
        flow = self.flows[f]
        dev = self.local if flow.local else self.wire
        if not flow.local and self.coalesced:
            _, packet, zc, idx = flow.limiter.queue[0]
            if self.txq or not self.ring_fits(packet.length):
                # the driver has stopped the queue: the limiter (this flow's qdisc) keeps
                # the skb until the ring's next clean-up
                flow.limiter.queue[0] = (self.clean_t, packet, zc, idx)
                return
        elif len(dev.queue) >= self.c.txqueuelen:
            # the device queue is full: the qdisc keeps the skb until the device has
            # finished its oldest one (netif_tx_stop_queue backpressure)
            _, packet, zc, idx = flow.limiter.queue[0]
            flow.limiter.queue[0] = (dev.queue[0][1], packet, zc, idx)
            return
        q = flow.limiter.queue
        _, packet, zc, idx = q.popleft()
        if q and q[0][0] < self.now:  # due when it was queued, but not before this one left
            q[0] = (self.now, *q[0][1:])
        self.deliver(packet, zc, idx)

    def deliver(self, packet: Packet, zc: bool, idx: int, in_sendmsg: bool = False) -> None:
        """The skb reaches its destination now: the wire (in order at line rate; a
        zero-copy skb completes when the device is done), or a local socket (a
        zero-copy skb is copied at delivery, skb_orphan_frags, and completes then)."""
        c, flow = self.c, self.flows[packet.flow]
        if not flow.local and self.coalesced:
            # through the qdisc into the TX ring (the caller made sure it takes the skb)
            self.txq.append((packet, zc, idx))
            self.qdisc_run()
            return
        if not flow.local:
            dev = self.wire
            start = dev.free_at if dev.free_at > self.now else self.now
            done = start + self.wire_bytes(packet.length) * self.wire_ns_per_byte
            if zc:
                t_zc = done + self.draw_dma_delay(flow)
                if in_sendmsg and t_zc <= self.now:
                    self.callback_in_sendmsg(packet, idx)  # a dummy frees it as it sends it
                else:
                    heapq.heappush(self.completions, (t_zc, idx))
        else:
            dev = self.local
            start = dev.free_at if dev.free_at > self.now else self.now
            copy = c.copy_ns_per_byte * packet.length if zc else 0.0
            done = start + copy + c.local_rx_ns_per_packet
            if flow.straggler_p > 0.0 and self.rng.uniform() < flow.straggler_p:
                done += flow.straggler_ns  # a slow receiver holds this one
            self.count("local_cpu_ns", copy + c.local_rx_ns_per_packet)
            if zc:
                # from an egress limiter: skb_orphan_frags_rx copies the pages at
                # delivery; the callback then reports failure (tx_zcopy_err)
                heapq.heappush(self.completions, (start + copy, idx))
                self.heads.slots[idx].failed = True
        dev.free_at = done
        dev.queue.append((start, done, packet.length, packet.flow))
        tr = self.traced(packet.seq)
        if tr is not None:
            tr.update(t_wire_start=start, t_wire_done=done)

    # -- the vhost worker ------------------------------------------------------------------------
    def worker_step(self) -> None:
        c = self.c
        self.w_next = INF
        self.w_stop = None
        self.w_wait = "run"
        self.t_w = self.now
        requeue = False
        if self.w_phase == "service_end":
            packet, path, idx = self.in_service
            self.submit(packet, path, idx)
            if path != "zerocopy" and idx < 0:
                self.batch.append(packet)  # vhost_add_used_and_signal, or the next copy batch
            self.pass_bytes += packet.length
            self.pass_packets += 1
            # vhost_exceeds_weight: VHOST_NET_WEIGHT bytes or VHOST_NET_PKT_WEIGHT packets
            requeue = self.pass_bytes >= c.weight_bytes or 0 < c.weight_packets <= self.pass_packets
        elif self.w_phase == "new_pass":
            self.pass_bytes = self.pass_packets = 0
            self.busy_polled = False
        self.device_progress()  # what was just submitted may already be done (no delivery time)
        nxt = self.flows[self.avail[0].flow if self.avail else 0]
        if nxt.limiter is not None:
            device_full = False
        elif nxt.local:
            device_full = len(self.local.queue) >= c.txqueuelen
        else:  # the NIC makes the worker wait only under backpressure (pfifo_fast drops)
            device_full = self.backpressure and len(self.txq if self.coalesced else self.wire.queue) >= c.txqueuelen
        flush = bool(self.batch) and (self.zerocopy or len(self.batch) >= c.tx_batch or requeue or not self.avail or device_full)
        if flush:
            batch, self.batch = self.batch, []
            self.add_used([(p, False, -1.0) for p in batch])
            if self.finished:
                return
        release = self.zerocopy and not requeue and (c.pend_placement != "seed" or self.heads.outstanding > c.reap_threshold)
        if release:
            self.signal_used()
            if self.finished:
                return
        self.w_busy_until = self.t_w
        if requeue:
            self.w_next = self.t_w + c.requeue_ns
            self.w_busy_until = self.w_next
            self.w_phase = "new_pass"
            self.count("requeues")
        else:
            self.fetch(nxt, device_full)
        # busy from now until w_busy_until: used-ring updates, signals, then the service or the requeue
        self.count("worker_busy_ns", self.w_busy_until - self.now)

    def submit(self, packet: Packet, path: str, idx: int) -> None:
        """sendmsg has returned: through the flow's egress limiter, if any, to the destination."""
        c = self.c
        self.bytes_submitted += packet.length
        self.count("stack_cpu_ns", c.host_stack_ns_per_packet + c.host_stack_ns_per_byte * packet.length)
        tr = self.traced(packet.seq)
        if tr is not None:
            tr["t_submit"] = self.now
        zc = path == "zerocopy"
        if self.c.select_zcopy:  # vhost_net_tx_packet
            self.tx_packets += 1
            if self.tx_packets >= 1024:
                self.tx_packets = self.tx_zcopy_err = 0
        flow = self.flows[packet.flow]
        lim = flow.limiter
        if lim is None and flow.local and zc:
            # tap's sendmsg delivers in the worker's context (tun_get_user ->
            # netif_receive_skb): the pages were copied in the service time
            # (skb_orphan_frags_rx) and the callback has run, reporting failure
            self.deliver(packet, False, idx)
            self.heads.slots[idx].failed = True
            self.callback_in_sendmsg(packet, idx)
        elif lim is None and not flow.local and self.host_qdisc_full():
            # pfifo_fast_enqueue -> qdisc_drop; kfree_skb -> skb_zcopy_clear: a zero-copy
            # skb's callback runs inside sendmsg
            self.count("nic_drops")
            if self.multi:
                self.st.flows[packet.flow]["nic_drops"] += 1
            if zc:
                self.callback_in_sendmsg(packet, idx)
        elif lim is None:
            self.deliver(packet, zc, idx, in_sendmsg=True)
        elif len(lim.queue) >= lim.capacity:
            self.count("egress_drops")  # a full limiter drops the skb, which frees it at once
            if self.multi:
                self.st.flows[packet.flow]["egress_drops"] += 1
            if zc:
                heapq.heappush(self.completions, (self.now, idx))
        else:
            # netem_enqueue: max(the previous skb's time_to_send, now + delay) + time at the rate
            release = max(lim.free_at, self.now + lim.delay) + lim.ns_per_packet + lim.ns_per_byte * packet.length
            lim.free_at = release
            lim.queue.append((release, packet, zc, idx))

    def host_qdisc_full(self) -> bool:
        """Does the qdisc in front of the NIC drop this skb? (pfifo_fast; under
        backpressure the worker waited for room before it fetched the packet.) The
        synthetic NIC has no ring: every skb not yet wholly on the wire counts."""
        if self.backpressure:
            return False
        n = len(self.txq) if self.coalesced else len(self.wire.queue)
        return n >= self.c.txqueuelen

    def callback_in_sendmsg(self, packet: Packet, idx: int) -> None:
        """vhost_zerocopy_callback run before sendmsg returns (the skb was copied or
        freed inside it): the head is done; the worker is running, nothing to wake."""
        if not self.heads.mark_done(idx):
            self.violation = L.V_COMPLETION_NOT_PENDING
        tr = self.traced(packet.seq)
        if tr is not None:
            tr["t_dma_done"] = self.now
        self.count("callback_ns", self.c.callback_ns)

    def signal_used(self) -> None:
        """vhost_zerocopy_signal_used: return the done heads allowed by the completion order."""
        h = self.heads
        batch = []
        for idx in h.releasable():
            entry = h.slots.pop(idx)
            if not entry.done:
                self.violation = L.V_RELEASED_NOT_DONE
            if entry.failed:
                self.tx_zcopy_err += 1
            batch.append((entry.packet, entry.zerocopy, entry.t_record))
        if not batch:
            return
        n = self.add_used(batch, heads=True)
        if self.finished:
            return
        if h.in_order:
            h.done_idx += n
        else:
            h.done_order.clear()
            while h.done_idx < h.upend_idx and h.done_idx not in h.slots:
                h.done_idx += 1

    def add_used(self, batch, heads: bool = False) -> int:
        """vhost_add_used_n + vhost_signal; returns how many entries went out."""
        n = 0
        for packet, zerocopy, t_record in batch:
            n += 1
            if self.host_inflight[packet.head] <= 0:
                self.violation = L.V_USED_NOT_POSTED
            self.host_inflight[packet.head] -= 1
            if len(self.used) == 4 * self.c.ring_size:
                self.violation = L.V_RING_OVERFLOW
            else:
                self.used.append(packet.head)
            tr = self.traced(packet.seq)
            if tr is not None:
                tr["t_used"], tr["used_idx"] = self.now, self.returned
            self.returned += 1
            if self.returned > self.c.warmup_packets:
                o = self.st.o
                lat = self.now - packet.t_post
                o["m_returned"] += 1
                o["m_bytes"] += packet.length
                o["m_zc"] += int(zerocopy)
                o["lat_sum"] += lat
                o["lat_max"] = max(o["lat_max"], lat)
                bucket = histogram_bucket(lat)
                self.st.hist[bucket] += 1
                if self.multi:
                    fo = self.st.flows[packet.flow]
                    fo["returned"] += 1
                    fo["zc"] += int(zerocopy)
                    fo["lat_sum"] += lat
                    self.st.flow_hist[packet.flow][bucket] += 1
                if t_record >= 0.0:
                    o["heads_hold_sum"] += self.now - t_record
                    o["heads_released"] += 1
                if self.returned == self.n_total:
                    self.finished = True
                    return n
            elif self.returned == self.c.warmup_packets:
                self.open_window()
        if heads:
            self.count("release_batches")
        self.t_w += self.c.used_ring_ns  # the used-ring update, then the signal
        self.count("used_updates")
        # vhost_signal -> vhost_notify: with event index, only when the used index passes
        # the guest's used_event (vring_need_event)
        # (the callback is armed while the guest waits, or with napi_tx whenever it has not
        # just fired: see guest_start_xmit)
        armed = self.g_cb if self.napi else self.g_state == "blocked"
        if self.c.signal_every_publish or (armed and self.returned > self.g_used_event):
            self.t_w += self.c.signal_ns
            self.count("signals")
            if self.napi:
                if self.g_cb:
                    # skb_xmit_done: virtqueue_disable_cb, virtqueue_napi_schedule: the poll
                    # runs when the interrupt arrives, or when the start_xmit under way ends
                    # (it runs with bottom halves off)
                    self.g_cb = False
                    if not self.g_poll:
                        self.g_poll, self.g_poll_t = True, self.t_w + self.c.irq_latency_ns
                        if self.g_state != "tx" and self.g_poll_t < self.g_next:
                            self.g_next = self.g_poll_t
            elif self.g_state == "blocked":
                self.g_state = "ready"
                self.g_next = self.t_w + self.c.irq_latency_ns
        return n

    def fetch(self, nxt: Flow, device_full: bool) -> None:
        """The pending limit, the destination's room, then vhost_get_vq_desc."""
        c, h = self.c, self.heads
        if self.zerocopy and c.pend_placement == "stall" and h.exceeds(c):
            self.stop("stall")  # v3.12: break at the top of the loop
            return
        if device_full:
            if nxt.local:
                oldest = self.local.queue[0][1]
            else:  # a coalesced NIC makes room at its next clean-up
                oldest = self.clean_t if self.coalesced else self.wire.queue[0][1]
            self.w_next = max(oldest, self.t_w)
            self.w_phase = "new_pass"
            self.w_stop = "nic"
            return
        if not self.avail:
            if self.zerocopy and c.pend_placement == "seed" and h.exceeds(c):
                self.stop("poll")  # tx_poll_start: the worker spins
            elif self.zerocopy and c.pend_placement == "empty_break" and h.exceeds(c):
                self.stop("stall")  # v3.10: break; a completion that queues the worker restarts it
            elif c.busyloop_timeout_ns > 0 and not self.busy_polled:
                # vhost_net_busy_poll: poll the empty avail ring until the timeout
                self.busy_polled = True
                self.w_wait = "busy"
                self.w_next = self.w_busy_until = self.t_w + c.busyloop_timeout_ns
                self.w_phase = "resume"
                self.count("busypoll_ns", c.busyloop_timeout_ns)
            else:
                self.w_wait = "idle"  # vhost_enable_notify
            return
        packet = self.avail[0]
        path, need_slot = "copy", False
        if self.zerocopy:
            # the length vhost compares: the frame, and the virtio-net header when the
            # socket takes it (vhost_hlen = 0: get_tx_bufs -> init_iov_iter)
            length = packet.length + (VNET_HDR_LEN if c.vnet_hdr == "socket" else 0)
            if c.goodcopy_test == "le":
                big = not length <= c.goodcopy_len  # the V5 patch: if (len <= VHOST_GOODCOPY_LEN) copy
            else:
                big = length >= c.goodcopy_len  # mainline: zcopy_used = len >= VHOST_GOODCOPY_LEN && ...
            if big:
                path = "zerocopy"
                if c.pend_placement == "copy_fallback" and h.exceeds(c):
                    path = "copy_fallback"  # !vhost_exceeds_maxpend(net)
                elif c.select_zcopy and self.tx_packets // 64 < self.tx_zcopy_err:
                    path = "copy"  # vhost_net_tx_select_zcopy
            # which copies take a slot: the seed's all; 2012's zcopy_used = len >=
            # VHOST_GOODCOPY_LEN || upend_idx != done_idx; from v3.12 none
            via = c.copy_via_heads
            need_slot = path == "zerocopy" or via == "always" or (via == "when_pending" and (big or h.upend_idx != h.done_idx))
            if need_slot and (h.span_full() or h.outstanding >= c.ring_size):
                if path == "zerocopy" and via == "never" and (c.pend_placement == "copy_fallback" or c.heads_full_copy):
                    path, need_slot = "copy_fallback", False  # v3.12: (upend_idx + 1) % UIO_MAXIOV != done_idx
                else:
                    self.stop("span")
                    self.count("span_stalls")
                    return
        self.avail.popleft()
        self.busy_polled = False
        self.host_inflight[packet.head] += 1
        self.bytes_fetched += packet.length
        if path == "zerocopy":
            service = c.per_packet_ns + c.zc_setup_ns + c.pin_ns_per_page * ((packet.length + 4095) >> 12)
            if nxt.local and nxt.limiter is None:
                service += c.copy_ns_per_byte * packet.length  # skb_orphan_frags_rx inside sendmsg
        else:
            service = c.per_packet_ns + c.copy_ns_per_byte * packet.length
            if path == "copy_fallback":
                self.count("fallbacks")
        idx = -1
        if need_slot:
            if h.upend_idx in h.slots:
                self.violation = L.V_HEAD_OVERWRITTEN
            idx = h.record(HeadEntry(packet, path == "zerocopy", self.t_w, done=path != "zerocopy"))
            if h.outstanding > c.ring_size or h.upend_idx - h.done_idx >= h.size:
                self.violation = L.V_OUTSTANDING
            self.st.o["outstanding_max"] = max(self.st.o["outstanding_max"], h.outstanding)
        tr = self.traced(packet.seq)
        if tr is not None:
            tr["t_fetch"], tr["path"] = self.t_w, path
        self.in_service = (packet, path, idx)
        self.w_phase = "service_end"
        self.w_next = self.t_w + service
        self.w_busy_until = self.w_next

    def stop(self, wait: str) -> None:
        self.w_wait = wait
        self.w_stop = "limit"
        self.count("stalls")

    # -- the guest -------------------------------------------------------------------------------
    def guest_event(self) -> None:
        if self.g_state == "tx":
            self.posted_now = True
            head, length, flow = self.g_packet
            for copy in range(2):
                if len(self.avail) >= self.c.ring_size:
                    self.count("guest_avail_overruns")  # refused by vhost's avail-index check
                    break
                p = Packet(self.posted, head, length, self.now, flow)
                self.avail.append(p)
                tr = self.traced(p.seq)
                if tr is not None:
                    tr.update(t_post=self.now, seq=p.seq, head=head, len=length, flow=flow)
                self.posted += 1
                self.bytes_posted += length
                # an adversarial guest writes the same head again
                p_dup = self.c.duplicate_head_p
                if copy == 1 or p_dup == 0.0 or self.rng.uniform() >= p_dup:
                    break
                self.count("duplicates")
            if self.socks and not self.napi:
                # start_xmit's skb_orphan (without napi_tx): the socket's charge ends here
                self.sock_release(flow, length + self.c.guest_truesize_overhead)
            if self.w_next == INF and self.w_wait == "idle":  # virtqueue_kick
                self.wake_worker()
                self.guest_ready = self.now + self.c.kick_ns  # the VM exit: guest CPU
                self.count("guest_busy_ns", self.c.kick_ns)
                self.count("kicks")
            elif self.w_wait == "poll":
                self.end_spin()  # the spinning worker finds the post; notification is off
            elif self.w_wait == "busy":
                self.end_busy_poll("resume")  # busy polling sees the post at once
        if self.napi and self.g_poll and self.g_poll_t <= self.now:
            self.tx_poll()
        self.guest_try = True

    def tx_poll(self) -> None:
        """virtnet_poll_tx (napi_tx): free_old_xmit_skbs (done by guest_start_xmit, which
        follows), then virtqueue_enable_cb_prepare: the next used buffer interrupts again.
        Its CPU, guest_tx_poll_ns, delays the guest's next step."""
        c = self.c
        self.g_poll, self.polled = False, True
        self.count("tx_polls")
        self.count("guest_busy_ns", c.guest_tx_poll_ns)
        self.guest_ready = max(self.guest_ready, self.g_busy_until) + c.guest_tx_poll_ns
        self.g_cb, self.g_used_event = True, self.returned

    # -- the guest's sockets ------------------------------------------------------------------
    def sock_try(self, f: int) -> bool:
        """The sender of flow f tries to send: sock_alloc_send_pskb sleeps while
        sk_wmem_alloc >= sk_sndbuf (until sock_def_write_space wakes it), and
        tcp_small_queue_check holds while sk_wmem_alloc > the limit."""
        fl = self.flows[f]
        if fl.sndbuf > 0:
            if fl.sleeping:
                return False
            if fl.wmem >= fl.sndbuf:
                fl.sleeping = True
                return False
        return fl.tsq == 0 or fl.wmem <= fl.tsq

    def sock_room(self, f: int) -> bool:
        """Would flow f's next try succeed (sock_try without its side effect)?"""
        fl = self.flows[f]
        return ((fl.sndbuf == 0 or (not fl.sleeping and fl.wmem < fl.sndbuf))
                and (fl.tsq == 0 or fl.wmem <= fl.tsq))

    def sock_release(self, f: int, truesize: int) -> None:
        """sock_wfree: the charge ends; sock_def_write_space wakes a sleeping sender once
        sk_wmem_alloc < sk_sndbuf / 2 (sock_writeable)."""
        fl = self.flows[f]
        fl.wmem -= truesize
        if fl.sleeping and fl.wmem < (fl.sndbuf >> 1):
            fl.sleeping = False

    def to_qdisc(self, length: int, f: int, t_arrival: float, drained: bool = False) -> None:
        """An skb of flow f enters the guest qdisc, or is dropped there (freeing it ends its
        socket charge). A packet that finds the guest idle is sent at once."""
        if self.g_state == "idle" and not self.qdisc or len(self.qdisc) < self.c.qdisc_len:
            self.qdisc.append((length, f, t_arrival))
            self.guest_try = self.guest_try or (self.g_state == "idle" and not drained)
        else:
            self.count("drops")
            if self.multi:
                self.st.flows[f]["qdisc_drops"] += 1
            if self.socks:
                self.sock_release(f, length + self.c.guest_truesize_overhead)

    def drain(self, f: int) -> None:
        """Flow f's sends that waited for room go on while it has room (open loop)."""
        fl = self.flows[f]
        while fl.backlog and self.sock_try(f):
            length, t_arrival = fl.backlog.popleft()
            fl.wmem += length + self.c.guest_truesize_overhead
            self.to_qdisc(length, f, t_arrival, drained=True)

    def arrival(self) -> None:
        _, f = self.next_arrival()
        flow = self.flows[f]
        flow.a_next = self.now + self.rng.exponential(flow.mean_gap)
        length = self.draw_size(f)
        self.count("arrivals")
        if self.socks:
            if flow.backlog or not self.sock_try(f):
                # the sender waits for room in its socket; it holds qdisc_len sends at most
                if len(flow.backlog) < self.c.qdisc_len:
                    flow.backlog.append((length, self.now))
                else:
                    self.count("sock_drops")
                    if self.multi:
                        self.st.flows[f]["sock_drops"] += 1
                return
            flow.wmem += length + self.c.guest_truesize_overhead  # skb_set_owner_w
        self.to_qdisc(length, f, self.now)

    def guest_start_xmit(self) -> None:
        """free_old_xmit_skbs, then take a descriptor for the next packet (or stop the queue)."""
        c = self.c
        while self.used:
            head = self.used.popleft()
            if head in self.posted_ids:
                self.posted_ids.discard(head)
                self.free_ids.append(head)
                descs, flow, truesize = self.id_info.pop(head)
                self.d_free += descs
                if self.napi and self.socks:
                    self.sock_release(flow, truesize)  # napi_consume_skb -> sock_wfree
                if self.host_inflight[head] > 0:
                    self.count("guest_early_free")
            else:
                self.count("guest_bad_ring")  # BAD_RING: "id %u is not a head!"
        if self.socks and self.poisson:
            for f in range(len(self.flows)):  # senders that now have room go on
                self.drain(f)
        self.g_stopped = False
        self.g_sockwait = False
        # the vCPU runs one thing at a time: a kick still under way delays the next send
        ready = max(self.guest_ready, self.g_busy_until)
        poll_t = self.g_poll_t if self.napi and self.g_poll else INF  # a TX poll still to run
        if self.poisson and not self.qdisc:
            self.g_state, self.g_next, self.g_busy_until = "idle", poll_t, ready
            return
        stop_free = min(c.guest_stop_free, c.ring_size)
        stopped = self.d_free == 0 or (self.g_qstop and self.d_free < stop_free)
        if not stopped and not self.poisson and self.g_held is None:
            room = None
            if self.socks:
                # every flow's sender tries (sock_alloc_send_pskb, tcp_small_queue_check)
                room = [self.sock_try(f) for f in range(len(self.flows))]
                if not any(room):
                    # no socket has room: wait for a TX interrupt's frees (napi_tx)
                    self.g_state, self.g_next, self.g_busy_until = "blocked", poll_t, ready
                    self.g_sockwait = True
                    return
            # a bulk sender: each packet belongs to a flow drawn by share among those with room
            flow = 0
            if self.multi:
                flow = alias_draw(self.rng, self.share_thresh, self.share_alias)
                while room is not None and not room[flow]:
                    flow = alias_draw(self.rng, self.share_thresh, self.share_alias)
            length = self.draw_size(flow)
            if self.socks:
                self.flows[flow].wmem += length + c.guest_truesize_overhead  # skb_set_owner_w
            self.g_held = (length, flow)
        if not stopped:
            length, flow = (self.qdisc[0][0], self.qdisc[0][1]) if self.poisson else self.g_held
            need = 1 if c.guest_indirect_desc else virtio_descs(length, c.gso_hdr_bytes)
            stopped = self.d_free < need  # the chain does not fit: wait, as a stopped queue does
        if stopped:
            # the queue is stopped (virtio-net's start_xmit: num_free < 2 + MAX_SKB_FRAGS)
            # and what free_old_xmit_skbs reclaimed does not restart it (virtnet_poll_tx:
            # num_free >= 2 + MAX_SKB_FRAGS): wait for an interrupt, asked for once 3/4 of
            # the outstanding buffers are used (virtqueue_enable_cb_delayed) or at the next
            # (virtqueue_enable_cb). With napi_tx the driver asks when it stops the queue, in
            # the start_xmit that posted; a TX poll's own request (the next used) stands.
            self.g_state, self.g_next, self.g_busy_until = "blocked", poll_t, ready
            self.g_stopped = True
            if not self.napi or (self.posted_now and not self.polled):
                outstanding = self.posted - self.returned
                self.g_cb = True
                self.g_used_event = self.returned + (outstanding * 3 // 4 if c.guest_cb_delayed else 0)
            return
        head = self.free_ids.pop()
        self.d_free -= need
        self.g_qstop = self.d_free < stop_free  # start_xmit: netif_stop_subqueue after this one
        self.posted_ids.add(head)
        self.id_info[head] = (need, flow, length + c.guest_truesize_overhead)
        if self.poisson:
            length, flow, t_arrival = self.qdisc.popleft()
            self.count("qdisc_delay_sum", self.now - t_arrival)
            self.count("qdisc_dequeued")
        self.g_held = None
        if self.napi:
            # start_xmit with napi_tx (no xmit_more: kick): virtqueue_disable_cb,
            # free_old_xmit_skbs, virtqueue_enable_cb_delayed
            outstanding = self.posted - self.returned
            self.g_cb = True
            self.g_used_event = self.returned + (outstanding * 3 // 4 if c.guest_cb_delayed else 0)
        self.g_packet = (head, length, flow)
        self.g_state = "tx"
        self.g_next = ready + c.guest_xmit_ns
        self.g_busy_until = self.g_next
        self.count("guest_busy_ns", c.guest_xmit_ns)

    # -- the record ------------------------------------------------------------------------------
    def finish(self, status: str) -> None:
        self.device_progress()
        o = self.st.o
        in_avail = sum(p.length for p in self.avail)
        in_service = self.in_service[0].length if (self.w_next < INF and self.w_phase == "service_end") else 0
        if self.bytes_posted != self.bytes_fetched + in_avail or self.bytes_fetched != self.bytes_submitted + in_service:
            if o["violations"] == 0:
                o["first_violation"], o["first_violation_t"] = L.V_BYTES, self.now
            o["violations"] += 1
        o["status"] = {"done": L.STATUS_DONE, "deadlock": L.STATUS_DEADLOCK, "max_events": L.STATUS_MAX_EVENTS, "violation": L.STATUS_VIOLATION}[status]
        o["t_start"] = self.t_start
        o["t_end"] = self.now
        if self.w_wait == "poll":  # a spin still under way: its CPU so far
            o["worker_busy_ns"] += self.now - self.w_busy_until
            o["poll_spin_ns"] += self.now - self.w_busy_until
        if self.w_wait == "busy":  # busy polling past the end is not counted
            o["busypoll_ns"] -= max(self.w_busy_until - self.now, 0.0)
        # busy intervals were counted whole when scheduled: drop what lies past the end
        o["worker_busy_ns"] -= max(self.w_busy_until - self.now, 0.0)
        o["guest_busy_ns"] -= max(self.g_busy_until - self.now, 0.0)
        o["deadlocked"] = status == "deadlock"


def simulate_reference(config=None, **overrides) -> Result:
    """Run the reference model; same inputs and output as :func:`zclab.simulate`."""
    import numpy as np

    cfg = as_config(config, **overrides)
    model = ReferenceModel(cfg)
    status = model.run()
    model.finish(status)
    out = model.st.o
    hist = np.array(model.st.hist, np.int64)
    if status == "max_events":
        from .simulation import SimulationError

        raise SimulationError(f"the run stopped after max_events={model.max_events} events")
    if status == "violation":
        from .simulation import InvariantViolation

        raise InvariantViolation(L.VIOLATIONS[int(out["first_violation"])])
    flow_i = np.array([[fo[k] for k in L.FLOW_I] for fo in model.st.flows], np.int64)
    flow_f = np.array([[fo[k] for k in L.FLOW_F] for fo in model.st.flows], np.float64)
    flow_hist = np.array(model.st.flow_hist, np.int64)
    summary = summarize(out, hist, cfg, flow_i, flow_f, flow_hist)
    trace = None
    if cfg.trace_packets:
        import pandas as pd

        rows = [dict(model.trace[k]) for k in sorted(model.trace)]
        trace = pd.DataFrame(rows)
        # as the engine's trace: -1 for a packet not returned before the run ended
        trace["used_idx"] = trace.get("used_idx", pd.Series(dtype=float)).reindex(trace.index).fillna(-1).astype(int)
    return Result(config=cfg, summary=summary, trace=trace)
