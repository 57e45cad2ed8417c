"""A small real `stellarflow.executors` entry point (registered in pyproject as `word-count`), used by the
tests and as a template for writing one. It lives in `core`, not `activities`, because an entry point's
package is imported in the task's process: `activities/__init__.py` loads the Temporal SDK (about a second),
`core/__init__.py` nothing.

A python-executor callable takes the task as a dict (task_id, agent_id, workspace, description, type,
requirements, config, context, directives, agent_type, cognitive_pattern), runs with the workspace as its
current directory, may print progress lines (`::progress::0.5`), and returns a string (the output) or a dict
with `output`, and optionally `success: false` and `error`. It may be `async`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)


def word_count(task: dict[str, Any]) -> dict[str, Any]:
    """Count the words of the workspace files named by `requirements.paths` (default: every `.txt` and `.md`
    file), or of the description when there are none; write the counts to `word_count.json`."""
    paths = task.get("requirements", {}).get("paths")
    if paths:
        files = [Path(p) for p in paths]
    else:
        files = sorted(p for p in Path(".").rglob("*") if p.suffix in {".txt", ".md"})
    counts: dict[str, int] = {}
    for index, path in enumerate(files, 1):
        counts[path.as_posix()] = len(_WORD.findall(path.read_text(encoding="utf-8")))
        print(f"::progress::{index / (len(files) + 1):.2f} counted {path}", flush=True)
    if not files:
        counts["(description)"] = len(_WORD.findall(task.get("description", "")))
    total = sum(counts.values())
    Path("word_count.json").write_text(json.dumps({"files": counts, "total": total}, indent=2) + "\n")
    return {"output": f"{total} words in {len(counts)} source(s)"}
