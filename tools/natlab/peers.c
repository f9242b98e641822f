/* natlab -- the processes of the peer experiments (run_punch.c,
 * run_birthday.c): programs started inside a lab's namespaces with their
 * output on pipes, the rendezvous `punch serve --listen 203.0.113.1:4000`
 * on the `wan` node (coturn owns 3478/3479), and two peers (ha and hb)
 * run at once against it. */
#include "natlab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#define SERVE_READY_MS 10000
#define OUT_MAX        (1 << 20)

static int enter_ns(const char *ns) {
  char path[128];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int r = setns(fd, CLONE_NEWNET);
  close(fd);
  return r;
}

/* Start @p argv in namespace @p ns with stdin /dev/null and stdout and
 * stderr on pipes. */
int nl_proc_spawn(const char *ns, char *const argv[], struct nl_proc *p) {
  int o[2], e[2];
  memset(p, 0, sizeof *p);
  p->fd[0] = p->fd[1] = -1;
  if (pipe2(o, O_CLOEXEC) < 0)
    return NL_ERR_ENV;
  if (pipe2(e, O_CLOEXEC) < 0) {
    close(o[0]);
    close(o[1]);
    return NL_ERR_ENV;
  }
  p->spawned_ms = nl_now_ms();
  p->pid = fork();
  if (p->pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(o[1], 1);
    dup2(e[1], 2);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (enter_ns(ns) != 0) {
      fprintf(stderr, "natlab: cannot enter namespace %s: %s\n", ns,
              strerror(errno));
      _exit(126);
    }
    /* which lab a process belongs to, for whoever looks for leftovers
     * (tests run beside other labs' processes of the same program) */
    setenv("NATLAB_NS", ns, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "natlab: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(o[1]);
  close(e[1]);
  if (p->pid < 0) {
    close(o[0]);
    close(e[0]);
    return NL_ERR_ENV;
  }
  p->fd[0] = o[0];
  p->fd[1] = e[0];
  for (int i = 0; i < 2; i++) {
    p->buf[i] = calloc(1, 1);
    if (!p->buf[i])
      return NL_ERR_ENV;
  }
  return 0;
}

bool nl_proc_open(const struct nl_proc *p) {
  return p->fd[0] >= 0 || p->fd[1] >= 0;
}

static void take(struct nl_proc *p, int i) {
  char chunk[4096];
  ssize_t n = read(p->fd[i], chunk, sizeof chunk);
  if (n < 0 && errno == EINTR)
    return;
  if (n <= 0) {
    close(p->fd[i]);
    p->fd[i] = -1;
    return;
  }
  if (p->len[i] + (size_t)n > OUT_MAX)
    return; /* keep draining, stop keeping */
  char *nb = realloc(p->buf[i], p->len[i] + (size_t)n + 1);
  if (!nb)
    return;
  memcpy(nb + p->len[i], chunk, (size_t)n);
  p->len[i] += (size_t)n;
  nb[p->len[i]] = '\0';
  p->buf[i] = nb;
}

/* One poll over the open pipes of @p ps (at most @p ms), reading what is
 * there. */
void nl_proc_pump(struct nl_proc *ps[], int n, double ms) {
  struct pollfd pfd[6];
  struct nl_proc *owner[6];
  int which[6], k = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 2; j++)
      if (ps[i]->fd[j] >= 0 && k < 6) {
        pfd[k] = (struct pollfd){ps[i]->fd[j], POLLIN, 0};
        owner[k] = ps[i];
        which[k++] = j;
      }
  if (k == 0)
    return;
  int r = poll(pfd, (nfds_t)k, ms < 0 ? 0 : (int)ms + 1);
  for (int i = 0; r > 0 && i < k; i++)
    if (pfd[i].revents)
      take(owner[i], which[i]);
}

/* Reap @p p (its pipes are closed or abandoned). */
void nl_proc_reap(struct nl_proc *p) {
  int ws = 0;
  for (int i = 0; i < 2; i++)
    if (p->fd[i] >= 0) {
      close(p->fd[i]);
      p->fd[i] = -1;
    }
  if (p->pid <= 0)
    return;
  while (waitpid(p->pid, &ws, 0) < 0 && errno == EINTR)
    ;
  if (p->killed)
    p->status = -1;
  else if (WIFEXITED(ws))
    p->status = WEXITSTATUS(ws);
  else
    p->status = 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
  p->pid = 0;
}

void nl_proc_free(struct nl_proc *p) {
  free(p->buf[0]);
  free(p->buf[1]);
}

/* Stop the rendezvous: SIGTERM, read its log to the end (bounded), reap. */
void nl_serve_stop(struct nl_proc *srv) {
  struct nl_proc *ps[1] = {srv};
  double end = nl_now_ms() + 5000;
  if (srv->pid <= 0)
    return;
  kill(srv->pid, SIGTERM);
  while (nl_proc_open(srv) && nl_now_ms() < end)
    nl_proc_pump(ps, 1, end - nl_now_ms());
  if (nl_proc_open(srv))
    kill(srv->pid, SIGKILL);
  nl_proc_reap(srv);
}

/* Start `punch serve` on wan; 0 once it printed its "listening on" line. */
int nl_serve_start(const char *prefix, struct nl_proc *srv) {
  char ns[NL_PREFIX_MAX + 8];
  char *argv[] = {(char *)nl_punch_path(), "serve", "--listen", NL_RDV_ADDR,
                  NULL};
  struct nl_proc *ps[1] = {srv};
  double end = nl_now_ms() + SERVE_READY_MS;
  snprintf(ns, sizeof ns, "%s-wan", prefix);
  if (nl_proc_spawn(ns, argv, srv) != 0)
    return NL_ERR_ENV;
  while (!strstr(srv->buf[1], "listening on ") && nl_proc_open(srv) &&
         nl_now_ms() < end && !nl_interrupted)
    nl_proc_pump(ps, 1, end - nl_now_ms());
  return strstr(srv->buf[1], "listening on ") ? 0 : NL_ERR_ENV;
}

/** A program of the build: $@p env, else @p build (the build tree's, when
 * it exists), else @p name in natlab's own directory (an installed
 * natlab; the path in @p buf), else @p name from PATH. */
const char *nl_tool_path(const char *env, const char *build, const char *name,
                         char *buf, size_t len) {
  const char *e = getenv(env);
  char exe[PATH_MAX];
  ssize_t n;
  if (e && *e)
    return e;
  if (build[0] && access(build, X_OK) == 0)
    return build;
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) {
    *slash = '\0';
    snprintf(buf, len, "%s/%s", exe, name);
    if (access(buf, X_OK) == 0)
      return buf;
  }
  return name;
}

