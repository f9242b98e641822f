/* How QUIC connections end (RFC 9000 section 10) on real loopback sockets,
 * both peers in one loop: a clean close seen by the peer as code 0 with no
 * error, both sides keeping their state for the closing / draining period
 * and freeing it after; packets arriving after a close answered with the
 * same CONNECTION_CLOSE (rate-limited: 1st, 2nd, 4th, 8th...) while the
 * draining side stays silent; a refusal whose CONNECTION_CLOSE was lost,
 * recovered by the answer to the peer's retransmission; closing an
 * endpoint frees closing connections at once; Version Negotiation; junk
 * and fake stateless resets for unknown connection IDs dropped. A small
 * forwarder between the peers (two nat_udp sockets) drops or replays
 * chosen datagrams. The endpoints run on the fixture's fake clock: the
 * closing and draining periods and retransmissions take no real time. No
 * sleeps: the loop runs until a callback or a counter says so; a guard
 * turns a hang into a failure. */
#include "quic_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/error.h"
#include "nat/quic.h"
#include "nat/udp.h"

#define MAXREC 16
#define MAXUDP 8
/* The shortest closing / draining period (quic_conn.c). */
#define LINGER_MIN (2 * NAT_SECONDS)

/* ------------------------------------------------------------ fixture */

typedef struct fx fx;

typedef struct rec {
  fx *f;
  nat_quic_conn *c;
  bool server;
  int connected, closed;
  nat_quic_close_info ci;
  char reason[NAT_QUIC_REASON_MAX + 1];
  nat_tstamp t_closed;
  int rx; /* stream bytes received */
} rec;

/* A forwarder: the client talks to `near`, the server sees `far`. */
typedef struct proxy {
  nat_udp *near, *far;
  nat_addr near_addr, server, client;
  bool have_client;
  uint64_t c2s_seen;     /* datagrams from the client, dropped ones included */
  uint64_t drop_c2s;     /* drop the client's datagram with this number (1-) */
  bool drop_until_s2c;   /* ... and every later one until the server sends */
  int c2s, s2c, dropped; /* forwarded, forwarded, dropped */
  uint8_t last_s2c[1500];
  size_t last_s2c_len;
} proxy;

struct fx {
  qfx q; /* loop, guard, identities A and B, endpoints */
  rec recs[MAXREC];
  int nrecs;
  nat_udp *udps[MAXUDP];
  int nudps;
  const uint8_t *accept_pin;
  proxy px;
  /* datagrams received by a bare socket (raw_recv) */
  int raw_in;
  uint8_t raw_buf[1500];
  size_t raw_len;
};

static uint64_t stat_at(nat_quic_endpoint *ep, size_t off) {
  nat_quic_stats st;
  uint64_t v;
  nat_quic_endpoint_stats(ep, &st);
  memcpy(&v, (const char *)&st + off, sizeof v);
  return v;
}

/* Step until an endpoint counter equals @p want. Every change of a counter
 * comes from an event (a datagram, a deadline), and each step runs one. */
static void wait_stat_(fx *f, nat_quic_endpoint *ep, size_t off, uint64_t want,
                       const char *name, int line) {
  qfx_guard_start(&f->q);
  while (stat_at(ep, off) != want && !f->q.expired)
    qfx_step(&f->q);
  qfx_guard_stop(&f->q, line, name, stat_at(ep, off), want);
}
#define wait_stat(f, ep, field, want)                                          \
  wait_stat_(f, ep, offsetof(nat_quic_stats, field), want, #field, __LINE__)
#define ep_stat(ep, field) stat_at(ep, offsetof(nat_quic_stats, field))

static rec *rec_new(fx *f, bool server) {
  rec *r;
  assert_true(f->nrecs < MAXREC);
  r = &f->recs[f->nrecs++];
  memset(r, 0, sizeof *r);
  r->f = f;
  r->server = server;
  return r;
}

static nat_udp *udp_new(fx *f, nat_addr *addr) {
  nat_udp_config ucfg;
  nat_udp *u = NULL;
  memset(&ucfg, 0, sizeof ucfg);
  assert_int_equal(nat_addr_parse(&ucfg.bind, "127.0.0.1", 0), 0);
  assert_int_equal(nat_udp_new(&u, &f->q.loop, &ucfg), 0);
  assert_true(f->nudps < MAXUDP);
  f->udps[f->nudps++] = u;
  if (addr)
    assert_int_equal(nat_udp_local_addr(u, addr), 0);
  return u;
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qfx_init(&f->q, 15000);
  qfx_identities(&f->q);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  qfx_close_eps(&f->q);
  for (int i = 0; i < f->nudps; i++)
    nat_udp_close(f->udps[i], NULL, NULL);
  qfx_fini(&f->q);
  free(f);
  return 0;
}

/* ----------------------------------------------------------- callbacks */

static int on_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  fx *f = arg;
  rec *r = rec_new(f, true);
  (void)ep;
  r->c = c;
  if (f->accept_pin)
    assert_int_equal(nat_quic_conn_set_peer_pin(c, f->accept_pin), 0);
  nat_quic_conn_set_arg(c, r);
  return 0;
}

