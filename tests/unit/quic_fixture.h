/* The fixture shared by the unit tests that run peers on loopback inside
 * one libuv loop: test_quic.c, test_quic_close.c, test_quic_stream.c and
 * test_rdv.c. Each test_*.c is its own executable (tests/CMakeLists.txt),
 * so everything here is static.
 *
 * The QUIC endpoints made here run on a fake clock (q->now, nanoseconds):
 * datagrams cross the loopback sockets for real, but no QUIC timer is ever
 * waited for. Whenever the loop has nothing to do (no datagram readable or
 * in flight for QFX_SETTLE_MS, no libuv callback due), qfx_step() moves the
 * clock to the endpoints' earliest deadline (nat_quic_endpoint_get_expiry)
 * and runs it (nat_quic_endpoint_handle_expiry): closing and draining
 * periods, idle, handshake and keep-alive timers, retransmissions take no
 * real time. Each read of the clock by an endpoint moves it QFX_TICK on,
 * so that events in order have increasing times.
 *
 * A test's own fixture embeds a `qfx` as its member `q`:
 *   struct fx { qfx q; ...what the test adds... };
 *   qfx_init(&f->q, guard_ms)   the loop, the guard timer, the fake clock
 *   qfx_identities(&f->q)       identities A ("peer-a") and B ("peer-b")
 *                               and their pins (QUIC tests)
 *   run_until(f, &counter, n)   step until counter >= n; the test fails,
 *                               naming the line, when the fake clock would
 *                               pass guard_ms, or after guard_ms of real
 *                               loop time (no sleeps, no hangs)
 *   qfx_step                    one step of the loop (see above)
 *   qfx_run_for(q, ns)          step until the fake clock has moved @p ns
 *   qfx_guard_start/stop        the same guard around a wait of one's own
 *   qfx_cfg, qfx_server_cfg     endpoint configurations on an IP, port 0,
 *                               on the fake clock
 *   qfx_pair                    server B (accepting pin A) and client A
 *   qfx_ep_new                  an endpoint, closed by qfx_close_eps
 *   qfx_close_eps               close the endpoints still open and wait
 *   qfx_fini                    close the guard, run the loop dry (no
 *                               handle may be left), close it, free the
 *                               identities
 *   qfx_pattern                 @p len pseudo-random bytes (malloc'd) to
 *                               send and compare
 * rdv uses the loop part only (its identities stay NULL, eps empty). */
#ifndef NAT_TEST_QUIC_FIXTURE_H
#define NAT_TEST_QUIC_FIXTURE_H

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/error.h"
#include "nat/quic.h"

#define QFX_MAXEP 32

/* What one read of the fake clock moves it on. */
#define QFX_TICK NAT_MICROSECONDS
/* How long the loop must stay quiet (real time) before the fake clock
 * jumps: loopback datagrams arrive within the sender's system call, but a
 * busy machine may hand them to a kernel thread. */
#define QFX_SETTLE_MS 1
/* A libuv timer due this soon is waited for (qfx_quiet). */
#define QFX_TIMER_WAIT_MS 5
/* While the test's busy() says work outside the loop will complete (a
 * read on the thread pool that has bytes to return), the loop is never
 * quiet: the step waits this long at a time for it (the guard, in loop
 * time, ends a wait that never ends). */
#define QFX_BUSY_WAIT_MS 100

typedef struct qfx {
  uv_loop_t loop;
  uv_timer_t guard;
  bool expired;
  bool fake_expired; /* the fake clock reached the guard's limit */
  uint64_t guard_ms; /* run_until's limit, in loop time and fake time */
  nat_tstamp now;    /* the fake clock */
  nat_tstamp limit;  /* the guard's limit on it */
  uint64_t jumps;    /* how often the clock moved to a deadline */
  nat_quic_identity *ida, *idb;
  uint8_t pina[NAT_QUIC_PIN_LEN], pinb[NAT_QUIC_PIN_LEN];
  nat_quic_endpoint *eps[QFX_MAXEP]; /* NULL once closed */
  int neps, ep_closed;
  /* NULL, or true while work the loop will hear of is under way elsewhere
   * (a thread-pool request that will complete): the loop is not quiet
   * then, however long that work takes on a loaded machine. */
  bool (*busy)(void *ctx);
  void *busy_ctx;
} qfx;

static inline void qfx_init(qfx *q, uint64_t guard_ms) {
  assert_int_equal(uv_loop_init(&q->loop), 0);
  assert_int_equal(uv_timer_init(&q->loop, &q->guard), 0);
  q->guard.data = q;
  q->guard_ms = guard_ms;
  q->now = 1000 * NAT_SECONDS;
  q->limit = NAT_TSTAMP_MAX;
}

