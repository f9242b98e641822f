/* Unit tests for the sans-I/O STUN client transaction layer (nat/txn.h):
 * fake clock, deterministic randomness, no sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/txn.h"

#define MS       NAT_MILLISECONDS
#define MAX_RECS 4096

/* ------------------------------------------------------------ fixtures */

typedef struct rec {
  void *user;
  int status;
  bool had_resp;
  uint8_t cls;
  nat_addr from;
  nat_addr dst;
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_tstamp rtt;
  nat_tstamp rtt_last;
  unsigned tx;
  nat_tstamp at;
} rec;

typedef struct tctx tctx;
typedef void (*hook_fn)(tctx *c, const nat_txn_result *r);

struct tctx {
  nat_txn_mgr *m;
  nat_tstamp now;
  rec recs[MAX_RECS];
  size_t n;
  hook_fn hook;
  /* for the re-entrancy hooks */
  uint8_t other_tid[NAT_STUN_TID_LEN];
  uint8_t new_tid[NAT_STUN_TID_LEN];
  int hook_rc[4];
  uint8_t out[1500]; /* last datagram from send_one() */
  nat_addr out_dst;
};

static uint64_t rng_state;

static void test_rand(void *ctx, uint8_t *buf, size_t len) {
  uint64_t *s = ctx != NULL ? ctx : &rng_state;
  size_t i;

  for (i = 0; i < len; i++) {
    /* xorshift64 */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    buf[i] = (uint8_t)(*s >> 24);
  }
}

static uint32_t rand_below(uint32_t n) {
  uint8_t b[4];
  test_rand(NULL, b, sizeof(b));
  return (((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
          ((uint32_t)b[2] << 8) | b[3]) %
         n;
}

static void record_cb(void *arg, const nat_txn_result *r) {
  tctx *c = arg;
  rec *x;

  assert_true(c->n < MAX_RECS);
  x = &c->recs[c->n++];
  memset(x, 0, sizeof(*x));
  x->user = r->user;
  x->status = r->status;
  x->had_resp = r->response != NULL;
  if (r->response != NULL) {
    x->cls = r->response->cls;
    assert_memory_equal(r->response->tid, r->tid, NAT_STUN_TID_LEN);
  }
  x->from = r->from;
  x->dst = r->dst;
  memcpy(x->tid, r->tid, NAT_STUN_TID_LEN);
  x->rtt = r->rtt;
  x->rtt_last = r->rtt_last;
  x->tx = r->transmissions;
  x->at = c->now;
  if (c->hook != NULL) {
    c->hook(c, r);
  }
}

static nat_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  nat_addr x = {.family = NAT_AF_INET, .port = port, .ip = {a, b, c, d}};
  return x;
}

static nat_addr v6(uint8_t last, uint16_t port) {
  nat_addr x = {.family = NAT_AF_INET6,
                .port = port,
                .ip = {0x20, 0x01, 0x0d, 0xb8, [15] = last}};
  return x;
}

static nat_txn_stats stats_of(const nat_txn_mgr *m) {
  nat_txn_stats st;
  nat_txn_mgr_stats(m, &st);
  return st;
}

static void mk_tid(uint8_t tid[NAT_STUN_TID_LEN], uint8_t seed) {
  size_t i;
  for (i = 0; i < NAT_STUN_TID_LEN; i++) {
    tid[i] = (uint8_t)(seed + i * 7u);
  }
}

/* A Binding message of class @p cls; responses carry XOR-MAPPED-ADDRESS. */
static size_t build(uint8_t *buf, size_t cap, uint8_t cls,
                    const uint8_t tid[NAT_STUN_TID_LEN]) {
  nat_stun_builder b;
  nat_addr mapped = v4(203, 0, 113, 7, 40000);
  ssize_t n;

  assert_int_equal(
      nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, cls, tid), 0);
  if (cls == NAT_STUN_SUCCESS) {
    assert_int_equal(
        nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &mapped), 0);
  } else if (cls == NAT_STUN_ERROR) {
    assert_int_equal(nat_stun_add_error(&b, 400, "Bad Request"), 0);
  }
  n = nat_stun_builder_finish(&b, false);
  assert_true(n >= NAT_STUN_HEADER_LEN);
  return (size_t)n;
}

static tctx *ctx_new(const nat_txn_config *cfg) {
  tctx *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  assert_int_equal(nat_txn_mgr_new(&c->m, cfg, record_cb, c), 0);
  return c;
}

static void ctx_free(tctx *c) {
  nat_txn_mgr_free(c->m);
  free(c);
}

static int setup(void **state) {
  *state = ctx_new(NULL);
  return 0;
}

static int teardown(void **state) {
  ctx_free(*state);
  return 0;
}

static const nat_addr *server(void) {
  static nat_addr s;
  s = v4(192, 0, 2, 1, 3478);
  return &s;
}

/* Start a Binding request with ID from @p seed to server() at @p now. */
static void start_req(tctx *c, nat_tstamp now, uint8_t seed,
                      const nat_txn_opts *opts, void *user) {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t buf[64];
  size_t len;

  mk_tid(tid, seed);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tid);
  assert_int_equal(nat_txn_start(c->m, now, server(), buf, len, opts, user), 0);
}

/* Feed a response of @p cls for ID @p seed from @p from (NULL: server())
 * at @p now. */
static int respond(tctx *c, nat_tstamp now, uint8_t seed, uint8_t cls,
                   const nat_addr *from) {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t buf[128];
  size_t len;

  mk_tid(tid, seed);
  len = build(buf, sizeof(buf), cls, tid);
  c->now = now;
  return nat_txn_mgr_recv(c->m, now, from != NULL ? from : server(), buf, len);
}

/* One nat_txn_mgr_next_send() into c->out / c->out_dst. */
static ssize_t send_one(tctx *c, nat_tstamp now) {
  return nat_txn_mgr_next_send(c->m, now, c->out, sizeof(c->out), &c->out_dst);
}

/* Hand out everything due at @p now; return how many datagrams. */
static size_t pump(tctx *c, nat_tstamp now) {
  ssize_t n;
  size_t k = 0;

  c->now = now;
  nat_txn_mgr_handle_expiry(c->m, now);
  while ((n = send_one(c, now)) > 0) {
    k++;
  }
  assert_int_equal(n, 0);
  return k;
}

