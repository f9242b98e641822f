/* QUIC streams and the STUN/QUIC demultiplexer under load, on loopback:
 * a 1 MB echo with backpressure on both sides (small send buffers, manual
 * flow-control credit on the echo side), byte for byte; and STUN Binding
 * transactions on the same sockets as QUIC connections carrying 200 KB
 * each, until packets with the greased (cleared) fixed bit have been seen,
 * proving that none of them reached the STUN layer. QUIC runs on the
 * fixture's fake clock, STUN on the loop's. No sleeps; a guard turns a
 * hang into a failure. */
#include "quic_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/error.h"
#include "nat/quic.h"
#include "nat/stun.h"
#include "nat/udp.h"

#define MAXREC 32

typedef struct fx fx;

typedef struct rec {
  fx *f;
  nat_quic_conn *c;
  bool server;
  int connected, closed;
  int close_error;
  int64_t sid;
  /* writer (client) */
  const uint8_t *tx;
  size_t tx_len, tx_off;
  int short_writes, writable_calls;
  /* what arrived */
  uint8_t *rx;
  size_t rx_len, rx_cap;
  int rx_fin;
  /* echo (server): bytes received and not yet accepted by a write */
  uint8_t *pend;
  size_t pend_len, pend_cap, pend_max;
  bool pend_fin, echo_fin_sent;
} rec;

struct fx {
  qfx q; /* loop, guard, identities A and B, endpoints */
  rec recs[MAXREC];
  int nrecs;
  bool manual; /* server side gives credit back only for echoed bytes */
  /* STUN */
  nat_udp *responder;
  nat_udp *cli_udp; /* the client endpoint's socket, when the test lends it */
  nat_addr responder_addr, srv_addr, cli_addr;
  bool stun_running;
  int stun_ok, stun_ok_via_quic, stun_bad, stun_started, stun_finished;
};

static rec *rec_new(fx *f, bool server) {
  rec *r;
  assert_true(f->nrecs < MAXREC);
  r = &f->recs[f->nrecs++];
  memset(r, 0, sizeof *r);
  r->f = f;
  r->server = server;
  r->sid = -1;
  return r;
}

static void rec_free(rec *r) {
  free(r->rx);
  free(r->pend);
  r->rx = r->pend = NULL;
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qfx_init(&f->q, 20000);
  qfx_identities(&f->q);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  if (f->responder)
    nat_udp_close(f->responder, NULL, NULL);
  qfx_close_eps(&f->q);
  if (f->cli_udp)
    nat_udp_close(f->cli_udp, NULL, NULL);
  qfx_fini(&f->q);
  for (int i = 0; i < f->nrecs; i++)
    rec_free(&f->recs[i]);
  free(f);
  return 0;
}

/* --------------------------------------------------------- data pumps */

static void append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *d,
                   size_t n) {
  if (*len + n > *cap) {
    size_t nc = *cap ? *cap : 4096;
    while (nc < *len + n)
      nc *= 2;
    *buf = realloc(*buf, nc);
    assert_non_null(*buf);
    *cap = nc;
  }
  if (n > 0)
    memcpy(*buf + *len, d, n);
  *len += n;
}

static void tx_pump(rec *r) {
  while (r->tx_off < r->tx_len) {
    size_t left = r->tx_len - r->tx_off;
    ssize_t n =
        nat_quic_stream_write(r->c, r->sid, r->tx + r->tx_off, left, true);
    assert_true(n >= 0);
    r->tx_off += (size_t)n;
    if ((size_t)n < left) {
      r->short_writes++;
      return; /* on_writable resumes */
    }
  }
}

static void echo_pump(rec *r) {
  for (;;) {
    size_t had = r->pend_len;
    ssize_t n;
    if (had == 0 && (!r->pend_fin || r->echo_fin_sent))
      return;
    n = nat_quic_stream_write(r->c, r->sid, r->pend, had, r->pend_fin);
    assert_true(n >= 0);
    memmove(r->pend, r->pend + n, had - (size_t)n);
    r->pend_len -= (size_t)n;
    if (n > 0 && r->f->manual) /* processed: the peer may send more */
      assert_int_equal(nat_quic_stream_consume(r->c, r->sid, (size_t)n), 0);
    if (r->pend_len == 0) {
      r->echo_fin_sent = r->pend_fin;
      return;
    }
    r->short_writes++;
    return;
  }
}

