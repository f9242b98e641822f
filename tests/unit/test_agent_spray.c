/* The birthday spray through two agents (nat/agent.h, src/agent/
 * agent_spray.c) in ticket mode, spray only, roles given (ticket mode has
 * no verdicts), in a network namespace of the test's own with only its
 * loopback: the dialer's probes go to ports of 127.0.0.1 and nowhere
 * else. A STUN responder on 127.0.0.1 gives each agent its server-
 * reflexive address. Checked: a hit, QUIC confirmed by birthday on both
 * sides, the acceptor down to its one winning socket at once, and every
 * descriptor back after the close; a peer that vanishes mid-spray (the
 * acceptor ends when its window does, with the reason); RLIMIT_NOFILE too
 * low for the sockets (a clear local failure, nothing opened); spray only
 * with nothing to spray (refused with the reason). Real clock; a guard
 * turns a hang into a failure; no sleeps. Needs root for the namespace
 * (CI runs as root); elsewhere the tests say so and are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nat/agent.h"
#include "nat/error.h"
#include "nat/stunsrv.h"
#include "nat/udp.h"
#include "test_slow.h"

#define GUARD_MS 60000
/* the namespace's ephemeral ports (net.ipv4.ip_local_port_range, set in
 * own_netns()): every socket of the test binds in them */
#define PORT_LO 40000
#define PORT_HI 40999

static bool have_netns;

typedef struct fx fx;

typedef struct peer {
  fx *f;
  nat_agent *a;
  char blob[NAT_AGENT_BLOB_MAX];
  bool has_blob;
  int connected, failed, closed, hits, plans, error;
  bool local;
  char text[400];
  nat_agent_info info, at_connect;
} peer;

struct fx {
  uv_loop_t loop;
  uv_timer_t guard;
  bool expired;
  nat_udp *srv;
  nat_addr srv_addr;
  char srv_name[64];
  peer p[2];
  int fds_before;
  bool close_dialer_on_spray; /* the peer that vanishes */
  bool flood;                 /* junk to every ephemeral port */
  unsigned flooded;           /* datagrams the flood sent */
};

/* A hostile host floods every ephemeral port of 127.0.0.1 (the acceptor's
 * sockets among them) with one datagram that is not STUN and one Binding
 * request keyed with a password nobody has. */
static void flood(fx *f) {
  static const uint8_t junk[32] = "not a STUN message, just junk..";
  uint8_t req[200], tid[NAT_STUN_TID_LEN];
  nat_stun_builder b;
  struct sockaddr_in to;
  ssize_t n;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(s >= 0);
  memset(tid, 0x5A, sizeof tid);
  nat_stun_builder_init(&b, req, sizeof req, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, "someone:else");
  nat_stun_add_integrity(&b, (const uint8_t *)"no-such-password", 16);
  n = nat_stun_builder_finish(&b, true);
  assert_true(n > 0);
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(0x7F000001);
  for (unsigned port = PORT_LO; port <= PORT_HI; port++) {
    to.sin_port = htons((uint16_t)port);
    f->flooded += sendto(s, junk, sizeof junk, 0, (struct sockaddr *)&to,
                         sizeof to) == (ssize_t)sizeof junk;
    f->flooded +=
        sendto(s, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof to) == n;
  }
  close(s);
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the DIR's own */
}

static void srv_recv(nat_udp *u, void *arg, const nat_addr *from,
                     const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  fx *f = arg;
  nat_stunsrv_opts o;
  nat_stunsrv_reply where;
  uint8_t out[600];
  ssize_t n;
  (void)buf;
  (void)len;
  if (msg == NULL)
    return;
  memset(&o, 0, sizeof o);
  o.local = &f->srv_addr;
  n = nat_stunsrv_respond_msg(&o, from, msg, out, sizeof out, &where);
  if (n > 0)
    (void)nat_udp_send(u, &where.dst, out, (size_t)n);
}

