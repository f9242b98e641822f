/* The simulated network of test_probe.c (the probe plan, nat/probe.h,
 * end to end and sans I/O). Each test_*.c is its own executable
 * (tests/CMakeLists.txt), so everything here is static.
 *
 * The plan's sockets sit in a LAN (10.0.0.2) behind the pure NAT model
 * (nat/natbox.h: IPv4/UDP packets through nat_box_outbound/inbound), a WAN
 * with a fixed one-way delay and seeded loss, and a fake RFC 5780 server
 * on 203.0.113.1/.2 ports 3478/3479 built from nat_stunsrv_respond(). A
 * fake clock jumps from event to event (run()). kinds[] lists the NAT
 * kinds with the verdict each must get; world_init() builds one, start()
 * makes the plan, run() drives it to the end (w->end), and count(),
 * find() and sends_from() read what happened. */
#ifndef NAT_TEST_PROBE_SIM_H
#define NAT_TEST_PROBE_SIM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/ipv4.h"
#include "nat/error.h"
#include "nat/natbox.h"
#include "nat/probe.h"
#include "nat/stun.h"
#include "nat/stunsrv.h"
#include "nat/verdict.h"

#define MS     NAT_MILLISECONDS
#define IP1    0xCB007101u /* 203.0.113.1 */
#define IP2    0xCB007102u /* 203.0.113.2 */
#define P1     3478
#define P2     3479
#define LANIP  0x0A000002u /* 10.0.0.2 */
#define PUBIP  0xC6336401u /* 198.51.100.1: the NAT's */
#define HOSTIP 0xC633640Au /* 198.51.100.10: a public host */
#define PKT    700

enum { EV_SERVER, EV_INBOUND, EV_LAN };

/* A datagram the plan handed out (lifetime tests). */
typedef struct sent_rec {
  nat_tstamp at;
  uint16_t sport; /* the socket's local port */
  uint16_t rp;    /* RESPONSE-PORT of a request, 0 none */
} sent_rec;
#define SENT_MAX 1024
#define DROP_MAX 64

typedef struct ev {
  nat_tstamp at;
  uint64_t seq;
  int kind;
  uint8_t pkt[PKT];
  size_t len;
} ev;

typedef struct world {
  nat_box *box; /* NULL: the host is public */
  uint32_t host;
  nat_tstamp delay;
  double loss;
  uint64_t rng;
  bool rfc5780, ignore_change, no_response_port;
  ev *evs;
  size_t nev, cap;
  uint64_t seq;
  nat_probe *p;
  nat_addr local[NAT_PROBE_MAX_SOCKETS];
  unsigned opens, sends, lost;
  nat_tstamp now, end;
  nat_tstamp late;       /* every timer of the plan is run this late */
  nat_tstamp late_after; /* ... those due from this time on (0: all) */
  unsigned drop_sock;    /* the first datagram of this socket + 1 is lost
                            (0: none) */
  bool drop_first_rp;    /* the server drops the first transmission of each
                            RESPONSE-PORT request */
  uint8_t dropped[DROP_MAX][NAT_STUN_TID_LEN];
  size_t ndropped;
  sent_rec sent[SENT_MAX];
  size_t nsent;
} world;

/* The RESPONSE-PORT of STUN message @p buf, or 0. */
static inline uint16_t response_port_of(const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  uint16_t rp = 0;
  if (nat_stun_decode(&m, buf, len) > 0 &&
      nat_stun_msg_get_response_port(&m, &rp) == 0)
    return rp;
  return 0;
}

/* drop_first_rp: true the first time a RESPONSE-PORT request is seen. */
static inline bool drop_first(world *w, const uint8_t *buf, size_t len) {
  size_t i;
  if (!w->drop_first_rp || len < NAT_STUN_HEADER_LEN ||
      response_port_of(buf, len) == 0)
    return false;
  for (i = 0; i < w->ndropped; i++)
    if (memcmp(w->dropped[i], buf + 8, NAT_STUN_TID_LEN) == 0)
      return false;
  assert_true(w->ndropped < DROP_MAX);
  memcpy(w->dropped[w->ndropped++], buf + 8, NAT_STUN_TID_LEN);
  return true;
}

