/* The UDP driver's receive path decodes each datagram once: the demultiplexer
 * in udp.c decodes a STUN datagram and hands the view to the transaction
 * layer (nat_txn_mgr_recv_msg), which does not decode it again, and to the
 * receive callback (through the QUIC endpoint's on_stun to the
 * connectivity checks' nat_check_recv_msg). This test
 * is linked with -Wl,--wrap=nat_stun_decode (tests/CMakeLists.txt): every
 * call the library makes to nat_stun_decode() goes through the counting
 * wrapper below. Real loopback sockets (127.0.0.1, port 0); no sleeps, a
 * 10 s guard timer turns a hang into a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/cand.h"
#include "nat/check.h"
#include "nat/error.h"
#include "nat/quic.h"
#include "nat/stun.h"
#include "nat/txn.h"
#include "nat/udp.h"

/* ------------------------------------------------------- the counter */

static int decodes;

ssize_t __real_nat_stun_decode(nat_stun_msg *m, const uint8_t *buf, size_t len);
ssize_t __wrap_nat_stun_decode(nat_stun_msg *m, const uint8_t *buf, size_t len);

/* The messages decoded since the log was last cleared (ID and class; 0xff:
 * did not decode), to tell the decodes of a received message from those of
 * the requests a nat_check builds and hands to its transactions. */
typedef struct decoded {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t cls;
} decoded;
static decoded dlog[64];
static size_t ndlog;

ssize_t __wrap_nat_stun_decode(nat_stun_msg *m, const uint8_t *buf,
                               size_t len) {
  ssize_t n = __real_nat_stun_decode(m, buf, len);
  decodes++;
  if (ndlog < sizeof dlog / sizeof dlog[0]) {
    memcpy(dlog[ndlog].tid, m->tid, NAT_STUN_TID_LEN);
    dlog[ndlog++].cls = n >= 0 ? m->cls : 0xff;
  }
  return n;
}

/* ------------------------------------------------------------ fixture */

typedef struct fx {
  uv_loop_t loop;
  uv_timer_t guard;
  bool expired;
  nat_udp *c, *p; /* the client under test, and its peer */
  nat_addr c_addr, p_addr;
  /* what the peer received (the client's requests) */
  int p_in;
  uint8_t req[128];
  size_t req_len;
  /* what the client's receive callback got */
  int c_in;
  /* the client's transaction */
  int done;
  int status;
  int decodes_in_cb; /* the counter when the transaction's callback ran */
  uint8_t resp_tid[NAT_STUN_TID_LEN];
  struct ck *ck; /* test_check_path_decoded_once */
} fx;

static void on_guard(uv_timer_t *t) {
  ((fx *)t->data)->expired = true;
}

static void run_until(fx *f, const int *counter, int target, int line) {
  f->expired = false;
  uv_timer_start(&f->guard, on_guard, 10000, 0);
  while (*counter < target && !f->expired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->expired)
    fail_msg("line %d: timed out waiting: %d of %d", line, *counter, target);
}
#define RUN_UNTIL(f, c, t) run_until(f, c, t, __LINE__)

static void peer_recv(nat_udp *u, void *arg, const nat_addr *from,
                      const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  fx *f = arg;
  (void)msg;
  (void)u;
  (void)from;
  assert_true(len <= sizeof f->req);
  memcpy(f->req, buf, len);
  f->req_len = len;
  f->p_in++;
}

static void client_recv(nat_udp *u, void *arg, const nat_addr *from,
                        const uint8_t *buf, size_t len,
                        const nat_stun_msg *msg) {
  fx *f = arg;
  (void)msg;
  (void)u;
  (void)from;
  (void)buf;
  (void)len;
  f->c_in++;
}

static nat_udp *open_udp(fx *f, nat_addr *addr, nat_udp_recv_cb cb) {
  nat_udp_config cfg;
  nat_udp *u = NULL;
  memset(&cfg, 0, sizeof cfg);
  assert_int_equal(nat_addr_parse(&cfg.bind, "127.0.0.1", 0), 0);
  assert_int_equal(nat_udp_new(&u, &f->loop, &cfg), 0);
  assert_int_equal(nat_udp_local_addr(u, addr), 0);
  nat_udp_set_recv_cb(u, cb, f);
  return u;
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
  f->guard.data = f;
  f->c = open_udp(f, &f->c_addr, client_recv);
  f->p = open_udp(f, &f->p_addr, peer_recv);
  *state = f;
  return 0;
}

static void ck_free(fx *f);