static void on_event(nat_agent *a, void *arg, const nat_agent_event *ev) {
  peer *me = arg, *other = &me->f->p[me == &me->f->p[0] ? 1 : 0];
  switch (ev->type) {
  case NAT_AGENT_EV_BLOB:
    snprintf(me->blob, sizeof me->blob, "%s", ev->text);
    me->has_blob = true;
    if (other->has_blob) {
      assert_int_equal(
          nat_agent_set_peer_blob(a, other->blob, strlen(other->blob)), 0);
      if (other->a != NULL)
        (void)nat_agent_set_peer_blob(other->a, me->blob, strlen(me->blob));
    }
    break;
  case NAT_AGENT_EV_BIRTHDAY_PLAN:
    me->plans++;
    break;
  case NAT_AGENT_EV_CHECKS_STARTED:
    if (me->f->flood && me == &me->f->p[0])
      flood(me->f); /* the acceptor's sockets are open: before any probe */
    if (me->f->close_dialer_on_spray && me == &me->f->p[1]) {
      nat_agent_info_get(a, &me->info);
      nat_agent_close(a); /* the dialer vanishes before its first probe */
    }
    break;
  case NAT_AGENT_EV_BIRTHDAY_HIT:
    me->hits++;
    break;
  case NAT_AGENT_EV_CONNECTED:
    me->connected++;
    nat_agent_info_get(a, &me->at_connect);
    break;
  case NAT_AGENT_EV_FAILED:
    me->failed++;
    me->error = ev->error;
    me->local = ev->local;
    snprintf(me->text, sizeof me->text, "%s", ev->text);
    nat_agent_info_get(a, &me->info);
    nat_agent_close(a);
    break;
  case NAT_AGENT_EV_CLOSED:
    me->closed++;
    me->a = NULL;
    break;
  default:
    break;
  }
}

static void guard_cb(uv_timer_t *t) {
  fx *f = t->data;
  f->expired = true;
}

/* Run until *@p a and *@p b (if not NULL) reach @p n; waiting for a
 * connection, a failure ends the wait at once (and the test). */
static void run_until(fx *f, int *a, int *b, int n, int line) {
  bool want_fail = a != &f->p[0].connected && a != &f->p[1].connected;
  f->expired = false;
  uv_timer_start(&f->guard, guard_cb, GUARD_MS, 0);
  while (!f->expired && !(*a >= n && (b == NULL || *b >= n)) &&
         (want_fail || (f->p[0].failed == 0 && f->p[1].failed == 0)))
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (!want_fail && (f->p[0].failed != 0 || f->p[1].failed != 0))
    fail_msg("line %d: a peer failed: '%s' / '%s'", line, f->p[0].text,
             f->p[1].text);
  if (f->expired)
    fail_msg("line %d: timed out (%d s) waiting for the agents (failures: "
             "'%s' / '%s')",
             line, GUARD_MS / 1000, f->p[0].text, f->p[1].text);
}

static int setup(void **state) {
  fx *f;
  nat_udp_config uc;
  if (!have_netns)
    return 0;
  f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fds_before = count_fds();
  assert_int_equal(uv_loop_init(&f->loop), 0);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = f;
  memset(&uc, 0, sizeof uc);
  assert_int_equal(nat_addr_parse(&uc.bind, "127.0.0.1:0", 0), 0);
  assert_int_equal(nat_udp_new(&f->srv, &f->loop, &uc), 0);
  assert_int_equal(nat_udp_local_addr(f->srv, &f->srv_addr), 0);
  nat_udp_set_recv_cb(f->srv, srv_recv, f);
  snprintf(f->srv_name, sizeof f->srv_name, "127.0.0.1:%u", f->srv_addr.port);
  *state = f;
  return 0;
}

static void srv_closed(nat_udp *u, void *arg) {
  (void)u;
  *(int *)arg = 1;
}

static int teardown(void **state) {
  fx *f = *state;
  int gone = 0;
  if (!have_netns)
    return 0;
  for (int i = 0; i < 2; i++)
    if (f->p[i].a != NULL)
      nat_agent_close(f->p[i].a);
  nat_udp_close(f->srv, srv_closed, &gone);
  uv_close((uv_handle_t *)&f->guard, NULL);
  while (uv_run(&f->loop, UV_RUN_DEFAULT) != 0)
    ;
  assert_int_equal(gone, 1);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  /* every socket the spray opened is closed */
  assert_int_equal(count_fds(), f->fds_before);
  free(f);
  return 0;
}

/* Start both peers: p[0] the acceptor, p[1] the dialer (with
 * @p f->srv_name as their STUN server unless it is empty). */
static void start(fx *f, uint32_t sockets, uint32_t probes, int role0,
                  int role1) {
  nat_agent_config cfg;
  char diag[200];
  for (int i = 0; i < 2; i++) {
    peer *p = &f->p[i];
    p->f = f;
    memset(&cfg, 0, sizeof cfg);
    cfg.family = NAT_AF_INET;
    cfg.allow_loopback = true;
    cfg.stun = f->srv_name[0] != '\0' ? f->srv_name : NULL;
    /* the spray's window extends it; under valgrind (NAT_TEST_SLOW) the
     * QUIC handshake alone can take seconds */
    cfg.timeout = 5 * NAT_SECONDS * test_slow();
    cfg.birthday.only = true;
    cfg.birthday.role = i == 0 ? role0 : role1;
    cfg.birthday.sockets = sockets;
    cfg.birthday.probes = probes;
    cfg.birthday.rate = 1000;
    /* no NAT here: the acceptor's ports are the kernel's ephemeral ones */
    cfg.birthday.lo = PORT_LO;
    cfg.birthday.hi = PORT_HI;
    assert_int_equal(
        nat_agent_new(&p->a, &f->loop, &cfg, on_event, p, diag, sizeof diag),
        0);
  }
}

