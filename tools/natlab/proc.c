/* natlab -- running programs: inside a namespace (setns then exec), with
 * argv arrays only (never a shell), every exit status checked. */
#include "natlab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile int nl_interrupted;

static void on_signal(int sig) {
  nl_interrupted = sig;
}

void nl_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

double nl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int enter_ns(const char *ns) {
  char path[128];
  int fd, r;
  if (!ns)
    return 0;
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  r = setns(fd, CLONE_NEWNET);
  close(fd);
  return r < 0 ? -errno : 0;
}

int nl_netns_exists(const char *ns) {
  char path[128];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  return access(path, F_OK) == 0;
}

/* In a forked child: default signals, namespace, then exec. Never returns. */
static void child_exec(const char *ns, char *const argv[]) {
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  int r = enter_ns(ns);
  if (r < 0) {
    fprintf(stderr, "natlab: cannot enter namespace %s: %s\n", ns,
            strerror(-r));
    _exit(126);
  }
  execvp(argv[0], argv);
  fprintf(stderr, "natlab: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static int wait_child(pid_t pid, int *status) {
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR)
      return -errno;
  }
  return 0;
}

/* Read the pipe until EOF or the deadline; kill the child at the deadline.
 * *status: the exit code, 128+signal, or -1 on timeout. */
static int collect(pid_t pid, int fd, int timeout_ms, char **out, int *status) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  double deadline = nl_now_ms() + timeout_ms;
  bool timed_out = false;
  int ws = 0;
  if (!buf)
    return NL_ERR_ENV;
  for (;;) {
    double left = deadline - nl_now_ms();
    struct pollfd pfd = {fd, POLLIN, 0};
    if (timeout_ms > 0 && left <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int pr = poll(&pfd, 1, timeout_ms > 0 ? (int)left + 1 : -1);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    if (len + 1024 > cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb)
        break;
      buf = nb;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n <= 0 && !(n < 0 && errno == EINTR))
      break;
    if (n > 0)
      len += (size_t)n;
  }
  buf[len] = '\0';
  close(fd);
  wait_child(pid, &ws);
  if (timed_out)
    *status = -1;
  else if (WIFEXITED(ws))
    *status = WEXITSTATUS(ws);
  else
    *status = 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
  *out = buf;
  return 0;
}

static int capture(const char *ns, char *const argv[], int timeout_ms,
                   bool merge, char **out, int *status) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return NL_ERR_ENV;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return NL_ERR_ENV;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(p[1], 1);
    dup2(merge ? p[1] : devnull, 2);
    child_exec(ns, argv);
  }
  close(p[1]);
  return collect(pid, p[0], timeout_ms, out, status);
}

/** Run @p argv in namespace @p ns (NULL: here), stdout captured into
 * *@p out (free it), stderr discarded, killed after @p timeout_ms (0: no
 * limit). *@p status: exit code, 128+signal, -1 on timeout; *@p ms: the
 * duration. */
int nl_capture(const char *ns, char *const argv[], int timeout_ms, char **out,
               int *status, double *ms) {
  double t0 = nl_now_ms();
  int r = capture(ns, argv, timeout_ms, false, out, status);
  if (ms)
    *ms = nl_now_ms() - t0;
  return r;
}

static void log_cmd(FILE *f, const char *ns, char *const argv[]) {
  fprintf(f, "$ %s%s", ns ? ns : "", ns ? ": " : "");
  for (int i = 0; argv[i]; i++)
    fprintf(f, "%s%s", i ? " " : "", argv[i]);
  fputc('\n', f);
}

/** Run @p argv (in @p ns) to completion; its output goes to @p log.
 * 0 if it exited 0, else NL_ERR_ENV after printing the command and its
 * output on stderr. */
int nl_run(const char *ns, char *const argv[], const char *log) {
  char *out = NULL;
  int status = 0;
  int r = capture(ns, argv, 30000, true, &out, &status);
  FILE *f = log ? fopen(log, "a") : NULL;
  if (f) {
    log_cmd(f, ns, argv);
    fputs(out ? out : "", f);
    fclose(f);
  }
  if (r == 0 && status != 0) {
    fprintf(stderr, "natlab: command failed (exit %d): ", status);
    log_cmd(stderr, ns, argv);
    fputs(out ? out : "", stderr);
    r = NL_ERR_ENV;
  }
  free(out);
  return r;
}

