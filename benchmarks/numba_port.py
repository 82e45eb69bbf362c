"""The C anchor's model ported line for line to numba: how close numba itself
comes to the C floor, next to zclab's engine.

    python benchmarks/numba_port.py            # 2,000,000 packets, median of 5

``../shared/anchors/c_model.c`` simulates a subset of the model (one worker that
stalls above max_pend, completions that wake it, in-order or out-of-order
release, the NIC as a FIFO without a length limit, exponential DMA latency with
stragglers) in one tight loop. ``run`` below is the same loop in numba, with the
same random numbers: its results are identical to C's (the script prints both),
so the speeds compare like for like. The gap between this port and the engine
(benchmarks/bench_engine.py) is the price of what the engine models beyond the
subset, not of numba. Not part of the package: nothing else imports it.
"""

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, uint64

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import DEFAULT_ANCHOR, build_anchor  # noqa: E402

UIO = 1024
M = UIO - 1
INF = 1e300


@njit(inline="always")
def rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(inline="always")
def nxt(s):
    r = rotl(s[1] * uint64(5), 7) * uint64(9)
    t = s[1] << uint64(17)
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
    s[2] ^= t; s[3] = rotl(s[3], 45)
    return r


@njit(inline="always")
def u01(s):
    return float(nxt(s) >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def run(N, seed, ooo, imix, size_bytes):
    """c_model.c's main loop: N packets returned; returns (returned, t_end,
    latency sum, zero-copy packets returned, stalls)."""
    ring = 256; max_pend = 128; goodcopy = 256; rate = 10.0; per_packet = 1000.0; cpb = 0.2; zc_setup = 200.0
    pin = 150.0; gx = 800.0; irq = 2000.0; dma = 3000.0; sp = 0.001; sns = 1e6; ovh = 24
    s = np.empty(4, np.uint64)
    x = uint64(seed)
    for i in range(4):
        x = x + uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
        s[i] = z ^ (z >> uint64(31))
    hist = np.zeros(64 << 7, np.int64)
    h_state = np.zeros(UIO, np.int8); h_zc = np.zeros(UIO, np.int8); h_post = np.zeros(UIO); h_len = np.zeros(UIO, np.int64)
    donelist = np.zeros(UIO, np.int64); dl_n = 0
    heap_t = np.zeros(2 * UIO + 8); heap_k = np.zeros(2 * UIO + 8, np.int64); hn = 0
    av_post = np.zeros(ring); av_len = np.zeros(ring, np.int64); av_head = 0; av_n = 0
    upend = 0; done = 0; held = 0
    g_blocked = False; g_is_wake = False; nic_free = 0.0
    w_busy = False; w_idle = True; w_next = INF
    returned = 0; zc_ret = 0; ret_bytes = 0.0; lat_sum = 0.0; out_area = 0.0; out_last = 0.0; busy = 0.0; t_end = 0.0
    stalls = 0
    finished = False

    g_free = ring - 1
    if imix:
        u = u01(s) * 12.0
        g_len = 64 if u < 7.0 else (576 if u < 11.0 else 1500)
    else:
        g_len = size_bytes
    g_next = gx
    while not finished:
        th = heap_t[0] if hn else INF
        tw = w_next if w_busy else INF
        tg = g_next
        # C calls worker_top() from a completion, from the worker's own event and
        # from a kick: here each of those sets run_worker, and one copy runs below
        run_worker = False
        guest_post = False
        t = 0.0
        if th <= tw and th <= tg:
            if th >= INF:
                break
            t = th
            idx = heap_k[0]
            # pop
            hn -= 1
            lt = heap_t[hn]; lk = heap_k[hn]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= hn:
                    break
                if c + 1 < hn and heap_t[c + 1] < heap_t[c]:
                    c += 1
                if heap_t[c] >= lt:
                    break
                heap_t[i] = heap_t[c]; heap_k[i] = heap_k[c]; i = c
            heap_t[i] = lt; heap_k[i] = lk
            h_state[idx & M] = 2
            if ooo:
                donelist[dl_n] = idx; dl_n += 1
            if not w_busy:
                run_worker = True
        elif tw <= tg:
            t = tw
            run_worker = True
        else:
            t = tg
            if g_is_wake:
                g_blocked = False
                g_free -= 1
                if imix:
                    u = u01(s) * 12.0
                    g_len = 64 if u < 7.0 else (576 if u < 11.0 else 1500)
                g_next = t + gx; g_is_wake = False
            else:
                guest_post = True
                tail = (av_head + av_n) % ring
                av_post[tail] = t; av_len[tail] = g_len; av_n += 1
                if w_idle and not w_busy:
                    run_worker = True
                # guest continues after the (possible) kick below
        if run_worker:
            # release (vhost_zerocopy_signal_used): the done run from done_idx in
            # order, or the done list out of order; publish_one for each
            k = 0
            while not finished:
                if ooo:
                    if k >= dl_n:
                        break
                    sl = donelist[k] & M
                else:
                    if done >= upend or h_state[done & M] != 2:
                        break
                    sl = done & M
                    done += 1
                k += 1
                lat = t - h_post[sl]
                lat_sum += lat
                xb = np.float64(lat if lat > 1.0 else 1.0).view(np.int64)
                b = (xb >> 45) - (1023 << 7)
                if b >= (64 << 7):
                    b = (64 << 7) - 1
                hist[b] += 1
                ret_bytes += h_len[sl]; zc_ret += h_zc[sl]; h_state[sl] = 0
                returned += 1
                if returned == N:
                    finished = True; t_end = t
            if ooo:
                dl_n = 0
                while done < upend and h_state[done & M] == 0:
                    done += 1
            if k:
                out_area += held * (t - out_last); out_last = t; held -= k
                g_free += k
                if g_blocked and not g_is_wake:
                    g_is_wake = True; g_next = t + irq
            if not finished:
                if held > max_pend or (upend - done) + 1 >= UIO:
                    w_busy = False; w_idle = False; w_next = INF; stalls += 1
                elif av_n == 0:
                    w_busy = False; w_idle = True; w_next = INF
                else:
                    post = av_post[av_head]; ln = av_len[av_head]
                    av_head = (av_head + 1) % ring; av_n -= 1
                    zc = ln > goodcopy
                    sl = upend & M
                    h_post[sl] = post; h_len[sl] = ln; h_zc[sl] = zc
                    if zc:
                        sv = per_packet + zc_setup + pin * ((ln + 4095) // 4096)
                        h_state[sl] = 1
                    else:
                        sv = per_packet + cpb * ln
                        h_state[sl] = 2
                        if ooo:
                            donelist[dl_n] = upend; dl_n += 1
                    out_area += held * (t - out_last); out_last = t; held += 1
                    sub = t + sv
                    st = sub if sub > nic_free else nic_free
                    wd = st + (ln + ovh) * 8.0 / rate
                    nic_free = wd
                    if zc:
                        d = -dma * math.log(1.0 - u01(s))
                        if u01(s) < sp:
                            d += sns
                        # push
                        tt = wd + d
                        i = hn; hn += 1
                        while i > 0:
                            pp = (i - 1) >> 1
                            if heap_t[pp] <= tt:
                                break
                            heap_t[i] = heap_t[pp]; heap_k[i] = heap_k[pp]; i = pp
                        heap_t[i] = tt; heap_k[i] = upend
                    upend += 1
                    busy += sv
                    w_busy = True; w_idle = False; w_next = sub
        if guest_post and not finished:
            # the guest's post continues: next packet or block
            if g_free > 0:
                g_free -= 1
                if imix:
                    u = u01(s) * 12.0
                    g_len = 64 if u < 7.0 else (576 if u < 11.0 else 1500)
                g_next = t + gx
            else:
                g_blocked = True; g_next = INF
    return returned, t_end, lat_sum, zc_ret, stalls


# c_model.c's configurations: (out of order, IMIX sizes, fixed size)
CONFIGS = {"imix_inorder": (False, True, 1500), "imix_ooo": (True, True, 1500), "tso_inorder": (False, False, 65536)}


def main(packets: int = 2_000_000, repeats: int = 5) -> None:
    exe = build_anchor(DEFAULT_ANCHOR)
    if exe is None:
        return
    print(f"== numba port of the C anchor ({packets:,} packets, median of {repeats} runs each, interleaved)")
    print(f"{'config':<14} {'C Mpkt/s':>9} {'port Mpkt/s':>12} {'ratio':>6}   mpps C / port, stalls C / port")
    for name, (ooo, imix, size) in CONFIGS.items():
        run(1000, 1, ooo, imix, size)  # compile (or load the cache) outside the timing
        c_speed, p_speed = [], []
        for _ in range(repeats):
            c = json.loads(subprocess.run([str(exe), "--packets", str(packets), "--config", name],
                                          capture_output=True, text=True, check=True).stdout)
            c_speed.append(c["packets_per_s"])
            t0 = time.perf_counter()
            returned, t_end, _, _, stalls = run(packets, 1, ooo, imix, size)
            p_speed.append(packets / (time.perf_counter() - t0))
        cs, ps = statistics.median(c_speed), statistics.median(p_speed)
        print(f"{name:<14} {cs / 1e6:9.2f} {ps / 1e6:12.2f} {ps / cs:6.2f}   "
              f"{c['mpps']:.6f} / {returned / t_end * 1e3:.6f}, {c['stalls']} / {stalls}")


if __name__ == "__main__":
    main()
