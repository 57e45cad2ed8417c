"""What the sandbox costs per command: `execute-command` running `true`, as the activity runs it, three ways.

    python bench/sandbox_cost.py [--runs 300]

* unsandboxed – STELLARFLOW_SANDBOX=none with STELLARFLOW_ALLOW_UNSANDBOXED=true: `setpriv --pdeathsig KILL true`,
                what every step ran before the sandbox;
* bwrap       – the default: bubblewrap + `stellarflow-sandbox-exec` (uid and limits in one exec);
* fallback    – bubblewrap + `setpriv ... -- prlimit ... --` (the helper not built).

Each round runs the three once, in turn, so load drift hits all of them; it prints the median and p90 of the
whole activity function (`run_command`: workspace, environment, output file, spawn, wait, read back) in ms.
Needs root and bwrap, like the sandbox's uid change. A few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="stellarflow-sandbox-cost-"))
    os.environ["STELLARFLOW_DATA_DIR"] = str(scratch / "data")
    from activities import sandbox
    from activities.command import run_command
    from core.pipelines.contracts import ActionRequest
    from core.settings import reset_settings

    helper = sandbox.helper_path()
    if helper is None:
        sys.exit("build the helper first: make .venv/bin/stellarflow-sandbox-exec")

    def configure(variant: str) -> None:
        os.environ["STELLARFLOW_SANDBOX"] = "none" if variant == "unsandboxed" else "bwrap"
        os.environ["STELLARFLOW_ALLOW_UNSANDBOXED"] = "true"
        sandbox.helper_path = (lambda: None) if variant == "fallback" else (lambda: helper)  # type: ignore[assignment]
        reset_settings()

    variants = ["unsandboxed", "bwrap", "fallback"]
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(args.warmup + args.runs):
        for variant in variants:
            configure(variant)
            request = ActionRequest(run_id="run-bench", step_id=f"s{index}-{variant}", action="execute-command",
                                    parameters={"command": ["true"]})  # fmt: skip
            started = time.perf_counter()
            result = await run_command(request)
            elapsed = (time.perf_counter() - started) * 1000
            assert result.outputs["exitCode"] == 0
            if index >= args.warmup:
                samples[variant].append(elapsed)

    base = statistics.median(samples["unsandboxed"])
    print(f"execute-command running `true`, {args.runs} rounds (+{args.warmup} warm-up), ms per command:")
    print(f"{'variant':<12} {'median':>7} {'p90':>7} {'+ median':>9}")
    for variant in variants:
        values = sorted(samples[variant])
        median, p90 = statistics.median(values), values[int(len(values) * 0.9)]
        print(f"{variant:<12} {median:7.2f} {p90:7.2f} {median - base:+9.2f}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