/* Drive one transaction (already started at 0) by get_expiry until idle,
 * checking that sends happen exactly at @p sends and the timeout callback
 * exactly at @p timeout, and nothing fires one nanosecond early. */
static void expect_schedule(tctx *c, const nat_tstamp *sends, size_t nsends,
                            nat_tstamp timeout) {
  size_t k = 0;
  size_t n0 = c->n;

  for (;;) {
    nat_tstamp e = nat_txn_mgr_get_expiry(c->m);
    ssize_t n;
    if (e == NAT_TSTAMP_MAX) {
      break;
    }
    if (e > 0) {
      c->now = e - 1;
      assert_int_equal(send_one(c, e - 1), 0);
      nat_txn_mgr_handle_expiry(c->m, e - 1);
      assert_int_equal(c->n, n0);
    }
    c->now = e;
    nat_txn_mgr_handle_expiry(c->m, e);
    while ((n = send_one(c, e)) > 0) {
      assert_true(k < nsends);
      assert_int_equal(e, sends[k]);
      assert_true(c->out_dst.family == NAT_AF_INET && c->out_dst.port == 3478);
      k++;
    }
    assert_int_equal(n, 0);
  }
  assert_int_equal(k, nsends);
  assert_int_equal(c->n, n0 + 1);
  assert_int_equal(c->recs[n0].status, NAT_ETIMEDOUT);
  assert_int_equal(c->recs[n0].at, timeout);
  assert_int_equal(c->recs[n0].tx, nsends);
  assert_false(c->recs[n0].had_resp);
  assert_int_equal(c->recs[n0].rtt, timeout);
  assert_int_equal(nat_txn_mgr_count(c->m), 0);
}

/* ------------------------------------------------------------ schedule */

static void test_rfc_default_schedule(void **state) {
  /* RFC 8489 6.2.1's example: RTO 500 ms, Rc 7, Rm 16: the defaults */
  nat_txn_config *cfg = NULL;
  const nat_tstamp sends[] = {0,         500 * MS,   1500 * MS, 3500 * MS,
                              7500 * MS, 15500 * MS, 31500 * MS};
  tctx *c = ctx_new(cfg);
  (void)state;

  start_req(c, 0, 1, NULL, (void *)c);
  expect_schedule(c, sends, 7, 39500 * MS);
  assert_ptr_equal(c->recs[0].user, c);
  assert_int_equal(stats_of(c->m).sent, 7);
  assert_int_equal(stats_of(c->m).retransmits, 6);
  assert_int_equal(stats_of(c->m).timeouts, 1);
  assert_int_equal(stats_of(c->m).responses, 0);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), NAT_TSTAMP_MAX);
  ctx_free(c);
}

static void test_rto_max_caps_interval(void **state) {
  /* rto_max 3 s caps the doubling */
  nat_txn_config cap3 = {.rto_max = 3 * NAT_SECONDS};
  const nat_tstamp s1[] = {0,         500 * MS,  1500 * MS, 3500 * MS,
                           6500 * MS, 9500 * MS, 12500 * MS};
  nat_txn_config cfg = {.rto_max = 1000 * MS, .rc = 5};
  const nat_tstamp s2[] = {0, 500 * MS, 1500 * MS, 2500 * MS, 3500 * MS};
  nat_txn_opts big = {.rto = 2000 * MS, .rc = 3};
  const nat_tstamp s3[] = {0, 1000 * MS, 2000 * MS};
  tctx *c = ctx_new(&cap3);
  (void)state;

  start_req(c, 0, 1, NULL, NULL);
  expect_schedule(c, s1, 7, 12500 * MS + 16 * 500 * MS);
  ctx_free(c);

  /* the final wait (Rm*RTO) is not a retransmission interval: not capped */
  c = ctx_new(&cfg);
  start_req(c, 0, 1, NULL, NULL);
  expect_schedule(c, s2, 5, 3500 * MS + 8000 * MS);
  /* a per-transaction RTO above rto_max: even the first interval is capped */
  start_req(c, 0, 2, &big, NULL);
  expect_schedule(c, s3, 3, 2000 * MS + 16 * 2000 * MS);
  ctx_free(c);
}

static void test_custom_rc_rm(void **state) {
  nat_txn_config cfg = {.rto = 100 * MS, .rc = 3, .rm = 4};
  const nat_tstamp s1[] = {0, 100 * MS, 300 * MS};
  nat_txn_opts opts = {.rto = 200 * MS, .rc = 2};
  const nat_tstamp s2[] = {0, 200 * MS};
  nat_txn_opts one = {.rc = 1};
  const nat_tstamp s3[] = {0};
  tctx *c = ctx_new(&cfg);
  (void)state;

  start_req(c, 0, 1, NULL, NULL);
  expect_schedule(c, s1, 3, 300 * MS + 4 * 100 * MS);
  /* per-transaction overrides of RTO and Rc */
  start_req(c, 0, 2, &opts, NULL);
  expect_schedule(c, s2, 2, 200 * MS + 4 * 200 * MS);
  start_req(c, 0, 3, &one, NULL);
  expect_schedule(c, s3, 1, 4 * 100 * MS);
  ctx_free(c);
}

/* ------------------------------------------------------------ responses */

static void test_response_after_third_no_rtt_sample(void **state) {
  nat_tstamp rto0;
  tctx *c = *state;

  rto0 = nat_txn_mgr_rto(c->m);
  assert_int_equal(rto0, 500 * MS);
  start_req(c, 0, 9, NULL, (void *)&rto0);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(pump(c, 500 * MS), 1);
  assert_int_equal(pump(c, 1500 * MS), 1);
  assert_int_equal(respond(c, 1520 * MS, 9, NAT_STUN_SUCCESS, NULL), 0);

  assert_int_equal(c->n, 1);
  assert_int_equal(c->recs[0].status, 0);
  assert_true(c->recs[0].had_resp);
  assert_int_equal(c->recs[0].cls, NAT_STUN_SUCCESS);
  assert_int_equal(c->recs[0].tx, 3);
  assert_int_equal(c->recs[0].rtt, 1520 * MS);
  assert_int_equal(c->recs[0].rtt_last, 20 * MS);
  assert_ptr_equal(c->recs[0].user, &rto0);
  assert_true(c->recs[0].from.family == NAT_AF_INET &&
              c->recs[0].from.port == 3478);
  /* Karn: an ambiguous sample is not taken */
  assert_int_equal(nat_txn_mgr_rto(c->m), rto0);
  assert_int_equal(nat_txn_mgr_count(c->m), 0);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), NAT_TSTAMP_MAX);
  assert_int_equal(stats_of(c->m).responses, 1);
  assert_int_equal(stats_of(c->m).sent, 3);
  assert_int_equal(stats_of(c->m).retransmits, 2);
}

