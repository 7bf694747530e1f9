"""In a log (stderr not a terminal) progress is plain lines: the first move, then at most one per interval, and
the end of each run of a bar; never a live bar's escape codes."""

import io

from rich.console import Console

from dataladder.cli.common import LogProgress, step_bar


def _bar(every):
    out = io.StringIO()
    return LogProgress(every=every, console=Console(file=out, force_terminal=False, width=80), transient=True), out


def test_a_log_gets_each_runs_first_step_and_its_last():
    bar, out = _bar(every=3600)
    with bar:
        on_step, on_line = step_bar(bar, "SFT steps")
        for rung, total in ((1, 40), (2, 12)):
            for i in range(1, total + 1):
                on_step(i, total)
            on_line(f"rung {rung} done")
        quiet = bar.add_task("rungs done", total=None, log=False)
        bar.advance(quiet)
    lines = [line.split(" (")[0] for line in out.getvalue().splitlines()]
    assert lines == ["SFT steps: 1/40", "SFT steps: 40/40", "SFT steps: 1/12", "SFT steps: 12/12"]
    assert "\x1b" not in out.getvalue()


def test_an_open_ended_count_prints_without_a_total_and_each_interval_at_most_once():
    bar, out = _bar(every=0)
    with bar:
        t = bar.add_task("probing", total=None)
        for _ in range(3):
            bar.advance(t, 5)
        bar.update(t, completed=15)  # no move: no line
    assert [line.split(" (")[0] for line in out.getvalue().splitlines()] == ["probing: 5", "probing: 10", "probing: 15"]
