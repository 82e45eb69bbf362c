"""Notebook 08's explorer: runs, draws, and widgets that re-simulate."""

from zclab.studies import explorer as ex


def test_run_and_draw_a_setting_and_the_previous_one():
    r = ex.run({"mix": "1500 B"}, "assumed-2011", n_packets=5_000)
    copy = ex.run({"mix": "1500 B", "mode": "copy"}, "assumed-2011", n_packets=5_000)
    fig = ex.draw(r, copy)
    assert len(fig.axes) == 3
    assert "Gbit/s" in ex.summary_line(r)


def test_a_deadlocking_setting_is_reported_not_raised():
    r = ex.run({"ring_size": 64, "max_pend": 128, "mix": "64 KB"}, "assumed-2011", n_packets=5_000)
    assert "DEADLOCKED" in ex.summary_line(r)
    ex.draw(r)


def test_controls_resimulate_on_a_change():
    box = ex.controls("assumed-2011", n_packets=3_000)
    status = box.children[1]
    before = status.value
    left = box.children[0].children[0]
    left.children[0].value = "copy"  # mode
    assert status.value != before and "zero-copy 0%" in status.value
