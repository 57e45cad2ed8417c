#!/usr/bin/env python3
"""A stand-in coding-agent CLI for the `agent-cli` executor's tests, run as a real program.

Usage like `claude -p PROMPT`: the prompt is the argument after `-p` (else the last argument). It records
the argv it received in `cli_argv.json` in its working directory (the task's workspace, so the test sees a
file the CLI wrote), prints progress and output, and lets the prompt steer it:
  EXIT=<n>        exit with code n
  SLEEP=<s>       sleep s seconds first
  JSON_USAGE      print a final JSON line with `usage` (as `claude --output-format json` does)
"""

import json
import re
import sys
import time
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    prompt = args[args.index("-p") + 1] if "-p" in args and args.index("-p") + 1 < len(args) else args[-1]
    Path("cli_argv.json").write_text(json.dumps({"argv": args, "prompt": prompt}))
    print("progress: 10%", flush=True)
    sleep = re.search(r"SLEEP=([\d.]+)", prompt)
    if sleep:
        time.sleep(float(sleep.group(1)))
    Path("hello.py").write_text("def hello():\n    return 'hello'\n")
    print("progress: 100%", flush=True)
    print(f"fake-cli done ({len(prompt)} chars of prompt)")
    if "JSON_USAGE" in prompt:
        print(json.dumps({"result": "done", "usage": {"input_tokens": 120, "output_tokens": 30}}))
    code = re.search(r"EXIT=(\d+)", prompt)
    return int(code.group(1)) if code else 0


if __name__ == "__main__":
    sys.exit(main())