/* Start, send once at @p t, answer 20 ms later; return the RTO after. */
static nat_tstamp one_rtt_round(tctx *c, nat_tstamp t, uint8_t seed) {
  size_t n0 = c->n;

  start_req(c, t, seed, NULL, NULL);
  assert_int_equal(pump(c, t), 1);
  assert_int_equal(respond(c, t + 20 * MS, seed, NAT_STUN_SUCCESS, NULL), 0);
  assert_int_equal(c->n, n0 + 1);
  assert_int_equal(c->recs[n0].rtt, 20 * MS);
  assert_int_equal(c->recs[n0].tx, 1);
  return nat_txn_mgr_rto(c->m);
}

static void test_rtt_adaptation(void **state) {
  nat_txn_config lowmin = {.rto_min = 1 * MS};
  tctx *c = ctx_new(NULL);
  (void)state;

  /* RFC 6298: SRTT 20, RTTVAR 10 -> 60; RTTVAR 7.5 -> 50; 5.625 -> 42.5 */
  assert_int_equal(one_rtt_round(c, 0, 1), 60 * MS);
  assert_int_equal(one_rtt_round(c, 100 * MS, 2), 50 * MS);
  assert_int_equal(one_rtt_round(c, 200 * MS, 3), 50 * MS); /* rto_min */
  assert_int_equal(one_rtt_round(c, 300 * MS, 4), 50 * MS);

  /* the next transaction uses the adapted RTO */
  start_req(c, 1000 * MS, 5, NULL, NULL);
  assert_int_equal(pump(c, 1000 * MS), 1);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 1050 * MS);
  assert_int_equal(send_one(c, 1050 * MS - 1), 0);
  assert_int_equal(pump(c, 1050 * MS), 1);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 1150 * MS);
  ctx_free(c);

  c = ctx_new(&lowmin);
  assert_int_equal(one_rtt_round(c, 0, 1), 60 * MS);
  assert_int_equal(one_rtt_round(c, 100 * MS, 2), 50 * MS);
  assert_int_equal(one_rtt_round(c, 200 * MS, 3), 42500 * NAT_MICROSECONDS);
  ctx_free(c);
}

static void test_seed_rtt(void **state) {
  nat_txn_opts fixed = {.rto = 700 * MS};
  tctx *c = ctx_new(NULL);
  (void)state;

  nat_txn_mgr_seed_rtt(c->m, 100 * MS);
  assert_int_equal(nat_txn_mgr_rto(c->m), 300 * MS); /* 100 + 4*50 */
  nat_txn_mgr_seed_rtt(c->m, 100 * MS);
  assert_int_equal(nat_txn_mgr_rto(c->m), 250 * MS); /* 100 + 4*37.5 */

  start_req(c, 0, 1, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 250 * MS);
  nat_txn_cancel_all(c->m);

  /* opts.rto overrides the adapted value */
  start_req(c, 0, 2, &fixed, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 700 * MS);
  nat_txn_cancel_all(c->m);
  ctx_free(c);

  /* a huge sample is clamped to rto_max */
  c = ctx_new(NULL);
  nat_txn_mgr_seed_rtt(c->m, 1000 * NAT_SECONDS);
  assert_int_equal(nat_txn_mgr_rto(c->m), 60 * NAT_SECONDS);
  ctx_free(c);
}

/* -------------------------------------------------------------- sources */