static void on_connected(nat_quic_conn *c, void *arg) {
  (void)c;
  ((rec *)arg)->connected++;
}

static void on_stream_data(nat_quic_conn *c, void *arg, int64_t sid,
                           const uint8_t *data, size_t len, bool fin) {
  (void)c;
  (void)sid;
  (void)data;
  (void)fin;
  ((rec *)arg)->rx += (int)len;
}

static void on_closed(nat_quic_conn *c, void *arg,
                      const nat_quic_close_info *info) {
  rec *r = arg;
  (void)c;
  r->closed++;
  r->t_closed = r->f->q.now;
  r->ci = *info;
  assert_int_equal(strlen(info->reason), info->reason_len);
  memcpy(r->reason, info->reason, info->reason_len + 1);
  r->ci.reason = r->reason;
  r->c = NULL;
}

static const nat_quic_callbacks callbacks = {
    .on_accept = on_accept,
    .on_connected = on_connected,
    .on_stream_data = on_stream_data,
    .on_closed = on_closed,
};

/* qfx_pair on 127.0.0.1: server B accepting pin A, client A; timeouts
 * 10 s. */
static void pair(fx *f, nat_quic_endpoint **srv, nat_addr *srv_addr,
                 nat_quic_endpoint **cli) {
  qfx_pair(&f->q, "127.0.0.1", &callbacks, f, srv, srv_addr, cli);
}

static rec *dial(fx *f, nat_quic_endpoint *cli, const nat_addr *to,
                 const uint8_t *pin) {
  rec *r = rec_new(f, false);
  assert_int_equal(nat_quic_connect(cli, to, pin, r, &r->c), 0);
  return r;
}

static rec *server_rec(fx *f) {
  for (int i = 0; i < f->nrecs; i++)
    if (f->recs[i].server)
      return &f->recs[i];
  fail_msg("no server-side connection");
  return NULL;
}

/* Dial @p to from @p cli (pin B) and run until both ends are connected;
 * the server's end in *s. */
static rec *connect_both(fx *f, nat_quic_endpoint *cli, const nat_addr *to,
                         rec **s) {
  rec *c = dial(f, cli, to, f->q.pinb);
  run_until(f, &c->connected, 1);
  *s = server_rec(f);
  run_until(f, &(*s)->connected, 1);
  return c;
}

/* pair() and a connection from the client to the server, connected. */
static rec *pair_connected(fx *f, nat_quic_endpoint **srv, nat_addr *sa,
                           nat_quic_endpoint **cli, rec **s) {
  pair(f, srv, sa, cli);
  return connect_both(f, *cli, sa, s);
}

/* ------------------------------------------------------------- proxy */

static void px_from_client(nat_udp *u, void *arg, const nat_addr *from,
                           const uint8_t *buf, size_t len,
                           const nat_stun_msg *msg) {
  proxy *p = &((fx *)arg)->px;
  (void)msg;
  (void)u;
  p->client = *from;
  p->have_client = true;
  p->c2s_seen++;
  if (p->drop_c2s != 0 && p->c2s_seen >= p->drop_c2s) {
    if (p->c2s_seen == p->drop_c2s || p->drop_until_s2c) {
      p->dropped++;
      return;
    }
  }
  p->c2s++;
  nat_udp_send(p->far, &p->server, buf, len);
}

