/* The UDP driver on real loopback sockets (127.0.0.1 and ::1, port 0).
 * A tiny STUN server made of a second nat_udp answers Binding requests with
 * XOR-MAPPED-ADDRESS = the request's source. No sleeps: the loop runs until
 * the callbacks fire; a 10 s guard timer turns a hang into a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/error.h"
#include "nat/stun.h"
#include "nat/txn.h"
#include "nat/udp.h"

#define MS NAT_MILLISECONDS

/* ------------------------------------------------------------ fixture */

typedef struct server {
  nat_udp *u;
  nat_addr addr;
  bool answer;  /* send a Binding success back */
  nat_udp *via; /* if set, first send the same response from this socket */
  bool twice;   /* send each response twice (the second is a duplicate) */
  int requests; /* decoded Binding requests */
  int other;    /* anything else */
  bool has_change;
  uint32_t change;
  bool has_software;
  char software[64];
  bool has_fingerprint;
} server;

typedef struct result {
  int calls;
  int status;
  int mapped_rc;
  nat_addr mapped;
  nat_addr from;
  nat_tstamp rtt;
  unsigned transmissions;
  uint8_t tid[NAT_STUN_TID_LEN];
  int *done; /* shared completion counter */
} result;

typedef struct sink {
  int calls;
  uint8_t last[64];
  size_t last_len;
  uint8_t first_bytes[16];
  size_t lens[16];
  nat_addr from;
} sink;

typedef struct fx {
  uv_loop_t loop;
  uv_timer_t guard;
  bool expired;
  int closed;
  nat_udp *open[8]; /* closed by the teardown if a test failed midway */
} fx;

static void on_guard(uv_timer_t *t) {
  fx *f = t->data;
  f->expired = true;
}

/* Run the loop until *counter reaches target (or the guard fails us). */
static void run_until(fx *f, const int *counter, int target) {
  f->expired = false;
  uv_timer_start(&f->guard, on_guard, 10000, 0);
  while (*counter < target && !f->expired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->expired)
    fail_msg("timed out waiting: %d of %d", *counter, target);
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
  f->guard.data = f;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  for (size_t i = 0; i < 8; i++)
    if (f->open[i])
      nat_udp_close(f->open[i], NULL, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static void on_closed(nat_udp *u, void *arg) {
  int *closed = arg;
  (void)u;
  (*closed)++;
}

/* The test closes @p u itself from now on. */
static void forget(fx *f, nat_udp *u) {
  for (size_t i = 0; i < 8; i++)
    if (f->open[i] == u)
      f->open[i] = NULL;
}

/* Close @p u and run the loop until its close callback ran. */
static void close_sync(fx *f, nat_udp *u) {
  int before = f->closed;
  forget(f, u);
  nat_udp_close(u, on_closed, &f->closed);
  run_until(f, &f->closed, before + 1);
}

static nat_udp *open_udp(fx *f, const char *bind, const nat_txn_config *txn,
                         const char *software) {
  nat_udp_config cfg;
  nat_udp *u = NULL;
  memset(&cfg, 0, sizeof cfg);
  assert_int_equal(nat_addr_parse(&cfg.bind, bind, 0), 0);
  if (txn)
    cfg.txn = *txn;
  cfg.software = software;
  int rc = nat_udp_new(&u, &f->loop, &cfg);
  if (rc != 0)
    fail_msg("nat_udp_new(%s) = %s", bind, nat_err_name(rc));
  for (size_t i = 0; i < 8; i++)
    if (!f->open[i]) {
      f->open[i] = u;
      break;
    }
  return u;
}

/* ------------------------------------------------------- STUN server */

static void server_reply(server *s, const nat_addr *to,
                         const nat_stun_msg *req) {
  uint8_t out[128];
  nat_stun_builder b;
  ssize_t n;
  if (req->classic) { /* RFC 3489: 128-bit ID, plain MAPPED-ADDRESS */
    assert_int_equal(
        nat_stun_builder_init_classic(&b, out, sizeof out, NAT_STUN_BINDING,
                                      NAT_STUN_SUCCESS, req->buf + 4),
        0);
    assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, to), 0);
    n = nat_stun_builder_finish(&b, false);
  } else {
    assert_int_equal(nat_stun_builder_init(&b, out, sizeof out,
                                           NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                                           req->tid),
                     0);
    assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, to), 0);
    n = nat_stun_builder_finish(&b, true);
  }
  assert_true(n > 0);
  if (s->via)
    assert_int_equal(nat_udp_send(s->via, to, out, (size_t)n), 0);
  assert_int_equal(nat_udp_send(s->u, to, out, (size_t)n), 0);
  if (s->twice)
    assert_int_equal(nat_udp_send(s->u, to, out, (size_t)n), 0);
}

