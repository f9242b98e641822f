/* The agent's pipe (src/agent/agent_pipe.h, what punch --pipe runs) on two
 * QUIC endpoints on loopback, through pipe(2) fds: bytes both ways, the
 * client's marker byte kept off the data, input EOF -> FIN, the server's
 * close with code 0 once the client's FIN is in and its own bytes are
 * acknowledged, which is each side's success; and the failures: a peer
 * that closes before the end of the stream (with an error code, or with
 * code 0 before our FIN), an output that cannot be written. QUIC runs on
 * the fixture's fake clock (quic_fixture.h); the reads run on the loop's
 * thread pool. Then the same through two agents (nat/agent.h, ticket mode
 * on loopback, the real clock): PIPE_DONE with the byte counts, and FAILED
 * in phase "pipe" when the peer leaves early. No sleeps; a guard turns a
 * hang into a failure. */
#include "quic_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_pipe.h"
#include "nat/agent.h"
#include "nat/error.h"

#define PIPE_SIZE (1 << 20)

typedef struct fx fx;

/* One peer: its connection, its pipe and the test's ends of its fds. */
typedef struct side {
  fx *f;
  bool server;
  nat_quic_conn *c;
  nat__pipe *p;
  int in_w, out_r;  /* the test writes the input, reads the output */
  uint64_t written; /* bytes the test wrote to the input */
  bool eof_written; /* and whether it closed it */
  int in_r, out_w;  /* the pipe's ends */
  int connected, failed, closed, gone;
  int fail_error;
  bool fail_local;
  char reason[320];
  int close_rc;
  bool close_by_peer, close_app;
  uint64_t close_code;
  char why[320];
} side;

struct fx {
  qfx q;
  side cli, srv;
  nat_quic_endpoint *srv_ep, *cli_ep;
  nat_addr srv_addr;
  int closed; /* connections closed, both sides */
};

static void fd_pair(int *r, int *w) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  /* room for a test's whole input or output: the pipe writes blocking */
  assert_true(fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE) >= PIPE_SIZE);
  *r = fds[0];
  *w = fds[1];
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void on_fail(void *arg, int error, bool local, const char *reason) {
  side *s = arg;
  s->failed++;
  s->fail_error = error;
  s->fail_local = local;
  snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static void side_init(fx *f, side *s, bool server) {
  memset(s, 0, sizeof *s);
  s->f = f;
  s->server = server;
  fd_pair(&s->in_r, &s->in_w);
  fd_pair(&s->out_r, &s->out_w);
  assert_int_equal(
      nat__pipe_new(&s->p, &f->q.loop, s->in_r, s->out_w, on_fail, s), 0);
}

/* ----------------------------------------------------------- callbacks */

static int on_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  fx *f = arg;
  (void)ep;
  f->srv.c = c;
  nat_quic_conn_set_arg(c, &f->srv);
  return 0;
}

static void on_connected(nat_quic_conn *c, void *arg) {
  side *s = arg;
  s->connected++;
  nat__pipe_start(s->p, c, !s->server);
}

static void on_stream_data(nat_quic_conn *c, void *arg, int64_t sid,
                           const uint8_t *data, size_t len, bool fin) {
  side *s = arg;
  (void)c;
  nat__pipe_on_data(s->p, sid, data, len, fin);
}

static void on_writable(nat_quic_conn *c, void *arg, int64_t sid) {
  side *s = arg;
  (void)c;
  nat__pipe_on_writable(s->p, sid);
}

static void on_closed(nat_quic_conn *c, void *arg,
                      const nat_quic_close_info *info) {
  side *s = arg;
  (void)c;
  s->c = NULL;
  s->closed++;
  s->close_by_peer = info->by_peer;
  s->close_app = info->app;
  s->close_code = info->code;
  s->close_rc = nat__pipe_closed(s->p, info, s->why, sizeof s->why);
  s->f->closed++;
}

static const nat_quic_callbacks callbacks = {
    .on_accept = on_accept,
    .on_connected = on_connected,
    .on_stream_data = on_stream_data,
    .on_writable = on_writable,
    .on_closed = on_closed,
};

/* ------------------------------------------------------------- fixture */

/* A read on the thread pool will complete: it is under way and the input
 * holds bytes or an EOF that no read has returned yet (counted, not
 * polled: a read may have taken the bytes from the fd already and not
 * yet told the loop). The fake clock waits for it (quic_fixture.h, busy).
 * A read with nothing to return blocks until the test writes: not busy. */