static void test_spoofed_source(void **state) {
  nat_addr s = *server();
  nat_addr wrong_port = v4(192, 0, 2, 1, 3479);
  nat_addr wrong_ip = v4(192, 0, 2, 66, 3478);
  nat_addr wrong_fam = v6(1, 3478);
  tctx *c = *state;

  start_req(c, 0, 7, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(respond(c, 10 * MS, 7, NAT_STUN_SUCCESS, &wrong_port),
                   NAT_EBADADDR);
  assert_int_equal(respond(c, 11 * MS, 7, NAT_STUN_SUCCESS, &wrong_ip),
                   NAT_EBADADDR);
  assert_int_equal(respond(c, 12 * MS, 7, NAT_STUN_SUCCESS, &wrong_fam),
                   NAT_EBADADDR);
  assert_int_equal(c->n, 0);
  assert_int_equal(nat_txn_mgr_count(c->m), 1);
  assert_int_equal(stats_of(c->m).spoofed, 3);
  assert_int_equal(stats_of(c->m).responses, 0);

  /* still alive: retransmits, then completes from the right source */
  assert_int_equal(pump(c, 500 * MS), 1);
  assert_int_equal(respond(c, 520 * MS, 7, NAT_STUN_SUCCESS, NULL), 0);
  assert_int_equal(c->n, 1);
  assert_int_equal(c->recs[0].status, 0);
  assert_int_equal(c->recs[0].tx, 2);
  assert_int_equal(c->recs[0].from.port, 3478);
  assert_memory_equal(c->recs[0].from.ip, s.ip, 4);
  assert_int_equal(stats_of(c->m).spoofed, 3);
  assert_int_equal(stats_of(c->m).responses, 1);
}

static void test_expect_from(void **state) {
  nat_addr s = *server();
  nat_addr other = v4(198, 51, 100, 2, 3479);
  nat_txn_opts opts = {.expect_from = &other};
  nat_addr anywhere = v6(9, 9999);
  nat_txn_opts any = {.any_source = true};
  tctx *c = *state;

  start_req(c, 0, 3, &opts, NULL);
  assert_int_equal(pump(c, 0), 1);
  /* the request went to the server ... */
  assert_int_equal(respond(c, 5 * MS, 3, NAT_STUN_SUCCESS, NULL), NAT_EBADADDR);
  assert_int_equal(c->n, 0);
  /* ... but the answer must come from the other address */
  assert_int_equal(respond(c, 6 * MS, 3, NAT_STUN_SUCCESS, &other), 0);
  assert_int_equal(c->n, 1);
  assert_int_equal(c->recs[0].from.port, 3479);
  assert_memory_equal(c->recs[0].from.ip, other.ip, 4);
  assert_int_equal(c->recs[0].dst.port, 3478);
  assert_memory_equal(c->recs[0].dst.ip, s.ip, 4);
  assert_int_equal(stats_of(c->m).spoofed, 1);

  /* any_source: accepted from anywhere, reported in from */
  start_req(c, 0, 5, &any, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(respond(c, 5 * MS, 5, NAT_STUN_SUCCESS, &anywhere), 0);
  assert_int_equal(c->n, 2);
  assert_int_equal(c->recs[1].from.family, NAT_AF_INET6);
  assert_int_equal(c->recs[1].from.port, 9999);
  assert_memory_equal(c->recs[1].from.ip, anywhere.ip, 16);
}

/* ------------------------------------------------- refused datagrams */

static void test_duplicate_after_end(void **state) {
  nat_txn_config cfg = {.rc = 1, .rm = 1};
  tctx *c = ctx_new(&cfg);
  (void)state;

  /* completed by an error response: status 0, the response is data */
  start_req(c, 0, 1, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(respond(c, 5 * MS, 1, NAT_STUN_ERROR, NULL), 0);
  assert_int_equal(c->recs[0].status, 0);
  assert_true(c->recs[0].had_resp);
  assert_int_equal(c->recs[0].cls, NAT_STUN_ERROR);
  assert_int_equal(respond(c, 6 * MS, 1, NAT_STUN_SUCCESS, NULL),
                   NAT_ENOTFOUND);
  /* timed out, then the late answer */
  start_req(c, 0, 2, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(pump(c, 500 * MS), 0);
  assert_int_equal(c->n, 2);
  assert_int_equal(c->recs[1].status, NAT_ETIMEDOUT);
  assert_int_equal(respond(c, 600 * MS, 2, NAT_STUN_SUCCESS, NULL),
                   NAT_ENOTFOUND);
  /* canceled, then the answer */
  start_req(c, 0, 3, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  {
    uint8_t tid[NAT_STUN_TID_LEN];
    mk_tid(tid, 3);
    assert_int_equal(nat_txn_cancel(c->m, tid), 0);
  }
  assert_int_equal(respond(c, 700 * MS, 3, NAT_STUN_ERROR, NULL),
                   NAT_ENOTFOUND);
  /* the first one is still remembered after two more ended */
  assert_int_equal(respond(c, 800 * MS, 1, NAT_STUN_SUCCESS, NULL),
                   NAT_ENOTFOUND);

  assert_int_equal(c->n, 3); /* one callback each, never twice */
  assert_int_equal(stats_of(c->m).duplicates, 4);
  assert_int_equal(stats_of(c->m).unmatched, 0);
  assert_int_equal(stats_of(c->m).responses, 1);
  ctx_free(c);
}

static void test_unmatched(void **state) {
  tctx *c = *state;

  start_req(c, 0, 1, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  assert_int_equal(respond(c, 5 * MS, 99, NAT_STUN_SUCCESS, NULL),
                   NAT_ENOTFOUND);
  assert_int_equal(stats_of(c->m).unmatched, 1);
  assert_int_equal(stats_of(c->m).duplicates, 0);
  assert_int_equal(nat_txn_mgr_count(c->m), 1);
  assert_int_equal(c->n, 0);
  /* never sent yet: a response with that ID cannot be genuine */
  start_req(c, 0, 2, NULL, NULL);
  assert_int_equal(respond(c, 6 * MS, 2, NAT_STUN_SUCCESS, NULL),
                   NAT_ENOTFOUND);
  assert_int_equal(stats_of(c->m).unmatched, 2);
  assert_int_equal(pump(c, 6 * MS), 1);
  assert_int_equal(respond(c, 7 * MS, 2, NAT_STUN_SUCCESS, NULL), 0);
  assert_int_equal(c->n, 1);
}

static void test_malformed(void **state) {
  static const uint8_t junk[20] = {0xff, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4,
                                   0x42, 1,    2,    3,    4,    5,    6,
                                   7,    8,    9,    10,   11,   12};
  uint8_t buf[128];
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_stun_msg msg;
  nat_addr s = *server();
  ssize_t want;
  size_t len;
  tctx *c = *state;

  start_req(c, 0, 1, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);

  want = nat_stun_decode(&msg, junk, sizeof(junk));
  assert_true(want < 0);
  assert_int_equal(nat_txn_mgr_recv(c->m, 1, &s, junk, sizeof(junk)),
                   (int)want);
  /* a truncated copy of the genuine response */
  mk_tid(tid, 1);
  len = build(buf, sizeof(buf), NAT_STUN_SUCCESS, tid);
  want = nat_stun_decode(&msg, buf, len - 4);
  assert_true(want < 0);
  assert_int_equal(nat_txn_mgr_recv(c->m, 2, &s, buf, len - 4), (int)want);
  assert_int_equal(nat_txn_mgr_recv(c->m, 2, &s, buf, 7), NAT_ETRUNC);

  assert_int_equal(stats_of(c->m).malformed, 3);
  assert_int_equal(c->n, 0);
  assert_int_equal(nat_txn_mgr_count(c->m), 1);
  /* the whole one still completes it */
  assert_int_equal(nat_txn_mgr_recv(c->m, 3, &s, buf, len), 0);
  assert_int_equal(c->n, 1);
}

/* nat_txn_mgr_recv_msg() takes the caller's decoded view and does not
 * decode again: a response whose bytes were spoiled after it was decoded
 * (top bits set: no longer STUN) still completes the transaction from its
 * view. A negative decode result is counted as malformed without reading
 * the view. */
static void test_recv_decoded_view(void **state) {
  uint8_t buf[128];
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_stun_msg msg;
  nat_addr s = *server();
  ssize_t n;
  size_t len;
  tctx *c = *state;

  start_req(c, 0, 1, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  memset(&msg, 0xa5, sizeof(msg)); /* never read */
  assert_int_equal(nat_txn_mgr_recv_msg(c->m, 1, &s, &msg, NAT_ETRUNC),
                   NAT_ETRUNC);
  assert_int_equal(stats_of(c->m).malformed, 1);
  assert_int_equal(nat_txn_mgr_recv_msg(NULL, 1, &s, &msg, 0), NAT_EINVAL);
  assert_int_equal(nat_txn_mgr_recv_msg(c->m, 1, NULL, &msg, 0), NAT_EINVAL);
  assert_int_equal(nat_txn_mgr_recv_msg(c->m, 1, &s, NULL, 0), NAT_EINVAL);

  mk_tid(tid, 1);
  len = build(buf, sizeof(buf), NAT_STUN_SUCCESS, tid);
  n = nat_stun_decode(&msg, buf, len);
  assert_int_equal(n, (ssize_t)len);
  buf[0] |= 0xc0;
  assert_true(nat_stun_decode(&(nat_stun_msg){0}, buf, len) < 0);
  c->now = 2;
  assert_int_equal(nat_txn_mgr_recv_msg(c->m, 2, &s, &msg, n), 0);
  assert_int_equal(c->n, 1);
  assert_int_equal(c->recs[0].status, 0);
  assert_int_equal(c->recs[0].cls, NAT_STUN_SUCCESS);
  assert_int_equal(stats_of(c->m).responses, 1);
  assert_int_equal(stats_of(c->m).malformed, 1);
  assert_int_equal(nat_txn_mgr_count(c->m), 0);
}

static void test_request_is_not_response(void **state) {
  tctx *c = *state;

  start_req(c, 0, 1, NULL, NULL);
  assert_int_equal(pump(c, 0), 1);
  /* our own request reflected back, and an indication with the same ID */
  assert_int_equal(respond(c, 1, 1, NAT_STUN_REQUEST, NULL), NAT_EINVAL);
  assert_int_equal(respond(c, 2, 1, NAT_STUN_INDICATION, NULL), NAT_EINVAL);
  assert_int_equal(stats_of(c->m).not_response, 2);
  assert_int_equal(stats_of(c->m).unmatched, 0);
  assert_int_equal(nat_txn_mgr_count(c->m), 1);
  assert_int_equal(c->n, 0);
}

/* A classic RFC 3489 Binding message with a 128-bit ID. */
static size_t build_classic(uint8_t *buf, size_t cap, uint8_t cls,
                            const uint8_t tid16[16]) {
  nat_stun_builder b;
  ssize_t n;

  assert_int_equal(
      nat_stun_builder_init_classic(&b, buf, cap, NAT_STUN_BINDING, cls, tid16),
      0);
  if (cls == NAT_STUN_SUCCESS) {
    assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, server()),
                     0);
  }
  n = nat_stun_builder_finish(&b, false);
  assert_true(n >= NAT_STUN_HEADER_LEN);
  return (size_t)n;
}

static void test_classic_rfc3489(void **state) {
  uint8_t tid16[16];
  uint8_t buf[64];
  nat_addr s = *server();
  size_t len;
  size_t i;
  tctx *c = *state;

  for (i = 0; i < sizeof(tid16); i++) {
    tid16[i] = (uint8_t)(0x30 + i);
  }
  len = build_classic(buf, sizeof(buf), NAT_STUN_REQUEST, tid16);
  assert_int_equal(nat_txn_start(c->m, 0, &s, buf, len, NULL, NULL), 0);
  assert_int_equal(pump(c, 0), 1);

  /* same last 96 bits, different first 32: a different classic ID */
  tid16[0] ^= 0xff;
  len = build_classic(buf, sizeof(buf), NAT_STUN_SUCCESS, tid16);
  assert_int_equal(nat_txn_mgr_recv(c->m, 1, &s, buf, len), NAT_ENOTFOUND);
  assert_int_equal(stats_of(c->m).unmatched, 1);

  tid16[0] ^= 0xff;
  len = build_classic(buf, sizeof(buf), NAT_STUN_SUCCESS, tid16);
  assert_int_equal(nat_txn_mgr_recv(c->m, 2, &s, buf, len), 0);
  assert_int_equal(c->n, 1);
  assert_int_equal(c->recs[0].status, 0);
  assert_memory_equal(c->recs[0].tid, tid16 + 4, NAT_STUN_TID_LEN);
}

/* ------------------------------------------------------------- start */

#define START(d, b, l) nat_txn_start(c->m, 0, d, b, l, NULL, NULL)

static void test_start_errors(void **state) {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t buf[128];
  uint8_t junk[20] = {0xff};
  nat_addr none;
  nat_addr s = *server();
  nat_txn_config cfg = {.max_txns = 4};
  size_t len;
  int i;
  tctx *c = ctx_new(&cfg);
  (void)state;

  memset(&none, 0, sizeof(none));
  mk_tid(tid, 1);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tid);
  assert_int_equal(START(NULL, buf, len), NAT_EINVAL);
  assert_int_equal(START(&none, buf, len), NAT_EINVAL);
  assert_int_equal(START(&s, NULL, len), NAT_EINVAL);
  assert_int_equal(START(&s, junk, sizeof(junk)), NAT_EINVAL);
  assert_int_equal(START(&s, buf, len - 4), NAT_EINVAL);
  assert_int_equal(START(&s, buf, NAT_STUN_MAX_MSG + 1), NAT_EINVAL);
  len = build(buf, sizeof(buf), NAT_STUN_SUCCESS, tid);
  assert_int_equal(START(&s, buf, len), NAT_EINVAL);
  assert_int_equal(nat_txn_mgr_count(c->m), 0);

  /* reused ID */
  start_req(c, 0, 1, NULL, NULL);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tid);
  assert_int_equal(START(&s, buf, len), NAT_EEXIST);
  /* max_txns */
  for (i = 2; i <= 4; i++) {
    start_req(c, 0, (uint8_t)i, NULL, NULL);
  }
  mk_tid(tid, 5);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tid);
  assert_int_equal(START(&s, buf, len), NAT_EBUSY);
  assert_int_equal(nat_txn_mgr_count(c->m), 4);
  assert_int_equal(c->n, 0); /* failed starts never call back */
  /* a slot frees up */
  mk_tid(tid, 2);
  assert_int_equal(nat_txn_cancel(c->m, tid), 0);
  start_req(c, 0, 5, NULL, NULL);
  assert_int_equal(nat_txn_mgr_count(c->m), 4);
  ctx_free(c);
}
#undef START

static void test_mgr_new_errors(void **state) {
  nat_txn_mgr *m = (nat_txn_mgr *)(uintptr_t)1;
  nat_txn_config bad = {.rto_min = 61 * NAT_SECONDS}; /* > default max */
  (void)state;

  assert_int_equal(nat_txn_mgr_new(NULL, NULL, record_cb, NULL), NAT_EINVAL);
  assert_int_equal(nat_txn_mgr_new(&m, NULL, NULL, NULL), NAT_EINVAL);
  assert_null(m);
  m = (nat_txn_mgr *)(uintptr_t)1;
  assert_int_equal(nat_txn_mgr_new(&m, &bad, record_cb, NULL), NAT_EINVAL);
  assert_null(m);
  nat_txn_mgr_free(NULL);
}

static void test_idle_and_enobufs(void **state) {
  uint8_t buf[1500];
  uint8_t want[64];
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_addr dst;
  size_t len;
  tctx *c = *state;

  assert_int_equal(nat_txn_mgr_get_expiry(c->m), NAT_TSTAMP_MAX);
  assert_int_equal(send_one(c, 1000 * NAT_SECONDS), 0);
  nat_txn_mgr_handle_expiry(c->m, 1000 * NAT_SECONDS);
  assert_int_equal(c->n, 0);

  mk_tid(tid, 1);
  len = build(want, sizeof(want), NAT_STUN_REQUEST, tid);
  start_req(c, 100, 1, NULL, NULL);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 100);
  assert_int_equal(send_one(c, 99), 0);
  assert_int_equal(nat_txn_mgr_next_send(c->m, 100, buf, 8, &dst), NAT_ENOBUFS);
  assert_int_equal(nat_txn_mgr_next_send(c->m, 100, buf, len - 1, &dst),
                   NAT_ENOBUFS);
  assert_int_equal(stats_of(c->m).sent, 0);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 100);
  /* nothing consumed: the same datagram comes out whole; handed out late,
   * its retransmission counts from the actual send (10 ms), not from 100 */
  memset(&dst, 0, sizeof(dst));
  assert_int_equal(nat_txn_mgr_next_send(c->m, 10 * MS, buf, len, &dst),
                   (ssize_t)len);
  assert_memory_equal(buf, want, len);
  assert_int_equal(dst.family, NAT_AF_INET);
  assert_int_equal(dst.port, 3478);
  assert_memory_equal(dst.ip, server()->ip, 4);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 510 * MS);
}