static inline uint64_t next_rand(world *w) {
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return w->rng;
}

static inline void rand_fn(void *ctx, uint8_t *buf, size_t len) {
  world *w = ctx;
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)(next_rand(w) >> 24);
}

static inline bool lose(world *w) {
  return w->loss > 0 && (double)(next_rand(w) % 1000000) / 1e6 < w->loss &&
         (++w->lost, true);
}

static inline void push(world *w, int kind, nat_tstamp at, const uint8_t *pkt,
                        size_t len) {
  ev *e;
  if (w->nev == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 64;
    w->evs = realloc(w->evs, w->cap * sizeof *w->evs);
    assert_non_null(w->evs);
  }
  e = &w->evs[w->nev++];
  e->at = at;
  e->seq = w->seq++;
  e->kind = kind;
  memcpy(e->pkt, pkt, len);
  e->len = len;
}

static inline void deliver(world *w, const uint8_t *pkt, size_t len) {
  nat_addr src, dst;
  unsigned k;
  nat__ip_udp4_addrs(pkt, &src, &dst);
  for (k = 0; k < NAT_PROBE_MAX_SOCKETS; k++)
    if (nat_addr_equal(&w->local[k], &dst)) {
      nat_probe_recv(w->p, w->now, k, &src, pkt + 28, len - 28);
      return;
    }
}

/* A packet leaves the LAN (after the NAT, if any). */
static inline void lan_out(world *w, uint8_t *pkt, size_t len) {
  int v = NAT_BOX_TO_WAN;
  if (w->box != NULL)
    v = nat_box_outbound(w->box, w->now, pkt, len);
  else if (nat__ip_rd32(pkt + 16) == w->host)
    v = NAT_BOX_TO_LAN;
  if (v == NAT_BOX_TO_LAN)
    push(w, EV_LAN, w->now, pkt, len);
  else if (v == NAT_BOX_TO_WAN && !lose(w))
    push(w, EV_SERVER, w->now + w->delay, pkt, len);
}

/* The fake RFC 5780 server. */
static inline void server(world *w, const uint8_t *pkt, size_t len) {
  nat_addr src, dst, other;
  nat_stunsrv_opts o;
  nat_stunsrv_reply r;
  uint8_t out[600], reply[PKT];
  uint32_t ip = nat__ip_rd32(pkt + 16);
  ssize_t n;
  nat__ip_udp4_addrs(pkt, &src, &dst);
  if ((ip != IP1 && ip != IP2) || (dst.port != P1 && dst.port != P2))
    return;
  if (drop_first(w, pkt + 28, len - 28))
    return;
  nat_addr_set_v4(&other, ip == IP1 ? IP2 : IP1, dst.port == P1 ? P2 : P1);
  memset(&o, 0, sizeof o);
  o.software = "fake-5780";
  o.local = &dst;
  o.other = w->rfc5780 ? &other : NULL;
  if (w->no_response_port && w->rfc5780) {
    uint16_t rp;
    nat_stun_msg m;
    if (nat_stun_decode(&m, pkt + 28, len - 28) > 0 &&
        nat_stun_msg_get_response_port(&m, &rp) == 0)
      return; /* drops requests it does not understand */
  }
  n = nat_stunsrv_respond(&o, &src, pkt + 28, len - 28, out, sizeof out, &r);
  if (n <= 0)
    return;
  if (w->ignore_change)
    r.src = dst;
  if (!lose(w))
    push(w, EV_INBOUND, w->now + w->delay, reply,
         nat__ip_udp4_build(reply, &r.src, &r.dst, out, (size_t)n));
}

static inline void inbound(world *w, uint8_t *pkt, size_t len) {
  int v = NAT_BOX_TO_LAN;
  if (w->box != NULL)
    v = nat_box_inbound(w->box, w->now, pkt, len);
  if (v == NAT_BOX_TO_LAN)
    deliver(w, pkt, len);
}

