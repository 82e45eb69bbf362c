"""zclab.Result: how a run reads, in a terminal (``zclab simulate``) and in a notebook."""

import math
import re
from html.parser import HTMLParser

from zclab import SUMMARY_FIELDS, Config, simulate
from zclab.model.result import FLOW_COLUMNS, SECTIONS, format_value


def test_the_sections_show_every_summary_field_once():
    shown = [name for _, names in SECTIONS for name in names]
    assert len(shown) == len(set(shown))
    assert set(shown) == set(SUMMARY_FIELDS)


def test_values_read_as_numbers_with_nothing_measured_as_a_dash():
    assert format_value(True) == "yes" and format_value(1234567) == "1,234,567"
    assert format_value(math.nan) == "-" and format_value(0.0) == "0"
    assert format_value(0.49281) == "0.4928" and format_value(40580000.0) == "4.058e+07"
    assert format_value(46582.84) == "46,582.8"


class _Cells(HTMLParser):
    """The text of every table cell, and each row's hover text."""

    def __init__(self):
        super().__init__()
        self.cells, self.titles, self._in = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "tr" and dict(attrs).get("title"):
            self.titles.append(dict(attrs)["title"])
        self._in = tag in ("td", "th")

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in and data.strip():
            self.cells.append(data.strip())


def test_a_result_in_a_notebook_is_a_table_of_every_field_with_its_value():
    r = simulate(Config(n_packets=3_000, warmup_packets=500))
    html = r._repr_html_()
    p = _Cells()
    p.feed(html)
    pairs = dict(zip(p.cells, p.cells[1:]))  # a field's name, then its value
    for name in SUMMARY_FIELDS:
        assert pairs[name] == format_value(r.summary[name]), name
    assert p.titles.count(SUMMARY_FIELDS["hol_blocked_mean"]) == 1
    assert "policy=seed-2011" in html and "n_packets=3,000" in html
    assert r.summary["drop_fraction"] != r.summary["drop_fraction"] and pairs["drop_fraction"] == "-"  # closed loop


def test_flows_get_a_row_each_in_text_and_in_html():
    flows = '[{"name": "bulk"}, {"name": "tiny", "size_dist": "fixed", "size_bytes": 64}]'
    r = simulate(Config(policy="ring-quarter-stall", flows=flows, n_packets=4_000, warmup_packets=500))
    text = r.to_text()
    for name in ("bulk", "tiny"):
        row = next(line for line in text.splitlines() if line.startswith(f"  {name} "))
        assert row.split()[1] == format_value(r.summary[f"flow_{name}_packets"])
        assert name in r._repr_html_()
    assert r.summary["flow_bulk_packets"] + r.summary["flow_tiny_packets"] == 4_000
    assert re.search(r"^\s+name\s+" + r"\s+".join(FLOW_COLUMNS) + "$", text, re.M)
    assert "\nflows\n" not in simulate(Config(n_packets=1_000)).to_text()