static bool side_owed(const side *s) {
  bool reading, eof;
  uint64_t taken;
  nat__pipe_input(s->p, &reading, &taken, &eof);
  return reading && (s->written > taken || (s->eof_written && !eof));
}

static bool inputs_ready(void *ctx) {
  fx *f = ctx;
  return side_owed(&f->cli) || side_owed(&f->srv);
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  nat_quic_config cfg;
  assert_non_null(f);
  qfx_init(&f->q, 20000);
  qfx_identities(&f->q);
  f->q.busy = inputs_ready;
  f->q.busy_ctx = f;
  side_init(f, &f->cli, false);
  side_init(f, &f->srv, true);
  cfg = qfx_server_cfg(&f->q, "127.0.0.1", &callbacks, f);
  cfg.manual_consume = true;
  f->srv_ep = qfx_ep_new(&f->q, &cfg, &f->srv_addr);
  cfg = qfx_cfg(&f->q, f->q.ida, "127.0.0.1", &callbacks, f);
  cfg.manual_consume = true;
  f->cli_ep = qfx_ep_new(&f->q, &cfg, NULL);
  *state = f;
  return 0;
}

static void on_pipe_gone(void *arg) {
  ((side *)arg)->gone++;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  side *sides[2] = {&f->cli, &f->srv};
  for (int i = 0; i < 2; i++)
    nat__pipe_close(sides[i]->p, on_pipe_gone, sides[i]);
  /* EOF for a read still blocked, so that the pipes can go */
  for (int i = 0; i < 2; i++)
    close_fd(&sides[i]->in_w);
  qfx_close_eps(&f->q);
  qfx_fini(&f->q);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(sides[i]->gone, 1);
    close_fd(&sides[i]->in_r);
    close_fd(&sides[i]->out_r);
    close_fd(&sides[i]->out_w);
  }
  free(f);
  return 0;
}

static void connect_peers(fx *f) {
  assert_int_equal(
      nat_quic_connect(f->cli_ep, &f->srv_addr, f->q.pinb, &f->cli, &f->cli.c),
      0);
}

static void write_input(side *s, const uint8_t *d, size_t len, bool eof) {
  if (len > 0)
    assert_int_equal(write(s->in_w, d, len), (ssize_t)len);
  s->written += len;
  if (eof) {
    close_fd(&s->in_w);
    s->eof_written = true;
  }
}

/* What the pipe wrote out so far (the writer stays open). */
static void expect_output(side *s, const uint8_t *d, size_t len) {
  uint8_t *got = malloc(len + 1);
  size_t n = 0;
  int fl = fcntl(s->out_r, F_GETFL);
  assert_non_null(got);
  assert_int_equal(fcntl(s->out_r, F_SETFL, fl | O_NONBLOCK), 0);
  for (;;) {
    ssize_t k = read(s->out_r, got + n, len + 1 - n);
    if (k <= 0)
      break;
    n += (size_t)k;
    if (n == len + 1)
      break;
  }
  assert_int_equal(n, len);
  if (len > 0)
    assert_memory_equal(got, d, len);
  free(got);
}

static void expect_counts(const side *s, uint64_t sent, uint64_t received) {
  uint64_t a, b;
  nat__pipe_counts(s->p, &a, &b);
  assert_int_equal(a, sent);
  assert_int_equal(b, received);
}

/* Step until @p s has sent its FIN and received the peer's as asked. */
static void run_until_fins(fx *f, side *s, bool sent, bool received, int line) {
  bool a = false, b = false;
  qfx_guard_start(&f->q);
  for (;;) {
    nat__pipe_fins(s->p, &a, &b);
    if ((a || !sent) && (b || !received))
      break;
    if (f->q.expired)
      break;
    qfx_step(&f->q);
  }
  qfx_guard_stop(&f->q, line, "the FINs", (uint64_t)a + b,
                 (uint64_t)sent + received);
}

/* Step until @p s has received @p n bytes. */
static void run_until_received(fx *f, side *s, uint64_t n, int line) {
  uint64_t sent = 0, got = 0;
  qfx_guard_start(&f->q);
  for (;;) {
    nat__pipe_counts(s->p, &sent, &got);
    if (got >= n || f->q.expired)
      break;
    qfx_step(&f->q);
  }
  qfx_guard_stop(&f->q, line, "bytes", got, n);
}

/* --------------------------------------------------------------- tests */

