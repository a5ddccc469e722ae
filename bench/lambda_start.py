"""One cold start as Lambda's Python runtime makes it: a fresh interpreter
whose `sys.path` is the function's code folder, the layer and the SDK (and
the standard library), imports the handler's module, answers one event,
and exits without tearing the interpreter down (Lambda freezes or discards
the environment; it never runs `atexit` or the garbage collector's final
pass).

`python -S -E bench/lambda_start.py < REQUEST_JSON`: `-S -E` keep every
site-packages folder and PYTHON* variable out, so nothing but the listed
folders can be imported. The request names `paths`, `module`, `handler`,
`event`, `function_name`, `out` (where the timings go, as JSON: the
function's own logs own stdout) and optionally `record` (a file to pickle
every AWS call into, for the minimal handler to repeat them) and `profile`
(a file for cProfile's statistics of the import and the first request). Standard
library only.
"""

import json
import os
import sys
import time
import uuid

request = json.loads(sys.stdin.read())
del sys.path[0]  # this script's folder
sys.path[0:0] = request["paths"]


class Context:
    """The Lambda context object. Not local_runtime.function_host's
    HostContext: importing that module would load decimal, traceback and
    warnings for the function before its import is timed."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.invoked_function_arn = f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.time() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


calls: list = []
if request.get("record"):
    # Before any botocore session exists, so that every client reports its calls (untimed runs only).
    import copy

    import botocore.handlers
    from botocore import xform_name

    def _copy(value):
        try:
            return copy.deepcopy(value)
        except TypeError:  # a streamed body (an upload's): repeated empty; the bench's are a few records
            return b""

    def _record(params, model, **_):
        parameters = {name: _copy(value) for name, value in params.items()}
        calls.append((model.service_model.service_name, xform_name(model.name), parameters))

    botocore.handlers.BUILTIN_HANDLERS.append(("provide-client-params.*.*", _record))

profile = None
if request.get("profile"):  # `make bench` --profile: where the time goes (the figures then include its overhead)
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
context = Context(request["function_name"])
import_started = time.perf_counter()  # what Lambda's init and first invoke time: the import, then one event
module = __import__(request["module"])
imported = time.perf_counter()
result = getattr(module, request["handler"])(request["event"], context)
answered = time.perf_counter()
if profile is not None:
    profile.disable()
    profile.dump_stats(request["profile"])

with open(request["out"], "w") as out:
    status = result.get("statusCode") if isinstance(result, dict) else None
    body = result.get("body") if isinstance(result, dict) else None
    json.dump(
        {
            "import_ms": (imported - import_started) * 1000,
            "first_request_ms": (answered - imported) * 1000,
            "total_ms": (answered - import_started) * 1000,
            "status": status,
            "body": body,
            "result": None if status is not None else result,
        },
        out,
        default=repr,
    )
if request.get("record"):
    import pickle

    with open(request["record"], "wb") as recorded:
        pickle.dump(calls, recorded)
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
