"""Config: defaults, validation, presets, replace and the flat-dict round trip."""

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zclab import Config, ConfigError
from zclab.model.config import COMBINATIONS, PARAMETERS, allowed
from zclab.model.presets import HOST_PRESETS, POLICY_PRESETS, WORKLOAD_PRESETS


def test_defaults_are_the_model_contract():
    """The defaults of docs/model.md section 5 and 6."""
    c = Config()
    expected = dict(
        n_packets=1_000_000, warmup_packets=10_000, seed=1, trace_packets=0, arrival="saturate", rate_pps=500_000.0,
        qdisc_len=1000, size_dist="imix", size_bytes=1500, size_min=64, size_max=1500, small_bytes=64,
        large_bytes=65536, small_fraction=0.5, size_table=None, ring_size=256, signal_every_publish=False,
        mode="zerocopy", policy="seed-2011", goodcopy_len=256, max_pend=128, max_pend_rule="fixed",
        pend_placement="seed", reap_threshold=0, completion="in_order", wake_on_completion="never", uio_maxiov=1024,
        copy_via_heads="always", heads_full_copy=False, weight_packets=0, busyloop_timeout_ns=0.0,
        weight_bytes=0x80000, cpu_ghz=2.5, line_rate_gbps=10.0, wire_overhead_bytes=24,
        dma_latency_dist="exponential", dma_sigma=0.5, straggler_p=0.0, straggler_ns=1_000_000.0, duplicate_head_p=0.0,
    )
    for name, value in expected.items():
        assert getattr(c, name) == value, name


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().ring_size = 512


@pytest.mark.parametrize(
    "params, field, fragment",
    [
        (dict(ring_size=300), "ring_size", "power of two"),
        (dict(ring_size=65536), "ring_size", "power of two"),
        (dict(max_pend=2048), "max_pend", "uio_maxiov"),
        (dict(policy="seed-2099"), "policy", "one of"),
        (dict(size_dist="zipf"), "size_dist", "one of"),
        (dict(dma_latency_dist="pareto"), "dma_latency_dist", "one of"),
        (dict(per_packet_ns=-1.0), "per_packet_ns", "from 0 to 1e+12"),
        (dict(copy_ns_per_byte=-0.1), "copy_ns_per_byte", "from 0 to 1e+06"),
        (dict(straggler_p=1.5), "straggler_p", "from 0 to 1"),
        (dict(duplicate_head_p=-0.1), "duplicate_head_p", "from 0 to 1"),
        (dict(small_fraction=2.0), "small_fraction", "from 0 to 1"),
        (dict(size_dist="empirical"), "size_table", "needs a size table"),
        (dict(size_dist="empirical", size_table=""), "size_table", "empty"),
        (dict(size_dist="empirical", size_table="64:7,foo:1:2"), "size_table", "not 'size:weight' or a size"),
        (dict(size_dist="empirical", size_table="64:-1"), "size_table", ">= 0"),
        (dict(size_dist="empirical", size_table="0:1"), "size_table", "integer from 1"),
        (dict(size_dist="empirical", size_table="64:0,128:0"), "size_table", "not all be zero"),
        (dict(size_dist="empirical", size_table=[]), "size_table", "empty"),
        (dict(n_packets=0), "n_packets", "from 1"),
        (dict(n_packets=1.5), "n_packets", "integer"),
        (dict(n_packets=True), "n_packets", "integer"),
        (dict(rate_pps=0.0), "rate_pps", "from 1 to 1e+10"),
        (dict(line_rate_gbps=float("nan")), "line_rate_gbps", "finite"),
        (dict(mode=1), "mode", "one of"),
        (dict(debug="yes"), "debug", "true or false"),
        (dict(size_dist="uniform", size_min=2000, size_max=1500), "size_min", "size_max"),
        (dict(size_bytes=70_000), "size_bytes", "65536"),
        (dict(trace_packets=10, n_packets=5), "trace_packets", "n_packets"),
        (dict(size_dist="empirical", size_table="64:1,64:2"), "size_table", "a size twice"),
        (dict(size_dist="cycle"), "size_table", "e.g. '1500,64'"),
        (dict(size_dist="cycle", size_table="1500:2,64:1"), "size_table", "without weights"),
        (dict(egress_delay_ns=-1.0), "egress_delay_ns", "from 0"),
        (dict(egress_delay_ns=float("inf")), "egress_delay_ns", "finite"),
        (dict(vnet_hdr="guest"), "vnet_hdr", "'socket', 'vhost'"),
        (dict(goodcopy_test="ge"), "goodcopy_test", "'le', 'lt'"),
        (dict(flows=[{"name": "a", "size_dist": "cycle"}]), "flows[0].size_table", "e.g. '1500,64'"),
        (dict(flows=[{"name": "a", "egress_delay_ns": -5}]), "flows[0].egress_delay_ns", "from 0"),
    ],
)
def test_bad_values_name_field_value_and_rule(params, field, fragment):
    with pytest.raises(ConfigError) as err:
        Config(**params)
    assert err.value.field == field
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"{field}=")