static void server_recv(nat_udp *u, void *arg, const nat_addr *from,
                        const uint8_t *buf, size_t len,
                        const nat_stun_msg *msg) {
  server *s = arg;
  nat_stun_msg m;
  const nat_stun_attr *sw;
  (void)msg;
  (void)u;
  if (nat_stun_decode(&m, buf, len) < 0 || m.cls != NAT_STUN_REQUEST ||
      m.method != NAT_STUN_BINDING) {
    s->other++;
    return;
  }
  s->requests++;
  s->has_change =
      nat_stun_msg_get_u32(&m, NAT_ATTR_CHANGE_REQUEST, &s->change) == 0;
  sw = nat_stun_msg_find(&m, NAT_ATTR_SOFTWARE);
  s->has_software = sw != NULL;
  if (sw && sw->len < sizeof s->software) {
    memcpy(s->software, sw->value, sw->len);
    s->software[sw->len] = '\0';
  }
  s->has_fingerprint = m.fp_idx >= 0;
  if (s->answer)
    server_reply(s, from, &m);
}

static void server_open(fx *f, server *s, const char *bind, bool answer) {
  memset(s, 0, sizeof *s);
  s->u = open_udp(f, bind, NULL, NULL);
  s->answer = answer;
  nat_udp_set_recv_cb(s->u, server_recv, s);
  assert_int_equal(nat_udp_local_addr(s->u, &s->addr), 0);
}

/* ------------------------------------------------------------ client */

static void on_binding(nat_udp *u, void *arg, const nat_txn_result *r) {
  result *res = arg;
  (void)u;
  res->calls++;
  res->status = r->status;
  res->from = r->from;
  res->rtt = r->rtt;
  res->transmissions = r->transmissions;
  memcpy(res->tid, r->tid, sizeof res->tid);
  res->mapped_rc = NAT_ENOTFOUND;
  if (r->status == 0) {
    assert_non_null(r->response);
    res->mapped_rc = nat_stun_msg_get_mapped(r->response, &res->mapped);
  } else {
    assert_null(r->response);
  }
  if (res->done)
    (*res->done)++;
}

static void on_sink(nat_udp *u, void *arg, const nat_addr *from,
                    const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  sink *k = arg;
  (void)msg;
  (void)u;
  if (k->calls < 16) {
    k->first_bytes[k->calls] = len ? buf[0] : 0xEE;
    k->lens[k->calls] = len;
  }
  k->calls++;
  k->from = *from;
  k->last_len = len < sizeof k->last ? len : sizeof k->last;
  memcpy(k->last, buf, k->last_len);
}