static void px_from_server(nat_udp *u, void *arg, const nat_addr *from,
                           const uint8_t *buf, size_t len,
                           const nat_stun_msg *msg) {
  proxy *p = &((fx *)arg)->px;
  (void)msg;
  (void)u;
  (void)from;
  if (p->drop_c2s != 0 && p->c2s_seen >= p->drop_c2s)
    p->drop_until_s2c = false; /* the server spoke again: let answers by */
  assert_true(len <= sizeof p->last_s2c);
  memcpy(p->last_s2c, buf, len);
  p->last_s2c_len = len;
  p->s2c++;
  if (p->have_client)
    nat_udp_send(p->near, &p->client, buf, len);
}

/* A forwarder to @p server; the client dials f->px.near_addr. */
static void proxy_start(fx *f, const nat_addr *server) {
  proxy *p = &f->px;
  memset(p, 0, sizeof *p);
  p->server = *server;
  p->near = udp_new(f, &p->near_addr);
  p->far = udp_new(f, NULL);
  nat_udp_set_recv_cb(p->near, px_from_client, f);
  nat_udp_set_recv_cb(p->far, px_from_server, f);
}

/* Send the server's last datagram to the client again, @p n times. */
static void proxy_replay(fx *f, int n) {
  proxy *p = &f->px;
  assert_true(p->have_client && p->last_s2c_len > 0);
  for (int i = 0; i < n; i++)
    assert_int_equal(
        nat_udp_send(p->near, &p->client, p->last_s2c, p->last_s2c_len), 0);
}

static uint64_t udp_out(nat_quic_endpoint *ep) {
  nat_udp_stats st;
  nat_udp_stats_get(nat_quic_endpoint_udp(ep), &st);
  return st.datagrams_out + st.send_errors;
}

/* ------------------------------------------------------------- tests */

/* Answers the closing side gives to @p n late packets: one for the 1st,
 * 2nd, 4th, 8th... */
static uint64_t answers(uint64_t n) {
  uint64_t a = 0;
  for (uint64_t k = 1; k <= n; k *= 2)
    a++;
  return a;
}

/* Close with code 0: the peer sees by_peer, application code 0, no error.
 * Both keep the connection's state for the closing / draining period (at
 * least 2 s) and free it then. */
static void test_clean_close(void **state) {
  fx *f = *state;
  nat_quic_endpoint *srv, *cli;
  nat_addr sa;
  rec *s;
  rec *c = pair_connected(f, &srv, &sa, &cli, &s);

  nat_tstamp t0 = f->q.now;
  assert_int_equal(nat_quic_conn_close(c->c, 0, NULL), 0);
  assert_int_equal(c->closed, 0); /* never from inside the call */
  run_until(f, &s->closed, 1);
  run_until(f, &c->closed, 1);
  assert_int_equal(s->ci.error, 0);
  assert_true(s->ci.by_peer);
  assert_true(s->ci.app);
  assert_int_equal(s->ci.code, 0);
  assert_int_equal(s->ci.reason_len, 0);
  assert_int_equal(c->ci.error, 0);
  assert_false(c->ci.by_peer);
  /* reported, but held for the closing (client) and draining (server)
   * periods */
  assert_int_equal(ep_stat(cli, conns), 0);
  assert_int_equal(ep_stat(cli, closing), 1);
  assert_int_equal(ep_stat(srv, conns), 0);
  assert_int_equal(ep_stat(srv, closing), 1);
  assert_int_equal(ep_stat(srv, peer_closes), 1);
  assert_int_equal(ep_stat(cli, peer_closes), 0);
  assert_true(c->t_closed - t0 < LINGER_MIN / 4);
  assert_true(s->t_closed - t0 < LINGER_MIN / 4);

  wait_stat(f, cli, closing, 0);
  nat_tstamp t_cli = f->q.now - t0;
  wait_stat(f, srv, closing, 0);
  nat_tstamp t_srv = f->q.now - t0;
  print_message("closing period %.0f ms, draining period %.0f ms\n",
                (double)t_cli / 1e6, (double)t_srv / 1e6);
  assert_true(t_cli >= LINGER_MIN);
  assert_true(t_srv >= LINGER_MIN);
  /* on the fake clock, the floor exactly (three PTOs on loopback are far
   * less) */
  assert_true(t_cli < LINGER_MIN + 10 * NAT_MILLISECONDS);
  assert_true(t_srv < LINGER_MIN + 10 * NAT_MILLISECONDS);
}