/* ----------------------------------------------------------- callbacks */

static int on_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  rec *r = rec_new(arg, true);
  (void)ep;
  r->c = c;
  nat_quic_conn_set_arg(c, r);
  return 0;
}

static void on_connected(nat_quic_conn *c, void *arg) {
  rec *r = arg;
  r->connected++;
  if (r->tx) {
    assert_int_equal(nat_quic_stream_open(c, &r->sid), 0);
    tx_pump(r);
  }
}

static void on_stream_data(nat_quic_conn *c, void *arg, int64_t sid,
                           const uint8_t *data, size_t len, bool fin) {
  rec *r = arg;
  (void)c;
  r->sid = sid;
  if (r->server) {
    append(&r->pend, &r->pend_len, &r->pend_cap, data, len);
    if (r->pend_len > r->pend_max)
      r->pend_max = r->pend_len;
    r->pend_fin |= fin;
    echo_pump(r);
    return;
  }
  append(&r->rx, &r->rx_len, &r->rx_cap, data, len);
  if (fin)
    r->rx_fin = 1;
}

static void on_writable(nat_quic_conn *c, void *arg, int64_t sid) {
  rec *r = arg;
  (void)c;
  assert_int_equal(sid, r->sid);
  r->writable_calls++;
  if (r->server)
    echo_pump(r);
  else
    tx_pump(r);
}

static void on_closed(nat_quic_conn *c, void *arg,
                      const nat_quic_close_info *info) {
  rec *r = arg;
  (void)c;
  r->closed++;
  r->close_error = info->error;
  r->c = NULL;
}

/* The server endpoint answers STUN Binding requests on its QUIC socket. */
static void reply_binding(nat_udp *u, const nat_addr *from, const uint8_t *buf,
                          size_t len) {
  nat_stun_msg m;
  nat_stun_builder b;
  uint8_t out[96];
  ssize_t n;
  assert_true(nat_stun_decode(&m, buf, len) >= 0);
  assert_int_equal(m.cls, NAT_STUN_REQUEST);
  assert_int_equal(nat_stun_builder_init(&b, out, sizeof out, NAT_STUN_BINDING,
                                         NAT_STUN_SUCCESS, m.tid),
                   0);
  assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, from), 0);
  n = nat_stun_builder_finish(&b, true);
  assert_true(n > 0);
  assert_int_equal(nat_udp_send(u, from, out, (size_t)n), 0);
}

static void on_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                    const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  (void)msg;
  (void)arg;
  reply_binding(nat_quic_endpoint_udp(ep), from, buf, len);
}

static void responder_recv(nat_udp *u, void *arg, const nat_addr *from,
                           const uint8_t *buf, size_t len,
                           const nat_stun_msg *msg) {
  (void)msg;
  (void)arg;
  reply_binding(u, from, buf, len);
}

static const nat_quic_callbacks callbacks = {
    .on_accept = on_accept,
    .on_connected = on_connected,
    .on_stream_data = on_stream_data,
    .on_writable = on_writable,
    .on_closed = on_closed,
    .on_stun = on_stun,
};

/* ------------------------------------------------------------- tests */

/* 1 MB through an echo, byte for byte. The client's send buffer is 48 KiB
 * and the server's 32 KiB, so writes are short and on_writable resumes
 * them; the server gives flow-control credit back only for what it has
 * echoed, so what it holds never exceeds its 64 KiB stream window. */
