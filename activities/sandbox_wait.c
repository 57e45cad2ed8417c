/* stellarflow-sandbox-wait: a sandbox started before its step, waiting for the step's command.

   Usage (as the COMMAND of stellarflow-sandbox-exec, inside bubblewrap): stellarflow-sandbox-wait FD

   Reads one message from file descriptor FD until end of file — "ARGC\0ARG...\0ENVC\0NAME=VALUE...\0", all
   NUL-terminated — closes FD, and execs the command with exactly that environment, looked up on PATH like execvp
   (a file without a #! line runs under /bin/sh), as stellarflow-sandbox-exec does.

   Why: starting bubblewrap (namespaces, mounts) is most of what a sandboxed step costs. The worker starts the
   next step's sandbox as soon as a step of the same run ends (activities/warm_sandboxes.py), with the same command
   line a cold start would use — the same mounts, uid, limits and working directory, set by
   stellarflow-sandbox-exec before this program runs — so when the step comes, only this exec is left on its path.
   The worker alone holds the other end of FD. Exits 126 on a bad message, 127 when the command cannot be run. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MESSAGE (1 << 20)

extern char **environ;

static void say(const char *what, const char *detail) {
  const char *parts[] = {"stellarflow-sandbox-wait: ", what, detail ? ": " : "", detail ? detail : "", "\n"};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    ssize_t ignored = write(2, parts[i], strlen(parts[i]));
    (void)ignored;
  }
}

/* The next NUL-terminated string at *at (before end), or NULL. */
static char *next(char **at, char *end) {
  char *start = *at;
  char *nul = start < end ? memchr(start, 0, (size_t)(end - start)) : NULL;
  if (!nul) return NULL;
  *at = nul + 1;
  return start;
}

static long count(char **at, char *end) {
  char *text = next(at, end), *stop = NULL;
  if (!text || !*text) return -1;
  long value = strtol(text, &stop, 10);
  return *stop || value < 0 || value > MAX_MESSAGE ? -1 : value;
}

int main(int argc, char **argv) {
  char *stop = NULL;
  long fd = argc == 2 ? strtol(argv[1], &stop, 10) : -1;
  if (fd < 3 || !stop || *stop) {
    say("usage: stellarflow-sandbox-wait FD", NULL);
    return 126;
  }
  char *message = malloc(MAX_MESSAGE + 1);
  size_t size = 0;
  if (!message) return 126;
  for (;;) {
    ssize_t got = read((int)fd, message + size, MAX_MESSAGE + 1 - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      say("reading the command", strerror(errno));
      return 126;
    }
    if (got == 0) break;
    size += (size_t)got;
    if (size > MAX_MESSAGE) {
      say("the command is larger than 1 MiB", NULL);
      return 126;
    }
  }
  close((int)fd);
  char *at = message, *end = message + size;
  long args = count(&at, end);
  if (args < 1) {
    say("no command", NULL); /* the worker closed the pipe without one: the sandbox was not needed */
    return 126;
  }
  char **command = calloc((size_t)args + 1, sizeof *command);
  for (long i = 0; command && i < args; i++)
    if (!(command[i] = next(&at, end))) args = -1;
  long vars = args < 0 ? -1 : count(&at, end);
  char **env = vars < 0 ? NULL : calloc((size_t)vars + 1, sizeof *env);
  for (long i = 0; env && i < vars; i++)
    if (!(env[i] = next(&at, end))) vars = -1;
  if (!command || !env || vars < 0 || at != end) {
    say("malformed command", NULL);
    return 126;
  }
  environ = env;
  execvp(command[0], command);
  int failed = errno;
  say(command[0], strerror(failed));
  return failed == ENOENT ? 127 : 126;
}