/* One Binding from a client on @p bind to a server on the same address. */
static void binding_roundtrip(fx *f, const char *bind) {
  server s;
  result res;
  nat_udp *c;
  nat_addr local;
  nat_udp_stats st;
  int done = 0;
  uint8_t tid[NAT_STUN_TID_LEN];

  server_open(f, &s, bind, true);
  c = open_udp(f, bind, NULL, NULL);
  assert_int_equal(nat_udp_local_addr(c, &local), 0);
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res, tid),
                   0);
  assert_int_equal(res.calls, 0); /* never synchronous */
  run_until(f, &done, 1);

  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.mapped_rc, 0);
  assert_true(nat_addr_equal(&res.mapped, &local));
  assert_true(nat_addr_equal(&res.from, &s.addr));
  assert_true(res.rtt > 0);
  assert_int_equal(res.transmissions, 1);
  assert_memory_equal(res.tid, tid, sizeof tid);
  assert_int_equal(s.requests, 1);
  assert_false(s.has_change);
  assert_false(s.has_software);
  assert_true(s.has_fingerprint);

  nat_udp_stats_get(c, &st);
  assert_int_equal(st.datagrams_out, 1);
  assert_int_equal(st.datagrams_in, 1);
  assert_int_equal(st.txn.responses, 1);
  assert_int_equal(st.send_errors, 0);
  close_sync(f, c);
  close_sync(f, s.u);
}

static void test_binding_v4(void **state) {
  binding_roundtrip(*state, "127.0.0.1:0");
}

static void test_binding_v6(void **state) {
  binding_roundtrip(*state, "[::1]:0");
}

static void test_change_request_and_software(void **state) {
  fx *f = *state;
  server s;
  result res;
  nat_udp *c;
  int done = 0;

  server_open(f, &s, "127.0.0.1:0", true);
  c = open_udp(f, "127.0.0.1:0", NULL, "libnat-test 1.0");
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr,
                                   NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT,
                                   NULL, on_binding, &res, NULL),
                   0);
  run_until(f, &done, 1);
  assert_int_equal(res.status, 0);
  assert_true(s.has_change);
  assert_int_equal(s.change, 0x06);
  assert_true(s.has_software);
  assert_string_equal(s.software, "libnat-test 1.0");

  assert_int_equal(nat_udp_binding(c, &s.addr, NAT_STUN_CHANGE_PORT, NULL,
                                   on_binding, &res, NULL),
                   0);
  run_until(f, &done, 2);
  assert_int_equal(res.status, 0);
  assert_true(s.has_change);
  assert_int_equal(s.change, 0x02);
  close_sync(f, c);
  close_sync(f, s.u);
}

static void test_timeout(void **state) {
  fx *f = *state;
  nat_txn_config txn = {.rto = 10 * MS, .rc = 3, .rm = 2};
  server s;
  result res;
  nat_udp *c;
  nat_udp_stats st;
  int done = 0;

  server_open(f, &s, "127.0.0.1:0", false);
  c = open_udp(f, "127.0.0.1:0", &txn, NULL);
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res, NULL),
                   0);
  run_until(f, &done, 1);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, NAT_ETIMEDOUT);
  assert_int_equal(res.transmissions, 3);
  /* sends at 0, 10, 30 ms; gives up Rm*RTO = 20 ms after the last */
  assert_true(res.rtt >= 50 * MS);
  assert_int_equal(s.requests, 3);
  nat_udp_stats_get(c, &st);
  assert_int_equal(st.datagrams_out, 3);
  assert_int_equal(st.txn.retransmits, 2);
  assert_int_equal(st.txn.timeouts, 1);
  close_sync(f, c);
  close_sync(f, s.u);
}

static void test_spoofed_response(void **state) {
  fx *f = *state;
  server s;
  result res;
  sink k;
  nat_udp *c, *spoofer;
  nat_udp_stats st;
  int done = 0;

  server_open(f, &s, "127.0.0.1:0", true);
  spoofer = open_udp(f, "127.0.0.1:0", NULL, NULL);
  s.via = spoofer; /* the same response arrives first from another port */
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  memset(&k, 0, sizeof k);
  nat_udp_set_recv_cb(c, on_sink, &k);
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res, NULL),
                   0);
  run_until(f, &done, 1);
  assert_int_equal(res.status, 0);
  assert_true(nat_addr_equal(&res.from, &s.addr));
  nat_udp_stats_get(c, &st);
  assert_int_equal(st.txn.spoofed, 1);
  assert_int_equal(st.txn.responses, 1);
  assert_int_equal(st.datagrams_in, 2);
  assert_int_equal(k.calls, 0); /* a spoofed answer to a live one: dropped */
  close_sync(f, c);
  close_sync(f, spoofer);
  close_sync(f, s.u);
}

