"""zclab.trust.kernel without a kernel: Config -> scenario, refusals, output parsing, info, CLI."""

import importlib
import io
import json
import subprocess

import pytest

from zclab import Config, ConfigError
from zclab.cli import main
from zclab.trust.kernel import guest, info, install, qemu, scenario
from zclab.trust.kernel.build import driver_binary
from zclab.trust.kernel.initramfs import Cpio
from zclab.trust.kernel.parse import DriverOutputError, build_result, parse_driver, parse_qdisc

SCENARIO_MODULE = importlib.import_module("zclab.trust.kernel.scenario")  # the package's `scenario` is the function
FIXED = dict(size_dist="fixed", size_bytes=1500, n_packets=1000)


# --- Config -> scenario ------------------------------------------------------------------

def test_fixed_wire_defaults():
    s = scenario(Config(**FIXED))
    assert (s.dest, s.sizes, s.n_packets, s.ring_size, s.zcopytx, s.netem) == ("wire", (1500,), 1000, 256, 1, None)
    assert s.driver_args("/dev/tap9") == ["-m", "/dev/tap9", "-s", "1500", "-n", "1000", "-q", "256", "-W", "5"]


def test_copy_mode_is_the_module_parameter_and_local_uses_a_tap():
    s = scenario(Config(**FIXED, mode="copy", dest="local", ring_size=512))
    assert s.zcopytx == 0 and s.dest == "local"
    assert s.driver_args("zctap0", tracefs="/t")[:2] == ["-t", "zctap0"]
    assert s.driver_args("zctap0", tracefs="/t")[-4:] == ["-K", "/t", "-B", "16384"]
    assert "-q" in s.driver_args("x") and "512" in s.driver_args("x")


def test_egress_rate_and_queue_become_netem():
    assert scenario(Config(**FIXED, egress_rate_mbps=12.5, egress_queue=77)).netem == "rate 12500000bit limit 77"
    # packets/s: bits of the frame per packet
    assert scenario(Config(**FIXED, egress_rate_pps=1000)).netem == f"rate {1000 * 1500 * 8}bit limit 1000"


def test_egress_delay_becomes_netem_delay_in_microseconds():
    s = scenario(Config(**FIXED, egress_delay_ns=2e6, egress_queue=5000))
    assert s.netem == "delay 2000us limit 5000"
    assert scenario(Config(**FIXED, egress_delay_ns=1500.0)).netem == "delay 1.5us limit 1000"


def test_vnet_hdr_vhost_negotiates_the_header():
    s = scenario(Config(**FIXED, vnet_hdr="vhost"))
    assert s.vnet_hdr == "vhost" and "-V" in s.driver_args("x")
    assert "-V" not in scenario(Config(**FIXED)).driver_args("x")
    with pytest.raises(ConfigError) as e:  # a GSO frame needs the header in the socket
        scenario(Config(**{**FIXED, "size_bytes": 9000}, vnet_hdr="vhost"))
    assert e.value.field == "size_bytes"


def test_cycle_posts_the_table_in_turn():
    s = scenario(Config(size_dist="cycle", size_table="1500,64", n_packets=10))
    assert s.sizes == (1500, 64)
    assert [s.size_of(i) for i in range(4)] == [1500, 64, 1500, 64]
    assert "-s" in s.driver_args("x") and "1500,64" in s.driver_args("x")


def test_ignored_fields_do_not_refuse():
    cfg = Config(**FIXED, policy="ring-quarter-stall", host="modern-host", per_packet_ns=1.0, line_rate_gbps=1.0,
                 dma_base_ns=5.0, warmup_packets=0, seed=7, trace_packets=10, tx_batch=64)
    assert scenario(cfg).sizes == (1500,)
    assert {"per_packet_ns", "line_rate_gbps", "pend_placement", "warmup_packets"} <= SCENARIO_MODULE.IGNORED


def test_every_config_field_is_honoured_refused_or_ignored():
    from zclab.model.config import PARAMETERS
    mod = SCENARIO_MODULE
    groups = (mod.HONOURED, mod.REFUSED, mod.IGNORED)
    assert set(PARAMETERS) == set().union(*groups), "a new Config field: decide what a kernel run does with it"
    assert not (mod.HONOURED & mod.REFUSED) and not (mod.HONOURED & mod.IGNORED) and not (mod.REFUSED & mod.IGNORED)