static void test_new_tid(void **state) {
  uint64_t s1 = 0x1234567u;
  uint64_t s2 = 0x1234567u;
  uint8_t a[NAT_STUN_TID_LEN];
  uint8_t b[NAT_STUN_TID_LEN];
  uint8_t d[NAT_STUN_TID_LEN];
  (void)state;

  nat_txn_new_tid(test_rand, &s1, a);
  test_rand(&s2, b, sizeof(b));
  assert_memory_equal(a, b, sizeof(a)); /* exactly the rand fn's bytes */
  nat_txn_new_tid(test_rand, &s1, d);
  assert_memory_not_equal(a, d, sizeof(a));
}

/* ------------------------------------------------------ cancel, re-entry */

static void test_cancel(void **state) {
  uint8_t tid[NAT_STUN_TID_LEN];
  int marks[3];
  tctx *c = *state;

  start_req(c, 0, 1, NULL, &marks[0]);
  assert_int_equal(pump(c, 0), 1);
  mk_tid(tid, 1);
  assert_int_equal(nat_txn_cancel(c->m, tid), 0);
  assert_int_equal(c->n, 1);
  assert_int_equal(c->recs[0].status, NAT_ECANCELED);
  assert_ptr_equal(c->recs[0].user, &marks[0]);
  assert_int_equal(c->recs[0].tx, 1);
  assert_false(c->recs[0].had_resp);
  assert_int_equal(nat_txn_cancel(c->m, tid), NAT_ENOTFOUND);
  assert_int_equal(nat_txn_mgr_count(c->m), 0);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), NAT_TSTAMP_MAX);
  assert_int_equal(send_one(c, 500 * MS), 0);

  /* cancel_all, two of them never sent */
  start_req(c, 0, 2, NULL, &marks[1]);
  start_req(c, 0, 3, NULL, &marks[2]);
  start_req(c, 0, 4, NULL, NULL);
  assert_true(send_one(c, 0) > 0);
  nat_txn_cancel_all(c->m);
  assert_int_equal(c->n, 4);
  assert_int_equal(c->recs[1].status, NAT_ECANCELED);
  assert_int_equal(c->recs[2].status, NAT_ECANCELED);
  assert_int_equal(c->recs[3].status, NAT_ECANCELED);
  assert_int_equal(nat_txn_mgr_count(c->m), 0);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), NAT_TSTAMP_MAX);
  nat_txn_cancel_all(c->m);
  assert_int_equal(c->n, 4);
}