/* A late copy of the response to one of the socket's own (ended)
 * transactions is a duplicate: counted and dropped, never handed to the
 * receive callback. A marker sent after it tells when it has arrived. */
static void test_duplicate_response(void **state) {
  fx *f = *state;
  static const uint8_t marker[] = {0x41, 0x42, 0x43};
  server s;
  result res;
  sink k;
  nat_udp *c;
  nat_addr caddr;
  nat_udp_stats st;
  int done = 0;

  server_open(f, &s, "127.0.0.1:0", true);
  s.twice = true;
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(c, &caddr), 0);
  memset(&k, 0, sizeof k);
  nat_udp_set_recv_cb(c, on_sink, &k);
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res, NULL),
                   0);
  run_until(f, &done, 1);
  assert_int_equal(res.status, 0);
  assert_int_equal(nat_udp_send(s.u, &caddr, marker, sizeof marker), 0);
  run_until(f, &k.calls, 1);
  assert_int_equal(k.calls, 1); /* the marker only */
  assert_int_equal(k.lens[0], sizeof marker);
  assert_int_equal(k.first_bytes[0], 0x41);
  assert_int_equal(res.calls, 1);
  nat_udp_stats_get(c, &st);
  assert_int_equal(st.datagrams_in, 3);
  assert_int_equal(st.txn.responses, 1);
  assert_int_equal(st.txn.duplicates, 1);
  assert_int_equal(st.txn.unmatched, 0);
  close_sync(f, c);
  close_sync(f, s.u);
}

/* Non-STUN datagrams, requests and unmatched responses (another STUN
 * agent's on the same socket) go to the receive callback. */