def test_unknown_parameter_suggests_the_right_name():
    with pytest.raises(ConfigError, match="did you mean 'ring_size'"):
        Config(rign_size=512)


def test_integral_floats_are_accepted_for_ints():
    """1e6 from a papermill cell or a YAML file is a valid packet count."""
    c = Config(n_packets=1e6)
    assert c.n_packets == 1_000_000 and isinstance(c.n_packets, int)


def test_policy_presets_set_their_knobs():
    for name, knobs in POLICY_PRESETS.items():
        c = Config(policy=name)
        for k, v in knobs.items():
            assert getattr(c, k) == v, (name, k)
    assert Config(policy="ring-quarter-stall").pend_limit == 64  # min(128, 256 // 4)
    assert Config(policy="seed-2011").pend_limit == 128


def test_workload_and_host_presets_set_their_knobs():
    for table, kind in ((WORKLOAD_PRESETS, "workload"), (HOST_PRESETS, "host")):
        for name, knobs in table.items():
            c = Config(**{kind: name})
            for k, v in knobs.items():
                assert getattr(c, k) == v, (name, k)


def test_explicit_knobs_override_presets():
    c = Config(policy="ring-quarter-stall", pend_placement="seed", workload="tcp_stream_64k", size_bytes=9000)
    assert c.pend_placement == "seed" and c.max_pend_rule == "ring_quarter"
    assert c.size_bytes == 9000 and c.size_dist == "fixed"


def test_replace_keeps_overrides_unless_the_preset_changes():
    c = Config(policy="seed-2011", wake_on_completion=True)  # true: the flag's old form of "always"
    assert c.replace(max_pend=64).wake_on_completion == "always"
    switched = c.replace(policy="linux-4.15")
    assert switched.pend_placement == "copy_fallback" and switched.wake_on_completion == "le1_or_16"
    assert c.replace(policy="ring-quarter-stall", pend_placement="seed").pend_placement == "seed"
    assert Config(completion="out_of_order").replace(policy="ring-quarter-stall").completion == "out_of_order"


def test_size_table_forms_and_csv(tmp_path):
    text = "64:7,576:4,1500:1"
    a = Config(size_dist="empirical", size_table=text)
    b = Config(size_dist="empirical", size_table=[(64, 7), (576, 4), (1500, 1)])
    c = Config(size_dist="empirical", size_table={64: 7, 576: 4, 1500: 1})
    f = tmp_path / "sizes.csv"
    f.write_text("size,weight\n64,7\n576,4\n1500,1\n")
    d = Config(size_dist="empirical", size_table=str(f))
    assert a == b == c == d
    assert a.to_dict()["size_table"] == text
    assert a.size_distribution() == ((64, 576, 1500), (7 / 12, 4 / 12, 1 / 12))


def test_size_table_csv_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(ConfigError, match="cannot read"):
        Config(size_dist="empirical", size_table=str(missing))
    bad = tmp_path / "bad.csv"
    bad.write_text("size,weight\n64,7,9\n")
    with pytest.raises(ConfigError, match="size,weight"):
        Config(size_dist="empirical", size_table=str(bad))


def test_mean_size_of_each_distribution():
    assert Config().mean_size() == pytest.approx((7 * 64 + 4 * 576 + 1500) / 12)
    assert Config(size_dist="uniform", size_min=100, size_max=200).mean_size() == 150
    assert Config(size_dist="bimodal", small_fraction=0.25).mean_size() == pytest.approx(0.25 * 64 + 0.75 * 65536)


# --- round trip over random valid configurations ------------------------------------------

def _value_strategy(name, meta):
    kind = meta["kind"]
    if kind in ("choice", "preset"):
        return st.sampled_from(meta["choices"])
    if kind == "bool":
        return st.booleans()
    if kind == "size_table":
        return st.one_of(st.none(), st.lists(st.tuples(st.integers(1, 65536), st.floats(0.01, 100)), min_size=1, max_size=5, unique_by=lambda p: p[0]))
    lo = meta.get("min", meta.get("min_exclusive", 0))
    hi = meta.get("max")
    if kind == "int":
        hi = min(hi if hi is not None else 10**6, 10**6)
        if meta.get("pow2"):
            return st.integers(max(1, int(math.log2(lo))), int(math.log2(hi))).map(lambda e: 2**e)
        return st.integers(int(lo), hi)
    hi = min(hi if hi is not None else 1e7, 1e7)
    return st.floats(float(lo), float(hi), allow_nan=False).filter(lambda x: x > meta.get("min_exclusive", -1))