static inline void do_actions(world *w) {
  nat_probe_action a;
  uint8_t pkt[PKT];
  while (nat_probe_next_action(w->p, w->now, &a) > 0) {
    if (a.kind == NAT_PROBE_ACT_OPEN) {
      assert_int_equal(a.family, NAT_AF_INET);
      /* ephemeral ports as the kernel gives them: random, distinct */
      nat_addr_set_v4(&w->local[a.sock], w->box ? LANIP : w->host,
                      (uint16_t)(32768 + a.sock * 211 + next_rand(w) % 211));
      assert_int_equal(
          nat_probe_socket_opened(w->p, w->now, a.sock, 0, &w->local[a.sock]),
          0);
      w->opens++;
    } else {
      assert_int_equal(a.kind, NAT_PROBE_ACT_SEND);
      assert_true(a.len > 0 && a.len + 28 <= PKT);
      w->sends++;
      if (w->nsent < SENT_MAX) {
        sent_rec *s = &w->sent[w->nsent++];
        s->at = w->now;
        s->sport = w->local[a.sock].port;
        s->rp = response_port_of(a.data, a.len);
      }
      if (w->drop_sock == a.sock + 1) {
        w->drop_sock = 0;
        continue;
      }
      lan_out(
          w, pkt,
          nat__ip_udp4_build(pkt, &w->local[a.sock], &a.dst, a.data, a.len));
    }
  }
}

/* Earliest event (ties: first pushed). */
static inline size_t first_event(const world *w) {
  size_t i, best = SIZE_MAX;
  for (i = 0; i < w->nev; i++)
    if (best == SIZE_MAX || w->evs[i].at < w->evs[best].at ||
        (w->evs[i].at == w->evs[best].at && w->evs[i].seq < w->evs[best].seq))
      best = i;
  return best;
}

static inline void run(world *w) {
  int guard;
  for (guard = 0; guard < 200000; guard++) {
    nat_tstamp exp;
    size_t i;
    do_actions(w);
    if (nat_probe_done(w->p))
      break;
    exp = nat_probe_get_expiry(w->p);
    i = first_event(w);
    if (i != SIZE_MAX && w->evs[i].at <= exp) {
      ev e = w->evs[i];
      w->evs[i] = w->evs[--w->nev];
      if (e.at > w->now)
        w->now = e.at;
      if (e.kind == EV_SERVER)
        server(w, e.pkt, e.len);
      else if (e.kind == EV_INBOUND)
        inbound(w, e.pkt, e.len);
      else
        deliver(w, e.pkt, e.len);
      continue;
    }
    assert_true(exp != NAT_TSTAMP_MAX); /* not done, nothing to wait for */
    if (exp > w->now) /* a loaded machine runs its timers late */
      w->now = exp + (exp >= w->late_after ? w->late : 0);
    nat_probe_handle_expiry(w->p, w->now);
  }
  assert_true(nat_probe_done(w->p));
  w->end = w->now;
}

typedef struct nat_kind {
  const char *name;
  bool nat;
  uint8_t mapping, filtering, alloc;
  int32_t delta;
  bool hairpin;
  /* expectations */
  uint8_t v_mapping, v_filtering, v_alloc;
  nat_tri v_hairpin;
} nat_kind;

