# The two commands from the README. Both create .venv and install the app if needed.
PY ?= python3.11
CC ?= cc
VENV := .venv
STAMP := $(VENV)/.installed
# Drops the uid and sets the limits inside the sandbox in one exec (activities/sandbox_exec.c); without it the
# sandbox uses setpriv + prlimit, which works the same and costs about 1.5 ms more per command.
SANDBOX_EXEC := $(VENV)/bin/stellarflow-sandbox-exec
# A sandbox started ahead of the step that will use them, waiting for its command (activities/sandbox_wait.c,
# activities/warm_sandboxes.py); without it every step starts its sandbox cold.
SANDBOX_WAIT := $(VENV)/bin/stellarflow-sandbox-wait

.PHONY: up test lint bench histories bubblewrap

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	@$(MAKE) --no-print-directory bubblewrap
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

# User code runs inside bubblewrap (docs/sandbox.md). Installed where we can (root with apt-get); elsewhere this
# says nothing, and the worker refuses commands until bwrap is installed (or STELLARFLOW_SANDBOX=none is chosen).
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1; }; }; } || true

# Built when a C compiler is there: on x86-64 without the C library (its start-up costs ~0.5 ms per exec on our
# VMs, see the file's header), else static, else plain.
NOLIBC_FLAGS := -DSANDBOX_EXEC_NOLIBC -static -no-pie -nostdlib -ffreestanding -fno-stack-protector -fno-builtin
$(SANDBOX_EXEC): activities/sandbox_exec.c $(STAMP)
	@$(CC) -O2 -Wall $(NOLIBC_FLAGS) -o $@ $< 2>/dev/null || $(CC) -O2 -Wall -static -o $@ $< 2>/dev/null || \
	  $(CC) -O2 -Wall -o $@ $< 2>/dev/null || \
	  echo "note: no C compiler; the sandbox uses setpriv + prlimit instead of $(SANDBOX_EXEC)"
$(SANDBOX_WAIT): activities/sandbox_wait.c $(STAMP)
	@$(CC) -O2 -Wall -static -o $@ $< 2>/dev/null || $(CC) -O2 -Wall -o $@ $< 2>/dev/null || \
	  echo "note: no C compiler; every sandbox starts when its step does"

up: bubblewrap $(STAMP) $(SANDBOX_EXEC) $(SANDBOX_WAIT)
	$(VENV)/bin/stellarflow up

test: bubblewrap $(STAMP) $(SANDBOX_EXEC) $(SANDBOX_WAIT)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP) $(SANDBOX_EXEC) $(SANDBOX_WAIT)
	$(VENV)/bin/python bench/dag_overhead.py

# Record real workflow histories for tests/test_replay.py (tests/histories/README.md says when to).
histories: $(STAMP)
	$(VENV)/bin/python -m tests.histories.record