@st.composite
def configs(draw):
    params = {}
    for name in draw(st.sets(st.sampled_from(sorted(PARAMETERS)), max_size=12)):
        params[name] = draw(_value_strategy(name, PARAMETERS[name]))
    try:
        return Config(**params)
    except ConfigError:
        return Config()


@settings(max_examples=200, deadline=None)
@given(configs())
def test_flat_dict_round_trip(cfg):
    d = cfg.to_dict()
    assert all(v is None or isinstance(v, (str, int, float, bool)) for v in d.values())
    assert Config.from_dict(d) == cfg
    assert Config.from_dict(json.loads(json.dumps(d))) == cfg
    assert cfg.replace() == cfg


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PARAMETERS)), st.one_of(st.integers(-10**9, 10**9), st.floats(allow_nan=True), st.text(max_size=8), st.booleans(), st.none()))
def test_any_value_is_accepted_or_rejected_with_config_error(name, value):
    """Never a TypeError, a numba error or a silent acceptance of garbage."""
    try:
        c = Config(**{name: value})
    except ConfigError as e:
        # a flows table names the flow and its field: flows[0].size_bytes
        assert e.field.split("[")[0] in PARAMETERS and str(e)
        return
    assert getattr(c, name) is not None or value is None


def test_a_bad_flow_in_text_is_named_by_its_index():
    with pytest.raises(ConfigError) as e:
        Config(flows="[{}]")
    assert e.value.field.startswith("flows[0]")


# --- flows (model.md section 6) --------------------------------------------------------------

FLOWS = [
    {"name": "bulk", "share": 0.75, "size_dist": "fixed", "size_bytes": 9000, "straggler_p": 0.01},
    {"name": "shaped", "share": 0.25, "dest": "local", "egress_rate_mbps": 100.0, "egress_queue": 50,
     "size_dist": "empirical", "size_table": "64:7,1500:1"},
]


def test_flows_inherit_every_field_they_leave_out():
    cfg = Config(flows=FLOWS, size_dist="uniform", size_min=100, size_max=200, rate_pps=1e4, straggler_ns=5e5)
    bulk, shaped = cfg.flow_specs()
    assert (bulk["size_bytes"], bulk["dest"], bulk["rate_pps"], bulk["straggler_ns"]) == (9000, "wire", 1e4, 5e5)
    assert bulk["egress_rate_pps"] == bulk["egress_rate_mbps"] == 0.0  # no limiter unless a flow sets one
    assert shaped["size_table"] == ((64, 7.0), (1500, 1.0)) and shaped["straggler_p"] == cfg.straggler_p
    assert [f["name"] for f in Config().flow_specs()] == ["all"] and Config().flow_specs()[0]["share"] == 1.0