static const nat_kind kinds[] = {
    {"full-cone", true, NAT_BEH_EI, NAT_BEH_EI, NAT_ALLOC_PRESERVE, 0, false,
     NAT_BEH_EI, NAT_BEH_EI, NAT_PA_PRESERVING, NAT_TRI_NO},
    {"restricted-cone", true, NAT_BEH_EI, NAT_BEH_AD, NAT_ALLOC_PRESERVE, 0,
     false, NAT_BEH_EI, NAT_BEH_AD, NAT_PA_PRESERVING, NAT_TRI_NO},
    {"port-restricted", true, NAT_BEH_EI, NAT_BEH_APD, NAT_ALLOC_PRESERVE, 0,
     false, NAT_BEH_EI, NAT_BEH_APD, NAT_PA_PRESERVING, NAT_TRI_NO},
    {"port-restricted-hairpin", true, NAT_BEH_EI, NAT_BEH_APD,
     NAT_ALLOC_PRESERVE, 0, true, NAT_BEH_EI, NAT_BEH_APD, NAT_PA_PRESERVING,
     NAT_TRI_YES},
    {"full-cone-hairpin", true, NAT_BEH_EI, NAT_BEH_EI, NAT_ALLOC_PRESERVE, 0,
     true, NAT_BEH_EI, NAT_BEH_EI, NAT_PA_PRESERVING, NAT_TRI_YES},
    {"address-dependent", true, NAT_BEH_AD, NAT_BEH_AD, NAT_ALLOC_RANDOM, 0,
     false, NAT_BEH_AD, NAT_BEH_AD, NAT_PA_RANDOM, NAT_TRI_NO},
    {"symmetric", true, NAT_BEH_APD, NAT_BEH_APD, NAT_ALLOC_RANDOM, 0, false,
     NAT_BEH_APD, NAT_BEH_APD, NAT_PA_RANDOM, NAT_TRI_NO},
    {"symmetric-sequential", true, NAT_BEH_APD, NAT_BEH_APD,
     NAT_ALLOC_SEQUENTIAL, 1, false, NAT_BEH_APD, NAT_BEH_APD,
     NAT_PA_SEQUENTIAL, NAT_TRI_NO},
    {"natbox-sequential", true, NAT_BEH_APD, NAT_BEH_APD, NAT_ALLOC_SEQUENTIAL,
     2, false, NAT_BEH_APD, NAT_BEH_APD, NAT_PA_SEQUENTIAL, NAT_TRI_NO},
    {"public", false, 0, 0, 0, 0, false, NAT_BEH_EI, NAT_BEH_EI,
     NAT_PA_PRESERVING, NAT_TRI_UNKNOWN},
};

static inline void world_init(world *w, const nat_kind *k, nat_tstamp delay,
                              double loss, uint64_t seed) {
  nat_box_config bc;
  memset(w, 0, sizeof *w);
  w->rng = seed * 2654435761u + 88172645463325252ull;
  w->delay = delay;
  w->loss = loss;
  w->rfc5780 = true;
  w->host = HOSTIP;
  if (!k->nat)
    return;
  memset(&bc, 0, sizeof bc);
  bc.public_ip[0] = PUBIP;
  bc.mapping = k->mapping;
  bc.filtering = k->filtering;
  bc.alloc = k->alloc;
  bc.delta = k->delta;
  bc.hairpin = k->hairpin;
  if (k->alloc != NAT_ALLOC_PRESERVE) {
    bc.port_min = 20000;
    bc.port_max = 29999;
  }
  bc.timeout = 30 * NAT_SECONDS;
  bc.seed = seed;
  assert_int_equal(nat_box_new(&w->box, &bc), 0);
}

static inline void world_free(world *w) {
  nat_probe_free(w->p);
  nat_box_free(w->box);
  free(w->evs);
}

static inline void start(world *w, const nat_probe_server *srv, size_t n,
                         unsigned tests) {
  nat_probe_config c;
  memset(&c, 0, sizeof c);
  c.servers = srv;
  c.nservers = n;
  c.tests = tests;
  c.rand = rand_fn;
  c.rand_ctx = w;
  c.software = "test_probe";
  c.lifetime_max = 40 * NAT_SECONDS;
  assert_int_equal(nat_probe_new(&w->p, &c, 0), 0);
}

static const nat_probe_server one_server[] = {
    {{NAT_AF_INET, P1, {203, 0, 113, 1}}, 0, false}};

static inline size_t count(const nat_obslog *log, uint8_t test) {
  size_t i, n = 0;
  for (i = 0; i < log->n; i++)
    n += log->v[i].test == test;
  return n;
}

static const nat_obs *find(const nat_obslog *log, uint8_t test, uint32_t change,
                           size_t nth) {
  size_t i;
  for (i = 0; i < log->n; i++)
    if (log->v[i].test == test && log->v[i].change_flags == change &&
        nth-- == 0)
      return &log->v[i];
  return NULL;
}

/* Datagrams sent from local port @p port within [@p from, @p to]. */
static inline unsigned sends_from(const world *w, uint16_t port,
                                  nat_tstamp from, nat_tstamp to) {
  size_t i;
  unsigned n = 0;
  for (i = 0; i < w->nsent; i++)
    n += w->sent[i].sport == port && w->sent[i].at >= from &&
         w->sent[i].at <= to;
  return n;
}

#endif
