"""Where a templated value sits in a shell command, and how to hand it over without it ever becoming shell text.

A shell string of an `execute-command` step is rendered with every `{{ … }}` output replaced by a *marker*
(`core/dsl/templating.render_shell`). This module reads the rendered string as `/bin/sh` would — quotes,
backslashes, `$(…)`, `${…}`, `$((…))`, backticks, comments, here-documents — and replaces each marker by a
*reference* to an environment variable that holds the value (`"${SF_1}"` where the marker stood unquoted,
`${SF_1}` inside double quotes or an unquoted here-document). The shell expands a reference after it has parsed
the command, and never parses the result again, so a value such as `$(id)`, `` `id` ``, `; rm -rf ~`, `&& x`,
`| x`, a newline or a quote of either kind arrives as the bytes it is.

Contexts where no reference can be made safe are refused with a message that shows the safe form:

* inside single quotes or `$'…'`: nothing expands there, and such a string is often code for another program;
* inside backticks, `${…}`, arithmetic (`$((…))`, `((…))`: bash evaluates values there as expressions, which can
  run commands), right after a backslash, in a quoted here-document or a here-document delimiter;
* in a word that another program runs as code: the script of `sh -c` / `bash -c` (and the other shells, `su -c`),
  the code of `python -c`, `perl -e`, `ruby -e`, `node -e`, `php -r`…, anything after `eval`, and the remote
  command of `ssh`. (The shell would hand the value over intact, and that program would run it.) The same rule
  applies to argv-list commands.

What it cannot see: a program that interprets an argument as code in a way not listed here (a value in an `awk`
program, a `sed` script, `find -exec sh -c` with the value spliced rather than passed as `$1`). Pass such values in
`env:` and let the program read the variable. The scanner is a reader of common shell syntax, not a full parser:
where it misjudges a context (a `case` pattern's `)` inside `$(…)`, say) the worst outcome is a reference that the
shell word-splits or does not expand — never a value parsed as code, since only references are ever written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARK = "\x00"
_MARKER = re.compile(r"\x00(\d+)\x00")

# Contexts in which a marker is replaced by a reference.
SAFE_CONTEXTS = frozenset({"unquoted", "double", "heredoc", "comment"})

_HINTS = {
    "single": ("is inside single quotes, where nothing is expanded (and the quoted text is often code for another "
               "program)", "move it out of the quotes — `echo 'text: '{expr}` — or use double quotes — "
               "`echo \"text: {expr}\"`"),
    "ansi-c": ("is inside $'…' quoting, where nothing is expanded", "move it out of the quotes or use double "
               "quotes: `printf '%s\\n' \"{expr}\"`"),
    "backtick": ("is inside backticks", "use $(…) instead: `$(cmd \"{expr}\")`"),
    "parameter": ("is inside a ${…} expansion", "use it as a word of its own — `echo \"{expr}\"` — or set a "
                  "variable in `env:` and expand that: `env: {{NAME: \"{expr}\"}}` with `echo \"${{NAME:-none}}\"`"),
    "arithmetic": ("is inside an arithmetic expression, where shells such as bash evaluate a value as an "
                   "expression (which can run commands)", "set it in `env:`, check that it is a number, then use "
                   "it: `case \"$N\" in *[!0-9]*) exit 1;; esac; echo $((N + 1))`"),
    "escaped": ("follows a backslash, which would quote the value's first character instead",
                "remove the backslash: `echo \"{expr}\"`"),
    "quoted-heredoc": ("is inside a here-document with a quoted delimiter (<<'EOF'), where nothing is expanded",
                       "use an unquoted delimiter (<<EOF); the value is expanded there and never parsed"),
    "heredoc-delimiter": ("is a here-document delimiter", "write the delimiter literally"),
}
_CODE_HINT = ("set the value in the step's `env:` and let the script read the variable: `env: {{NAME: \"{expr}\"}}` "
              "with `sh -c 'echo \"$NAME\"'` — or pass it as an argument: `sh -c 'echo \"$1\"' sh \"{expr}\"`")

# Programs that run an argument as code, and the options that introduce it. A shell's option cluster (`-ec`, `-lc`)
# counts when it holds `c`.
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish", "csh", "tcsh", "busybox"})
_INTERPRETERS: dict[str, frozenset[str]] = {
    "su": frozenset({"-c", "--command"}),
    "runuser": frozenset({"-c", "--command"}),
    "python": frozenset({"-c"}),
    "pypy": frozenset({"-c"}),
    "perl": frozenset({"-e", "-E"}),
    "ruby": frozenset({"-e"}),
    "node": frozenset({"-e", "--eval", "-p", "--print"}),
    "nodejs": frozenset({"-e", "--eval", "-p", "--print"}),
    "deno": frozenset({"eval"}),
    "php": frozenset({"-r"}),
    "lua": frozenset({"-e"}),
    "pwsh": frozenset({"-c", "-command", "-Command"}),
    "powershell": frozenset({"-c", "-command", "-Command"}),
    "osascript": frozenset({"-e"}),
    "Rscript": frozenset({"-e"}),
}
_SSH_OPTIONS_WITH_ARGUMENT = frozenset("BbcDEeFIiJLlmOopQRSWw")
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def marker(index: int) -> str:
    """The stand-in for the `index`-th (1-based) templated value of a command."""
    return f"{MARK}{index}{MARK}"


def _program(word: str) -> str:
    name = word.rsplit("/", 1)[-1]  # (not os.path: this runs inside the workflow sandbox)
    stripped = _VERSION_SUFFIX.sub("", name)  # python3.11 -> python
    return stripped or name


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = frozenset({"sudo", "doas", "env", "exec", "command", "builtin", "nohup", "nice", "time", "stdbuf",
                       "setsid", "chronic"})


def _command_word(previous: list[str]) -> tuple[int, str] | None:
    """The position and program of the command a simple command runs, past assignments and common wrappers."""
    index = 0
    while index < len(previous):
        word = previous[index]
        if _ASSIGNMENT.match(word):
            index += 1
            continue
        if _program(word) in _WRAPPERS:
            index += 1
            while index < len(previous) and previous[index].startswith("-"):
                index += 1
            continue
        return index, _program(word)
    return None


def code_position(previous: list[str]) -> str | None:
    """Whether the word after `previous` (the words before it in one simple command) is code for another program:
    returns what runs it ("the script of `sh -c`") or None. An interpreter's code option counts only when nothing
    but options stands between it and the interpreter (`python -m pytest -c x` is pytest's `-c`)."""
    head = _command_word(previous)
    if head is not None and head[1] == "eval":
        return "the code of `eval`"
    if head is not None and head[1] == "ssh":
        rest = previous[head[0] + 1 :]
        index = 0
        while index < len(rest):
            option = rest[index]
            if option.startswith("-") and len(option) > 1:
                index += 2 if len(option) == 2 and option[1] in _SSH_OPTIONS_WITH_ARGUMENT else 1
                continue
            return "the remote command of `ssh`"  # rest[index] is the destination; what follows is code
        return None
    if len(previous) < 2:
        return None
    flag = previous[-1]
    for position in range(len(previous) - 2, -1, -1):
        word = previous[position]
        program = _program(word)
        if program in _SHELLS or program in _INTERPRETERS:
            if any(not option.startswith("-") for option in previous[position + 1 : -1]):
                return None
            if program in _SHELLS and re.fullmatch(r"-[A-Za-z]*c[A-Za-z]*", flag):
                return f"the script of `{program} {flag}`"
            if program in _INTERPRETERS and flag in _INTERPRETERS[program]:
                return f"the code of `{program} {flag}`"
            return None
    return None


@dataclass
class Found:
    """One marker: its number, where it is in the scanned text, the context it stands in, and (for a word that is
    code for another program) what would run it."""

    index: int
    start: int
    end: int
    context: str
    runner: str | None = None

    @property
    def safe(self) -> bool:
        return self.context in SAFE_CONTEXTS and self.runner is None

    def reference(self, name: str) -> str:
        return f'"${{{name}}}"' if self.context == "unquoted" else f"${{{name}}}"

    def problem(self, expression: str | None = None) -> str:
        """Why this marker cannot be handed over, and the safe form (with `expression` as the author wrote it,
        e.g. `{{ inputs.name }}`, when known)."""
        shown = f"`{expression}`" if expression else f"templated value #{self.index}"
        example = expression or "{{ value }}"
        if self.runner is not None:
            return f"{shown} is part of {self.runner}, which would run the value as code: " + \
                _CODE_HINT.format(expr=example)
        why, fix = _HINTS[self.context]
        return f"{shown} {why}: {fix.format(expr=example)}"


@dataclass
class _Command:
    """Words of the simple command being read (for `code_position`)."""

    words: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    in_word: bool = False
    markers: list[Found] = field(default_factory=list)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.found: list[Found] = []
        self.pending: list[tuple[str, bool, bool]] = []  # here-documents to read after the line: (delim, quoted, dash)

    # -- helpers
    def _marker_at(self, i: int) -> re.Match[str] | None:
        return _MARKER.match(self.s, i) if self.s.startswith(MARK, i) else None

    def _add(self, match: re.Match[str], context: str, command: _Command | None = None) -> Found:
        item = Found(int(match.group(1)), match.start(), match.end(), context)
        self.found.append(item)
        if command is not None:
            command.markers.append(item)
            command.in_word = True
        return item

    def _mark_span(self, start: int, end: int, context: str) -> None:
        for match in _MARKER.finditer(self.s, start, end):
            self._add(match, context)

    # -- words
    @staticmethod
    def _end_word(command: _Command) -> None:
        if not command.in_word:
            return
        runner = code_position(command.words)
        if runner is not None:
            for item in command.markers:
                item.runner = runner
        command.words.append("".join(command.text))
        command.text.clear()
        command.markers.clear()
        command.in_word = False

    @staticmethod
    def _end_command(command: _Command) -> None:
        _Scanner._end_word(command)
        command.words.clear()

    # -- contexts
    def unquoted(self, i: int, closing: str | None = None) -> int:
        """Read from `i` as commands until the end (or the `)` closing a `$(`); returns the index after it."""
        s, n = self.s, self.n
        depth = 1
        command = _Command()
        while i < n:
            match = self._marker_at(i)
            if match:
                self._add(match, "unquoted", command)
                command.text.append(MARK)
                i = match.end()
                continue
            c = s[i]
            if c == "\\":
                escaped = self._marker_at(i + 1)
                if escaped:
                    self._add(escaped, "escaped", command)
                    i = escaped.end()
                    continue
                if s.startswith("\\\n", i):  # a line continuation joins the words around it
                    i += 2
                    continue
                command.text.append(s[i + 1 : i + 2])
                command.in_word = True
                i += 2
                continue
            if c == "'":
                end = s.find("'", i + 1)
                end = n if end < 0 else end
                before = len(self.found)
                self._mark_span(i + 1, end, "single")
                command.markers.extend(self.found[before:])
                command.text.append(s[i + 1 : end])
                command.in_word = True
                i = end + 1
                continue
            if c == '"':
                i = self.double(i + 1, command)
                continue
            if c == "`":
                i = self.backtick(i + 1, command)
                continue
            if c == "$":
                i = self.dollar(i, command)
                continue
            if c == "#" and not command.in_word:
                end = s.find("\n", i)
                end = n if end < 0 else end
                self._mark_span(i, end, "comment")
                i = end
                continue
            if c == "(" and not command.in_word and s.startswith("((", i):
                i = self.arithmetic(i + 2)
                continue
            if c == "<" and s.startswith("<<", i) and not s.startswith("<<<", i):
                self._end_word(command)
                i = self.heredoc_operator(i + 2)
                continue
            if c == "\n":
                self._end_command(command)
                i = self.heredoc_bodies(i + 1) if self.pending else i + 1
                continue
            if c in " \t":
                self._end_word(command)
                i += 1
                continue
            if c in ";&|":
                self._end_command(command)
                i += 1
                continue
            if c in "<>":
                self._end_word(command)
                i += 1
                continue
            if c == "(":
                self._end_command(command)
                depth += 1
                i += 1
                continue
            if c == ")":
                self._end_command(command)
                depth -= 1
                i += 1
                if closing == ")" and depth == 0:
                    return i
                continue
            command.text.append(c)
            command.in_word = True
            i += 1
        self._end_command(command)
        return i

    def double(self, i: int, command: _Command | None) -> int:
        s, n = self.s, self.n
        if command is not None:
            command.in_word = True
        while i < n:
            match = self._marker_at(i)
            if match:
                self._add(match, "double", command)
                if command is not None:
                    command.text.append(MARK)
                i = match.end()
                continue
            c = s[i]
            if c == "\\":
                escaped = self._marker_at(i + 1)
                if escaped:
                    self._add(escaped, "escaped", command)
                    i = escaped.end()
                    continue
                if command is not None:
                    command.text.append(s[i : i + 2] if s[i + 1 : i + 2] not in '$`"\\\n' else s[i + 1 : i + 2])
                i += 2
                continue
            if c == '"':
                return i + 1
            if c == "`":
                i = self.backtick(i + 1, command)
                continue
            if c == "$":
                i = self.dollar(i, command)
                continue
            if command is not None:
                command.text.append(c)
            i += 1
        return i

    def dollar(self, i: int, command: _Command | None) -> int:
        s = self.s
        if command is not None:
            command.in_word = True
            command.text.append("$")
        if s.startswith("$((", i):
            return self.arithmetic(i + 3)
        if s.startswith("$(", i):
            before = len(self.found)
            end = self.unquoted(i + 2, closing=")")
            if command is not None:
                # What the substitution prints becomes part of this word: if the word is code for another program
                # (`sh -c "$(cat {{ x }})"`), so is the value.
                command.markers.extend(self.found[before:])
                command.text.append(s[i + 1 : end])
            return end
        if s.startswith("${", i):
            return self.braces(i + 2, command)
        if s.startswith("$'", i):
            end = i + 2
            while end < self.n and s[end] != "'":
                end += 2 if s[end] == "\\" else 1
            self._mark_span(i + 2, min(end, self.n), "ansi-c")
            return end + 1
        return i + 1

    def backtick(self, i: int, command: _Command | None) -> int:
        s, n = self.s, self.n
        end = i
        while end < n and s[end] != "`":
            end += 2 if s[end] == "\\" else 1
        before = len(self.found)
        self._mark_span(i, min(end, n), "backtick")
        if command is not None:
            command.markers.extend(self.found[before:])
            command.in_word = True
        return end + 1

    def braces(self, i: int, command: _Command | None) -> int:
        s, n = self.s, self.n
        depth, end = 1, i
        while end < n and depth:
            c = s[end]
            if c == "\\":
                end += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c in "'\"":
                close = s.find(c, end + 1)
                end = n if close < 0 else close
            end += 1
        before = len(self.found)
        self._mark_span(i, min(end, n), "parameter")
        if command is not None:
            command.markers.extend(self.found[before:])
        return end

    def arithmetic(self, i: int) -> int:
        s, n = self.s, self.n
        depth, end = 0, i
        while end < n:
            if s.startswith("))", end) and depth == 0:
                break
            if s[end] == "(":
                depth += 1
            elif s[end] == ")":
                depth -= 1
            end += 1
        self._mark_span(i, min(end, n), "arithmetic")
        return min(end + 2, n)

    def heredoc_operator(self, i: int) -> int:
        s, n = self.s, self.n
        dash = s.startswith("-", i)
        i += 1 if dash else 0
        while i < n and s[i] in " \t":
            i += 1
        start, quoted, word = i, False, []
        while i < n and s[i] not in " \t\n;&|<>()":
            c = s[i]
            if c in "'\"":
                quoted = True
                close = s.find(c, i + 1)
                close = n if close < 0 else close
                word.append(s[i + 1 : close])
                i = close + 1
            elif c == "\\":
                quoted = True
                word.append(s[i + 1 : i + 2])
                i += 2
            else:
                word.append(c)
                i += 1
        self._mark_span(start, i, "heredoc-delimiter")
        self.pending.append(("".join(word), quoted, dash))
        return i

    def heredoc_bodies(self, i: int) -> int:
        s, n = self.s, self.n
        for delimiter, quoted, dash in self.pending:
            while i < n:
                end = s.find("\n", i)
                end = n if end < 0 else end
                line = s[i:end]
                if (line.lstrip("\t") if dash else line) == delimiter:
                    i = end + 1
                    break
                for match in _MARKER.finditer(s, i, end):
                    if quoted:
                        self._add(match, "quoted-heredoc")
                    elif match.start() > 0 and s[match.start() - 1] == "\\":
                        self._add(match, "escaped")
                    else:
                        self._add(match, "heredoc")
                i = end + 1
        self.pending.clear()
        return min(i, n)


def scan(text: str) -> list[Found]:
    """Every marker in `text` (a shell string with markers), in order, with its context."""
    scanner = _Scanner(text)
    scanner.unquoted(0)
    return sorted(scanner.found, key=lambda item: item.start)


def splice(text: str, name: str = "SF_{}") -> tuple[str, list[Found]]:
    """Replace every marker by a reference to the variable `name.format(n)`; returns the new text and the markers
    that could not be made safe (the text is then not to be run)."""
    found = scan(text)
    unsafe = [item for item in found if not item.safe]
    parts: list[str] = []
    position = 0
    for item in found:
        parts.append(text[position : item.start])
        parts.append(item.reference(name.format(item.index)))
        position = item.end
    parts.append(text[position:])
    return "".join(parts), unsafe


def argv_problems(words: list[str], templated: list[bool]) -> list[tuple[int, str]]:
    """For an argv-list command: (index, what runs it) of each templated element that another program runs as
    code (`["sh", "-c", "echo {{ x }}"]`)."""
    problems: list[tuple[int, str]] = []
    for index, is_templated in enumerate(templated):
        if is_templated:
            runner = code_position(words[:index])
            if runner is not None:
                problems.append((index, runner))
    return problems