/* On the first callback: cancel "other", cancel self (already gone),
 * start "new" with a fresh ID, and restart the ended ID itself. */
static void reentrant_hook(tctx *c, const nat_txn_result *r) {
  uint8_t buf[64];
  size_t len;

  c->hook = NULL;
  c->hook_rc[0] = nat_txn_cancel(c->m, c->other_tid);
  c->hook_rc[1] = nat_txn_cancel(c->m, r->tid);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, c->new_tid);
  c->hook_rc[2] = nat_txn_start(c->m, c->now, server(), buf, len, NULL, NULL);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, r->tid);
  c->hook_rc[3] = nat_txn_start(c->m, c->now, server(), buf, len, NULL, NULL);
}

static void test_reentrant_callback(void **state) {
  uint8_t tid[NAT_STUN_TID_LEN];
  tctx *c = *state;

  start_req(c, 0, 1, NULL, NULL);
  start_req(c, 0, 2, NULL, NULL);
  assert_int_equal(pump(c, 0), 2);
  mk_tid(c->other_tid, 2);
  mk_tid(c->new_tid, 3);
  c->hook = reentrant_hook;
  assert_int_equal(respond(c, 10 * MS, 1, NAT_STUN_SUCCESS, NULL), 0);

  assert_int_equal(c->hook_rc[0], 0);
  assert_int_equal(c->hook_rc[1], NAT_ENOTFOUND);
  assert_int_equal(c->hook_rc[2], 0);
  assert_int_equal(c->hook_rc[3], 0);
  assert_int_equal(c->n, 2);
  assert_int_equal(c->recs[0].status, 0);
  assert_int_equal(c->recs[1].status, NAT_ECANCELED);
  assert_memory_equal(c->recs[1].tid, c->other_tid, NAT_STUN_TID_LEN);
  assert_int_equal(nat_txn_mgr_count(c->m), 2);
  /* both new ones are due at the callback's now, in start order */
  assert_true(send_one(c, 10 * MS) > 0);
  assert_memory_equal(c->out + 8, c->new_tid, NAT_STUN_TID_LEN);
  assert_true(send_one(c, 10 * MS) > 0);
  mk_tid(tid, 1);
  assert_memory_equal(c->out + 8, tid, NAT_STUN_TID_LEN);
}