static void test_demux(void **state) {
  fx *f = *state;
  static const uint8_t quic[] = {
      0x40, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
      0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17};
  /* top bits 00 (a greased QUIC short header) but no magic cookie */
  static const uint8_t greased[] = {0x00, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe,
                                    0xef, 1,    2,    3,    4,    5,    6,
                                    7,    8,    9,    10,   11,   12,   13};
  uint8_t req[64], resp[64];
  uint8_t tid[NAT_STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  nat_stun_builder b;
  ssize_t nreq, nresp;
  server s;
  sink k;
  nat_udp *c;
  nat_addr caddr;
  nat_udp_stats st;

  server_open(f, &s, "127.0.0.1:0", false);
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(c, &caddr), 0);
  memset(&k, 0, sizeof k);
  nat_udp_set_recv_cb(c, on_sink, &k);

  /* a STUN request for the client (its server role) and an unmatched
   * success response (for the receive callback, counted) */
  nat_stun_builder_init(&b, req, sizeof req, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  nreq = nat_stun_builder_finish(&b, true);
  assert_true(nreq > 0);
  nat_stun_builder_init(&b, resp, sizeof resp, NAT_STUN_BINDING,
                        NAT_STUN_SUCCESS, tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &caddr);
  nresp = nat_stun_builder_finish(&b, true);
  assert_true(nresp > 0);

  assert_int_equal(nat_udp_send(s.u, &caddr, quic, sizeof quic), 0);
  assert_int_equal(nat_udp_send(s.u, &caddr, resp, (size_t)nresp), 0);
  assert_int_equal(nat_udp_send(s.u, &caddr, greased, sizeof greased), 0);
  assert_int_equal(nat_udp_send(s.u, &caddr, req, (size_t)nreq), 0);
  assert_int_equal(nat_udp_send(s.u, &caddr, NULL, 0), 0);
  run_until(f, &k.calls, 5);

  assert_int_equal(k.calls, 5);
  assert_int_equal(k.first_bytes[0], 0x40);
  assert_int_equal(k.lens[0], sizeof quic);
  assert_int_equal(k.first_bytes[1], 0x01); /* success response 0x0101 */
  assert_int_equal(k.lens[1], (size_t)nresp);
  assert_int_equal(k.first_bytes[2], 0x00);
  assert_int_equal(k.lens[2], sizeof greased);
  assert_int_equal(k.lens[3], (size_t)nreq);
  assert_int_equal(k.lens[4], 0); /* an empty datagram is still one */
  assert_true(nat_addr_equal(&k.from, &s.addr));
  nat_udp_stats_get(c, &st);
  assert_int_equal(st.datagrams_in, 5);
  assert_int_equal(st.txn.unmatched, 1);
  assert_int_equal(st.txn.not_response, 1);
  assert_int_equal(st.txn.responses, 0);
  close_sync(f, c);
  close_sync(f, s.u);
}

/* Hostile datagrams that pass the demux check (cookie, exact length) and
 * fail decoding or match nothing: counted, never crashing, and the socket
 * keeps working. */
static void test_hostile(void **state) {
  fx *f = *state;
  server s, junk;
  result res;
  sink k;
  nat_udp *c;
  nat_addr caddr;
  uint32_t x = 12345;
  int done = 0;
  static const uint8_t marker[] = {0x41, 0x42, 0x43};

  server_open(f, &s, "127.0.0.1:0", true);
  server_open(f, &junk, "127.0.0.1:0", false);
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(c, &caddr), 0);
  memset(&k, 0, sizeof k);
  nat_udp_set_recv_cb(c, on_sink, &k);
  for (int i = 0; i < 100; i++) { /* fits the receive buffer */
    uint8_t p[200];
    size_t len = 20 + 4 * (size_t)(i % 40);
    for (size_t j = 0; j < len; j++) {
      x = x * 1103515245u + 12345u;
      p[j] = (uint8_t)(x >> 16);
    }
    p[0] &= 0x3F;
    p[2] = (uint8_t)((len - 20) >> 8);
    p[3] = (uint8_t)(len - 20);
    p[4] = 0x21, p[5] = 0x12, p[6] = 0xA4, p[7] = 0x42;
    assert_int_equal(nat_udp_send(junk.u, &caddr, p, len), 0);
  }
  assert_int_equal(nat_udp_send(junk.u, &caddr, marker, sizeof marker), 0);
  while (k.calls == 0 || k.last_len != 3 || k.last[0] != 0x41)
    run_until(f, &k.calls, k.calls + 1);

  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res, NULL),
                   0);
  run_until(f, &done, 1);
  assert_int_equal(res.status, 0);
  close_sync(f, c);
  close_sync(f, junk.u);
  close_sync(f, s.u);
}

static void test_concurrent_200(void **state) {
  fx *f = *state;
  nat_txn_config txn = {.rto = 100 * MS};
  enum { N = 200 };
  result *res = calloc(N, sizeof *res);
  server s;
  nat_udp *c;
  nat_addr local;
  int done = 0;

  assert_non_null(res);
  server_open(f, &s, "127.0.0.1:0", true);
  c = open_udp(f, "127.0.0.1:0", &txn, NULL);
  assert_int_equal(nat_udp_local_addr(c, &local), 0);
  for (int i = 0; i < N; i++) {
    res[i].done = &done;
    assert_int_equal(
        nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res[i], NULL), 0);
  }
  run_until(f, &done, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(res[i].calls, 1);
    assert_int_equal(res[i].status, 0);
    assert_true(nat_addr_equal(&res[i].mapped, &local));
    for (int j = 0; j < i && j < 8; j++) /* distinct transaction IDs */
      assert_memory_not_equal(res[i].tid, res[j].tid, NAT_STUN_TID_LEN);
  }
  assert_true(s.requests >= N);
  close_sync(f, c);
  close_sync(f, s.u);
  free(res);
}

