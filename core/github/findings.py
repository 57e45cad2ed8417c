"""Turning each analyzer's own output into `Finding`s, and the other pure measures of an analysis: which languages
a checkout holds, what each tool covers, summary counts, and which lines a pull request changed. Pure, so the
thresholds and the normalisation are unit-testable without running a tool."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import PurePosixPath

from core.github.models import Finding, Phase, Severity

# Extensions → language, for the languages a checkout holds (what "not analysed" is measured against).
LANGUAGES: dict[str, str] = {
    ".py": "Python", ".js": "JavaScript", ".jsx": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".java": "Java", ".kt": "Kotlin", ".go": "Go", ".rb": "Ruby",
    ".rs": "Rust", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".hpp": "C++", ".cs": "C#",
    ".php": "PHP", ".swift": "Swift", ".scala": "Scala", ".lua": "Lua", ".m": "Objective-C", ".sh": "Shell",
    ".erl": "Erlang", ".f90": "Fortran", ".sol": "Solidity", ".gd": "GDScript", ".zig": "Zig",
    ".pl": "Perl", ".r": "R", ".dart": "Dart", ".ex": "Elixir", ".exs": "Elixir", ".vue": "Vue",
}
# Which languages each tool analyses; detect-secrets reads every text file whatever its language.
COVERS: dict[str, set[str] | None] = {
    "ruff": {"Python"},
    "bandit": {"Python"},
    "detect-secrets": None,
    # lizard 1.17+: https://github.com/terryyin/lizard#supported-languages
    "lizard": {"C", "C++", "Java", "C#", "JavaScript", "TypeScript", "Objective-C", "Swift", "Python", "Ruby",
               "PHP", "Scala", "Go", "Lua", "Rust", "Kotlin", "Erlang", "Fortran", "Solidity", "GDScript", "Zig",
               "Perl", "R", "Vue"},
}
COVERS["lizard-duplicates"] = COVERS["lizard-hotspots"] = COVERS["lizard"]
SKIPPED_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "dist", "build"}

# Thresholds, stated in docs/github.md. Cyclomatic complexity: McCabe's 10 for code quality, lizard's own warning
# level (15) for a performance hotspot; length in lines of code (NLOC).
COMPLEXITY_MEDIUM, COMPLEXITY_HIGH = 10, 20
LONG_FUNCTION_NLOC = 60
HOTSPOT_COMPLEXITY, HOTSPOT_NLOC = 15, 100
DUPLICATE_MIN_TOKENS = 70  # lizard's default


def language_of(path: str) -> str | None:
    return LANGUAGES.get(PurePosixPath(path).suffix.lower())


def count_languages(paths: Iterable[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in paths:
        language = language_of(path)
        if language:
            counts[language] += 1
    return dict(sorted(counts.items()))


def coverage(tool: str, languages: dict[str, int]) -> tuple[list[str], list[str]]:
    """(languages present that the tool analyses, languages present that it does not)."""
    covered = COVERS.get(tool)
    if covered is None:
        return sorted(languages), []
    return sorted(lang for lang in languages if lang in covered), sorted(lang for lang in languages
                                                                         if lang not in covered)


def relative(path: str, root: str) -> str:
    path = path.replace("\\", "/")
    root = root.rstrip("/") + "/"
    if path.startswith(root):
        path = path[len(root):]
    return path[2:] if path.startswith("./") else path


def ruff(output: str, root: str, version: str) -> list[Finding]:
    findings = []
    for item in json.loads(output or "[]"):
        code = item.get("code") or "syntax-error"
        severity: Severity = "medium" if code.startswith(("F", "E9")) or code == "syntax-error" else "low"
        findings.append(Finding(file=relative(item["filename"], root), line=(item.get("location") or {}).get("row"),
                                end_line=(item.get("end_location") or {}).get("row"), rule=code,
                                severity=severity, message=item.get("message", ""), tool="ruff",
                                tool_version=version))
    return findings


def bandit(output: str, root: str, version: str) -> list[Finding]:
    data = json.loads(output or "{}")
    findings = []
    for item in data.get("results", []):
        severity = str(item.get("issue_severity", "LOW")).lower()
        findings.append(Finding(file=relative(item["filename"], root), line=item.get("line_number"),
                                end_line=(item.get("line_range") or [None])[-1],
                                rule=f"{item.get('test_id')} {item.get('test_name')}".strip(),
                                severity=severity if severity in ("low", "medium", "high") else "low",
                                message=f"{item.get('issue_text', '')} (confidence: "
                                        f"{str(item.get('issue_confidence', '')).lower()})",
                                tool="bandit", tool_version=version))
    return findings


def bandit_errors(output: str) -> list[dict]:
    return list(json.loads(output or "{}").get("errors", []))


def detect_secrets(output: str, root: str, version: str) -> list[Finding]:
    """detect-secrets' baseline JSON: each result names the file, line and kind of secret, never the secret (its
    hash only, which we drop too)."""
    data = json.loads(output or "{}")
    findings = []
    for path, items in sorted((data.get("results") or {}).items()):
        for item in items:
            findings.append(Finding(file=relative(path, root), line=item.get("line_number"),
                                    rule=item.get("type", "secret"), severity="high",
                                    message=f"Possible committed secret: {item.get('type', 'secret')}",
                                    tool="detect-secrets", tool_version=version))
    return findings


def lizard_functions(output: str, root: str) -> list[dict]:
    """lizard --csv rows: nloc, ccn, tokens, params, length, location, file, function, long name, start, end."""
    functions = []
    for row in csv.reader(io.StringIO(output)):
        if len(row) < 11 or not row[0].isdigit():
            continue
        functions.append({"nloc": int(row[0]), "ccn": int(row[1]), "params": int(row[3]), "length": int(row[4]),
                          "file": relative(row[6], root), "function": row[7], "start": int(row[9]),
                          "end": int(row[10])})
    return functions


def complexity(functions: list[dict], version: str) -> list[Finding]:
    findings = []
    for fn in functions:
        if fn["ccn"] > COMPLEXITY_MEDIUM:
            findings.append(Finding(
                file=fn["file"], line=fn["start"], end_line=fn["end"], rule="cyclomatic-complexity",
                severity="high" if fn["ccn"] > COMPLEXITY_HIGH else "medium",
                message=f"{fn['function']} has cyclomatic complexity {fn['ccn']} (over {COMPLEXITY_MEDIUM})",
                tool="lizard", tool_version=version))
        if fn["nloc"] > LONG_FUNCTION_NLOC:
            findings.append(Finding(
                file=fn["file"], line=fn["start"], end_line=fn["end"], rule="long-function", severity="low",
                message=f"{fn['function']} has {fn['nloc']} lines of code (over {LONG_FUNCTION_NLOC})",
                tool="lizard", tool_version=version))
    return findings


def hotspots(functions: list[dict], version: str) -> list[Finding]:
    findings = []
    for fn in functions:
        reasons = []
        if fn["ccn"] > HOTSPOT_COMPLEXITY:
            reasons.append(f"cyclomatic complexity {fn['ccn']} (over {HOTSPOT_COMPLEXITY})")
        if fn["nloc"] > HOTSPOT_NLOC:
            reasons.append(f"{fn['nloc']} lines of code (over {HOTSPOT_NLOC})")
        if reasons:
            findings.append(Finding(
                file=fn["file"], line=fn["start"], end_line=fn["end"], rule="complexity-hotspot",
                severity="medium", message=f"{fn['function']}: {' and '.join(reasons)}", tool="lizard",
                tool_version=version))
    return findings


_DUPLICATE = re.compile(r"^(?P<file>.+):(?P<start>\d+) ~ (?P<end>\d+)$")
_RATE = re.compile(r"^Total duplicate rate: (?P<rate>[\d.]+)%")


def duplicates(output: str, root: str, version: str) -> tuple[list[Finding], float | None]:
    """lizard -Eduplicate's text report: blocks of `file:start ~ end` lines, then the duplicate rate."""
    findings: list[Finding] = []
    rate: float | None = None
    block: list[tuple[str, int, int]] = []
    for line in output.splitlines():
        line = line.strip()
        if match := _DUPLICATE.match(line):
            block.append((relative(match["file"], root), int(match["start"]), int(match["end"])))
        elif line.startswith("^^^") and block:
            for index, (path, start, end) in enumerate(block):
                others = ", ".join(f"{p}:{s}-{e}" for i, (p, s, e) in enumerate(block) if i != index)
                findings.append(Finding(file=path, line=start, end_line=end, rule="duplicate-code", severity="low",
                                        message=f"lines {start}-{end} duplicate {others}", tool="lizard",
                                        tool_version=version))
            block = []
        elif match := _RATE.match(line):
            rate = float(match["rate"])
    return findings, rate


