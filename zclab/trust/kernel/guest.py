"""The shell commands that run scenarios (POSIX sh: busybox in the qemu guest, /bin/sh on
a host), and the reading of their output.

Each scenario prints, on the script's standard output::

    @@ZCLAB BEGIN i
    @@ZCLAB CPU0 <the cpu line of /proc/stat before the driver; CPU1 after it>
    ZC_... lines of the driver
    @@ZCLAB STAT rc=0 lower_tx_packets=N lower_tx_dropped=N
    @@ZCLAB QDISC <tc -s qdisc show dev zcdum0, line by line>
    @@ZCLAB END i

Interfaces: ``zcdum0`` (dummy, the wire; netem on it), ``zcmvt0`` (macvtap on it),
``zctap0`` (tap, local delivery).
"""

from __future__ import annotations

import shlex

from .parse import parse_driver, parse_kv

__all__ = ["scenario_commands", "split_output", "LOWER", "MACVTAP", "TAP", "MARK"]

LOWER, MACVTAP, TAP = "zcdum0", "zcmvt0", "zctap0"
MARK = "@@ZCLAB"


def scenario_commands(index: int, scn, driver: str, tracefs: str | None, watchdog_s: float = 5.0) -> str:
    """Shell commands for scenario ``index``; they expect a function ``setzc 0|1`` that
    loads vhost_net with that experimental_zcopytx."""
    q = shlex.quote
    lines = [f'echo "{MARK} BEGIN {index}"', f"setzc {scn.zcopytx}"]
    if scn.dest == "wire":
        lines += [
            # no IPv6 on the test devices: its router solicitations would count as traffic
            f"ip link add {LOWER} type dummy && echo 1 > /proc/sys/net/ipv6/conf/{LOWER}/disable_ipv6 2>/dev/null;"
            f" ip link set {LOWER} up",
            f"tc qdisc add dev {LOWER} root netem {scn.netem}" if scn.netem else ":",
            f"ip link add link {LOWER} name {MACVTAP} type macvtap mode bridge &&"
            f" echo 1 > /proc/sys/net/ipv6/conf/{MACVTAP}/disable_ipv6 2>/dev/null; ip link set {MACVTAP} up",
            f"tx0=$(cat /sys/class/net/{LOWER}/statistics/tx_packets); dr0=$(cat /sys/class/net/{LOWER}/statistics/tx_dropped)",
            f"idx=$(cat /sys/class/net/{MACVTAP}/ifindex)",
            f"[ -e /dev/tap$idx ] || mknod /dev/tap$idx c $(tr : ' ' < /sys/class/net/{MACVTAP}/macvtap/tap$idx/dev)",
            f'echo "{MARK} CPU0 $(head -n1 /proc/stat)"',
            " ".join([q(driver)] + [a if a == "/dev/tap$idx" else q(a)
                                    for a in scn.driver_args("/dev/tap$idx", tracefs, watchdog_s)]),
            "rc=$?",
            f'echo "{MARK} CPU1 $(head -n1 /proc/stat)"',
            # skbs still held by netem (copies are returned before they leave): let them go
            f"n=0; while [ $n -lt 100 ] && ! tc -s qdisc show dev {LOWER} | grep -q 'backlog 0b 0p'; do sleep 0.1; n=$((n+1)); done",
            f'echo "{MARK} STAT rc=$rc lower_tx_packets=$(($(cat /sys/class/net/{LOWER}/statistics/tx_packets) - tx0)) '
            f'lower_tx_dropped=$(($(cat /sys/class/net/{LOWER}/statistics/tx_dropped) - dr0))"',
            f"tc -s qdisc show dev {LOWER} | sed 's/^/{MARK} QDISC /'",
            f"ip link del {MACVTAP}; ip link del {LOWER}",
        ]
    else:
        lines += [
            f'echo "{MARK} CPU0 $(head -n1 /proc/stat)"',
            " ".join([q(driver)] + [q(a) for a in scn.driver_args(TAP, tracefs, watchdog_s)]),
            "rc=$?",
            f'echo "{MARK} CPU1 $(head -n1 /proc/stat)"',
            f'echo "{MARK} STAT rc=$rc"',
            f"ip link del {TAP} 2>/dev/null",
        ]
    lines.append(f'echo "{MARK} END {index}"')
    return "\n".join(lines) + "\n"


def split_output(text: str) -> dict[int, dict]:
    """Per scenario index: {"driver": parse_driver(...), "stats": {...}, "ended": bool, "text": ...}.

    >>> out = split_output("@@ZCLAB BEGIN 0\\nZC_RESULT sent=1\\n@@ZCLAB STAT rc=0 lower_tx_packets=1\\n@@ZCLAB END 0\\n")
    >>> out[0]["stats"], out[0]["ended"], out[0]["driver"]["result"]
    ({'qdisc': '', 'rc': 0, 'lower_tx_packets': 1}, True, {'sent': 1})
    """
    runs: dict[int, dict] = {}
    cur = None
    for raw in text.replace("\r", "").splitlines():
        line = raw.strip("\x00")
        if line.startswith(MARK + " "):
            _, tag, *rest = line.split(" ", 2)
            rest_text = rest[0] if rest else ""
            if tag == "BEGIN":
                cur = {"lines": [], "stats": {"qdisc": ""}, "ended": False}
                runs[int(rest_text.split()[0])] = cur
            elif cur is None:
                continue
            elif tag == "STAT":
                cur["stats"].update(parse_kv(rest_text))
            elif tag in ("CPU0", "CPU1"):  # "cpu  user nice system idle iowait irq softirq steal ..."
                cur["stats"][tag.lower()] = [int(x) for x in rest_text.split()[1:]]
            elif tag == "QDISC":
                cur["stats"]["qdisc"] += rest_text + "\n"
            elif tag == "END":
                cur["ended"] = True
                cur = None
        elif cur is not None:
            cur["lines"].append(line)
    out = {}
    for i, r in runs.items():
        text_i = "\n".join(r["lines"])
        out[i] = {"driver": parse_driver(text_i), "stats": r["stats"], "ended": r["ended"], "text": text_i}
    return out