static void start_in_cb_hook(tctx *c, const nat_txn_result *r) {
  uint8_t buf[64];
  size_t len;
  (void)r;

  c->hook = NULL;
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, c->new_tid);
  c->hook_rc[0] = nat_txn_start(c->m, c->now, server(), buf, len, NULL, NULL);
}

/* Start two transactions (new_tid, and new_tid with its last byte
 * flipped): the second lands in a slot cancel_all has not visited yet. */
static void start_two_hook(tctx *c, const nat_txn_result *r) {
  uint8_t buf[64];
  uint8_t tid[NAT_STUN_TID_LEN];
  size_t len;

  start_in_cb_hook(c, r);
  memcpy(tid, c->new_tid, sizeof(tid));
  tid[NAT_STUN_TID_LEN - 1] ^= 0xff;
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tid);
  c->hook_rc[1] = nat_txn_start(c->m, c->now, server(), buf, len, NULL, NULL);
}

static void test_reentrant_cancel_all_and_timeout(void **state) {
  nat_txn_config cfg = {.rc = 1, .rm = 2};
  tctx *c = ctx_new(&cfg);
  (void)state;

  /* a transaction started inside cancel_all's callback survives it */
  start_req(c, 0, 1, NULL, NULL);
  start_req(c, 0, 2, NULL, NULL);
  mk_tid(c->new_tid, 3);
  c->hook = start_two_hook;
  nat_txn_cancel_all(c->m);
  assert_int_equal(c->hook_rc[0], 0);
  assert_int_equal(c->hook_rc[1], 0);
  assert_int_equal(c->n, 2);
  assert_int_equal(c->recs[0].status, NAT_ECANCELED);
  assert_int_equal(c->recs[1].status, NAT_ECANCELED);
  assert_int_equal(nat_txn_mgr_count(c->m), 2);
  {
    uint8_t tid[NAT_STUN_TID_LEN];
    memcpy(tid, c->new_tid, sizeof(tid));
    tid[NAT_STUN_TID_LEN - 1] ^= 0xff;
    assert_int_equal(nat_txn_cancel(c->m, tid), 0);
    assert_int_equal(c->n, 3);
  }

  /* and one started from a timeout callback runs normally */
  assert_int_equal(pump(c, 0), 1);
  mk_tid(c->new_tid, 4);
  c->hook = start_in_cb_hook;
  assert_int_equal(pump(c, 1000 * MS), 1); /* timeout of 3, send of 4 */
  assert_int_equal(c->n, 4);
  assert_int_equal(c->recs[3].status, NAT_ETIMEDOUT);
  assert_int_equal(nat_txn_mgr_count(c->m), 1);
  assert_int_equal(nat_txn_mgr_get_expiry(c->m), 2000 * MS);
  ctx_free(c);
}

/* ------------------------------------------------------------- scale */

#define MANY    1000
#define FULL    1024
#define FULL_RC 4

/* Start @p n transactions at 0 with random IDs (into @p tids); user is the
 * index; transaction i gets RTO (1 + i % 50) ms if @p vary_rto. */
static void start_n(nat_txn_mgr *m, uint8_t (*tids)[NAT_STUN_TID_LEN], size_t n,
                    bool vary_rto) {
  uint8_t buf[64];
  size_t i;

  for (i = 0; i < n; i++) {
    nat_txn_opts o = {.rto = vary_rto ? (1 + i % 50) * MS : 0};
    size_t len;
    nat_txn_new_tid(test_rand, NULL, tids[i]);
    len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tids[i]);
    assert_int_equal(
        nat_txn_start(m, 0, server(), buf, len, &o, (void *)(uintptr_t)i), 0);
  }
}

/* Index of the transaction whose request is in @p buf. */
static size_t tid_index(uint8_t (*tids)[NAT_STUN_TID_LEN], size_t n,
                        const uint8_t *buf) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (memcmp(buf + 8, tids[i], NAT_STUN_TID_LEN) == 0) {
      break;
    }
  }
  assert_true(i < n);
  return i;
}

typedef struct many_ctx {
  nat_tstamp now;
  int calls[FULL];
  int status[FULL];
  bool had_resp[FULL];
  nat_tstamp end_at[FULL];
  nat_tstamp sends[FULL][FULL_RC];
  unsigned nsent[FULL];
} many_ctx;

static void many_cb(void *arg, const nat_txn_result *r) {
  many_ctx *f = arg;
  size_t i = (size_t)(uintptr_t)r->user;
  f->calls[i]++;
  f->status[i] = r->status;
  f->had_resp[i] = r->response != NULL;
  f->end_at[i] = f->now;
}