/* Records the order of events during close. */
typedef struct close_order {
  int calls[5]; /* callbacks per transaction */
  int canceled;
  int other;
  int canceled_at_close; /* canceled count when close_cb ran */
  int close_calls;
} close_order;

typedef struct close_slot {
  close_order *o;
  int i;
} close_slot;

static void on_cancel_binding(nat_udp *u, void *arg, const nat_txn_result *r) {
  close_slot *sl = arg;
  close_order *o = sl->o;
  o->calls[sl->i]++;
  if (r->status == NAT_ECANCELED)
    o->canceled++;
  else
    o->other++;
  /* starting more from a cancel callback is refused */
  assert_int_equal(
      nat_udp_binding(u, &r->dst, 0, NULL, on_cancel_binding, sl, NULL),
      NAT_ECLOSING);
}

static void on_order_closed(nat_udp *u, void *arg) {
  close_order *o = arg;
  (void)u;
  o->close_calls++;
  o->canceled_at_close = o->canceled;
}

static void test_close_with_live_txns(void **state) {
  fx *f = *state;
  server s;
  nat_udp *c;
  close_order o;
  close_slot slots[5];
  uint8_t one = 1;

  server_open(f, &s, "127.0.0.1:0", false);
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  memset(&o, 0, sizeof o);
  for (int i = 0; i < 5; i++) {
    slots[i].o = &o;
    slots[i].i = i;
    assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_cancel_binding,
                                     &slots[i], NULL),
                     0);
  }
  run_until(f, &s.requests, 5); /* they are really in flight */
  forget(f, c);
  nat_udp_close(c, on_order_closed, &o);
  assert_int_equal(o.canceled, 5); /* callbacks run first */
  assert_int_equal(o.close_calls, 0);
  assert_int_equal(
      nat_udp_binding(c, &s.addr, 0, NULL, on_cancel_binding, &slots[0], NULL),
      NAT_ECLOSING);
  assert_int_equal(nat_udp_send(c, &s.addr, &one, 1), NAT_ECLOSING);
  nat_udp_close(c, on_order_closed, &o); /* a second close does nothing */
  run_until(f, &o.close_calls, 1);
  for (int i = 0; i < 5; i++)
    assert_int_equal(o.calls[i], 1); /* exactly once each */
  assert_int_equal(o.canceled, 5);
  assert_int_equal(o.other, 0);
  assert_int_equal(o.canceled_at_close, 5);
  assert_int_equal(o.close_calls, 1);
  close_sync(f, s.u);
}

/* Closing from inside a transaction's callback (the usual "got my answer,
 * done" pattern) cancels the others and finishes cleanly. */
typedef struct close_inside {
  fx *f;
  nat_udp *c;
  int answered, canceled;
} close_inside;

static void on_answer_close(nat_udp *u, void *arg, const nat_txn_result *r) {
  close_inside *ci = arg;
  if (r->status == 0) {
    ci->answered++;
    nat_udp_close(u, on_closed, &ci->f->closed);
  } else if (r->status == NAT_ECANCELED) {
    ci->canceled++;
  }
}

static void test_close_from_callback(void **state) {
  fx *f = *state;
  server s, silent;
  close_inside ci = {.f = f};
  int before = f->closed;

  server_open(f, &s, "127.0.0.1:0", true);
  server_open(f, &silent, "127.0.0.1:0", false);
  ci.c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  forget(f, ci.c);
  for (int i = 0; i < 3; i++)
    assert_int_equal(nat_udp_binding(ci.c, &silent.addr, 0, NULL,
                                     on_answer_close, &ci, NULL),
                     0);
  assert_int_equal(
      nat_udp_binding(ci.c, &s.addr, 0, NULL, on_answer_close, &ci, NULL), 0);
  run_until(f, &f->closed, before + 1);
  assert_int_equal(ci.answered, 1);
  assert_int_equal(ci.canceled, 3);
  close_sync(f, silent.u);
  close_sync(f, s.u);
}

