"""Test figures of a task, read from what tools really wrote — never estimated.

- **tests written**: test functions the task added. Test files are recognised by name
  (`workspace.is_test_file`); in each created or changed one, test functions are counted where the language
  is parseable: Python (`def test*` at module level and in `Test*` classes, by AST), JavaScript/TypeScript
  (`it(`/`test(` calls), Go (`func Test…(`), Rust (`#[test]`). In a changed file only the functions that
  were not there before count. A test file in another language counts as 1 when created, 0 when changed.
  Always reported (0 when the task wrote no tests): it comes from the workspace diff, not from a test run.
- **tests passed / failed**: from the JUnit XML the test command wrote (`<testcase>` elements: failed =
  `<failure>` or `<error>`, skipped ones are neither). Without a report, from pytest's closing summary line
  (`3 passed, 1 failed in 0.1s`). Otherwise None.
- **coverage**: 0..1, from coverage.py's `coverage json` (`totals.percent_covered`) or Istanbul's
  `coverage-summary.json` (`total.lines.pct`). Otherwise None.

Reports are looked for at the path the agent config or requirements name (`junit_xml`, `coverage_json`,
relative to the workspace), else at `$STELLARFLOW_JUNIT_XML` / `$STELLARFLOW_COVERAGE_JSON` (paths outside the
workspace that the test command may write to), else at a few usual names in the workspace — only files
written since the test command started count, so a stale report never does.
"""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from activities.executors.workspace import MAX_TEXT_BYTES, Diff, read_text, written_test_files

JUNIT_NAMES = ("junit.xml", "report.xml", "test-results.xml", "test-report.xml", "junit-report.xml",
               "reports/junit.xml", "test-results/junit.xml")  # fmt: skip
COVERAGE_NAMES = ("coverage.json", "coverage/coverage-summary.json", "coverage-summary.json")

_PYTEST_SUMMARY = re.compile(r"^(?P<body>\d+ \w+(?:, \d+ \w+)*) in [\d.]+s\b")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?)")


@dataclass
class RunFigures:
    passed: int | None = None
    failed: int | None = None
    coverage: float | None = None


# ---- JUnit XML --------------------------------------------------------------------------------------------


def parse_junit(path: Path) -> tuple[int, int] | None:
    """(passed, failed) from a JUnit XML file, or None if it is not one. Skipped cases count as neither;
    errors count as failed."""
    try:
        if path.stat().st_size > 64 * MAX_TEXT_BYTES:
            return None
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    if root.tag not in {"testsuites", "testsuite"}:
        return None
    cases = list(root.iter("testcase"))
    if not cases:  # some tools write only the suite totals
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))

        def total(attr: str) -> int:
            return sum(int(s.get(attr, 0) or 0) for s in suites)

        failed = total("failures") + total("errors")
        return max(total("tests") - failed - total("skipped"), 0), failed
    passed = failed = 0
    for case in cases:
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failed += 1
        elif not tags & {"skipped"}:
            passed += 1
    return passed, failed


# ---- coverage JSON ----------------------------------------------------------------------------------------


def parse_coverage(path: Path) -> float | None:
    """Coverage as a fraction 0..1 from coverage.py's JSON report or Istanbul's summary; None otherwise."""
    try:
        if path.stat().st_size > 64 * MAX_TEXT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    percent = None
    totals = data.get("totals")
    if isinstance(totals, dict):
        percent = totals.get("percent_covered")
    total = data.get("total")
    if percent is None and isinstance(total, dict) and isinstance(total.get("lines"), dict):
        percent = total["lines"].get("pct")
    if not isinstance(percent, int | float) or isinstance(percent, bool):
        return None
    return min(max(float(percent) / 100.0, 0.0), 1.0)


# ---- pytest summary fallback ------------------------------------------------------------------------------


def parse_pytest_summary(output: str) -> tuple[int, int] | None:
    """(passed, failed) from pytest's closing line (`=== 3 passed, 1 failed in 0.12s ===`, or without the
    `=` under `-q`), if any."""
    for line in reversed(output.splitlines()):
        match = _PYTEST_SUMMARY.match(line.strip().strip("=").strip())
        if match:
            counts = Counter[str]()
            for number, word in _COUNT.findall(match.group("body")):
                counts["failed" if word != "passed" else "passed"] += int(number)
            return counts["passed"], counts["failed"]
    return None


# ---- finding the reports ----------------------------------------------------------------------------------


def _fresh(path: Path, since: float) -> bool:
    try:
        return path.is_file() and path.stat().st_mtime >= since - 1.0  # mtime granularity
    except OSError:
        return False


def find_report(workspace: Path, explicit: str | None, env_path: Path, names: tuple[str, ...], since: float
                ) -> Path | None:  # fmt: skip
    candidates = [workspace / explicit] if explicit else [env_path, *(workspace / name for name in names)]
    for candidate in candidates:
        resolved = candidate.resolve()
        # The reports path is one the (sandboxed) test command could replace by a symlink: only the file itself.
        inside = resolved.is_relative_to(workspace.resolve()) or (candidate == env_path and not env_path.is_symlink())
        if inside and _fresh(resolved, since):
            return resolved
    return None


def read_test_run(
    workspace: Path,
    *,
    junit_env: Path,
    coverage_env: Path,
    junit_xml: str | None,
    coverage_json: str | None,
    output: str,
    since: float,
) -> RunFigures:
    run = RunFigures()
    junit = find_report(workspace, junit_xml, junit_env, JUNIT_NAMES, since)
    counts = parse_junit(junit) if junit else None
    if counts is None:
        counts = parse_pytest_summary(output)
    if counts is not None:
        run.passed, run.failed = counts
    report = find_report(workspace, coverage_json, coverage_env, COVERAGE_NAMES, since)
    run.coverage = parse_coverage(report) if report else None
    return run


# ---- tests written ----------------------------------------------------------------------------------------


def _python_tests(text: str) -> list[str] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.extend(
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")
            )
    return names


_JS_TEST = re.compile(r"^\s*(?:it|test)(?:\.\w+)?\s*\(\s*(['\"`])(.*?)\1", re.MULTILINE)
_GO_TEST = re.compile(r"^func (Test\w*)\s*\(", re.MULTILINE)
_RUST_TEST = re.compile(r"#\[(?:tokio::)?test\]\s*(?:async\s+)?fn\s+(\w+)", re.MULTILINE)


def find_test_names(rel: str, text: str) -> list[str] | None:
    """Names of the test functions in a file, or None when its language is not parsed."""
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix in {".py", ".pyi"}:
        return _python_tests(text)
    if suffix in {".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs"}:
        return [name for _, name in _JS_TEST.findall(text)]
    if suffix == ".go":
        return _GO_TEST.findall(text)
    if suffix == ".rs":
        return _RUST_TEST.findall(text)
    return None


def count_tests_written(workspace: Path, snapshot: Path, changes: Diff) -> int:
    written = 0
    created = set(changes.created)
    for rel in written_test_files(changes):
        text = read_text(workspace / rel)
        names = find_test_names(rel, text) if text is not None else None
        if names is None:
            written += 1 if rel in created else 0
            continue
        before_text = None if rel in created else read_text(snapshot / rel)
        before = (find_test_names(rel, before_text) or []) if before_text is not None else []
        written += sum((Counter(names) - Counter(before)).values())
    return written
