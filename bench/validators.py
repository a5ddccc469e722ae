"""python -m bench.validators: the JSON Schema validators an answer form
(`response_schema`) could use, compared on what a Lambda pays and what an
untrusted schema can make them do.

Each candidate is installed, pinned, into a temporary directory with pip (as
the layer build installs its requirements), then measured:
  - size: what it adds to the layer (`du` of the install, bytecode included);
  - import: in a fresh interpreter, median of --runs, alone and after the
    imports every function already pays (pydantic, Powertools); from bytecode,
    and from source (the layer ships our own package as sources, which Lambda
    compiles at every cold start);
  - compile: a typical form's schema made ready to check answers;
  - validate: one valid and one invalid answer, with the failing paths;
  - what an untrusted schema does: a remote `$ref` (served on 127.0.0.1: is
    it fetched?), a backtracking `pattern`, an exponential anyOf, and for
    fastjsonschema (which exec()s source generated from the schema) hostile
    property names.
Nothing here is asserted; docs/decisions.md keeps the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "oversight"
sys.path.insert(0, str(LAYER))

from oversight import answers  # noqa: E402
from oversight.errors import ValidationFailed  # noqa: E402

PINS = {
    "fastjsonschema": "fastjsonschema==2.22.3",
    "jsonschema": "jsonschema==4.26.0",
    "jsonschema-rs": "jsonschema-rs==0.60.3",
}
# name: (install, module to import, what to import)
CANDIDATES = {
    "oversight.answers": (None, "oversight.answers"),
    "fastjsonschema": ("fastjsonschema", "fastjsonschema"),
    "Powertools validation": ("fastjsonschema", "aws_lambda_powertools.utilities.validation"),
    "jsonschema": ("jsonschema", "jsonschema"),
    "jsonschema-rs": ("jsonschema-rs", "jsonschema_rs"),
}
PRELOAD = "import pydantic, aws_lambda_powertools.event_handler"

FORM = {
    "type": "object",
    "properties": {
        "amount": {"type": "number", "title": "Refund amount", "minimum": 0, "maximum": 180},
        "method": {"enum": ["original payment", "voucher"], "title": "Refund method"},
        "note": {"type": "string", "maxLength": 200},
        "lines": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string", "minLength": 1}}, "required": ["sku"]},
        },
    },
    "required": ["amount", "method"],
    "additionalProperties": False,
}
VALID = {"amount": 25.5, "method": "voucher", "note": "goodwill", "lines": [{"sku": "A-1"}, {"sku": "B-2"}]}
INVALID = {"amount": -1, "method": "cash", "lines": [{"sku": "A-1"}, {}]}


def install(directory: Path, requirement: str, compiled: bool) -> Path:
    target = directory / (requirement.split("==")[0] + ("" if compiled else "-source"))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
    ]
    subprocess.run([*command, *([] if compiled else ["--no-compile"]), requirement], check=True, capture_output=True)
    return target


def kib(path: Path) -> int:
    if path.is_file():
        return round(path.stat().st_size / 1024)
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024)


def import_ms(module: str, path: str, runs: int, preload: str = "", source: bool = False) -> float:
    code = f"{preload}\nimport time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path, "POWERTOOLS_TRACE_DISABLED": "true"}
    if source:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def median_us(action: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def sizes_and_imports(work: Path, runs: int) -> dict[str, Path]:
    compiled = {name: install(work, PINS[name], True) for name in PINS}
    sources = {name: install(work, PINS[name], False) for name in PINS}
    ours_bytecode, ours_source = work / "layer-bytecode", work / "layer-source"
    for copy in (ours_bytecode, ours_source):
        shutil.copytree(LAYER / "oversight", copy / "oversight", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ours_bytecode)], check=True)

    print(f"\nimport in a fresh interpreter, median of {runs} (ms): alone, and after `{PRELOAD}`")
    print(f"{'':<24} {'alone':>9} {'':>8} {'after':>9} {'':>8}  {'adds to the layer':>17}")
    print(f"{'':<24} {'bytecode':>9} {'source':>8} {'bytecode':>9} {'source':>8}")
    for name, (package, module) in CANDIDATES.items():
        if package is None:
            with_code, without = str(ours_bytecode), str(ours_source)
            size = f"{kib(LAYER / 'oversight' / 'answers.py')} KiB (source)"
        else:
            with_code, without = str(compiled[package]), str(sources[package])
            size = f"{kib(compiled[package])} KiB" if name != "Powertools validation" else "as fastjsonschema"
        figures = [
            import_ms(module, with_code, runs),
            import_ms(module, without, runs, source=True),
            import_ms(module, with_code, runs, PRELOAD),
            import_ms(module, without, runs, PRELOAD, source=True),
        ]
        cells = " ".join(f"{figure:>{width}.1f}" for figure, width in zip(figures, (9, 8, 9, 8), strict=True))
        print(f"{name:<24} {cells}  {size:>17}")
    print("(the layer ships our package as sources, which Lambda compiles at each cold start; pip compiles the others)")
    return compiled


def speed(paths: dict[str, Path], repeat: int) -> None:
    for target in paths.values():
        sys.path.insert(0, str(target))
    import fastjsonschema
    import jsonschema
    import jsonschema_rs

    canonical = answers.canonical_json(FORM)
    ours = answers.compile_schema(canonical)
    fast = fastjsonschema.compile(FORM)
    draft7 = jsonschema.Draft7Validator(FORM)
    rust = jsonschema_rs.Draft7Validator(FORM)

    def ours_errors(value: Any) -> list[Any]:
        try:
            ours.check(value)
        except ValidationFailed as failed:
            return [d["loc"][2:] for d in failed.details or []]
        return []

    def fast_errors(value: Any) -> list[Any]:
        try:
            fast(value)
        except fastjsonschema.JsonSchemaValueException as failed:
            return [failed.path[1:]]  # the first failure only (a name string split on dots)
        return []

    rows = {
        "oversight.answers": (
            lambda: answers.compile_schema(canonical),
            lambda: ours_errors(VALID),
            lambda: ours_errors(INVALID),
        ),
        "fastjsonschema": (
            lambda: fastjsonschema.compile(FORM),
            lambda: fast_errors(VALID),
            lambda: fast_errors(INVALID),
        ),
        "jsonschema": (
            lambda: (jsonschema.Draft7Validator.check_schema(FORM), jsonschema.Draft7Validator(FORM)),
            lambda: [list(e.absolute_path) for e in draft7.iter_errors(VALID)],
            lambda: [list(e.absolute_path) for e in draft7.iter_errors(INVALID)],
        ),
        "jsonschema-rs": (
            lambda: jsonschema_rs.Draft7Validator(FORM),
            lambda: [e.instance_path for e in rust.iter_errors(VALID)],
            lambda: [e.instance_path for e in rust.iter_errors(INVALID)],
        ),
    }
    title = f"the refund form, median of {repeat} (µs)"
    print(f"\n{title:<44} {'compile':>9} {'valid':>8} {'invalid':>8}  paths")
    for name, (compile_, valid, invalid) in rows.items():
        paths_found = invalid()
        print(
            f"{name:<44} {median_us(compile_, repeat):>9.0f} {median_us(valid, repeat):>8.1f}"
            f" {median_us(invalid, repeat):>8.1f}  {paths_found}"
        )
    print("(compile includes the metaschema check for ours and jsonschema's;")
    print(" Powertools' validate() compiles the schema again on every call)")
    untrusted(fastjsonschema, jsonschema, jsonschema_rs)


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 -- the http.server API
        type(self).hits += 1
        body = b'{"type": "string"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def untrusted(fastjsonschema: Any, jsonschema: Any, jsonschema_rs: Any) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = {"properties": {"a": {"$ref": f"http://127.0.0.1:{server.server_port}/schema.json"}}}
    print("\nremote $ref (a server on 127.0.0.1 counts the requests)")
    attempts: dict[str, Callable[[], Any]] = {
        "oversight.answers": lambda: answers.check_schema(remote),
        "fastjsonschema": lambda: fastjsonschema.compile(remote)({"a": 1}),
        "jsonschema": lambda: list(jsonschema.Draft7Validator(remote).iter_errors({"a": 1})),
        "jsonschema-rs": lambda: jsonschema_rs.Draft7Validator(remote).is_valid({"a": 1}),
    }
    for name, attempt in attempts.items():
        before = _Counter.hits
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                attempt()
                outcome = "no error"
            except Exception as exc:  # noqa: BLE001 -- any refusal will do; its kind is what is printed
                outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:70]}"
        if warned:
            outcome += f"; {warned[0].category.__name__}: {str(warned[0].message)[:60]}"
        print(f"  {name:<20} requests made: {_Counter.hits - before}  ({outcome})")
    server.shutdown()

    print("\nPython's re (what fastjsonschema and jsonschema run a `pattern` with), on a string of n characters")
    for pattern, char, sizes in (("a*b", "a", (4096, 8192, 16384)), (r"\d+\d+x", "1", (256, 512, 1024))):
        timings = []
        for n in sizes:
            started = time.perf_counter()
            re.search(pattern, char * n)
            timings.append(f"n={n}: {(time.perf_counter() - started) * 1000:.0f} ms")
        print(f"  {pattern!r:<12} " + ", ".join(timings))

    print("\nan anyOf of 3 branches, nested through $ref 11 deep (3^11 = 177,147 evaluations), on the value 5")
    fanout = {"definitions": {f"d{n}": {"anyOf": [{"$ref": f"#/definitions/d{n - 1}"}] * 3} for n in range(1, 12)}}
    fanout["definitions"]["d0"] = {"type": "string"}
    fanout["$ref"] = "#/definitions/d11"
    runs: dict[str, Callable[[], Any]] = {
        "oversight.answers": lambda: answers.check_answer(fanout, 5),
        "fastjsonschema": lambda: fastjsonschema.compile(fanout)(5),
        "jsonschema": lambda: jsonschema.Draft7Validator(fanout).validate(5),
        "jsonschema-rs": lambda: jsonschema_rs.Draft7Validator(fanout).validate(5),
    }
    for name, run in runs.items():
        started, outcome = time.perf_counter(), "no error"
        try:
            run()
        except Exception as exc:  # noqa: BLE001
            outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:60]}"
        print(f"  {name:<20} {(time.perf_counter() - started) * 1000:>8.0f} ms  ({outcome})")

    marker = Path(tempfile.mkdtemp()) / "pwned"
    names = [
        f"'] or __import__('os').system('touch {marker}') or ['",
        f'"] or __import__("os").system("touch {marker}") or ["',
        f'{{__import__}}\\"+__import__("os").system("touch {marker}")+"',
        f"a\nimport os; os.system('touch {marker}')  #",
    ]
    probes = 0
    for name in names:
        for schema in (
            {"properties": {name: {"type": "string", "default": name}}, "required": [name]},
            {"enum": [name]},
            {"const": name},
            {"dependencies": {name: [name]}},
            {"properties": {name: {"properties": {name: {"minimum": 1}}}}},
            {"additionalProperties": False, "properties": {name: True}},
        ):
            for value in ({name: 1}, {name: {name: 0}}, name, {}):
                probes += 1
                with contextlib.suppress(fastjsonschema.JsonSchemaException):
                    fastjsonschema.compile(schema)(value)
    print(f"\nfastjsonschema, {probes} hostile names compiled and run: code ran = {marker.exists()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per import figure")
    parser.add_argument("--repeat", type=int, default=300, help="calls per speed figure")
    options = parser.parse_args()
    # Figures scale with the machine's load (other processes on its cores): it is printed beside them.
    print(f"load average: {' '.join(f'{load:.1f}' for load in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as work:
        paths = sizes_and_imports(Path(work), options.runs)
        speed(paths, options.repeat)


if __name__ == "__main__":
    main()