static void test_addr_in_use(void **state) {
  fx *f = *state;
  nat_udp_config cfg;
  nat_udp *a, *b = (nat_udp *)(uintptr_t)1;
  nat_addr local;

  a = open_udp(f, "127.0.0.1:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(a, &local), 0);
  memset(&cfg, 0, sizeof cfg);
  cfg.bind = local;
  assert_int_equal(nat_udp_new(&b, &f->loop, &cfg), UV_EADDRINUSE);
  assert_null(b);
  /* an address this host does not have */
  assert_int_equal(nat_addr_parse(&cfg.bind, "198.51.100.77:0", 0), 0);
  assert_int_equal(nat_udp_new(&b, &f->loop, &cfg), UV_EADDRNOTAVAIL);
  cfg.bind.family = NAT_AF_NONE;
  assert_int_equal(nat_udp_new(&b, &f->loop, &cfg), NAT_EINVAL);
  close_sync(f, a);
}

static void test_local_addr(void **state) {
  fx *f = *state;
  nat_udp *u = open_udp(f, "127.0.0.1:0", NULL, NULL);
  nat_addr a, lo;
  assert_int_equal(nat_udp_local_addr(u, &a), 0);
  assert_int_equal(a.family, NAT_AF_INET);
  assert_true(a.port != 0);
  assert_int_equal(nat_addr_parse(&lo, "127.0.0.1", a.port), 0);
  assert_true(nat_addr_equal(&a, &lo));
  close_sync(f, u);

  u = open_udp(f, "[::1]:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(u, &a), 0);
  assert_int_equal(a.family, NAT_AF_INET6);
  assert_true(a.port != 0);
  close_sync(f, u);
}

static void test_family_mismatch(void **state) {
  fx *f = *state;
  nat_udp *u = open_udp(f, "127.0.0.1:0", NULL, NULL);
  nat_addr v6;
  result res;
  uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  memset(&res, 0, sizeof res);
  assert_int_equal(nat_addr_parse(&v6, "[::1]:3478", 0), 0);
  assert_int_equal(nat_udp_binding(u, &v6, 0, NULL, on_binding, &res, NULL),
                   NAT_EBADFAMILY);
  assert_int_equal(
      nat_udp_request(u, &v6, req, sizeof req, NULL, on_binding, &res),
      NAT_EBADFAMILY);
  assert_int_equal(nat_udp_send(u, &v6, req, sizeof req), NAT_EBADFAMILY);
  close_sync(f, u);
  assert_int_equal(res.calls, 0);
}

/* A send the kernel refuses (port 0: EINVAL) is counted, not fatal. */
static void test_send_error(void **state) {
  fx *f = *state;
  server s;
  result res;
  nat_udp *c;
  nat_addr zero;
  nat_udp_stats st;
  int done = 0;
  static const uint8_t hello[] = {0x41};

  server_open(f, &s, "127.0.0.1:0", true);
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  assert_int_equal(nat_addr_parse(&zero, "127.0.0.1:0", 0), 0);
  assert_int_equal(nat_udp_send(c, &zero, hello, sizeof hello), 0);
  nat_udp_stats_get(c, &st);
  assert_int_equal(st.send_errors, 1);
  assert_int_equal(st.datagrams_out, 0);

  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(nat_udp_binding(c, &s.addr, 0, NULL, on_binding, &res, NULL),
                   0);
  run_until(f, &done, 1);
  assert_int_equal(res.status, 0);
  close_sync(f, c);
  close_sync(f, s.u);
}

/* A caller-encoded request (nat_udp_request) completes like a Binding. */
static void test_request(void **state) {
  fx *f = *state;
  server s;
  result res;
  nat_udp *c;
  nat_addr local;
  uint8_t req[64], tid[NAT_STUN_TID_LEN];
  nat_stun_builder b;
  ssize_t n;
  int done = 0;

  server_open(f, &s, "[::1]:0", true);
  c = open_udp(f, "[::1]:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(c, &local), 0);
  nat_udp_new_tid(c, tid);
  nat_stun_builder_init(&b, req, sizeof req, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  n = nat_stun_builder_finish(&b, false);
  assert_true(n > 0);
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(
      nat_udp_request(c, &s.addr, req, (size_t)n, NULL, on_binding, &res), 0);
  /* the same ID again is refused, and its callback never runs */
  assert_int_equal(
      nat_udp_request(c, &s.addr, req, (size_t)n, NULL, on_binding, &res),
      NAT_EEXIST);
  run_until(f, &done, 1);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, 0);
  assert_memory_equal(res.tid, tid, sizeof tid);
  assert_true(nat_addr_equal(&res.mapped, &local));
  close_sync(f, c);
  close_sync(f, s.u);
}

/* A classic RFC 3489 exchange: the request has no magic cookie, so the
 * server sees it through its receive callback, and the classic response
 * (which nat_stun_is_stun() does not pass) still reaches the transaction. */
static void test_classic(void **state) {
  fx *f = *state;
  server s;
  result res;
  nat_udp *c;
  nat_addr local;
  nat_udp_stats st;
  uint8_t req[64], tid16[16];
  nat_stun_builder b;
  ssize_t n;
  int done = 0;

  server_open(f, &s, "127.0.0.1:0", true);
  c = open_udp(f, "127.0.0.1:0", NULL, NULL);
  assert_int_equal(nat_udp_local_addr(c, &local), 0);
  nat_rand_system(NULL, tid16, sizeof tid16);
  tid16[0] = 0x5a; /* anything but the magic cookie */
  assert_int_equal(nat_stun_builder_init_classic(&b, req, sizeof req,
                                                 NAT_STUN_BINDING,
                                                 NAT_STUN_REQUEST, tid16),
                   0);
  n = nat_stun_builder_finish(&b, false);
  assert_true(n > 0);
  assert_false(nat_stun_is_stun(req, (size_t)n));
  memset(&res, 0, sizeof res);
  res.done = &done;
  assert_int_equal(
      nat_udp_request(c, &s.addr, req, (size_t)n, NULL, on_binding, &res), 0);
  run_until(f, &done, 1);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.mapped_rc, 0);
  assert_true(nat_addr_equal(&res.mapped, &local));
  assert_int_equal(s.requests, 1);
  nat_udp_stats_get(c, &st);
  assert_int_equal(st.txn.responses, 1);
  close_sync(f, c);
  close_sync(f, s.u);
}

static void test_rand_system(void **state) {
  uint8_t a[32], b[32], zero[32];
  (void)state;
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  memset(zero, 0, sizeof zero);
  nat_rand_system(NULL, a, sizeof a);
  nat_rand_system(NULL, b, sizeof b);
  assert_memory_not_equal(a, zero, sizeof a);
  assert_memory_not_equal(a, b, sizeof a);
  nat_rand_system(NULL, NULL, 0); /* nothing to do, no crash */
}

#define FX_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      FX_TEST(test_binding_v4),
      FX_TEST(test_binding_v6),
      FX_TEST(test_change_request_and_software),
      FX_TEST(test_timeout),
      FX_TEST(test_spoofed_response),
      FX_TEST(test_duplicate_response),
      FX_TEST(test_demux),
      FX_TEST(test_hostile),
      FX_TEST(test_concurrent_200),
      FX_TEST(test_close_with_live_txns),
      FX_TEST(test_close_from_callback),
      FX_TEST(test_addr_in_use),
      FX_TEST(test_local_addr),
      FX_TEST(test_family_mismatch),
      FX_TEST(test_send_error),
      FX_TEST(test_request),
      FX_TEST(test_classic),
      cmocka_unit_test(test_rand_system),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