REFUSED = [
    ("arrival", dict(arrival="poisson")),
    ("size_dist", dict(size_dist="imix")),
    ("size_dist", dict(size_dist="uniform")),
    ("size_dist", dict(size_dist="bimodal")),
    ("size_dist", dict(size_dist="empirical", size_table="64:1,1500:1")),
    ("flows", dict(flows='[{"name": "a", "share": 1.0}]')),
    ("goodcopy_len", dict(goodcopy_len=128)),
    ("max_pend", dict(max_pend=64)),
    ("uio_maxiov", dict(uio_maxiov=512, max_pend=128)),
    ("weight_bytes", dict(weight_bytes=4096)),
    ("completion", dict(completion="out_of_order")),
    ("duplicate_head_p", dict(duplicate_head_p=0.1)),
    ("straggler_p", dict(straggler_p=0.01)),
    ("signal_every_publish", dict(signal_every_publish=True)),
    ("egress_rate_mbps", dict(dest="local", egress_rate_mbps=10)),
    ("egress_rate_pps", dict(dest="local", egress_rate_pps=1000)),
    ("size_bytes", dict(size_bytes=59)),
    ("n_packets", dict(n_packets=200_001)),
]


@pytest.mark.parametrize("field,kw", REFUSED, ids=[f"{f}-{i}" for i, (f, _) in enumerate(REFUSED)])
def test_unhonourable_fields_are_refused_by_name(field, kw):
    params = {**FIXED, **kw}
    if field in ("flows",):
        params.pop("size_dist"), params.pop("size_bytes")
    try:
        cfg = Config(**params)
    except ConfigError as exc:  # the model itself refuses it: not a kernel question
        pytest.skip(f"Config refuses it first: {exc}")
    with pytest.raises(ConfigError) as e:
        scenario(cfg)
    assert e.value.field == field
    assert "kernel harness allows" in str(e.value)


def test_egress_delay_with_local_is_refused():
    with pytest.raises(ConfigError) as e:
        scenario(Config(**FIXED, dest="local", egress_delay_ns=1e6))
    assert e.value.field == "egress_delay_ns"


def test_host_backend_takes_longer_runs():
    assert scenario(Config(**{**FIXED, "n_packets": 1_000_000}), backend="host").n_packets == 1_000_000


# --- parsing canned driver output --------------------------------------------------------

CANNED = """\
@@ZCLAB BOOT release=6.1.0-57-amd64 cpus=2 uptime=2.9
@@ZCLAB BEGIN 0
ZC_RESULT backend=macvtap vnet_hdr=socket zcopytx=1 sizes=1500 vhost_hlen=0 ring=4 packets=6 sent=6 used_entries=6 inflight=0 bad_ids=0 ooo=3 max_disp=3 time_s=0.010000 pps=600.0 kicks=2 waits=3 watchdog=0
ZC_USED 3+1,0+3,4+2
ZC_HEAD 0+4,0+2
ZC_TRACE probes=sucy worker_pid=99 send_events=6 used_events=2 cb_events=3 cb_failed=1 copy_events=0 cb_hits=3 cb_missed=1 copy_hits=0 copy_missed=0 send_hits=6 send_missed=0 used_missed=0 lost_events=0 path_known=6
ZC_PATH z3c1z1c1
ZC_DONE
@@ZCLAB STAT rc=0 lower_tx_packets=6 lower_tx_dropped=0
@@ZCLAB QDISC qdisc netem 8001: root refcnt 2 limit 1000 delay 2ms
@@ZCLAB QDISC  Sent 9000 bytes 6 pkt (dropped 0, overlimits 0 requeues 0)
@@ZCLAB END 0
@@ZCLAB BEGIN 1
ZC_RESULT sent=2
"""


def _scn(**kw):
    return scenario(Config(**{**FIXED, "n_packets": 6, "ring_size": 4, "egress_rate_mbps": 1.0, **kw}))