static int fx_teardown(void **state) {
  fx *f = *state;
  ck_free(f);
  nat_udp_close(f->c, NULL, NULL);
  nat_udp_close(f->p, NULL, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static void on_txn(nat_udp *u, void *arg, const nat_txn_result *r) {
  fx *f = arg;
  (void)u;
  f->decodes_in_cb = decodes;
  f->status = r->status;
  if (r->status == 0)
    memcpy(f->resp_tid, r->response->tid, NAT_STUN_TID_LEN);
  f->done++;
}

/* The peer's answer to the request it received: a Binding success, in the
 * request's own form (RFC 8489 or classic RFC 3489). */
static size_t answer(fx *f, uint8_t *out, size_t cap) {
  nat_stun_msg m;
  nat_stun_builder b;
  ssize_t n;
  assert_true(nat_stun_decode(&m, f->req, f->req_len) > 0);
  assert_int_equal(m.cls, NAT_STUN_REQUEST);
  if (m.classic) {
    assert_int_equal(nat_stun_builder_init_classic(&b, out, cap,
                                                   NAT_STUN_BINDING,
                                                   NAT_STUN_SUCCESS, m.buf + 4),
                     0);
    assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &f->c_addr),
                     0);
    n = nat_stun_builder_finish(&b, false);
  } else {
    assert_int_equal(nat_stun_builder_init(&b, out, cap, NAT_STUN_BINDING,
                                           NAT_STUN_SUCCESS, m.tid),
                     0);
    assert_int_equal(
        nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &f->c_addr), 0);
    n = nat_stun_builder_finish(&b, true);
  }
  assert_true(n > 0);
  return (size_t)n;
}

/* The client's request reaches the peer; the peer's answer is decoded
 * once on its way into the client's transaction. */
static void exchange(fx *f) {
  uint8_t out[128];
  size_t n;
  nat_udp_stats st;
  RUN_UNTIL(f, &f->p_in, 1);
  n = answer(f, out, sizeof out);
  decodes = 0;
  assert_int_equal(nat_udp_send(f->p, &f->c_addr, out, n), 0);
  RUN_UNTIL(f, &f->done, 1);
  assert_int_equal(f->status, 0);
  assert_memory_equal(f->resp_tid, out + 8, NAT_STUN_TID_LEN);
  assert_int_equal(f->decodes_in_cb, 1);
  assert_int_equal(decodes, 1);
  nat_udp_stats_get(f->c, &st);
  assert_int_equal(st.txn.responses, 1);
  assert_int_equal(f->c_in, 0);
}

/* An RFC 8489 Binding response. */
static void test_response_decoded_once(void **state) {
  fx *f = *state;
  assert_int_equal(nat_udp_binding(f->c, &f->p_addr, 0, NULL, on_txn, f, NULL),
                   0);
  exchange(f);
}

/* A classic RFC 3489 response (no magic cookie: nat_stun_is_stun() does
 * not pass it, the demultiplexer decodes it to find it is one). */
static void test_classic_response_decoded_once(void **state) {
  fx *f = *state;
  uint8_t req[64], tid16[16];
  nat_stun_builder b;
  ssize_t n;
  nat_rand_system(NULL, tid16, sizeof tid16);
  tid16[0] = 0x5a; /* anything but the magic cookie */
  assert_int_equal(nat_stun_builder_init_classic(&b, req, sizeof req,
                                                 NAT_STUN_BINDING,
                                                 NAT_STUN_REQUEST, tid16),
                   0);
  n = nat_stun_builder_finish(&b, false);
  assert_true(n > 0);
  assert_int_equal(
      nat_udp_request(f->c, &f->p_addr, req, (size_t)n, NULL, on_txn, f), 0);
  exchange(f);
}

/* What is not a response for the client: a request (decoded once, then
 * handed to the receive callback as bytes), non-STUN data (never decoded),
 * and a malformed response (decoded once, counted, dropped). */