/* The client's CONNECTION_CLOSE is lost: the server, still open, sends
 * data; the client (closing) answers with its CONNECTION_CLOSE, and the
 * server ends with the client's code and reason. Seven more copies of the
 * server's datagram get three more answers (the 2nd, 4th and 8th late
 * packet); the server (draining) answers none. After the period, the
 * client's state is gone and a late packet is an unknown CID. */
static void test_late_packets_answered(void **state) {
  fx *f = *state;
  nat_quic_endpoint *srv, *cli;
  nat_addr sa;
  int64_t sid;
  pair(f, &srv, &sa, &cli);
  proxy_start(f, &sa);
  rec *s;
  rec *c = connect_both(f, cli, &f->px.near_addr, &s);

  /* the close is the next datagram the client sends: lose it */
  f->px.drop_c2s = udp_out(cli) + 1;
  assert_int_equal(nat_quic_conn_close(c->c, 77, "done here"), 0);
  run_until(f, &f->px.dropped, 1);
  run_until(f, &c->closed, 1);
  assert_int_equal(s->closed, 0);

  /* (a packet the server had sent before may have got the answer
   * already) */
  if (s->closed == 0) {
    assert_int_equal(nat_quic_stream_open(s->c, &sid), 0);
    assert_int_equal(
        nat_quic_stream_write(s->c, sid, (const uint8_t *)"late", 4, true), 4);
  }
  run_until(f, &s->closed, 1);
  assert_true(s->ci.by_peer);
  assert_true(s->ci.app);
  assert_int_equal(s->ci.error, 0);
  assert_int_equal(s->ci.code, 77);
  assert_string_equal(s->ci.reason, "done here");
  uint64_t late0 = ep_stat(cli, late_in);
  assert_true(late0 >= 1);
  assert_int_equal(ep_stat(cli, close_resent), answers(late0));

  /* the rate limit, and the draining side's silence */
  uint64_t srv_out = udp_out(srv);
  int s2c = f->px.s2c;
  proxy_replay(f, 7);
  wait_stat(f, cli, late_in, late0 + 7);
  uint64_t resent = answers(late0 + 7);
  assert_int_equal(ep_stat(cli, close_resent), resent);
  print_message("closing: %llu late packets, %llu answered\n",
                (unsigned long long)(late0 + 7), (unsigned long long)resent);
  /* every answer after the one that made the server drain is late there */
  wait_stat(f, srv, late_in, resent - 1);
  assert_int_equal(ep_stat(srv, close_resent), 0);
  assert_int_equal(udp_out(srv), srv_out);
  assert_int_equal(f->px.s2c, s2c);

  /* after the period: freed; a late packet is now for no connection */
  wait_stat(f, cli, closing, 0);
  wait_stat(f, srv, closing, 0);
  uint64_t unknown = ep_stat(cli, unknown_cid);
  proxy_replay(f, 1);
  wait_stat(f, cli, unknown_cid, unknown + 1);
  assert_int_equal(ep_stat(cli, close_resent), resent);
  assert_int_equal(ep_stat(cli, late_in), late0 + 7);
}

/* The client refuses the server's certificate and its CONNECTION_CLOSE is
 * lost (with anything else it sends until the server speaks again). The
 * server, which has no RTT sample, retransmits its flight one PTO later
 * (about 1 s: 333 ms + 4 x 166 ms); the client, still in its closing
 * period, answers, and the server ends with NAT_EPEERPIN at that first
 * retransmission, long before its 10 s handshake timeout. */
static void test_refusal_close_lost(void **state) {
  fx *f = *state;
  nat_quic_endpoint *srv, *cli;
  nat_addr sa;
  uint8_t bad[NAT_QUIC_PIN_LEN];
  pair(f, &srv, &sa, &cli);
  proxy_start(f, &sa);
  memcpy(bad, f->q.pinb, sizeof bad);
  bad[5] ^= 0x10;
  f->px.drop_c2s = 2; /* after the client's first flight */
  f->px.drop_until_s2c = true;
  nat_tstamp t0 = f->q.now;
  rec *c = dial(f, cli, &f->px.near_addr, bad);
  run_until(f, &c->closed, 1);
  assert_int_equal(c->ci.error, NAT_EPIN);
  rec *s = server_rec(f);
  run_until(f, &s->closed, 1);
  print_message("refusal with its CONNECTION_CLOSE lost: client refused "
                "after %.1f ms, server failed after %.0f ms (handshake "
                "timeout 10 s); %d datagram(s) dropped, client answered %llu "
                "late packet(s)\n",
                (double)(c->t_closed - t0) / 1e6,
                (double)(s->t_closed - t0) / 1e6, f->px.dropped,
                (unsigned long long)ep_stat(cli, close_resent));
  assert_true(f->px.dropped >= 1);
  assert_true(ep_stat(cli, close_resent) >= 1);
  assert_int_equal(s->ci.error, NAT_EPEERPIN);
  assert_true(s->ci.by_peer);
  assert_int_equal(s->ci.code, 0x100 + 42);
  assert_true(s->t_closed - t0 >= 900 * NAT_MILLISECONDS);
  assert_true(s->t_closed - t0 < 1100 * NAT_MILLISECONDS);
}

