/* stellarflow-sandbox-exec: the last step inside the bubblewrap sandbox before a user's command runs.

   Usage: stellarflow-sandbox-exec UID GID CPU_S AS_BYTES NPROC FSIZE_BYTES CWD -- COMMAND [ARG...]

   Sets the four resource limits (0 = leave as is; CPU gets one second of grace between SIGXCPU and SIGKILL),
   drops to UID/GID with no supplementary groups (UID "-" = stay as is: the worker is not root), sets
   no_new_privs, creates CWD if missing and changes into it (as the sandbox user, so a step's working directory
   belongs to it; "-" = stay), then execs COMMAND (looked up on PATH).

   Why a C program: activities/sandbox.py does the same with `setpriv ... -- prlimit ... --` when this binary is
   not built, but that is two more execs of dynamically linked programs on every step; this is one exec of a
   static one (measured in docs/benchmarks.md). Built by the Makefile into .venv/bin; standard C and Linux only. */

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what) {
  fprintf(stderr, "stellarflow-sandbox-exec: %s: %s\n", what, strerror(errno));
  return 126;
}

static int number(const char *text, unsigned long long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtoull(text, &end, 10);
  return errno == 0 && end != text && *end == '\0';
}

static int make_dirs(char *path) {
  for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
    if (slash != NULL)
      *slash = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      return -1;
    if (slash == NULL)
      return 0;
    *slash = '/';
  }
}

static int limit(int resource, unsigned long long value, unsigned long long grace) {
  struct rlimit current;
  if (value == 0)
    return 0;
  if (getrlimit(resource, &current) != 0)
    return -1;
  struct rlimit wanted = {value, value + grace};
  /* Never above the hard limit we were given: only root could raise it, and that is not us here. */
  if (current.rlim_max != RLIM_INFINITY) {
    if (wanted.rlim_max > current.rlim_max)
      wanted.rlim_max = current.rlim_max;
    if (wanted.rlim_cur > wanted.rlim_max)
      wanted.rlim_cur = wanted.rlim_max;
  }
  return setrlimit(resource, &wanted);
}

int main(int argc, char **argv) {
  unsigned long long uid = 0, gid = 0, cpu, as, nproc, fsize;
  int change_ids = strcmp(argv[1 < argc ? 1 : 0], "-") != 0;
  if (argc < 10 || strcmp(argv[8], "--") != 0 || !number(argv[3], &cpu) || !number(argv[4], &as) ||
      !number(argv[5], &nproc) || !number(argv[6], &fsize) ||
      (change_ids && (!number(argv[1], &uid) || !number(argv[2], &gid) || uid == 0 || gid == 0))) {
    fprintf(stderr, "usage: stellarflow-sandbox-exec UID GID CPU_S AS_BYTES NPROC FSIZE_BYTES CWD -- COMMAND...\n");
    return 125;
  }
  if (limit(RLIMIT_CPU, cpu, 1) || limit(RLIMIT_AS, as, 0) || limit(RLIMIT_NPROC, nproc, 0) ||
      limit(RLIMIT_FSIZE, fsize, 0))
    return fail("setrlimit");
  if (change_ids) {
    if (setgroups(0, NULL) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0 ||
        setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)
      return fail("dropping to the sandbox user");
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || setuid(0) == 0) {
      fprintf(stderr, "stellarflow-sandbox-exec: still privileged after dropping to uid %llu\n", uid);
      return 126;
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return fail("no_new_privs");
  if (strcmp(argv[7], "-") != 0 && (argv[7][0] != '/' || make_dirs(argv[7]) != 0 || chdir(argv[7]) != 0))
    return fail("working directory");
  execvp(argv[9], argv + 9);
  int code = errno == ENOENT ? 127 : 126;
  fprintf(stderr, "could not start '%s': %s\n", argv[9], strerror(errno));
  return code;
}