static void test_other_traffic(void **state) {
  fx *f = *state;
  uint8_t buf[128], tid[NAT_STUN_TID_LEN];
  nat_stun_builder b;
  nat_udp_stats st;
  ssize_t n;
  nat_rand_system(NULL, tid, sizeof tid);
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_REQUEST, tid),
                   0);
  n = nat_stun_builder_finish(&b, true);
  assert_true(n > 0);
  decodes = 0;
  assert_int_equal(nat_udp_send(f->p, &f->c_addr, buf, (size_t)n), 0);
  RUN_UNTIL(f, &f->c_in, 1);
  assert_int_equal(decodes, 1);

  static const uint8_t quic_like[24] = {0x41, 0x21, 0x12, 0xa4, 0x42};
  decodes = 0;
  assert_int_equal(nat_udp_send(f->p, &f->c_addr, quic_like, sizeof quic_like),
                   0);
  RUN_UNTIL(f, &f->c_in, 2);
  assert_int_equal(decodes, 0);

  /* a success response whose FINGERPRINT is wrong, then non-STUN data:
   * loopback keeps the order, so when the second arrives the first has
   * been judged */
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_SUCCESS, tid),
                   0);
  n = nat_stun_builder_finish(&b, true);
  assert_true(n > 0);
  buf[n - 1] ^= 1;
  assert_true(nat_stun_is_stun(buf, (size_t)n));
  decodes = 0;
  assert_int_equal(nat_udp_send(f->p, &f->c_addr, buf, (size_t)n), 0);
  assert_int_equal(nat_udp_send(f->p, &f->c_addr, quic_like, sizeof quic_like),
                   0);
  RUN_UNTIL(f, &f->c_in, 3);
  assert_int_equal(decodes, 1);
  nat_udp_stats_get(f->c, &st);
  assert_int_equal(st.txn.malformed, 1);
  assert_int_equal(st.txn.not_response, 1);
  assert_int_equal(st.datagrams_in, 4);
}

/* ------------------------------------- the connectivity checks' path */

/* Two nat_checks on loopback: "a" on the client's socket behind a QUIC
 * endpoint (its STUN comes through on_stun, as in the agent), "b" on the
 * peer's socket, fed from the receive callback. Each side checks the
 * other, so each gets requests and responses. */
typedef struct ck {
  fx *f;
  nat_check *a, *b;
  nat_quic_endpoint *ep;
  uv_timer_t tick;
  bool tick_open;
  int a_requests, a_responses; /* what a got through on_stun */
  int datagrams;               /* STUN datagrams handed to a or b */
  int not_once; /* of those, how many were not decoded exactly once */
  int last;     /* decodes of the last one that was not */
} ck;

/* Send what the checks have; the decodes of the requests they hand to
 * their transactions (the send path) are not the receive path's. */
static void ck_flush_all(ck *k) {
  nat_check *chk[2] = {k->a, k->b};
  nat_udp *u[2] = {k->f->c, k->f->p};
  uint8_t out[600];
  nat_addr dst;
  ssize_t n;
  int i;
  for (i = 0; i < 2; i++)
    while ((n = nat_check_next_send(chk[i], nat_udp_now(), out, sizeof out,
                                    &dst)) > 0)
      assert_int_equal(nat_udp_send(u[i], &dst, out, (size_t)n), 0);
  ndlog = 0;
}

/* One datagram handed to a check: how often was it decoded (udp.c's
 * decode and any on its way to the check)? */
static void ck_count(ck *k, const nat_stun_msg *msg) {
  int times = 0;
  size_t i;
  for (i = 0; i < ndlog; i++)
    if (dlog[i].cls == msg->cls &&
        memcmp(dlog[i].tid, msg->tid, NAT_STUN_TID_LEN) == 0)
      times++;
  k->datagrams++;
  if (times != 1) {
    k->not_once++;
    k->last = times;
  }
  ndlog = 0;
}

/* A check takes the view. NAT_ENOTFOUND is a late answer to a check
 * that was retransmitted and already answered (a loaded machine delays a
 * first answer past the RTO): still decoded once, and counted so. */
static void ck_recv(nat_check *c, const nat_addr *from,
                    const nat_stun_msg *msg) {
  int rc = nat_check_recv_msg(c, nat_udp_now(), from, msg);
  if (rc != NAT_ENOTFOUND)
    assert_int_equal(rc, 0);
}

static void ck_a_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                      const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  ck *k = arg;
  (void)ep;
  (void)buf;
  (void)len;
  assert_non_null(msg);
  if (msg->cls == NAT_STUN_REQUEST)
    k->a_requests++;
  else
    k->a_responses++;
  ck_recv(k->a, from, msg);
  ck_count(k, msg);
  ck_flush_all(k);
}

static void ck_b_recv(nat_udp *u, void *arg, const nat_addr *from,
                      const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  fx *f = arg;
  ck *k = f->ck;
  (void)u;
  (void)buf;
  (void)len;
  assert_non_null(msg);
  ck_recv(k->b, from, msg);
  ck_count(k, msg);
  ck_flush_all(k);
}

static void ck_on_tick(uv_timer_t *t) {
  ck *k = t->data;
  nat_tstamp now = nat_udp_now();
  nat_check_handle_expiry(k->a, now);
  nat_check_handle_expiry(k->b, now);
  ck_flush_all(k);
}