static void test_echo_1mb_backpressure(void **state) {
  enum { LEN = 1 << 20, WINDOW = 64 * 1024 };
  fx *f = *state;
  nat_quic_config cfg = qfx_server_cfg(&f->q, "127.0.0.1", &callbacks, f);
  nat_quic_endpoint *cli;
  nat_addr ca;
  f->manual = true;
  cfg.manual_consume = true;
  cfg.stream_window = WINDOW;
  cfg.conn_window = 2 * WINDOW;
  cfg.send_buffer = 32 * 1024;
  qfx_ep_new(&f->q, &cfg, &f->srv_addr);
  cfg = qfx_cfg(&f->q, f->q.ida, "127.0.0.1", &callbacks, f);
  cfg.send_buffer = 48 * 1024;
  cli = qfx_ep_new(&f->q, &cfg, &ca);

  uint8_t *data = qfx_pattern(LEN, 12345);
  rec *c = rec_new(f, false);
  c->tx = data;
  c->tx_len = LEN;
  assert_int_equal(nat_quic_connect(cli, &f->srv_addr, f->q.pinb, c, &c->c), 0);
  uint64_t t0 = uv_hrtime();
  run_until(f, &c->rx_fin, 1);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  assert_int_equal(c->rx_len, LEN);
  assert_memory_equal(c->rx, data, LEN);
  rec *s = &f->recs[1];
  assert_true(s->server);
  print_message("1 MiB echo in %.1f ms; client short writes %d (writable %d), "
                "server short writes %d, server held at most %zu bytes\n",
                ms, c->short_writes, c->writable_calls, s->short_writes,
                s->pend_max);
  assert_true(c->short_writes > 0);
  assert_true(c->writable_calls > 0);
  assert_true(s->short_writes > 0);
  assert_true(s->pend_max <= WINDOW);
  assert_true(nat_quic_stream_unacked(c->c, c->sid) <= 48 * 1024);
  assert_int_equal(nat_quic_conn_close(c->c, 0, "ok"), 0);
  run_until(f, &s->closed, 1);
  free(data);
}

static void on_binding(nat_udp *u, void *arg, const nat_txn_result *r);

static void start_binding(fx *f, const nat_addr *to) {
  nat_udp *u = nat_quic_endpoint_udp(f->q.eps[1]);
  assert_int_equal(nat_udp_binding(u, to, 0, NULL, on_binding, f, NULL), 0);
  f->stun_started++;
}

/* Each answered binding starts the next while the transfer runs. */
static void on_binding(nat_udp *u, void *arg, const nat_txn_result *r) {
  fx *f = arg;
  nat_addr mapped;
  (void)u;
  f->stun_finished++;
  if (r->status != 0 || nat_stun_msg_get_mapped(r->response, &mapped) != 0 ||
      !nat_addr_equal(&mapped, &f->cli_addr)) {
    f->stun_bad++;
    return;
  }
  if (nat_addr_equal(&r->from, &f->srv_addr))
    f->stun_ok_via_quic++;
  else
    f->stun_ok++;
  if (f->stun_running)
    start_binding(f, &r->from);
}

/* STUN transactions on the QUIC sockets (to a STUN responder, and to the
 * peer QUIC endpoint, which answers through on_stun) while connections
 * carry 200 KB each way; repeated until greased packets (fixed bit clear:
 * first byte 0x00-0x3F) have crossed. None may reach the STUN layer. */
