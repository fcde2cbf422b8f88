"""Every metric parser on real output captured on a real machine (tests/data/metrics),
and on malformed and truncated versions of it: a clear MetricParseError, never a crash.

How the files were made (see tests/data/metrics/README.md): go test -bench on
gob_src with -count 2 -cpu 1,2; hyperfine --export-json; pyperf timeit -o;
pytest --benchmark-json; perf stat -x, and -j (no hardware counters here);
valgrind --tool=callgrind on /bin/true.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from perfsup.config import MetricSpec
from perfsup.metrics.collect import collect_metrics
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.callgrind import OUT_FILE, parse_callgrind, wrap_command
from perfsup.metrics.parsers.gobench import parse_go_bench
from perfsup.metrics.parsers.hyperfine import parse_hyperfine
from perfsup.metrics.parsers.perfstat import parse_perf_stat
from perfsup.metrics.parsers.pyperf import parse_pyperf
from perfsup.metrics.parsers.pytest_benchmark import parse_pytest_benchmark

DATA = Path(__file__).parent / "data" / "metrics"


def text(name: str) -> str:
    return (DATA / name).read_text()


def spec(**kwargs: object) -> MetricSpec:
    return MetricSpec(name="m", **kwargs)  # type: ignore[arg-type]


def test_go_bench_units_sub_benchmarks_count_and_procs_suffix() -> None:
    records = {(r.name, r.field, r.procs): r.values for r in parse_go_bench(text("go_bench.txt"))}
    assert records[("BenchmarkSum", "ns/op", None)] == [330.9, 328.1]  # -count 2
    assert records[("BenchmarkSum", "ns/op", 2)] == [324.7, 325.8]  # the -2 suffix
    assert records[("BenchmarkSum", "MB/s", None)] == [24173.86, 24380.54]
    assert records[("BenchmarkBox", "B/op", None)] == [512.0, 512.0]
    assert records[("BenchmarkBox", "allocs/op", 2)] == [1.0, 1.0]
    assert records[("BenchmarkSizes/n=10", "items/op", None)] == [10.0, 10.0]  # custom unit
    assert records[("BenchmarkSizes/n=1000", "ns/op", 2)] == [337.0, 444.8]


def test_go_bench_through_collect_picks_name_unit_and_procs(tmp_path: Path) -> None:
    out = text("go_bench.txt")
    specs = [
        MetricSpec(name="sum_ns", source="go_bench", select="BenchmarkSum-2"),
        MetricSpec(name="box_allocs", source="go_bench", select="BenchmarkBox", field="allocs/op"),
        MetricSpec(
            name="sizes", source="go_bench", select="BenchmarkSizes/n=10-2", field="items/op"
        ),
        MetricSpec(name="first", source="go_bench"),  # the first benchmark, ns/op
    ]
    values = collect_metrics(out, tmp_path, specs)
    assert values["sum_ns"] == pytest.approx((324.7 + 325.8) / 2)
    assert values["box_allocs"] == 1.0
    assert values["sizes"] == 10.0
    assert values["first"] == pytest.approx((325.8 + 328.1) / 2)  # median of all four
    with pytest.raises(MetricParseError, match=r"no 'BenchmarkNope'.*found: BenchmarkBox"):
        collect_metrics(out, tmp_path, [spec(source="go_bench", select="BenchmarkNope")])
    with pytest.raises(MetricParseError, match="has no 'B/op'"):
        collect_metrics(
            out, tmp_path, [spec(source="go_bench", select="BenchmarkSum", field="B/op")]
        )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("PASS\nok  \texample.com/gob\t0.051s\n", "no 'Benchmark"),
        ("BenchmarkSum-2     \t    2000\t       324.7 ns/op\t24640", "pairs of '<value> <unit>'"),
        ("BenchmarkSum  2000  abc ns/op\n", "'abc' before 'ns/op' is not a number"),
        ("", "no 'Benchmark"),
    ],
)
def test_go_bench_malformed(bad: str, message: str) -> None:
    with pytest.raises(MetricParseError, match=message):
        parse_go_bench(bad)


def test_go_bench_truncated_real_output_fails_clearly_or_keeps_whole_lines() -> None:
    full = text("go_bench.txt")
    for cut in range(0, len(full), 37):
        try:
            records = parse_go_bench(full[:cut])
        except MetricParseError as exc:
            assert str(exc)  # a message, never another exception
        else:
            assert all(r.values for r in records)


def test_hyperfine_json(tmp_path: Path) -> None:
    records = {(r.name, r.field): r.values for r in parse_hyperfine(text("hyperfine.json"))}
    assert records[("sleep 0.01", "median")] == [pytest.approx(0.011889443)]
    assert len(records[("sleep 0.01", "times")]) == 5
    assert ("true", "mean") in records
    shutil.copy(DATA / "hyperfine.json", tmp_path / "hf.json")
    got = collect_metrics("", tmp_path, [spec(source="hyperfine", path="hf.json", select="true")])
    assert 0 < got["m"] < 0.01


def test_pyperf_json(tmp_path: Path) -> None:
    (record,) = parse_pyperf(text("pyperf.json"))
    assert record.name == "timeit" and record.field == "values"
    assert len(record.values) == 20  # 10 processes x 2 values; calibration run excluded
    shutil.copy(DATA / "pyperf.json", tmp_path / "p.json")
    got = collect_metrics("", tmp_path, [spec(source="pyperf", path="p.json")])
    assert 1e-7 < got["m"] < 1e-5


def test_pytest_benchmark_json(tmp_path: Path) -> None:
    records = {
        (r.name, r.field): r.values[0]
        for r in parse_pytest_benchmark(text("pytest_benchmark.json"))
    }
    assert {"test_sum", "test_sorted"} == {name for name, _ in records}
    assert records[("test_sum", "min")] <= records[("test_sum", "median")]
    shutil.copy(DATA / "pytest_benchmark.json", tmp_path / "b.json")
    got = collect_metrics(
        "", tmp_path, [spec(source="pytest_benchmark", path="b.json", select="test_sorted")]
    )
    assert got["m"] == records[("test_sorted", "median")]


def test_perf_stat_csv_and_json_with_not_supported(tmp_path: Path) -> None:
    for name in ("perf_x.txt", "perf_j.txt"):
        records, unsupported = parse_perf_stat(text(name))
        assert [r.name for r in records] == ["task-clock", "context-switches"]
        assert records[0].field == "msec" and records[0].values[0] > 0
        assert unsupported == {"cycles": "<not supported>", "instructions": "<not supported>"}
        shutil.copy(DATA / name, tmp_path / name)
        got = collect_metrics(
            "", tmp_path, [spec(source="perf_stat", path=name, select="task-clock")]
        )
        assert got["m"] == records[0].values[0]
        with pytest.raises(MetricParseError, match="reports <not supported> for 'cycles'"):
            collect_metrics("", tmp_path, [spec(source="perf_stat", path=name, select="cycles")])


def test_callgrind_out_file(tmp_path: Path) -> None:
    (record,) = parse_callgrind(text("callgrind.out"))
    assert (record.name, record.field, record.values) == ("Ir", "total", [126651.0])
    shutil.copy(DATA / "callgrind.out", tmp_path / OUT_FILE)
    got = collect_metrics("", tmp_path, [spec(source="callgrind", direction="lower")])
    assert got["m"] == 126651.0


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_wrapper_counts_instructions_of_a_real_command(tmp_path: Path) -> None:
    small = subprocess.run(wrap_command("true"), shell=True, cwd=tmp_path, capture_output=True)
    assert small.returncode == 0, small.stderr[-500:]
    few = collect_metrics("", tmp_path, [spec(source="callgrind")])["m"]
    more = wrap_command("for i in 1 2 3 4 5 6 7 8; do true; done; ls / >/dev/null")
    assert subprocess.run(more, shell=True, cwd=tmp_path, capture_output=True).returncode == 0
    many = collect_metrics("", tmp_path, [spec(source="callgrind")])["m"]
    assert 0 < few < many  # more work, more instructions


@pytest.mark.parametrize(
    ("parser", "name"),
    [
        (parse_hyperfine, "hyperfine.json"),
        (parse_pyperf, "pyperf.json"),
        (parse_pytest_benchmark, "pytest_benchmark.json"),
    ],
)
def test_json_formats_truncated_or_wrong_shape(parser: object, name: str) -> None:
    full = text(name)
    for cut in (0, 1, len(full) // 3, len(full) - 2):
        with pytest.raises(MetricParseError, match=r"not valid JSON.*truncated"):
            parser(full[:cut])  # type: ignore[operator]
    # an empty file (pytest-benchmark's when no benchmark ran) says so
    with pytest.raises(MetricParseError, match="the file is empty: did any benchmark run"):
        parser("\n")  # type: ignore[operator]
    for wrong in ("[]", "{}", '{"results": [], "benchmarks": []}', '{"benchmarks": [{"x": 1}]}'):
        with pytest.raises(MetricParseError):
            parser(wrong)  # type: ignore[operator]


def test_perf_stat_and_callgrind_malformed() -> None:
    with pytest.raises(MetricParseError, match="no counters"):
        parse_perf_stat("")
    with pytest.raises(MetricParseError, match="expected 'value,unit,event"):
        parse_perf_stat("0.50,msec")
    with pytest.raises(MetricParseError, match="not a complete JSON object"):
        parse_perf_stat(text("perf_j.txt")[:40])
    with pytest.raises(MetricParseError, match="'abc' for event 'task-clock' is not a number"):
        parse_perf_stat("abc,msec,task-clock,1,100.00,,")
    full = text("callgrind.out")
    with pytest.raises(MetricParseError, match="no 'totals:/summary:' line"):
        parse_callgrind("events: Ir\n")
    with pytest.raises(MetricParseError, match="no 'events:' line"):
        parse_callgrind("garbage\n")
    with pytest.raises(MetricParseError, match="not a count"):
        parse_callgrind("events: Ir\ntotals: 12x\n")
    assert parse_callgrind(full[: full.index("totals:")])[0].values == [126651.0]  # summary: line


def test_missing_output_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MetricParseError, match=r"cannot read hf\.json"):
        collect_metrics("", tmp_path, [spec(source="hyperfine", path="hf.json")])


def test_json_sources_need_a_path() -> None:
    with pytest.raises(ValueError, match="needs path"):
        MetricSpec(name="m", source="hyperfine")