/* 300 KB one way and 200 KB the other (several input chunks each), both
 * inputs at EOF: each side gets the other's bytes exactly (no marker);
 * the server closes with code 0 after the acknowledgements, and that
 * close is both sides' success. */
static void test_both_ways(void **state) {
  fx *f = *state;
  size_t ca = 300000, sa = 200000;
  uint8_t *cd = qfx_pattern(ca, 1), *sd = qfx_pattern(sa, 2);
  write_input(&f->cli, cd, ca, true);
  write_input(&f->srv, sd, sa, true);
  connect_peers(f);
  run_until(f, &f->closed, 2);
  assert_int_equal(f->cli.failed + f->srv.failed, 0);
  assert_int_equal(f->srv.close_rc, 0);
  assert_int_equal(f->cli.close_rc, 0);
  /* the server closed, with application code 0 */
  assert_false(f->srv.close_by_peer);
  assert_true(f->cli.close_by_peer);
  assert_true(f->cli.close_app);
  assert_int_equal(f->cli.close_code, 0);
  expect_output(&f->srv, cd, ca);
  expect_output(&f->cli, sd, sa);
  expect_counts(&f->cli, ca, sa);
  expect_counts(&f->srv, sa, ca);
  free(cd);
  free(sd);
}

/* A client with nothing to say: the marker alone tells the server the
 * stream; its EOF is the FIN; the server's bytes arrive. */
static void test_empty_client(void **state) {
  fx *f = *state;
  static const uint8_t hello[] = "hello from the server\n";
  write_input(&f->cli, NULL, 0, true);
  write_input(&f->srv, hello, sizeof hello - 1, true);
  connect_peers(f);
  run_until(f, &f->closed, 2);
  assert_int_equal(f->cli.close_rc, 0);
  assert_int_equal(f->srv.close_rc, 0);
  expect_output(&f->cli, hello, sizeof hello - 1);
  expect_output(&f->srv, NULL, 0);
  expect_counts(&f->cli, 0, sizeof hello - 1);
  expect_counts(&f->srv, sizeof hello - 1, 0);
  assert_int_equal(NAT__PIPE_MARKER, 0x50);
}

/* Until both inputs end, nothing closes: the server waits for the
 * client's FIN even when its own bytes are all acknowledged. */
static void test_waits_for_fin(void **state) {
  fx *f = *state;
  static const uint8_t a[] = "abc", b[] = "defg";
  write_input(&f->cli, a, 3, false);
  write_input(&f->srv, b, 4, true);
  connect_peers(f);
  run_until(f, &f->srv.connected, 1);
  qfx_run_for(&f->q, 2 * NAT_SECONDS, __LINE__);
  assert_int_equal(f->closed, 0);
  expect_output(&f->srv, a, 3);
  write_input(&f->cli, NULL, 0, true); /* EOF: FIN, then the close */
  run_until(f, &f->closed, 2);
  assert_int_equal(f->cli.close_rc, 0);
  assert_int_equal(f->srv.close_rc, 0);
  expect_output(&f->cli, b, 4);
}

/* The server goes away with an error while the client still reads its
 * input: the client's pipe failed, with the peer's reason. */
static void test_peer_closes_early(void **state) {
  fx *f = *state;
  static const uint8_t a[] = "partial";
  write_input(&f->cli, a, 7, false);
  connect_peers(f);
  run_until_received(f, &f->srv, 7, __LINE__);
  expect_output(&f->srv, a, 7);
  assert_int_equal(nat_quic_conn_close(f->srv.c, 7, "going away"), 0);
  run_until(f, &f->closed, 2);
  assert_int_equal(f->cli.close_rc, NAT_ECANCELED);
  assert_string_equal(f->cli.why, "the peer closed the connection before the "
                                  "end of the stream: going away");
  /* the side that closed did not finish either */
  assert_int_equal(f->srv.close_rc, NAT_ECANCELED);
}

/* Code 0 from the server after the client's FIN is the client's success
 * even when the server's FIN came in no packet; the same close before the
 * client's FIN is a failure. */
static void test_close_code_zero(void **state) {
  fx *f = *state;
  static const uint8_t a[] = "xyz";
  write_input(&f->cli, a, 3, true);
  connect_peers(f);
  run_until_fins(f, &f->srv, false, true, __LINE__);
  expect_output(&f->srv, a, 3); /* the client's FIN is in */
  assert_int_equal(nat_quic_conn_close(f->srv.c, 0, "done"), 0);
  run_until(f, &f->closed, 2);
  assert_int_equal(f->cli.close_rc, 0);
  assert_int_not_equal(f->srv.close_rc, 0); /* its input never ended */
}