static void test_stun_and_quic_share_socket(void **state) {
  enum { LEN = 200 * 1000, MAX_ROUNDS = 16 };
  fx *f = *state;
  nat_udp_config ucfg;
  nat_quic_stats ss, cs;
  nat_quic_config cfg = qfx_server_cfg(&f->q, "127.0.0.1", &callbacks, f);
  nat_quic_endpoint *srv = qfx_ep_new(&f->q, &cfg, &f->srv_addr);
  /* The client's socket, lent to its endpoint, with an RTO of 30 s that
   * RTT samples cannot lower: on loopback no request is lost, and a loaded
   * machine's scheduling delay must not cause a retransmission that the
   * exact counts below would see as a second request. */
  memset(&ucfg, 0, sizeof ucfg);
  assert_int_equal(nat_addr_parse(&ucfg.bind, "127.0.0.1", 0), 0);
  ucfg.txn.rto = 30 * NAT_SECONDS;
  ucfg.txn.rto_min = 30 * NAT_SECONDS;
  assert_int_equal(nat_udp_new(&f->cli_udp, &f->q.loop, &ucfg), 0);
  cfg = qfx_cfg(&f->q, f->q.ida, "127.0.0.1", &callbacks, f);
  cfg.udp = f->cli_udp;
  nat_quic_endpoint *cli = qfx_ep_new(&f->q, &cfg, &f->cli_addr);
  memset(&ucfg, 0, sizeof ucfg);
  assert_int_equal(nat_addr_parse(&ucfg.bind, "127.0.0.1", 0), 0);
  assert_int_equal(nat_udp_new(&f->responder, &f->q.loop, &ucfg), 0);
  assert_int_equal(nat_udp_local_addr(f->responder, &f->responder_addr), 0);
  nat_udp_set_recv_cb(f->responder, responder_recv, f);

  uint8_t *data = qfx_pattern(LEN, 777);
  nat_udp_stats us, uc;
  int rounds = 0;
  do {
    rec *c = rec_new(f, false);
    c->tx = data;
    c->tx_len = LEN;
    f->stun_running = true;
    for (int i = 0; i < 4; i++) {
      start_binding(f, &f->responder_addr);
      start_binding(f, &f->srv_addr);
    }
    assert_int_equal(nat_quic_connect(cli, &f->srv_addr, f->q.pinb, c, &c->c),
                     0);
    run_until(f, &c->rx_fin, 1);
    assert_int_equal(c->rx_len, LEN);
    assert_memory_equal(c->rx, data, LEN);
    f->stun_running = false;
    assert_int_equal(nat_quic_conn_close(c->c, 0, NULL), 0);
    run_until(f, &c->closed, 1);
    run_until(f, &f->stun_finished, f->stun_started); /* chains end */
    nat_quic_endpoint_stats(srv, &ss);
    nat_quic_endpoint_stats(cli, &cs);
    nat_udp_stats_get(nat_quic_endpoint_udp(srv), &us);
    nat_udp_stats_get(nat_quic_endpoint_udp(cli), &uc);
    rounds++;
  } while (ss.fixed_bit_clear + cs.fixed_bit_clear < 100 &&
           rounds < MAX_ROUNDS);

  print_message(
      "%d round(s) of 200 KB: greased QUIC datagrams in: server %llu of "
      "%llu, client %llu of %llu; STUN ok: %d via responder, %d via the QUIC "
      "peer; late packets for closed connections: %llu + %llu (closing or "
      "draining), %llu + %llu (freed)\n",
      rounds, (unsigned long long)ss.fixed_bit_clear,
      (unsigned long long)ss.quic_in, (unsigned long long)cs.fixed_bit_clear,
      (unsigned long long)cs.quic_in, f->stun_ok, f->stun_ok_via_quic,
      (unsigned long long)ss.late_in, (unsigned long long)cs.late_in,
      (unsigned long long)ss.unknown_cid, (unsigned long long)cs.unknown_cid);
  assert_true(ss.fixed_bit_clear + cs.fixed_bit_clear >= 100);
  assert_int_equal(f->stun_bad, 0);
  assert_true(f->stun_ok > 0);
  assert_true(f->stun_ok_via_quic > 0);
  assert_int_equal(ss.stun_in, (uint64_t)f->stun_ok_via_quic);
  assert_int_equal(cs.stun_in, 0);
  assert_int_equal(ss.undecodable + cs.undecodable, 0);
  assert_int_equal(uc.txn.retransmits, 0); /* no request was lost */
  const nat_udp_stats *both[2] = {&us, &uc};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(both[i]->txn.malformed, 0);
    assert_int_equal(both[i]->txn.unmatched, 0);
    assert_int_equal(both[i]->txn.spoofed, 0);
    assert_int_equal(both[i]->txn.duplicates, 0);
  }
  /* requests to the QUIC peer pass the transaction layer, then on_stun */
  assert_int_equal(us.txn.not_response, (uint64_t)f->stun_ok_via_quic);
  assert_int_equal(uc.txn.not_response, 0);
  assert_int_equal(uc.txn.responses,
                   (uint64_t)(f->stun_ok + f->stun_ok_via_quic));
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_echo_1mb_backpressure, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_stun_and_quic_share_socket, fx_setup,
                                      fx_teardown),
  };
  if (getenv("NAT_TEST_FILTER"))
    cmocka_set_test_filter(getenv("NAT_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