#define SKIP_WITHOUT_NETNS()                                                   \
  do {                                                                         \
    if (!have_netns) {                                                         \
      print_message("skipped: needs root for a network namespace of its "      \
                    "own (the spray must not reach the host's sockets)\n");    \
      skip();                                                                  \
    }                                                                          \
  } while (0)

/* 256 sockets among the namespace's 1,000 ephemeral ports, 4,096 probes
 * (every port is tried within the first 1,000): a hit is certain. */
static void test_spray_connects(void **state) {
  fx *f = *state;
  SKIP_WITHOUT_NETNS();
  start(f, 256, 4096, NAT_BDAY_ACCEPTOR, NAT_BDAY_DIALER);
  run_until(f, &f->p[0].connected, &f->p[1].connected, 1, __LINE__);
  for (int i = 0; i < 2; i++) {
    nat_agent_info *in = &f->p[i].at_connect;
    assert_int_equal(f->p[i].failed, 0);
    assert_int_equal(f->p[i].plans, 1);
    assert_int_equal(f->p[i].hits, 1);
    assert_int_equal(in->strategy, NAT_AGENT_VIA_BIRTHDAY);
    assert_true(in->bday_ran);
    assert_int_equal(in->bday.role,
                     i == 0 ? NAT_BDAY_ACCEPTOR : NAT_BDAY_DIALER);
    assert_int_equal(in->bday.n, PORT_HI - PORT_LO + 1);
    assert_true(in->bstats.t_hit != 0);
  }
  /* the STUN server's socket is among the ports sprayed and answers any
   * Binding request, without the key: a probe that reached it before the
   * hit got an answer the dialer counted and ignored */
  assert_int_equal(f->p[0].at_connect.bstats.ignored, 0);
  assert_true(f->p[1].at_connect.bstats.ignored <= 1);
  /* the acceptor: all 256 opened, the losers closed at the hit */
  assert_int_equal(f->p[0].at_connect.bstats.sockets_opened, 256);
  assert_int_equal(f->p[0].at_connect.bstats.answers_sent >= 1, 1);
  nat_agent_info_get(f->p[0].a, &f->p[0].info);
  assert_true(f->p[0].info.bstats.sockets_open <= 1);
  /* the dialer: the probe that hit is counted, at most the budget */
  assert_true(f->p[1].at_connect.bstats.hit_probe >= 1);
  assert_true(f->p[1].at_connect.bstats.probes_sent <= 4096);
  /* both proved a loopback address (the namespace has nothing else) */
  assert_int_equal(f->p[0].at_connect.bstats.hit_remote.ip[0], 127);
  assert_int_equal(f->p[1].at_connect.bstats.hit_remote.ip[0], 127);
  nat_agent_close(f->p[0].a);
  nat_agent_close(f->p[1].a);
  run_until(f, &f->p[0].closed, &f->p[1].closed, 1, __LINE__);
}

/* A hostile host floods the acceptor's 64 sockets (and every other port)
 * with junk and with checks keyed for someone else before the first
 * probe: each is counted and ignored, never answered, and the spray
 * connects all the same. */
static void test_flood(void **state) {
  fx *f = *state;
  SKIP_WITHOUT_NETNS();
  f->flood = true;
  start(f, 64, 4096, NAT_BDAY_ACCEPTOR, NAT_BDAY_DIALER);
  run_until(f, &f->p[0].connected, &f->p[1].connected, 1, __LINE__);
  assert_int_equal(f->flooded, 2 * (PORT_HI - PORT_LO + 1));
  assert_int_equal(f->p[0].at_connect.strategy, NAT_AGENT_VIA_BIRTHDAY);
  assert_int_equal(f->p[1].at_connect.strategy, NAT_AGENT_VIA_BIRTHDAY);
  /* two datagrams on each acceptor socket, none answered but the hit */
  assert_int_equal(f->p[0].at_connect.bstats.ignored, 2 * 64);
  assert_int_equal(f->p[0].at_connect.bstats.answers_sent, 1);
  nat_agent_close(f->p[0].a);
  nat_agent_close(f->p[1].a);
  run_until(f, &f->p[0].closed, &f->p[1].closed, 1, __LINE__);
}

/* The dialer leaves before its first probe: the acceptor keeps its
 * sockets for the window (hold + 200 probes at 1,000/s + 1 s), then fails
 * with the reason, hint birthday; the teardown finds no socket left. */