static void test_close_before_fin(void **state) {
  fx *f = *state;
  write_input(&f->cli, (const uint8_t *)"x", 1, false);
  connect_peers(f);
  run_until(f, &f->srv.connected, 1);
  qfx_run_for(&f->q, 100 * NAT_MILLISECONDS, __LINE__);
  assert_int_equal(nat_quic_conn_close(f->srv.c, 0, "done"), 0);
  run_until(f, &f->closed, 2);
  assert_int_equal(f->cli.close_rc, NAT_ECANCELED);
}

/* The output cannot take the peer's bytes: a local failure, said once. */
static void test_output_fails(void **state) {
  fx *f = *state;
  static const uint8_t a[] = "to nowhere";
  close_fd(&f->srv.out_r); /* writes now fail with EPIPE */
  write_input(&f->cli, a, sizeof a - 1, false);
  connect_peers(f);
  run_until(f, &f->srv.failed, 1);
  assert_true(f->srv.fail_local);
  assert_int_equal(f->srv.fail_error, -EPIPE);
  assert_string_equal(f->srv.reason,
                      "cannot write to the pipe's output: Broken pipe");
  qfx_run_for(&f->q, 100 * NAT_MILLISECONDS, __LINE__);
  assert_int_equal(f->srv.failed, 1);
}

/* ------------------------------------------- the same through the agent */

/* Two agents in ticket mode on loopback (real clock: the agent's checks
 * run on the loop's time), each with a pipe: what the tool's --pipe is. */
typedef struct apeer {
  struct afx *f;
  nat_agent *a;
  int in_r, in_w, out_r, out_w;
  char blob[NAT_AGENT_BLOB_MAX];
  bool has_blob;
  int connected, done, failed, closed, phase, error;
  bool local;
  char text[320];
  nat_agent_info info;
} apeer;

typedef struct afx {
  qfx q;
  apeer p[2];
  int ended, closed;
} afx;

static void apeer_event(nat_agent *a, void *arg, const nat_agent_event *ev) {
  apeer *me = arg, *other = &me->f->p[me == &me->f->p[0] ? 1 : 0];
  switch (ev->type) {
  case NAT_AGENT_EV_BLOB:
    snprintf(me->blob, sizeof me->blob, "%s", ev->text);
    me->has_blob = true;
    if (other->has_blob) { /* both out: each takes the other's */
      assert_int_equal(
          nat_agent_set_peer_blob(a, other->blob, strlen(other->blob)), 0);
      assert_int_equal(
          nat_agent_set_peer_blob(other->a, me->blob, strlen(me->blob)), 0);
    }
    break;
  case NAT_AGENT_EV_CONNECTED:
    me->connected++;
    break;
  case NAT_AGENT_EV_STREAM_DATA:
  case NAT_AGENT_EV_WRITABLE:
  case NAT_AGENT_EV_CONN_CLOSED:
    fail_msg("event %d with a pipe", ev->type);
    break;
  case NAT_AGENT_EV_PIPE_DONE:
  case NAT_AGENT_EV_FAILED:
    me->done += ev->type == NAT_AGENT_EV_PIPE_DONE;
    me->failed += ev->type == NAT_AGENT_EV_FAILED;
    me->phase = ev->phase;
    me->error = ev->error;
    me->local = ev->local;
    snprintf(me->text, sizeof me->text, "%s", ev->text ? ev->text : "");
    nat_agent_info_get(a, &me->info);
    me->f->ended++;
    nat_agent_close(a);
    break;
  case NAT_AGENT_EV_CLOSED:
    me->closed++;
    me->a = NULL;
    me->f->closed++;
    break;
  default:
    break;
  }
}

static int afx_setup(void **state) {
  afx *f = calloc(1, sizeof *f);
  nat_agent_config cfg;
  char diag[200];
  assert_non_null(f);
  qfx_init(&f->q, 20000);
  for (int i = 0; i < 2; i++) {
    apeer *p = &f->p[i];
    p->f = f;
    fd_pair(&p->in_r, &p->in_w);
    fd_pair(&p->out_r, &p->out_w);
    memset(&cfg, 0, sizeof cfg);
    cfg.family = NAT_AF_INET;
    cfg.allow_loopback = true;
    cfg.pipe = true;
    cfg.pipe_in = p->in_r;
    cfg.pipe_out = p->out_w;
    assert_int_equal(nat_agent_new(&p->a, &f->q.loop, &cfg, apeer_event, p,
                                   diag, sizeof diag),
                     0);
  }
  *state = f;
  return 0;
}