/* Closing the endpoint does not wait for the closing period. */
static void test_endpoint_close_frees_closing(void **state) {
  fx *f = *state;
  nat_quic_endpoint *srv, *cli;
  nat_addr sa;
  rec *s;
  rec *c = pair_connected(f, &srv, &sa, &cli, &s);
  assert_int_equal(nat_quic_conn_close(c->c, 1, "bye"), 0);
  run_until(f, &c->closed, 1);
  run_until(f, &s->closed, 1);
  assert_int_equal(ep_stat(cli, closing), 1);
  assert_int_equal(ep_stat(srv, closing), 1);
  nat_tstamp t0 = f->q.now;
  int before = f->q.ep_closed;
  nat_quic_endpoint_close(cli, qfx_on_ep_closed, &f->q);
  nat_quic_endpoint_close(srv, qfx_on_ep_closed, &f->q);
  run_until(f, &f->q.ep_closed, before + 2);
  assert_true(f->q.now - t0 < 10 * NAT_MILLISECONDS); /* no deadline */
  assert_int_equal(c->closed + s->closed, 2);         /* no second on_closed */
}

/* A long header of an unknown version: a 1200-byte datagram gets Version
 * Negotiation (v1, CIDs swapped) from an accepting endpoint; a smaller one
 * is dropped, and so is a Version Negotiation packet; an endpoint that
 * does not accept drops them all. */
static void raw_recv(nat_udp *u, void *arg, const nat_addr *from,
                     const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  fx *f = arg;
  (void)msg;
  (void)u;
  (void)from;
  f->raw_in++;
  if (len <= sizeof f->raw_buf) {
    memcpy(f->raw_buf, buf, len);
    f->raw_len = len;
  }
}

static size_t long_header(uint8_t *p, size_t size, uint32_t version,
                          const uint8_t *dcid, const uint8_t *scid) {
  memset(p, 0, size);
  p[0] = 0xc0; /* long header, fixed bit, type Initial */
  p[1] = (uint8_t)(version >> 24);
  p[2] = (uint8_t)(version >> 16);
  p[3] = (uint8_t)(version >> 8);
  p[4] = (uint8_t)version;
  p[5] = 8;
  memcpy(p + 6, dcid, 8);
  p[14] = 8;
  memcpy(p + 15, scid, 8);
  return size;
}