static void test_peer_vanishes(void **state) {
  fx *f = *state;
  SKIP_WITHOUT_NETNS();
  f->close_dialer_on_spray = true;
  start(f, 64, 200, NAT_BDAY_ACCEPTOR, NAT_BDAY_DIALER);
  run_until(f, &f->p[0].failed, NULL, 1, __LINE__);
  assert_int_equal(f->p[0].connected, 0);
  assert_int_equal(f->p[0].error, NAT_ETIMEDOUT);
  assert_false(f->p[0].local);
  assert_non_null(strstr(f->p[0].text, "none of the peer's probes reached "
                                       "our 64 sockets"));
  assert_int_equal(f->p[0].info.bstats.sockets_opened, 64);
  run_until(f, &f->p[0].closed, &f->p[1].closed, 1, __LINE__);
}

/* Spray only, and nothing says who sprays (no verdicts in ticket mode,
 * no --role): refused at once with the reason. Both asking for the same
 * role: the same. */
static void test_nothing_to_spray(void **state) {
  fx *f = *state;
  SKIP_WITHOUT_NETNS();
  start(f, 16, 16, NAT_BDAY_NONE, NAT_BDAY_NONE);
  run_until(f, &f->p[0].failed, &f->p[1].failed, 1, __LINE__);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(f->p[i].error, NAT_EUNSUPPORTED);
    assert_non_null(strstr(f->p[i].text, "mapping is unknown"));
  }
  run_until(f, &f->p[0].closed, &f->p[1].closed, 1, __LINE__);
  memset(f->p, 0, sizeof f->p);
  start(f, 16, 16, NAT_BDAY_ACCEPTOR, NAT_BDAY_ACCEPTOR);
  run_until(f, &f->p[0].failed, &f->p[1].failed, 1, __LINE__);
  assert_non_null(strstr(f->p[0].text, "same role"));
  run_until(f, &f->p[0].closed, &f->p[1].closed, 1, __LINE__);
}

/* RLIMIT_NOFILE below K + the margin, hard limit too (in a child: a
 * lowered hard limit is for good; the child has a loop of its own and no
 * STUN server): a local failure that says what to do, before any spray
 * socket opens. */
static void test_rlimit(void **state) {
  fx *parent = *state;
  pid_t pid;
  int status;
  SKIP_WITHOUT_NETNS();
  (void)parent;
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    static fx child;
    fx *f = &child;
    struct rlimit rl = {200, 200};
    uint32_t k = 900;
    char want[32];
    int rc = 0;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      /* valgrind 3.19 refuses a new hard limit: memcheck.test_agent_spray
       * starts with a low one (MEMCHECK_NOFILE, tests/CMakeLists.txt),
       * and K goes above it (all the ports of the range) */
      k = PORT_HI - PORT_LO + 1;
      if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max >= k + 64)
        rc = 10;
    }
    snprintf(want, sizeof want, "ulimit -n %u", k + 64);
    if (rc == 0 && uv_loop_init(&f->loop) != 0)
      rc = 15;
    if (rc == 0) {
      uv_timer_init(&f->loop, &f->guard);
      f->guard.data = f;
      start(f, k, 16, NAT_BDAY_ACCEPTOR, NAT_BDAY_DIALER);
      f->expired = false;
      uv_timer_start(&f->guard, guard_cb, GUARD_MS, 0);
      while (!f->expired && f->p[0].failed == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
      if (f->p[0].failed != 1)
        rc = 11;
      else if (f->p[0].error != NAT_ENOFILE || !f->p[0].local)
        rc = 12;
      else if (strstr(f->p[0].text, want) == NULL ||
               strstr(f->p[0].text, "--sockets") == NULL)
        rc = 13;
      else if (f->p[0].info.bstats.sockets_opened != 0)
        rc = 14;
    }
    _exit(rc);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A network namespace with only a loopback, up, and its ephemeral ports
 * PORT_LO..PORT_HI. */
static bool own_netns(void) {
  struct ifreq ifr;
  FILE *pr;
  int s;
  if (unshare(CLONE_NEWNET) != 0)
    return false;
  pr = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w");
  if (pr == NULL)
    return false;
  fprintf(pr, "%d %d\n", PORT_LO, PORT_HI);
  if (fclose(pr) != 0)
    return false;
  s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0)
    return false;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    close(s);
    return false;
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
    close(s);
    return false;
  }
  close(s);
  return true;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_spray_connects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
      cmocka_unit_test_setup_teardown(test_peer_vanishes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nothing_to_spray, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rlimit, setup, teardown),
  };
  uv_loop_t warm;
  have_netns = own_netns();
  /* libuv's process-wide descriptors (its signal pipe) open with the first
   * loop: open them before any test counts descriptors */
  if (uv_loop_init(&warm) == 0)
    (void)uv_loop_close(&warm);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
