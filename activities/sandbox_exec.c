/* stellarflow-sandbox-exec: the last step inside the bubblewrap sandbox before a user's command runs.

   Usage: stellarflow-sandbox-exec UID GID CPU_S AS_BYTES NPROC FSIZE_BYTES CWD -- COMMAND [ARG...]

   Sets the four resource limits (0 = leave as is; CPU gets one second of grace between SIGXCPU and SIGKILL),
   drops to UID/GID with no supplementary groups (UID "-" = stay as is: the worker is not root), sets
   no_new_privs, creates CWD if missing and changes into it (as the sandbox user, so a step's working directory
   belongs to it), then execs COMMAND, looked up on PATH like execvp (a file without a #! line runs under
   /bin/sh).

   Why a C program: activities/sandbox.py does the same with `setpriv ... -- prlimit ... --` when this binary is
   not built, but that is two more execs of dynamically linked programs on every step; this is one exec.
   Why without the C library on x86-64 (the Makefile tries that build first): glibc's start-up alone costs about
   0.5 ms per exec on the VMs we run on (it probes the CPU with `cpuid`, which traps to the hypervisor), while
   this program needs a dozen system calls. docs/benchmarks.md has the figures. Elsewhere it builds against libc. */

#define _GNU_SOURCE

#if defined(SANDBOX_EXEC_NOLIBC) && defined(__x86_64__)

/* ---- no libc: raw Linux system calls (x86-64) ---------------------------------------------------------------- */

typedef unsigned long size_t;
typedef unsigned long long rlim_t;
struct rlimit {
  rlim_t rlim_cur, rlim_max;
};

#define RLIMIT_CPU 0
#define RLIMIT_FSIZE 1
#define RLIMIT_NPROC 6
#define RLIMIT_AS 9
#define RLIM_INFINITY (~0ULL)
#define PR_SET_NO_NEW_PRIVS 38
#define ENOENT 2
#define EACCES 13
#define EEXIST 17
#define ENOTDIR 20
#define ENOEXEC 8

static long sys5(long n, long a, long b, long c, long d, long e) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
#define sys(n, a, b, c, d) sys5(n, a, b, c, d, 0)

static int err_no;
static long check(long ret) {
  if (ret < 0 && ret > -4096) {
    err_no = (int)-ret;
    return -1;
  }
  return ret;
}
#define errno err_no

static void sys_exit(int code) {
  for (;;) sys(231, code, 0, 0, 0); /* exit_group */
}
static long write_all(int fd, const char *text, size_t len) { return check(sys(1, fd, (long)text, (long)len, 0)); }
static int getrlimit(int r, struct rlimit *l) { return (int)check(sys(302, 0, r, 0, (long)l)); }
static int setrlimit(int r, const struct rlimit *l) { return (int)check(sys(302, 0, r, (long)l, 0)); }
static int setgroups(size_t n, const void *list) { return (int)check(sys(116, (long)n, (long)list, 0, 0)); }
static int setresgid(unsigned g1, unsigned g2, unsigned g3) { return (int)check(sys(119, g1, g2, g3, 0)); }
static int setresuid(unsigned u1, unsigned u2, unsigned u3) { return (int)check(sys(117, u1, u2, u3, 0)); }
static int setuid(unsigned u) { return (int)check(sys(105, u, 0, 0, 0)); }
static unsigned getuid(void) { return (unsigned)sys(102, 0, 0, 0, 0); }
static unsigned geteuid(void) { return (unsigned)sys(107, 0, 0, 0, 0); }
static int prctl(int option, long a, long b, long c, long d) { return (int)check(sys5(157, option, a, b, c, d)); }
static int mkdir(const char *path, unsigned mode) { return (int)check(sys(83, (long)path, mode, 0, 0)); }
static int chdir(const char *path) { return (int)check(sys(80, (long)path, 0, 0, 0)); }
static int execve(const char *path, char *const argv[], char *const envp[]) {
  return (int)check(sys(59, (long)path, (long)argv, (long)envp, 0));
}

static size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
static int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}
static char *strchr(const char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return (char *)s;
    if (!*s) return 0;
  }
}
static const char *strerror(int e) {
  switch (e) {
    case ENOENT: return "No such file or directory";
    case EACCES: return "Permission denied";
    case ENOTDIR: return "Not a directory";
    case ENOEXEC: return "Exec format error";
    case 1: return "Operation not permitted";
    case 11: return "Resource temporarily unavailable";
    case 12: return "Cannot allocate memory";
    default: return "error";
  }
}
/* The compiler may emit calls to these for array and struct initialisation. */
void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}
void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}

static char **environ;
int main(int argc, char **argv);

__attribute__((used)) void start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  environ = argv + argc + 1;
  sys_exit(main(argc, argv));
}
__asm__(".text\n.globl _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call start_c\n hlt\n");

#else

/* ---- with libc -------------------------------------------------------------------------------------------------- */

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static long write_all(int fd, const char *text, size_t len) { return write(fd, text, len); }

#endif

/* ---- the program ------------------------------------------------------------------------------------------------ */

#define PATH_BUF 4096