static void test_version_negotiation(void **state) {
  fx *f = *state;
  static const uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const uint8_t scid[8] = {9, 10, 11, 12, 13, 14, 15, 16};
  uint8_t pkt[1200];
  nat_addr sa, ca;
  nat_quic_endpoint *srv, *cli;
  pair(f, &srv, &sa, &cli);
  assert_int_equal(nat_quic_endpoint_local_addr(cli, &ca), 0);
  nat_udp *raw = udp_new(f, NULL);
  nat_udp_set_recv_cb(raw, raw_recv, f);

  /* small first: loopback keeps the order, so when the answer to the big
   * one arrives, the small one has been judged */
  long_header(pkt, 200, 0x1a2a3a4a, dcid, scid);
  assert_int_equal(nat_udp_send(raw, &sa, pkt, 200), 0);
  long_header(pkt, sizeof pkt, 0x1a2a3a4a, dcid, scid);
  assert_int_equal(nat_udp_send(raw, &sa, pkt, sizeof pkt), 0);
  run_until(f, &f->raw_in, 1);
  const uint8_t *v = f->raw_buf;
  assert_true(f->raw_len >= 7 + 8 + 8 + 4);
  assert_true(v[0] & 0x80);
  assert_memory_equal(v + 1, "\0\0\0\0", 4); /* version 0: VN */
  assert_int_equal(v[5], 8);
  assert_memory_equal(v + 6, scid, 8); /* our SCID is its DCID */
  assert_int_equal(v[14], 8);
  assert_memory_equal(v + 15, dcid, 8);
  bool v1 = false;
  for (size_t o = 23; o + 4 <= f->raw_len; o += 4)
    v1 |= memcmp(v + o, "\0\0\0\1", 4) == 0;
  assert_true(v1);
  assert_int_equal(ep_stat(srv, version_negotiation), 1);
  assert_int_equal(ep_stat(srv, undecodable), 1);
  assert_int_equal(ep_stat(srv, accepted), 0);

  /* a Version Negotiation packet (version 0) is never answered */
  uint64_t in = ep_stat(srv, datagrams_in);
  long_header(pkt, sizeof pkt, 0, dcid, scid);
  assert_int_equal(nat_udp_send(raw, &sa, pkt, sizeof pkt), 0);
  wait_stat(f, srv, datagrams_in, in + 1);
  assert_int_equal(ep_stat(srv, version_negotiation), 1);
  assert_int_equal(ep_stat(srv, unknown_cid), 1);

  /* not accepting: dropped */
  long_header(pkt, sizeof pkt, 0x1a2a3a4a, dcid, scid);
  assert_int_equal(nat_udp_send(raw, &ca, pkt, sizeof pkt), 0);
  wait_stat(f, cli, undecodable, 1);
  assert_int_equal(ep_stat(cli, version_negotiation), 0);
  assert_int_equal(f->raw_in, 1);
}

/* Short headers with connection IDs nobody issued (random junk, and
 * datagrams shaped like stateless resets: 0x40 | random, random bytes, 16
 * trailing "token" bytes) and a long header Initial too short to accept
 * are dropped and counted; the live connection between the same sockets
 * is not disturbed and still carries data. */
static void test_unknown_cid_dropped(void **state) {
  fx *f = *state;
  nat_quic_endpoint *srv, *cli;
  nat_addr sa, ca;
  uint8_t pkt[64];
  int64_t sid;
  rec *s;
  rec *c = pair_connected(f, &srv, &sa, &cli, &s);
  assert_int_equal(nat_quic_endpoint_local_addr(cli, &ca), 0);
  nat_udp *raw = udp_new(f, NULL);
  nat_udp_set_recv_cb(raw, raw_recv, f);
  uint64_t srv_unknown = ep_stat(srv, unknown_cid);
  uint64_t cli_unknown = ep_stat(cli, unknown_cid);
  for (int i = 0; i < 10; i++) {
    for (size_t k = 0; k < sizeof pkt; k++)
      pkt[k] = (uint8_t)((size_t)i * 37 + k * 11 + 5);
    pkt[0] = (uint8_t)(0x40 | (pkt[0] & 0x3f)); /* short header */
    assert_int_equal(nat_udp_send(raw, &sa, pkt, 21 + (size_t)i * 4), 0);
    assert_int_equal(nat_udp_send(raw, &ca, pkt, 21 + (size_t)i * 4), 0);
  }
  long_header(pkt, sizeof pkt, 1, (const uint8_t *)"abcdefgh",
              (const uint8_t *)"ijklmnop");
  assert_int_equal(nat_udp_send(raw, &sa, pkt, sizeof pkt), 0);
  wait_stat(f, srv, unknown_cid, srv_unknown + 11);
  wait_stat(f, cli, unknown_cid, cli_unknown + 10);
  assert_int_equal(ep_stat(srv, accepted), 1);
  assert_int_equal(ep_stat(srv, conns), 1);
  assert_int_equal(c->closed + s->closed, 0);
  assert_int_equal(nat_quic_stream_open(c->c, &sid), 0);
  assert_int_equal(
      nat_quic_stream_write(c->c, sid, (const uint8_t *)"still here", 10, true),
      10);
  run_until(f, &s->rx, 10);
  assert_int_equal(f->raw_in, 0); /* nothing was sent back */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_clean_close, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_late_packets_answered, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_refusal_close_lost, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_endpoint_close_frees_closing,
                                      fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_version_negotiation, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_cid_dropped, fx_setup,
                                      fx_teardown),
  };
  if (getenv("NAT_TEST_FILTER")) /* run a subset: a glob on test names */
    cmocka_set_test_filter(getenv("NAT_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
