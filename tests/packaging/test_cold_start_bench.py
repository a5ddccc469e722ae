"""`make bench`'s cold starts run end to end: the function answers its real
event from the built layer (A), the bare boto3 handler repeats the calls
it recorded (B), and the table names both with their ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^(?P<name>\w+)\s+(?P<a>\d+)\s+(?P<b>\d+)\s+(?P<ratio>[\d.]+)\s+\d+\s+\d+\s+\d+\s+(?P<calls>\d+)$")


def test_the_bench_starts_a_function_and_its_baseline_and_prints_the_ratio() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.cold_start", "--runs", "1", "--only", "create_intervention,run_job"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    rows = {m["name"]: m for m in map(ROW.match, finished.stdout.splitlines()) if m}
    assert set(rows) == {"create_intervention", "run_job"}, finished.stdout
    for row in rows.values():
        assert int(row["a"]) > 0 and int(row["b"]) > 0
        assert abs(float(row["ratio"]) - int(row["a"]) / int(row["b"])) < 0.05
    assert int(rows["create_intervention"]["calls"]) >= 1  # the write B repeats
    assert int(rows["run_job"]["calls"]) >= 5  # the job's reads, writes, upload and message
    assert "load average before:" in finished.stdout and "load average after:" in finished.stdout