def test_canned_output_becomes_trace_and_summary():
    runs = guest.split_output(CANNED)
    assert runs[0]["ended"] and not runs[1]["ended"]
    r = build_result(_scn(), runs[0]["driver"], runs[0]["stats"], "qemu", True, "6.1.0-57-amd64")
    t = r.trace
    assert list(t.columns) == ["seq", "head", "len", "path", "used_idx"]
    assert t.seq.tolist() == list(range(6)) and t["head"].tolist() == [0, 1, 2, 3, 0, 1]
    assert t.used_idx.tolist() == [1, 2, 3, 0, 4, 5]  # packet 3 came back first
    assert t.path.tolist() == ["zerocopy"] * 3 + ["copy", "zerocopy", "copy"]
    s = r.summary
    assert s["completed"] and s["emulated"] and s["kernel"] == "6.1.0-57-amd64" and s["backend"] == "qemu"
    assert (s["ooo_returns"], s["max_displacement"]) == (3, 3)
    assert (s["zerocopy_tried"], s["copied"]) == (4, 2)
    assert s["zerocopy_completions"] == 4  # hits + missed
    assert (s["zerocopy_failed"], s["zerocopy_unrecorded"]) == (1, 1)
    assert (s["lower_tx_packets"], s["qdisc_sent"], s["qdisc_dropped"]) == (6, 6, 0)


def test_unknown_path_is_none_and_unreturned_packets_have_no_used_idx():
    text = ("ZC_RESULT sent=3 used_entries=2 inflight=1 ooo=0 max_disp=0 watchdog=1\nZC_USED 0+2\nZC_HEAD 0+3\n"
            "ZC_TRACE path_known=1 cb_hits=0 copy_hits=0\nZC_PATH c1\nZC_DONE\n")
    r = build_result(_scn(n_packets=3), parse_driver(text), {}, "qemu", True, "x")
    assert r.trace.used_idx.tolist() == [0, 1, -1]
    assert r.trace.path.tolist()[0] == "copy" and r.trace.path.isna().tolist() == [False, True, True]
    assert not r.ok and r.summary["watchdog"]


def test_malformed_output_is_an_error():
    with pytest.raises(DriverOutputError, match="ZC_ERROR|nothing"):
        build_result(_scn(), parse_driver("ZC_ERROR open /dev/vhost-net: No such file\n"), {}, "qemu", True, "x")
    bad = "ZC_RESULT sent=2 used_entries=2\nZC_USED 0+1,0+1\nZC_HEAD 0+2\n"
    with pytest.raises(DriverOutputError, match="not in flight"):
        build_result(_scn(n_packets=2), parse_driver(bad), {}, "qemu", True, "x")
    with pytest.raises(DriverOutputError, match="heads"):
        build_result(_scn(n_packets=2), parse_driver("ZC_RESULT sent=2 used_entries=0\nZC_HEAD 0+1\n"), {}, "q", True, "x")


def test_parse_qdisc_and_noqueue():
    assert parse_qdisc("qdisc noqueue 0: root refcnt 2") is None
    assert parse_qdisc(" Sent 1 bytes 2 pkt (dropped 3, overlimits 4 requeues 5)")["dropped"] == 3


# --- the guest script and initramfs ---------------------------------------------------------

def test_guest_script_loads_modules_in_order_and_switches_zcopytx():
    scns = [_scn(mode="copy"), _scn(dest="local", egress_rate_mbps=0.0)]
    text = qemu.guest_script(scns)
    order = [text.index(m) for m in ("vhost_iotlb", "vhost tun", "tap macvlan macvtap dummy sch_netem")]
    assert order == sorted(order)
    assert "insmod $M/vhost_net.ko experimental_zcopytx=$1" in text and "rmmod vhost_net" in text
    assert text.index("setzc 0") < text.index("setzc 1")
    assert "netem rate 1000000bit limit 1000" in text and "-t zctap0" in text
    assert text.rstrip().endswith("poweroff -f")


def test_cpio_is_newc_with_aligned_entries():
    buf = io.BytesIO()
    c = Cpio(buf)
    c.add_file("a/b/c", b"12345", 0o755)
    c.close()
    data = buf.getvalue()
    assert data.count(b"070701") == 4  # a, a/b, a/b/c, trailer
    assert len(data) % 4 == 0 and b"a/b/c\x00" in data and b"12345" in data


def test_default_timeout_grows_with_packets():
    a, b = _scn(), _scn(n_packets=100_000)
    assert qemu.default_timeout([a]) < qemu.default_timeout([b]) < qemu.default_timeout([b, b])