/** The common arguments of a peer: PROG VERB --rendezvous 203.0.113.1:4000
 * --room ROOM --stun 203.0.113.1:3478 --json --timeout S; more with
 * nl_peer_cmd_add(). */
void nl_peer_cmd_init(struct nl_peer_cmd *c, const char *prog, const char *verb,
                      const char *room, int timeout_s) {
  memset(c, 0, sizeof *c);
  snprintf(c->room, sizeof c->room, "%s", room);
  snprintf(c->secs, sizeof c->secs, "%d", timeout_s);
  const char *args[] = {prog,     verb,        "--rendezvous", NL_RDV_ADDR,
                        "--room", c->room,     "--stun",       NL_STUN_ADDR,
                        "--json", "--timeout", c->secs};
  for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
    c->argv[c->argc++] = (char *)(uintptr_t)args[i];
}

/** Append @p arg (kept by pointer: it must outlive the run). */
void nl_peer_cmd_add(struct nl_peer_cmd *c, const char *arg) {
  if (c->argc < NL_PEER_ARGS_MAX - 1)
    c->argv[c->argc++] = (char *)(uintptr_t)arg;
}

/** Run @p cmd on ha and hb at once (the rendezvous @p srv keeps logging
 * meanwhile); return when both have exited, killing them after
 * @p wait_ms. */
void nl_peers_run(const char *prefix, const struct nl_peer_cmd *cmd,
                  double wait_ms, struct nl_proc *srv, struct nl_proc peer[2]) {
  char ns[2][NL_PREFIX_MAX + 8];
  const char *const node[2] = {"ha", "hb"};
  struct nl_proc *ps[3] = {srv, &peer[0], &peer[1]};
  double end = nl_now_ms() + wait_ms;
  for (int i = 0; i < 2; i++) {
    snprintf(ns[i], sizeof ns[i], "%s-%s", prefix, node[i]);
    if (nl_proc_spawn(ns[i], cmd->argv, &peer[i]) != 0)
      peer[i].status = -2;
  }
  while ((nl_proc_open(&peer[0]) || nl_proc_open(&peer[1])) &&
         nl_now_ms() < end && !nl_interrupted)
    nl_proc_pump(ps, 3, end - nl_now_ms());
  for (int i = 0; i < 2; i++) {
    if (peer[i].pid > 0 && nl_proc_open(&peer[i])) {
      kill(peer[i].pid, SIGKILL);
      peer[i].killed = true;
    }
    nl_proc_reap(&peer[i]);
  }
}

/* @p n bytes of a program's output as a JSON string (bytes that are not
 * printable ASCII, except newlines and tabs, become '?'). */
json_t *nl_text_json(const char *text, size_t n) {
  char *s = malloc(n + 1);
  if (!s)
    return json_null();
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)text[i];
    s[i] =
        (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\t' ? (char)ch : '?';
  }
  json_t *j = json_stringn(s, n);
  free(s);
  return j ? j : json_null();
}

/* The last line of @p text (for a peer that wrote no report). */
json_t *nl_last_line(const char *text) {
  size_t n = strlen(text);
  while (n > 0 && text[n - 1] == '\n')
    n--;
  size_t s = n;
  while (s > 0 && text[s - 1] != '\n')
    s--;
  return nl_text_json(text + s, n - s);
}
