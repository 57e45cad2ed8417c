"""Runs one `stellarflow.executors` entry point in a child process (started by python_exec.py).

Run by path, with the worker's interpreter. Only the standard library is imported here, before the entry
point: whatever the callable imports is its own business. Protocol: `argv[1]` is the entry-point name; the
task (JSON) is read from `$STELLARFLOW_TASK_INPUT`; the result (JSON: output, success, error) is written to
`$STELLARFLOW_RESULT`. An exception is printed to stderr and exits 1.
"""

import os  # both already loaded by the interpreter's start-up, so not looked up on sys.path
import sys

# Running a script puts its directory first on sys.path; the executor package's modules must not shadow the
# names a callable imports.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import asyncio  # noqa: E402
import importlib.metadata  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import traceback  # noqa: E402

GROUP = "stellarflow.executors"


def _write(result: dict) -> None:
    with open(os.environ["STELLARFLOW_RESULT"], "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str)


def main() -> int:
    name = sys.argv[1]
    with open(os.environ["STELLARFLOW_TASK_INPUT"], encoding="utf-8") as handle:
        task = json.load(handle)
    matches = list(importlib.metadata.entry_points(group=GROUP, name=name))
    if not matches:
        print(f"entry point {name!r} is not registered in group {GROUP!r}", file=sys.stderr)
        return 2
    try:
        func = matches[0].load()
        value = func(task)
        if inspect.isawaitable(value):
            value = asyncio.run(_await(value))
    except Exception as err:  # noqa: BLE001 - reported as the task's failure
        traceback.print_exc()
        _write({"success": False, "error": f"{type(err).__name__}: {err}"})
        return 1
    if isinstance(value, dict):
        result = {
            "output": "" if value.get("output") is None else str(value.get("output")),
            "success": value.get("success", True) is not False,
            "error": None if value.get("error") is None else str(value.get("error")),
        }
    else:
        result = {"output": "" if value is None else str(value), "success": True, "error": None}
    _write(result)
    return 0 if result["success"] else 1


async def _await(awaitable):  # noqa: ANN001, ANN202 - any awaitable
    return await awaitable


if __name__ == "__main__":
    sys.stdout.flush()
    sys.exit(main())