# --- the driver ------------------------------------------------------------------------------

def test_driver_compiles_static_and_checks_its_arguments(tmp_path):
    binary = driver_binary(tmp_path)
    assert binary == driver_binary(tmp_path)  # cached by source hash
    usage = subprocess.run([str(binary)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr
    bad = subprocess.run([str(binary), "-t", "x", "-q", "300"], capture_output=True, text=True)
    assert bad.returncode == 2 and "power of two" in bad.stderr
    small = subprocess.run([str(binary), "-t", "x", "-s", "1500,40"], capture_output=True, text=True)
    assert small.returncode == 2 and "40" in small.stderr


# --- setup and info logic ----------------------------------------------------------------------

def test_setup_refuses_without_root(monkeypatch, tmp_path):
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    with pytest.raises(install.SetupError, match="root"):
        install.setup(cache_dir=tmp_path, yes=True, say=lambda m: None)


def test_kernel_package_is_resolved_from_apt_cache(monkeypatch):
    out = "linux-image-amd64\n  Depends: linux-image-6.1.0-99-amd64\n"
    monkeypatch.setattr(install, "_run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, out, ""))
    assert install.resolve_kernel_package() == "linux-image-6.1.0-99-amd64"


def test_find_kernel_needs_an_unpacked_tree(tmp_path):
    assert install.find_kernel(tmp_path) is None
    root = tmp_path / "k"
    (root / "boot").mkdir(parents=True)
    (root / "boot" / "vmlinuz-6.1.0-1-amd64").write_bytes(b"x")
    (root / "lib/modules/6.1.0-1-amd64/kernel/drivers/vhost").mkdir(parents=True)
    (root / "lib/modules/6.1.0-1-amd64/kernel/drivers/vhost/vhost_net.ko").write_bytes(b"x")
    (tmp_path / "current.json").write_text(json.dumps({"package": "p", "version": "1", "release": "6.1.0-1-amd64", "dir": "k"}))
    tree = install.find_kernel(tmp_path)
    assert tree.release == "6.1.0-1-amd64" and tree.module("vhost_net").name == "vhost_net.ko"
    assert tree.module("tun") is None


def test_info_says_why_qemu_is_unusable(monkeypatch, tmp_path):
    monkeypatch.setattr(qemu.shutil, "which", lambda name, **kw: None)
    i = info.backend_info(tmp_path)
    assert not i["qemu"].usable and "qemu-system-x86_64 is not installed" in i["qemu"].reason
    assert "zclab kernel setup" in i["qemu"].reason
    monkeypatch.setattr(qemu.shutil, "which", lambda name, **kw: "/usr/bin/" + name)
    i = info.backend_info(tmp_path)  # tools present, no kernel in this empty cache
    assert not i["qemu"].usable and "no unpacked kernel" in i["qemu"].reason


def test_info_says_why_host_is_unusable(monkeypatch):
    from zclab.trust.kernel import host

    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    assert "root" in info.backend_info()["host"].reason
    monkeypatch.setattr(host.os, "geteuid", lambda: 0)
    monkeypatch.setattr(host.os.path, "exists", lambda p: False if p == "/dev/vhost-net" else True)
    monkeypatch.setattr(host.shutil, "which", lambda name: None)
    reason = info.backend_info()["host"].reason
    assert "no /dev/vhost-net" in reason and "qemu backend" in reason


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_refuses_an_unhonourable_field_with_exit_2(capsys):
    assert main(["kernel", "run", "--set", "size_dist=fixed", "--set", "max_pend=64"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "max_pend=64" in err and "kernel harness allows 128" in err


def test_cli_unavailable_backend_is_one_line_exit_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ZCLAB_KERNEL_CACHE", str(tmp_path))  # an empty cache: no kernel
    assert main(["kernel", "run", "--set", "size_dist=fixed"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unavailable" in err and "zclab kernel setup" in err


def test_cli_kernel_run_failure_exits_1(capsys, monkeypatch):
    import zclab.trust.kernel as k

    def boom(*a, **kw):
        raise k.KernelRunError("the guest did not finish within 5 s (in scenario 0); console tail:\n[ 1.0] oops")

    monkeypatch.setattr(k, "run", boom)
    assert main(["kernel", "run", "--set", "size_dist=fixed"]) == 1
    err = capsys.readouterr().err
    assert "did not finish" in err and "oops" in err and "Traceback" not in err


def test_cli_kernel_needs_an_action(capsys):
    assert main(["kernel"]) == 2
    assert "run, setup, info, measure or fit" in capsys.readouterr().err


def test_cli_setup_without_root_exits_2(capsys, monkeypatch):
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    assert main(["kernel", "setup", "--yes"]) == 2
    assert "root" in capsys.readouterr().err


# --- fit ------------------------------------------------------------------------------------

def _table(copy_ns=lambda s: 200 + 0.25 * s, zc_ns=lambda s: 200 + 500 + 40 * -(-(12 + s) // 4096)):
    import pandas as pd

    rows = []
    for mode in ("copy", "zerocopy"):
        for s in (64, 1500, 9000, 65000):
            zc = mode == "zerocopy" and s > 244
            rows.append({"backend": "host", "emulated": False, "kernel": "6.1", "mode": mode, "size": s,
                         "packets": 1000, "ns_per_packet": (zc_ns if zc else copy_ns)(s),
                         "zerocopy_tried": 1000 if zc else 0, "copied": 0 if zc else 1000})
    return pd.DataFrame(rows)


def test_fit_recovers_the_costs_it_was_made_from():
    from zclab.trust.kernel.fit import fit_preset

    p = fit_preset(_table())
    v = p["values"]
    assert v["per_packet_ns"] == pytest.approx(200) and v["copy_ns_per_byte"] == pytest.approx(0.25)
    assert v["zc_setup_ns"] == pytest.approx(500) and v["pin_ns_per_page"] == pytest.approx(40)
    assert p["fit"]["rows_zerocopy"] == 3  # the 64 B zero-copy-mode row was copied: not a zero-copy row
    assert p["fit"]["emulated"] is False and "EMULATION" not in p["note"]
    Config(**v)


def test_fit_needs_two_copy_sizes():
    from zclab.trust.kernel.fit import FitError, fit_preset

    df = _table()
    with pytest.raises(FitError, match="two sizes"):
        fit_preset(df[(df["mode"] == "zerocopy") | (df["size"] == 64)])


def test_cli_fit_writes_a_preset_and_says_emulated(tmp_path, capsys):
    df = _table().assign(emulated=True, backend="qemu")
    df.to_csv(tmp_path / "m.csv", index=False)
    assert main(["kernel", "fit", str(tmp_path / "m.csv"), "--output", str(tmp_path / "p.json")]) == 0
    preset = json.loads((tmp_path / "p.json").read_text())
    assert preset["fit"]["emulated"] is True and "EMULATION" in preset["note"]
    assert Config(**preset["values"]).per_packet_ns == pytest.approx(200)
    assert main(["kernel", "fit", str(tmp_path / "m.csv"), "--output", str(tmp_path / "p.toml")]) == 0
    import tomllib

    assert tomllib.loads((tmp_path / "p.toml").read_text())["values"]["copy_ns_per_byte"] == pytest.approx(0.25)
    assert main(["kernel", "fit", str(tmp_path / "missing.csv")]) == 2


def test_a_fitted_preset_runs_the_model_and_a_bad_file_is_named(tmp_path, capsys):
    from zclab.trust.kernel.fit import fit_preset, load_preset, write_preset

    for suffix in (".json", ".toml"):
        path = write_preset(fit_preset(_table()), tmp_path / f"host{suffix}")
        assert load_preset(path)["per_packet_ns"] == pytest.approx(200)
        assert main(["simulate", "--preset", f"@{path}", "--set", "n_packets=2000", "--json"]) == 0
        cfg = json.loads(capsys.readouterr().out)["config"]
        assert cfg["per_packet_ns"] == pytest.approx(200) and cfg["copy_ns_per_byte"] == pytest.approx(0.25)
    (tmp_path / "bad.json").write_text('{"values": {"per_packet_ns": -5}}')
    (tmp_path / "empty.json").write_text('{"name": "x"}')
    (tmp_path / "junk.json").write_bytes(b"\x00\xff not json")
    (tmp_path / "half.json").write_text('{"values": ')
    for name, fragment in (("bad.json", "per_packet_ns=-5"), ("empty.json", "no table of values"),
                           ("junk.json", "not a text file"), ("half.json", "not valid JSON"),
                           ("missing.json", "cannot read")):
        assert main(["simulate", "--preset", f"@{tmp_path / name}"]) == 2
        assert fragment in capsys.readouterr().err


def test_cli_measure_checks_its_lists(capsys):
    assert main(["kernel", "measure", "--sizes", "64,x"]) == 2
    assert main(["kernel", "measure", "--modes", "copy,fast"]) == 2
    assert main(["kernel", "measure", "--sizes", "40"]) == 2  # below the smallest frame
    assert "size_bytes=40" in capsys.readouterr().err


# --- the host backend's module handling (no vhost_net here: a simulated sysfs) ------------------

class _FakeModules:
    """rmmod/modprobe of vhost_net acting on a parameter file, as sysfs would."""

    def __init__(self, path, busy=False):
        self.path, self.busy, self.calls = path, busy, []

    def __call__(self, cmd, **kw):
        self.calls.append(" ".join(cmd))
        if cmd[0] == "rmmod":
            if self.busy:
                return subprocess.CompletedProcess(cmd, 1, "", "rmmod: ERROR: Module vhost_net is in use")
            self.path.unlink(missing_ok=True)
        elif cmd[0] == "modprobe" and cmd[1] == "vhost_net":
            self.path.write_text(cmd[2].split("=")[1] + "\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")


@pytest.mark.parametrize("original", [None, 0, 1])
def test_host_switches_zcopytx_and_restores_the_module(monkeypatch, tmp_path, original):
    from zclab.trust.kernel import host

    param = tmp_path / "experimental_zcopytx"
    if original is not None:
        param.write_text(f"{original}\n")
    fake = _FakeModules(param)
    monkeypatch.setattr(host, "ZCOPY_PARAM", param)
    monkeypatch.setattr(host.subprocess, "run", fake)
    for want in (1, 0, 1):
        host._set_zcopy(want)
        assert host._zcopy_now() == want
    host._restore(original)
    assert host._zcopy_now() == original  # unloaded again, or back to its value


def test_host_refuses_to_switch_a_module_in_use(monkeypatch, tmp_path):
    from zclab.trust.kernel import host

    param = tmp_path / "experimental_zcopytx"
    param.write_text("0\n")
    monkeypatch.setattr(host, "ZCOPY_PARAM", param)
    monkeypatch.setattr(host.subprocess, "run", _FakeModules(param, busy=True))
    host._set_zcopy(0)  # already so: nothing to do
    with pytest.raises(host.KernelRunError, match="cannot be unloaded.*VM"):
        host._set_zcopy(1)


def test_a_guest_that_locks_up_runs_the_unfinished_scenarios_again_in_a_new_boot(monkeypatch):
    """Under emulation a guest can lock up (soft lockups, RCU stalls in QEMU's timers):
    the scenarios it finished are kept, the others run in a fresh boot, once; a second
    lock-up is an error carrying everything finished."""
    from types import SimpleNamespace

    from zclab.trust.kernel import qemu

    def result(name):
        return SimpleNamespace(ok=True, summary={"scenario": name})

    boots = []

    def boot(scns, *args):
        boots.append(list(scns))
        if len(boots) == 1:
            raise qemu.GuestHung("the guest did not finish within 9 s", [result(scns[0])], "tail")
        return [result(s) for s in scns]

    monkeypatch.setattr(qemu, "_boot", boot)
    out = qemu.run_qemu(["a", "b", "c"])
    assert boots == [["a", "b", "c"], ["b", "c"]]
    assert [r.summary["scenario"] for r in out] == ["a", "b", "c"]
    assert [r.summary["boot_retries"] for r in out] == [0, 1, 1]

    boots.clear()
    monkeypatch.setattr(qemu, "_boot", lambda scns, *a: (_ for _ in ()).throw(
        qemu.GuestHung("the guest did not finish within 9 s", [result(scns[0])], "tail")))
    with pytest.raises(qemu.KernelRunError, match="did not finish") as e:
        qemu.run_qemu(["a", "b", "c"])
    assert [r.summary["scenario"] for r in e.value.results] == ["a", "b"]
    with pytest.raises(qemu.KernelRunError):
        qemu.run_qemu(["a", "b"], retries=0)