@pytest.mark.parametrize("suffix", [".json", ".toml", ".yaml"])
def test_flows_from_a_file_equal_the_same_table_given_inline(suffix, tmp_path):
    import yaml

    f = tmp_path / f"flows{suffix}"
    if suffix == ".json":
        f.write_text(json.dumps(FLOWS))
    elif suffix == ".yaml":
        f.write_text(yaml.safe_dump({"flows": FLOWS}))
    else:
        lines = []
        for flow in FLOWS:
            lines.append("[[flows]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in flow.items()]
        f.write_text("\n".join(lines) + "\n")
    assert Config(flows=str(f)) == Config(flows=FLOWS) == Config(flows=json.dumps(FLOWS))


def test_flows_round_trip_through_the_flat_dict_and_json():
    cfg = Config(flows=FLOWS, policy="linux-4.15")
    d = cfg.to_dict()
    assert isinstance(d["flows"], str)
    assert Config.from_dict(d) == cfg and Config.from_dict(json.loads(json.dumps(d))) == cfg
    assert cfg.replace(policy="seed-2011").flows == cfg.flows  # a preset does not touch the flows


def test_a_flows_file_that_cannot_be_read_or_parsed_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"flows='.*missing.toml': cannot read the file"):
        Config(flows=str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[[flows]]\nname = \n")
    with pytest.raises(ConfigError, match=r"flows='.*bad.toml': cannot parse the file"):
        Config(flows=str(bad))


# --- what each parameter accepts, in words (error messages and `zclab params`) ----------------

@pytest.mark.parametrize("name", sorted(n for n, m in PARAMETERS.items() if m["kind"] in ("int", "float")))
def test_the_allowed_text_states_the_bounds_that_are_enforced(name):
    """A value just past each bound the text names is refused with that same text,
    and the bound itself passes the range check: the listing of ``zclab params``
    and the error messages cannot drift from the checks."""
    meta = PARAMETERS[name]
    text = allowed(name)
    for bound, way in ((meta.get("min_exclusive", meta.get("min")), -1), (meta.get("max"), +1)):
        if bound is None:
            continue
        if meta["kind"] == "int":
            assert str(int(bound)) in text
            outside = int(bound) + way
        else:
            assert f"{bound:g}" in text
            outside = math.nextafter(bound, way * math.inf)
        with pytest.raises(ConfigError) as err:
            Config(**{name: outside})
        assert err.value.field == name and str(err.value).endswith("must be " + text)
        if "min_exclusive" in meta and way < 0:
            with pytest.raises(ConfigError, match=re.escape(text)):
                Config(**{name: bound})
            continue
        try:
            Config(**{name: bound})
        except ConfigError as e:  # only a combination with another parameter may refuse it
            assert not str(e).endswith(text), str(e)
    if meta.get("pow2"):
        with pytest.raises(ConfigError, match=re.escape(text) + "$"):
            Config(**{name: 3 * meta["min"]})


def test_allowed_names_the_choices_and_the_integers_exactly():
    assert allowed("completion") == "one of 'in_order', 'out_of_order'"
    assert allowed("ring_size") == "a power of two from 2 to 32768"
    assert allowed("seed") == f"from 0 to {2**63 - 1}"  # not 9.22337e+18
    with pytest.raises(ConfigError, match=f"seed=-1: must be from 0 to {2**63 - 1}$"):
        Config(seed=-1)


BROKEN_RULES = [  # one configuration breaking each rule of COMBINATIONS, by the field it names
    ("max_pend", dict(max_pend=65, uio_maxiov=64)),
    ("reap_threshold", dict(max_pend=8, reap_threshold=64, uio_maxiov=64)),
    ("size_min", dict(size_dist="uniform", size_min=1501, size_max=1500)),
    ("size_table", dict(size_dist="empirical")),
    ("n_packets", dict(n_packets=10**12, warmup_packets=1)),
    ("egress_rate_mbps", dict(egress_rate_pps=1e3, egress_rate_mbps=1.0)),
    ("trace_packets", dict(n_packets=10, trace_packets=11)),
    ("guest_indirect_desc", dict(guest_indirect_desc=False, ring_size=16, size_dist="fixed", size_bytes=65536)),
]


@pytest.mark.parametrize("field, params", BROKEN_RULES)
def test_every_rule_between_parameters_that_zclab_params_states_is_enforced(field, params):
    with pytest.raises(ConfigError) as err:
        Config(**params)
    assert err.value.field == field


def test_the_rules_between_parameters_are_all_tested():
    assert set(COMBINATIONS) == {field for field, _ in BROKEN_RULES}


def test_a_cycle_lists_sizes_in_order_repeats_allowed_and_round_trips():
    cfg = Config(size_dist="cycle", size_table="1500, 64,1500,9000")
    assert cfg.size_table == ((1500, 1.0), (64, 1.0), (1500, 1.0), (9000, 1.0))
    assert cfg.to_dict()["size_table"] == "1500,64,1500,9000"
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert cfg.mean_size() == pytest.approx((1500 * 2 + 64 + 9000) / 4)
    assert Config(size_dist="cycle", size_table=[1500, 64]).size_table == ((1500, 1.0), (64, 1.0))


def test_the_linux_61_preset_sets_the_releases_rules():
    c = Config(policy="linux-6.1", ring_size=256)
    assert (c.pend_placement, c.max_pend_rule, c.goodcopy_test, c.select_zcopy, c.copy_via_heads, c.tx_batch) == (
        "copy_fallback", "ring_quarter", "lt", True, "never", 64)
    assert (c.wake_on_completion, c.weight_packets, c.heads_full_copy, c.mode) == ("le1_or_16", 256, True, "copy")
    assert c.pend_limit == 64
    # switching policy resets every rule of the preset
    assert c.replace(policy="seed-2011").to_dict() == Config(policy="seed-2011", ring_size=256).to_dict()


def test_the_old_flag_forms_of_two_policy_rules_still_read():
    """wake_on_completion and copy_via_heads were flags before model version 4."""
    import numpy as np

    assert Config(copy_via_heads=True).copy_via_heads == "always"
    assert Config(copy_via_heads=np.bool_(False)).copy_via_heads == "never"
    assert Config(wake_on_completion="false").wake_on_completion == "never"
    assert Config(wake_on_completion="True").wake_on_completion == "always"
    with pytest.raises(ConfigError, match="copy_via_heads=1: must be one of 'always', 'when_pending', 'never'"):
        Config(copy_via_heads=1)