static nat_check *ck_check(bool controlling, const char *lu, const char *lp,
                           const char *ru, const char *rp,
                           const nat_addr *local, const nat_addr *remote) {
  nat_check_config cfg;
  nat_check *chk = NULL;
  nat_cand c;
  memset(&cfg, 0, sizeof cfg);
  cfg.controlling = controlling;
  cfg.aggressive = true;
  cfg.tie_breaker = controlling ? 2 : 1;
  cfg.local_ufrag = lu;
  cfg.local_pwd = lp;
  cfg.remote_ufrag = ru;
  cfg.remote_pwd = rp;
  cfg.local_mapping = cfg.remote_mapping = -1;
  cfg.policy.allow_loopback = true;
  cfg.rand = nat_rand_system;
  assert_int_equal(nat_check_new(&chk, &cfg, NULL, NULL), 0);
  assert_int_equal(nat_cand_make(&c, NAT_CAND_HOST, local, local, NULL, 65535),
                   0);
  assert_int_equal(nat_check_add_local(chk, &c), 0);
  assert_int_equal(
      nat_cand_make(&c, NAT_CAND_HOST, remote, remote, NULL, 65535), 0);
  assert_int_equal(nat_check_add_remote(chk, nat_udp_now(), &c), 0);
  return chk;
}

static void ck_on_tick_closed(uv_handle_t *h) {
  free(h->data);
}

/* Also run by fx_teardown when the test failed half-way. */
static void ck_free(fx *f) {
  ck *k = f->ck;
  if (k == NULL)
    return;
  if (k->tick_open)
    uv_close((uv_handle_t *)&k->tick, ck_on_tick_closed);
  if (k->ep != NULL)
    nat_quic_endpoint_close(k->ep, NULL, NULL);
  nat_udp_set_recv_cb(f->p, NULL, NULL);
  nat_check_free(k->a);
  nat_check_free(k->b);
  if (!k->tick_open)
    free(k);
  f->ck = NULL;
}

static bool ck_done(const ck *k) {
  return k->a_requests >= 1 && k->a_responses >= 1 &&
         nat_check_status_get(k->a) == NAT_CHECK_SELECTED &&
         nat_check_status_get(k->b) == NAT_CHECK_SELECTED;
}

/* Connectivity-check requests and check responses reach the check through
 * the nat_udp and the QUIC endpoint decoded once (udp.c's decode:
 * nat_check_recv_msg takes the view); the peer's through the nat_udp. */
static void test_check_path_decoded_once(void **state) {
  fx *f = *state;
  ck *k = calloc(1, sizeof *k);
  nat_quic_identity *id = NULL;
  nat_quic_config qc;
  nat_udp_stats cs, ps;
  assert_non_null(k);
  k->f = f;
  f->ck = k;
  assert_int_equal(uv_timer_init(&f->loop, &k->tick), 0);
  k->tick_open = true;
  k->tick.data = k;
  nat_udp_set_recv_cb(f->p, ck_b_recv, f);
  assert_int_equal(nat_quic_identity_new(&id, "once"), 0);
  memset(&qc, 0, sizeof qc);
  qc.udp = f->c;
  qc.identity = id;
  qc.cb.on_stun = ck_a_stun;
  qc.arg = k;
  assert_int_equal(nat_quic_endpoint_new(&k->ep, &f->loop, &qc), 0);
  nat_quic_identity_free(id);
  k->a = ck_check(false, "ufa", "password-of-a-0123456789", "ufb",
                  "password-of-b-0123456789", &f->c_addr, &f->p_addr);
  k->b = ck_check(true, "ufb", "password-of-b-0123456789", "ufa",
                  "password-of-a-0123456789", &f->p_addr, &f->c_addr);
  assert_int_equal(uv_timer_start(&k->tick, ck_on_tick, 1, 1), 0);
  assert_int_equal(nat_check_start(k->a, nat_udp_now()), 0);
  assert_int_equal(nat_check_start(k->b, nat_udp_now()), 0);
  ck_flush_all(k);
  f->expired = false;
  uv_timer_start(&f->guard, on_guard, 10000, 0);
  while (!f->expired && !ck_done(k))
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->expired)
    fail_msg("timed out: a got %d requests, %d responses; status a %d b %d",
             k->a_requests, k->a_responses, nat_check_status_get(k->a),
             nat_check_status_get(k->b));
  if (k->not_once != 0)
    fail_msg("%d of %d datagrams not decoded once (one %d times)", k->not_once,
             k->datagrams, k->last);
  nat_udp_stats_get(f->c, &cs);
  nat_udp_stats_get(f->p, &ps);
  assert_int_equal(cs.datagrams_in + ps.datagrams_in, (uint64_t)k->datagrams);
  assert_true(cs.txn.unmatched >= 1); /* the check responses: not the udp's */
  ck_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_response_decoded_once, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_classic_response_decoded_once,
                                      fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_other_traffic, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_check_path_decoded_once, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