static void say(const char *a, const char *b, const char *c, const char *d) {
  const char *parts[] = {a, b, c, d, "\n"};
  for (int i = 0; i < 5; i++)
    if (parts[i]) write_all(2, parts[i], strlen(parts[i]));
}

static int fail(const char *what) {
  say("stellarflow-sandbox-exec: ", what, ": ", strerror(errno));
  return 126;
}

static int number(const char *text, unsigned long long *out) {
  unsigned long long value = 0;
  if (!*text) return 0;
  for (; *text; text++) {
    if (*text < '0' || *text > '9' || value > (~0ULL - 9) / 10) return 0;
    value = value * 10 + (unsigned long long)(*text - '0');
  }
  *out = value;
  return 1;
}

static int limit(int resource, unsigned long long value, unsigned long long grace) {
  struct rlimit current;
  if (value == 0) return 0;
  if (getrlimit(resource, &current) != 0) return -1;
  struct rlimit wanted = {value, value + grace};
  /* Never above the hard limit we were given: only root could raise it, and that is not us here. */
  if (current.rlim_max != RLIM_INFINITY) {
    if (wanted.rlim_max > current.rlim_max) wanted.rlim_max = current.rlim_max;
    if (wanted.rlim_cur > wanted.rlim_max) wanted.rlim_cur = wanted.rlim_max;
  }
  return setrlimit(resource, &wanted);
}

static int make_dirs(char *path) {
  for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
    if (slash != 0) *slash = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
    if (slash == 0) return 0;
    *slash = '/';
  }
}

/* execve `path`; a file without a #! line runs under /bin/sh, as execvp does. `slot` is argv[-1] of the command,
   which we may overwrite: it is our "--". */
static void try_exec(const char *path, char **argv, char **slot) {
  execve(path, argv, environ);
  if (errno == ENOEXEC) {
    slot[0] = "/bin/sh";
    argv[0] = (char *)path;
    execve("/bin/sh", slot, environ);
    errno = ENOEXEC;
  }
}

static int run(char **argv, char **slot) {
  const char *program = argv[0];
  if (strchr(program, '/')) {
    try_exec(program, argv, slot);
  } else {
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (char **env = environ; *env; env++)
      if ((*env)[0] == 'P' && (*env)[1] == 'A' && (*env)[2] == 'T' && (*env)[3] == 'H' && (*env)[4] == '=')
        path = *env + 5;
    size_t length = strlen(program);
    int denied = 0;
    char buffer[PATH_BUF];
    while (1) {
      const char *end = strchr(path, ':');
      size_t dir = end ? (size_t)(end - path) : strlen(path);
      if (dir + length + 2 <= PATH_BUF) {
        size_t at = 0;
        for (size_t i = 0; i < dir; i++) buffer[at++] = path[i];
        if (dir == 0) buffer[at++] = '.';
        buffer[at++] = '/';
        for (size_t i = 0; i <= length; i++) buffer[at++] = program[i];
        try_exec(buffer, argv, slot);
        argv[0] = (char *)program;
        if (errno == EACCES) denied = 1;
        else if (errno != ENOENT && errno != ENOTDIR) break;
      }
      if (!end) break;
      path = end + 1;
    }
    if (denied && (errno == ENOENT || errno == ENOTDIR)) errno = EACCES;
  }
  int code = errno == ENOENT ? 127 : 126;
  say("could not start '", program, "': ", strerror(errno));
  return code;
}

int main(int argc, char **argv) {
  unsigned long long uid = 0, gid = 0, cpu, as, nproc, fsize;
  int change_ids = argc > 1 && strcmp(argv[1], "-") != 0;
  if (argc < 10 || strcmp(argv[8], "--") != 0 || !number(argv[3], &cpu) || !number(argv[4], &as) ||
      !number(argv[5], &nproc) || !number(argv[6], &fsize) ||
      (change_ids && (!number(argv[1], &uid) || !number(argv[2], &gid) || uid == 0 || gid == 0))) {
    say("usage: stellarflow-sandbox-exec UID GID CPU_S AS_BYTES NPROC FSIZE_BYTES CWD -- COMMAND...", 0, 0, 0);
    return 125;
  }
  if (limit(RLIMIT_CPU, cpu, 1) || limit(RLIMIT_AS, as, 0) || limit(RLIMIT_NPROC, nproc, 0) ||
      limit(RLIMIT_FSIZE, fsize, 0))
    return fail("setrlimit");
  if (change_ids) {
    if (setgroups(0, 0) != 0 || setresgid((unsigned)gid, (unsigned)gid, (unsigned)gid) != 0 ||
        setresuid((unsigned)uid, (unsigned)uid, (unsigned)uid) != 0)
      return fail("dropping to the sandbox user");
    if (getuid() != (unsigned)uid || geteuid() != (unsigned)uid || setuid(0) == 0) {
      say("stellarflow-sandbox-exec: still privileged after dropping to the sandbox user", 0, 0, 0);
      return 126;
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  if (strcmp(argv[7], "-") != 0 && (argv[7][0] != '/' || make_dirs(argv[7]) != 0 || chdir(argv[7]) != 0))
    return fail("working directory");
  return run(argv + 9, argv + 8);
}