/** nl_run() with the arguments listed, NULL-terminated. */
int nl_runf(const char *ns, const char *log, const char *arg0, ...) {
  char *argv[40];
  int n = 0;
  va_list ap;
  va_start(ap, arg0);
  for (const char *a = arg0; a && n < 39; a = va_arg(ap, const char *))
    argv[n++] = (char *)(uintptr_t)a;
  va_end(ap);
  argv[n] = NULL;
  return nl_run(ns, argv, log);
}

/** Start a daemon in @p ns, detached (own session, double fork), its
 * output appended to @p log. *pid: the daemon's pid. */
int nl_spawn_daemon(const char *ns, char *const argv[], const char *log,
                    int *pid) {
  int p[2], st;
  if (pipe2(p, O_CLOEXEC) < 0)
    return NL_ERR_ENV;
  pid_t mid = fork();
  if (mid < 0)
    return NL_ERR_ENV;
  if (mid == 0) {
    setsid();
    pid_t d = fork();
    if (d == 0) {
      int in = open("/dev/null", O_RDONLY);
      int lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(in, 0);
      dup2(lf, 1);
      dup2(lf, 2);
      child_exec(ns, argv);
    }
    int v = (int)d;
    _exit(write(p[1], &v, sizeof v) == (ssize_t)sizeof v && d > 0 ? 0 : 1);
  }
  close(p[1]);
  wait_child(mid, &st);
  ssize_t n = read(p[0], pid, sizeof *pid);
  close(p[0]);
  return n == (ssize_t)sizeof *pid && *pid > 0 ? 0 : NL_ERR_ENV;
}

/** Replace this process by @p argv running inside @p ns. Returns only on
 * failure (126: no namespace, 127: cannot run). */
int nl_exec_in(const char *ns, char *const argv[]) {
  int r = enter_ns(ns);
  if (r < 0) {
    fprintf(stderr, "natlab: cannot enter namespace %s: %s\n", ns,
            strerror(-r));
    return 126;
  }
  execvp(argv[0], argv);
  fprintf(stderr, "natlab: cannot run %s: %s\n", argv[0], strerror(errno));
  return 127;
}

/** Is @p pid alive and running a program called @p comm (not a zombie)? */
bool nl_pid_alive(int pid, const char *comm) {
  char path[64], buf[256];
  if (pid <= 0)
    return false;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
  if (!lp || !rp || rp[1] != ' ' || rp[2] == 'Z')
    return false;
  size_t cl = (size_t)(rp - lp - 1);
  return !comm || (cl == strlen(comm) && strncmp(lp + 1, comm, cl) == 0) ||
         (cl == 15 && strncmp(lp + 1, comm, 15) == 0);
}

static int socket_in(const char *ns) {
  int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), s = -1;
  if (self < 0)
    return -1;
  if (enter_ns(ns) == 0) {
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (setns(self, CLONE_NEWNET) < 0) {
      if (s >= 0)
        close(s);
      s = -1;
    }
  }
  close(self);
  return s;
}

/** Bounded polling: send STUN Binding requests from namespace @p ns to
 * @p ip:@p port every 100 ms until one is answered. 0, or NL_ERR_ENV on
 * timeout, NL_ERR_INTR when interrupted. */
int nl_stun_ping(const char *ns, const char *ip, unsigned short port,
                 int timeout_ms) {
  unsigned char req[20] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}, resp[548];
  struct sockaddr_in to = {0};
  double deadline = nl_now_ms() + timeout_ms;
  int s = socket_in(ns), r = NL_ERR_ENV;
  if (s < 0)
    return NL_ERR_ENV;
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, ip, &to.sin_addr);
  for (int i = 8; i < 20; i++)
    req[i] = (unsigned char)(rand() & 255);
  while (nl_now_ms() < deadline && r != 0) {
    struct pollfd pfd = {s, POLLIN, 0};
    if (nl_interrupted) {
      r = NL_ERR_INTR;
      break;
    }
    sendto(s, req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
    if (poll(&pfd, 1, 100) <= 0)
      continue;
    ssize_t n = recv(s, resp, sizeof resp, 0);
    if (n >= 20 && resp[0] == 0x01 && resp[1] == 0x01 &&
        memcmp(resp + 8, req + 8, 12) == 0)
      r = 0;
  }
  close(s);
  return r;
}