def source_files(root: str) -> list[str]:
    """Files of the checkout (relative), skipping VCS and dependency folders. Reads names only, no contents."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in files:
            found.append(relative(os.path.join(folder, name), root))
    return sorted(found)


def summarise(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    summary = {severity: counts.get(severity, 0) for severity in ("high", "medium", "low")}
    summary["total"] = sum(summary.values())
    return summary


def phase_summary(phases: Iterable[Phase]) -> dict[str, int]:
    return summarise(f for phase in phases for tool in phase.tools for f in tool.findings)


_ADDED_TEST = re.compile(r"^\+(?!\+\+)\s*(?:async\s+)?(?:def\s+test_\w*|(?:it|test)\s*\()")


def tests_added(diff: str) -> int:
    """Test functions a unified diff adds: Python `def test_…`, JavaScript/TypeScript `it(`/`test(`."""
    return sum(1 for line in diff.splitlines() if _ADDED_TEST.match(line))


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,\d+)? @@")


def added_lines(patch: str | None) -> set[int]:
    """The new-file line numbers a unified diff hunk adds: where a review comment on the RIGHT side may go."""
    lines: set[int] = set()
    current = 0
    for text in (patch or "").splitlines():
        if match := _HUNK.match(text):
            current = int(match["start"])
        elif text.startswith("+") and not text.startswith("+++"):
            lines.add(current)
            current += 1
        elif text.startswith("-") and not text.startswith("---"):
            continue
        elif not text.startswith("\\"):
            current += 1
    return lines


def on_changed_lines(findings: Iterable[Finding], changed: dict[str, set[int]]) -> list[Finding]:
    return [f for f in findings if f.line is not None and f.line in changed.get(f.file, set())]