/* The endpoints' clock (a nat_clock_fn). */
static inline nat_tstamp qfx_clock(void *ctx) {
  qfx *q = ctx;
  return q->now += QFX_TICK;
}

static inline void qfx_identities(qfx *q) {
  assert_int_equal(nat_quic_identity_new(&q->ida, "peer-a"), 0);
  assert_int_equal(nat_quic_identity_new(&q->idb, "peer-b"), 0);
  nat_quic_identity_pin(q->ida, q->pina);
  nat_quic_identity_pin(q->idb, q->pinb);
}

static inline void qfx_on_guard(uv_timer_t *t) {
  ((qfx *)t->data)->expired = true;
}

static inline void qfx_guard_start(qfx *q) {
  q->expired = q->fake_expired = false;
  q->limit = q->now + q->guard_ms * NAT_MILLISECONDS;
  uv_timer_start(&q->guard, qfx_on_guard, q->guard_ms, 0);
}

/* Stop the guard; fail if it went off while waiting for @p what. */
static inline void qfx_guard_stop(qfx *q, int line, const char *what,
                                  uint64_t have, uint64_t want) {
  uv_timer_stop(&q->guard);
  q->limit = NAT_TSTAMP_MAX;
  if (q->expired)
    fail_msg("line %d: timed out (%s) waiting for %s: %llu of %llu", line,
             q->fake_expired ? "fake clock" : "loop time", what,
             (unsigned long long)have, (unsigned long long)want);
}

/* The earliest deadline of the open endpoints (NAT_TSTAMP_MAX: none). */
static inline nat_tstamp qfx_next(const qfx *q) {
  nat_tstamp t = NAT_TSTAMP_MAX;
  for (int i = 0; i < q->neps; i++) {
    nat_tstamp e =
        q->eps[i] ? nat_quic_endpoint_get_expiry(q->eps[i]) : NAT_TSTAMP_MAX;
    if (e < t)
      t = e;
  }
  return t;
}

/* Nothing to do now: no libuv callback due (a timer, a close, a pending
 * request) and no socket ready within QFX_SETTLE_MS. A libuv timer due
 * within QFX_TIMER_WAIT_MS (a short poll of the code under test, e.g. the
 * agent's pipe waiting for acknowledgements) is waited for: the fake
 * clock must not jump past what that timer would do. */
static inline bool qfx_quiet(qfx *q) {
  struct pollfd p = {.fd = uv_backend_fd(&q->loop), .events = POLLIN};
  int t = uv_backend_timeout(&q->loop);
  if (t == 0)
    return false;
  if (t > 0 && t <= QFX_TIMER_WAIT_MS) {
    (void)poll(&p, 1, t);
    return false;
  }
  if (q->busy != NULL && q->busy(q->busy_ctx)) {
    (void)poll(&p, 1, QFX_BUSY_WAIT_MS);
    return false;
  }
  return poll(&p, 1, QFX_SETTLE_MS) == 0;
}

/* Move the fake clock to @p t (never back) and run what is due. */
static inline void qfx_jump(qfx *q, nat_tstamp t) {
  if (t > q->now)
    q->now = t;
  q->jumps++;
  for (int i = 0; i < q->neps; i++)
    if (q->eps[i])
      nat_quic_endpoint_handle_expiry(q->eps[i]);
}

/* One step: run what is ready, or, when the loop is quiet, jump to the
 * next QUIC deadline, unless it lies beyond @p until (then stop there:
 * *reached) or beyond the guard's limit (q->expired). With no QUIC
 * deadline at all, wait for the loop (datagrams, real timers, the guard).
 * A step does one or the other, so that its caller sees each change. */
static inline void qfx_step_to(qfx *q, nat_tstamp until, bool *reached) {
  nat_tstamp next = qfx_next(q);
  if (next == NAT_TSTAMP_MAX && until == NAT_TSTAMP_MAX) {
    uv_run(&q->loop, UV_RUN_ONCE);
    return;
  }
  if (!qfx_quiet(q)) {
    uv_run(&q->loop, UV_RUN_NOWAIT);
    return;
  }
  if (next > until) {
    if (until > q->now)
      q->now = until;
    *reached = true;
  } else if (next > q->limit) {
    q->expired = q->fake_expired = true;
  } else {
    qfx_jump(q, next);
  }
}

static inline void qfx_step(qfx *q) {
  bool reached = false;
  qfx_step_to(q, NAT_TSTAMP_MAX, &reached);
}

/* Step until the fake clock has moved @p ns on (fails past the guard). */
static inline void qfx_run_for(qfx *q, nat_tstamp ns, int line) {
  nat_tstamp until = q->now + ns;
  bool reached = false;
  qfx_guard_start(q);
  while (!reached && !q->expired)
    qfx_step_to(q, until, &reached);
  qfx_guard_stop(q, line, "the fake clock", (uint64_t)q->now, (uint64_t)until);
}