static void shuffle(uint32_t *v, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; i++) {
    v[i] = i;
  }
  for (i = n - 1; i > 0; i--) {
    uint32_t j = rand_below(i + 1);
    uint32_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static void test_many_concurrent_random_order(void **state) {
  static uint8_t tids[MANY][NAT_STUN_TID_LEN];
  static uint32_t order[MANY];
  many_ctx *f = calloc(1, sizeof(*f));
  nat_txn_mgr *m = NULL;
  nat_addr s = *server();
  nat_addr dst;
  uint8_t buf[1500];
  uint32_t i;
  (void)state;

  assert_non_null(f);
  rng_state = 0x9e3779b97f4a7c15ull;
  assert_int_equal(nat_txn_mgr_new(&m, NULL, many_cb, f), 0);
  start_n(m, tids, MANY, false);
  assert_int_equal(nat_txn_mgr_count(m), MANY);
  /* all due at 0, handed out in start order */
  for (i = 0; i < MANY; i++) {
    assert_true(nat_txn_mgr_next_send(m, 0, buf, sizeof(buf), &dst) > 0);
    assert_memory_equal(buf + 8, tids[i], NAT_STUN_TID_LEN);
  }
  assert_int_equal(nat_txn_mgr_next_send(m, 0, buf, sizeof(buf), &dst), 0);

  shuffle(order, MANY);
  for (i = 0; i < MANY; i++) {
    uint32_t k = order[i];
    size_t len = build(buf, sizeof(buf), NAT_STUN_SUCCESS, tids[k]);
    assert_int_equal(f->calls[k], 0);
    assert_int_equal(nat_txn_mgr_recv(m, 1 * MS + i, &s, buf, len), 0);
    assert_int_equal(f->calls[k], 1);
    assert_true(f->status[k] == 0 && f->had_resp[k]);
    assert_int_equal(nat_txn_mgr_count(m), MANY - i - 1);
  }
  assert_int_equal(nat_txn_mgr_get_expiry(m), NAT_TSTAMP_MAX);

  /* all of them again: refused, no second callback; the most recent ones
   * are recognised as duplicates */
  for (i = 0; i < MANY; i++) {
    size_t len = build(buf, sizeof(buf), NAT_STUN_SUCCESS, tids[order[i]]);
    assert_int_equal(nat_txn_mgr_recv(m, 2 * MS, &s, buf, len), NAT_ENOTFOUND);
  }
  for (i = 0; i < MANY; i++) {
    assert_int_equal(f->calls[i], 1);
  }
  assert_int_equal(stats_of(m).responses, MANY);
  assert_int_equal(stats_of(m).sent, MANY);
  assert_int_equal(stats_of(m).duplicates + stats_of(m).unmatched, MANY);
  assert_true(stats_of(m).duplicates >= 1);
  nat_txn_mgr_free(m);
  free(f);
}

/* Run the manager by get_expiry until idle, recording each send; cancel
 * every third transaction right after the first round of sends. */
static void full_drive(nat_txn_mgr *m, many_ctx *f,
                       uint8_t (*tids)[NAT_STUN_TID_LEN]) {
  uint8_t buf[1500];
  nat_addr dst;
  nat_tstamp last = 0;
  nat_tstamp e;
  size_t i;

  while ((e = nat_txn_mgr_get_expiry(m)) != NAT_TSTAMP_MAX) {
    assert_true(e >= last);
    last = e;
    f->now = e;
    nat_txn_mgr_handle_expiry(m, e);
    while (nat_txn_mgr_next_send(m, e, buf, sizeof(buf), &dst) > 0) {
      i = tid_index(tids, FULL, buf);
      assert_true(f->nsent[i] < FULL_RC);
      f->sends[i][f->nsent[i]++] = e;
    }
    for (i = 1; e == 0 && i < FULL; i += 3) {
      assert_int_equal(nat_txn_cancel(m, tids[i]), 0);
    }
  }
}

/* 1024 transactions (a full table) with 50 different RTOs (many equal
 * deadlines), a third canceled from the middle of the heap: every survivor
 * follows its own schedule exactly, driven only by get_expiry. */
static void test_full_table_schedules(void **state) {
  nat_txn_config cfg = {.rc = FULL_RC, .rm = 2, .rto_max = 10 * NAT_SECONDS};
  static uint8_t tids[FULL + 1][NAT_STUN_TID_LEN];
  many_ctx *f = calloc(1, sizeof(*f));
  nat_txn_mgr *m = NULL;
  uint8_t buf[64];
  size_t len;
  size_t i;
  (void)state;

  assert_non_null(f);
  rng_state = 0x0123456789abcdefull;
  assert_int_equal(nat_txn_mgr_new(&m, &cfg, many_cb, f), 0);
  start_n(m, tids, FULL, true);
  nat_txn_new_tid(test_rand, NULL, tids[FULL]);
  len = build(buf, sizeof(buf), NAT_STUN_REQUEST, tids[FULL]);
  assert_int_equal(nat_txn_start(m, 0, server(), buf, len, NULL, NULL),
                   NAT_EBUSY);
  full_drive(m, f, tids);
  for (i = 0; i < FULL; i++) {
    nat_tstamp r = (1 + i % 50) * MS;
    assert_int_equal(f->calls[i], 1);
    if (i % 3 == 1) {
      assert_int_equal(f->status[i], NAT_ECANCELED);
      assert_int_equal(f->nsent[i], 1);
      continue;
    }
    assert_int_equal(f->status[i], NAT_ETIMEDOUT);
    assert_int_equal(f->nsent[i], FULL_RC);
    assert_int_equal(f->sends[i][0], 0);
    assert_int_equal(f->sends[i][1], r);
    assert_int_equal(f->sends[i][2], 3 * r);
    assert_int_equal(f->sends[i][3], 7 * r);
    assert_int_equal(f->end_at[i], 9 * r);
  }
  assert_int_equal(nat_txn_mgr_count(m), 0);
  nat_txn_mgr_free(m);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc_default_schedule),
      cmocka_unit_test(test_rto_max_caps_interval),
      cmocka_unit_test(test_custom_rc_rm),
      cmocka_unit_test_setup_teardown(test_response_after_third_no_rtt_sample,
                                      setup, teardown),
      cmocka_unit_test(test_rtt_adaptation),
      cmocka_unit_test(test_seed_rtt),
      cmocka_unit_test_setup_teardown(test_spoofed_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expect_from, setup, teardown),
      cmocka_unit_test(test_duplicate_after_end),
      cmocka_unit_test_setup_teardown(test_unmatched, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recv_decoded_view, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_is_not_response, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_classic_rfc3489, setup, teardown),
      cmocka_unit_test(test_start_errors),
      cmocka_unit_test(test_mgr_new_errors),
      cmocka_unit_test_setup_teardown(test_idle_and_enobufs, setup, teardown),
      cmocka_unit_test(test_new_tid),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reentrant_callback, setup, teardown),
      cmocka_unit_test(test_reentrant_cancel_all_and_timeout),
      cmocka_unit_test(test_many_concurrent_random_order),
      cmocka_unit_test(test_full_table_schedules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