static int afx_teardown(void **state) {
  afx *f = *state;
  for (int i = 0; i < 2; i++) {
    nat_agent_close(f->p[i].a);
    close_fd(&f->p[i].in_w); /* a read still blocked returns */
  }
  run_until(f, &f->closed, 2);
  qfx_fini(&f->q);
  for (int i = 0; i < 2; i++) {
    close_fd(&f->p[i].in_r);
    close_fd(&f->p[i].out_r);
    close_fd(&f->p[i].out_w);
  }
  free(f);
  return 0;
}

static void apeer_input(apeer *p, const char *text, bool eof) {
  size_t n = strlen(text);
  assert_int_equal(write(p->in_w, text, n), (ssize_t)n);
  if (eof)
    close_fd(&p->in_w);
}

static void apeer_output(apeer *p, const char *want) {
  side s;
  memset(&s, 0, sizeof s);
  s.out_r = p->out_r;
  expect_output(&s, (const uint8_t *)want, strlen(want));
}

/* Connected, both inputs to EOF: both runs end with PIPE_DONE, the bytes
 * and their counts are right, and the agent never shows stream events. */
static void test_agent_pipe_done(void **state) {
  afx *f = *state;
  apeer_input(&f->p[0], "from the first peer\n", true);
  apeer_input(&f->p[1], "from the second\n", true);
  run_until(f, &f->ended, 2);
  for (int i = 0; i < 2; i++) {
    apeer *p = &f->p[i];
    assert_int_equal(p->done, 1);
    assert_int_equal(p->failed, 0);
    assert_string_equal(nat_agent_phase_name(p->phase), "pipe");
    assert_true(p->info.connected);
  }
  apeer_output(&f->p[1], "from the first peer\n");
  apeer_output(&f->p[0], "from the second\n");
  assert_int_equal(f->p[0].info.pipe_sent, 20);
  assert_int_equal(f->p[0].info.pipe_received, 16);
  assert_int_equal(f->p[1].info.pipe_sent, 16);
  assert_int_equal(f->p[1].info.pipe_received, 20);
}

/* Step until @p p wrote @p want out (and nothing else). */
static void apeer_wait_output(afx *f, apeer *p, const char *want) {
  char got[128];
  size_t n = 0, len = strlen(want);
  int fl = fcntl(p->out_r, F_GETFL);
  assert_true(len < sizeof got);
  assert_int_equal(fcntl(p->out_r, F_SETFL, fl | O_NONBLOCK), 0);
  qfx_guard_start(&f->q);
  while (n < len && !f->q.expired) {
    ssize_t k = read(p->out_r, got + n, sizeof got - n);
    if (k > 0)
      n += (size_t)k;
    else
      qfx_step(&f->q);
  }
  qfx_guard_stop(&f->q, __LINE__, "the peer's bytes", n, len);
  assert_memory_equal(got, want, len);
}

/* One peer's run ends (its agent closes) while the other's input is still
 * open (its bytes so far delivered, its next read waiting): the other
 * fails in phase "pipe", not by its own fault, and says why. */
static void test_agent_peer_leaves(void **state) {
  afx *f = *state;
  apeer *stays = &f->p[0], *leaves = &f->p[1];
  apeer_input(stays, "still typing", false);
  apeer_wait_output(f, leaves, "still typing");
  nat_agent_close(leaves->a);
  run_until(f, &stays->failed, 1);
  assert_string_equal(nat_agent_phase_name(stays->phase), "pipe");
  assert_false(stays->local);
  /* the endpoint's close reaches us as the peer's close */
  assert_string_equal(stays->text, "the peer closed the connection before "
                                   "the end of the stream: endpoint closed");
  assert_int_equal(stays->info.pipe_sent, 12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_both_ways, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_empty_client, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_waits_for_fin, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_peer_closes_early, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_close_code_zero, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_close_before_fin, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_output_fails, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_agent_pipe_done, afx_setup,
                                      afx_teardown),
      cmocka_unit_test_setup_teardown(test_agent_peer_leaves, afx_setup,
                                      afx_teardown),
  };
  signal(SIGPIPE, SIG_IGN); /* test_output_fails: EPIPE, not a signal */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