static inline void qfx_run_until(qfx *q, const int *counter, int target,
                                 int line) {
  qfx_guard_start(q);
  while (*counter < target && !q->expired)
    qfx_step(q);
  qfx_guard_stop(q, line, "a counter", (uint64_t)*counter, (uint64_t)target);
}
#define run_until(f, counter, target)                                          \
  qfx_run_until(&(f)->q, counter, target, __LINE__)

/* Binds @p ip port 0 with identity @p id (may be NULL), callbacks @p cb
 * and their argument @p arg, on @p q's fake clock; everything else zero
 * (the defaults). */
static inline nat_quic_config qfx_cfg(qfx *q, nat_quic_identity *id,
                                      const char *ip,
                                      const nat_quic_callbacks *cb, void *arg) {
  nat_quic_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.clock = qfx_clock;
  cfg.clock_ctx = q;
  assert_int_equal(nat_addr_parse(&cfg.bind, ip, 0), 0);
  cfg.identity = id;
  cfg.cb = *cb;
  cfg.arg = arg;
  return cfg;
}

/* qfx_cfg for identity B, accepting connections from pin A. */
static inline nat_quic_config qfx_server_cfg(qfx *q, const char *ip,
                                             const nat_quic_callbacks *cb,
                                             void *arg) {
  nat_quic_config cfg = qfx_cfg(q, q->idb, ip, cb, arg);
  cfg.accept = true;
  cfg.peer_pins = (const uint8_t(*)[NAT_QUIC_PIN_LEN])q->pina;
  cfg.n_peer_pins = 1;
  return cfg;
}

static inline nat_quic_endpoint *qfx_ep_new(qfx *q, const nat_quic_config *cfg,
                                            nat_addr *addr) {
  nat_quic_endpoint *ep = NULL;
  int rv = nat_quic_endpoint_new(&ep, &q->loop, cfg);
  if (rv != 0)
    fail_msg("nat_quic_endpoint_new = %s", nat_err_name(rv));
  assert_true(q->neps < QFX_MAXEP);
  q->eps[q->neps++] = ep;
  if (addr)
    assert_int_equal(nat_quic_endpoint_local_addr(ep, addr), 0);
  return ep;
}

/* A server endpoint (qfx_server_cfg, address in @p srv_addr) and a client
 * endpoint (identity A) on @p ip. Handshake and idle timeouts are 10 s, so
 * that a refusal noticed only by a timeout shows in the times. */
static inline void qfx_pair(qfx *q, const char *ip,
                            const nat_quic_callbacks *cb, void *arg,
                            nat_quic_endpoint **srv, nat_addr *srv_addr,
                            nat_quic_endpoint **cli) {
  nat_quic_config cfg = qfx_server_cfg(q, ip, cb, arg);
  cfg.handshake_timeout = 10 * NAT_SECONDS;
  cfg.idle_timeout = 10 * NAT_SECONDS;
  *srv = qfx_ep_new(q, &cfg, srv_addr);
  cfg = qfx_cfg(q, q->ida, ip, cb, arg);
  cfg.handshake_timeout = 10 * NAT_SECONDS;
  cfg.idle_timeout = 10 * NAT_SECONDS;
  *cli = qfx_ep_new(q, &cfg, NULL);
}

/* The close callback for endpoints of @p arg, a qfx. */
static inline void qfx_on_ep_closed(nat_quic_endpoint *ep, void *arg) {
  qfx *q = arg;
  for (int i = 0; i < q->neps; i++)
    if (q->eps[i] == ep)
      q->eps[i] = NULL;
  q->ep_closed++;
}

static inline void qfx_close_eps(qfx *q) {
  int open = 0;
  for (int i = 0; i < q->neps; i++)
    if (q->eps[i]) {
      open++;
      nat_quic_endpoint_close(q->eps[i], qfx_on_ep_closed, q);
    }
  qfx_run_until(q, &q->ep_closed, q->ep_closed + open, __LINE__);
}

static inline void qfx_fini(qfx *q) {
  uv_close((uv_handle_t *)&q->guard, NULL);
  assert_int_equal(uv_run(&q->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&q->loop), 0);
  nat_quic_identity_free(q->ida);
  nat_quic_identity_free(q->idb);
}

/* @p len bytes of a fixed pseudo-random sequence from @p seed, for data
 * that must arrive byte for byte; the caller frees them. */
static inline uint8_t *qfx_pattern(size_t len, uint32_t seed) {
  uint8_t *p = malloc(len ? len : 1);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (uint8_t)(seed >> 16);
  }
  return p;
}

#endif
