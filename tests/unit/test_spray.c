/* Unit tests: the birthday plan (src/birthday/plan.c: roles from both
 * verdicts, caps, the both-hard estimate, the dialer's target order) and
 * the spray engine (src/punch/spray.c) run between two cores through an
 * in-memory model of the path: the acceptor's K sockets hold mappings at
 * random ports of a range that admit only the dialer's address, the
 * dialer's port-restricted NAT admits only addresses it sent to. Then
 * hostile input: answers without the key, replays, floods, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/error.h"
#include "nat/verdict.h"
#include "punch/check_msg.h"
#include "punch/spray.h"

#define MS NAT_MILLISECONDS

/* deterministic randomness: a splitmix64 stream per context */
static void rand_sm(void *ctx, uint8_t *buf, size_t len) {
  uint64_t *st = ctx;
  for (size_t i = 0; i < len; i++) {
    uint64_t z = (*st += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    buf[i] = (uint8_t)(z ^ (z >> 31));
  }
}

static nat_addr addr(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

static void add(nat_ticket *t, uint8_t type, const char *s) {
  nat_cand c;
  nat_addr a = addr(s);
  assert_int_equal(nat_cand_make(&c, type, &a, &a, NULL, 65535), 0);
  assert_int_equal(nat_ticket_add_cand(t, &c), 0);
}

static nat_bday_side side(int mapping, int alloc) {
  nat_bday_side s;
  memset(&s, 0, sizeof s);
  s.mapping = mapping;
  s.alloc = alloc;
  s.enabled = true;
  return s;
}

/* ------------------------------------------------------------- plan */

static void test_plan_roles(void **state) {
  nat_bday_side hard = side(NAT_BEH_APD, NAT_PA_RANDOM);
  nat_bday_side easy = side(NAT_BEH_EI, NAT_PA_PRESERVING);
  nat_bday_plan p, q;
  (void)state;
  assert_int_equal(nat_bday_plan_make(&hard, &easy, &p), 0);
  assert_int_equal(nat_bday_plan_make(&easy, &hard, &q), 0);
  assert_int_equal(p.role, NAT_BDAY_ACCEPTOR);
  assert_int_equal(q.role, NAT_BDAY_DIALER);
  assert_int_equal(p.why, NAT_BDAY_WHY_SPRAY);
  /* both peers agree on the parameters */
  assert_int_equal(p.sockets, q.sockets);
  assert_int_equal(p.probes, q.probes);
  assert_int_equal(p.n, 64512);
  assert_int_equal(p.sockets, 256);
  assert_int_equal(p.probes, 2048);
  assert_int_equal(p.rate, 250);
  assert_true(p.p_success > 0.999 && p.p_success < 0.9999);
  assert_true(p.probes_50 >= 170 && p.probes_50 <= 178);
  assert_int_equal(p.t_expected, 2048 * (NAT_SECONDS / 250));
  /* the acceptor's range narrows n; the dialer's probes and rate count */
  hard.lo = 20000;
  hard.hi = 24095;
  easy.probes = 100;
  easy.rate = 50;
  assert_int_equal(nat_bday_plan_make(&easy, &hard, &q), 0);
  assert_int_equal(q.n, 4096);
  assert_int_equal(q.lo, 20000);
  assert_int_equal(q.probes, 100);
  assert_int_equal(q.rate, 50);
  assert_true(q.probes_99 >= 60 && q.probes_99 <= 75);
  /* easy x easy, unknown, disabled */
  assert_int_equal(nat_bday_plan_make(&easy, &easy, &p), 0);
  assert_int_equal(p.role, NAT_BDAY_NONE);
  assert_int_equal(p.why, NAT_BDAY_WHY_EASY);
  nat_bday_side unk = side(-1, 0);
  assert_int_equal(nat_bday_plan_make(&hard, &unk, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_UNKNOWN);
  easy.enabled = false;
  assert_int_equal(nat_bday_plan_make(&hard, &easy, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_DISABLED);
  assert_int_equal(p.role, NAT_BDAY_NONE);
  assert_int_equal(nat_bday_plan_make(NULL, &easy, &p), NAT_EINVAL);
}

static void test_plan_both_hard_and_caps(void **state) {
  nat_bday_side a = side(NAT_BEH_APD, NAT_PA_RANDOM);
  nat_bday_side b = side(NAT_BEH_AD, NAT_PA_RANDOM);
  nat_bday_plan p;
  (void)state;
  assert_int_equal(nat_bday_plan_make(&a, &b, &p), 0);
  assert_int_equal(p.role, NAT_BDAY_NONE);
  assert_int_equal(p.why, NAT_BDAY_WHY_BOTH_HARD);
  /* about 170,000 probes a side over the full range for 99.9 % */
  assert_true(p.both_probes > 165000 && p.both_probes < 175000);
  assert_int_equal(p.both_entries, p.both_probes);
  assert_true(p.both_minutes > 10.0); /* 170k at 250/s: over 11 min */
  /* the odds given are those of two hard NATs: 2048 probes a side over
   * the full range, about 0.1 % */
  assert_true(p.p_success > 0.0005 && p.p_success < 0.002);
  assert_true(p.probes_50 > 50000);
  /* both sequential: predicted candidates instead */
  a.alloc = b.alloc = NAT_PA_SEQUENTIAL;
  assert_int_equal(nat_bday_plan_make(&a, &b, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_PREDICTED);
  /* caps: no value passes the hard limits */
  a = side(NAT_BEH_APD, NAT_PA_RANDOM);
  b = side(NAT_BEH_EI, NAT_PA_PRESERVING);
  a.sockets = 100000;
  b.probes = 1000000;
  b.rate = 1000000;
  assert_int_equal(nat_bday_plan_make(&a, &b, &p), 0);
  assert_int_equal(p.sockets, NAT_BDAY_SOCKETS_MAX);
  assert_int_equal(p.probes, NAT_BDAY_PROBES_MAX);
  assert_int_equal(p.rate, NAT_BDAY_RATE_MAX);
  /* forced roles (ticket mode), and a conflict */
  a = side(-1, 0);
  b = side(-1, 0);
  a.force_acceptor = true;
  assert_int_equal(nat_bday_plan_make(&a, &b, &p), 0);
  assert_int_equal(p.role, NAT_BDAY_ACCEPTOR);
  assert_int_equal(nat_bday_plan_make(&b, &a, &p), 0);
  assert_int_equal(p.role, NAT_BDAY_DIALER);
  b.force_acceptor = true;
  assert_int_equal(nat_bday_plan_make(&a, &b, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_ROLES_CONFLICT);
  assert_int_equal(p.role, NAT_BDAY_NONE);
  /* a port mapping on either side: no spray, whatever the NATs do (one
   * hard side, or both) */
  a = side(NAT_BEH_APD, NAT_PA_RANDOM);
  b = side(NAT_BEH_EI, NAT_PA_PRESERVING);
  a.mapped = true;
  assert_int_equal(nat_bday_plan_make(&a, &b, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_MAPPED);
  assert_int_equal(p.role, NAT_BDAY_NONE);
  assert_int_equal(nat_bday_plan_make(&b, &a, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_MAPPED);
  b = side(NAT_BEH_APD, NAT_PA_RANDOM);
  assert_int_equal(nat_bday_plan_make(&b, &a, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_MAPPED);
  assert_int_equal(p.role, NAT_BDAY_NONE);
  assert_string_equal(nat_bday_why_name(p.why), "mapped");
  a.mapped = false;
  assert_int_equal(nat_bday_plan_make(&b, &a, &p), 0);
  assert_int_equal(p.why, NAT_BDAY_WHY_BOTH_HARD);
}

static void test_targets(void **state) {
  nat_bday_side acc = side(NAT_BEH_APD, NAT_PA_RANDOM), dia;
  nat_bday_plan p;
  nat_bday_targets *t = malloc(sizeof *t);
  uint8_t *seen = calloc(65536, 1);
  uint64_t st = 7;
  uint32_t n = 0;
  uint16_t port;
  (void)state;
  assert_non_null(t);
  assert_non_null(seen);
  dia = side(NAT_BEH_EI, 0);
  acc.lo = 30000;
  acc.hi = 30999;
  assert_int_equal(nat_bday_plan_make(&dia, &acc, &p), 0);
  nat_bday_targets_init(t, &p, &acc, rand_sm, &st);
  /* every port of 1024-65535 once; the range's 1000 first */
  while ((port = nat_bday_targets_next(t)) != 0) {
    assert_true(port >= 1024);
    assert_int_equal(seen[port], 0);
    seen[port] = 1;
    if (n < 1000)
      assert_true(port >= 30000 && port <= 30999);
    n++;
  }
  assert_int_equal(n, 64512);
  /* sequential: the predicted window after the last port first */
  acc = side(NAT_BEH_APD, NAT_PA_SEQUENTIAL);
  acc.last = 40000;
  acc.delta = 2;
  assert_int_equal(nat_bday_plan_make(&dia, &acc, &p), 0);
  nat_bday_targets_init(t, &p, &acc, rand_sm, &st);
  for (uint32_t i = 0; i < 2 * (p.sockets + 64) + 1; i++) {
    port = nat_bday_targets_next(t);
    assert_true(port >= 40000 && port <= 40000 + 2 * (p.sockets + 64));
  }
  free(t);
  free(seen);
}

/* ------------------------------------------------- the path in memory */

#define K        64
#define RANGE_LO 20000
#define RANGE_N  1000

typedef struct path {
  nat__spray acc, dia;
  nat_ticket tacc, tdia;
  nat_addr acc_pub_ip, dia_pub;
  uint16_t mapped[K];        /* the acceptor NAT's port per socket */
  uint8_t dia_opened[65536]; /* ports of the acceptor IP the dialer sent to */
  nat_tstamp now;
  uint64_t rs_a, rs_d;
} path;

static int sock_of_port(const path *p, uint16_t port) {
  for (int i = 0; i < K; i++)
    if (p->mapped[i] == port)
      return i;
  return -1;
}

static nat_tstamp feed_at; /* the time feed() gives */

static void feed(nat__spray *s, uint32_t sock, const nat_addr *from,
                 const uint8_t *buf, size_t len, bool want_ours) {
  nat_stun_msg m;
  bool ours;
  if (nat_stun_decode(&m, buf, len) < 0)
    ours = nat__spray_recv(s, feed_at, sock, from, NULL);
  else
    ours = nat__spray_recv(s, feed_at, sock, from, &m);
  assert_int_equal(ours, want_ours);
}

/* Move what is due both ways; @return datagrams moved. */
static int step(path *p) {
  uint8_t buf[512];
  uint32_t sock;
  nat_addr dst, from;
  ssize_t n;
  int moved = 0, ttl;
  while ((n = nat__spray_next_send(&p->acc, p->now, buf, sizeof buf, &sock,
                                   &dst, &ttl)) > 0) {
    moved++;
    assert_true(sock < K);
    /* keepalives die before the dialer's NAT; answers go all the way */
    assert_int_equal(ttl, (buf[0] & 0x01) != 0 ? 0 : NAT__SPRAY_TTL);
    assert_true(nat_addr_equal(&dst, &p->dia_pub));
    from = p->acc_pub_ip;
    from.port = p->mapped[sock];
    /* the dialer's port-restricted NAT admits it only once opened */
    /* a keepalive (short TTL) dies before the dialer's NAT; an answer
     * passes it once the dialer opened it, and is the spray's */
    if (ttl == 0 && p->dia_opened[from.port])
      feed(&p->dia, NAT__SPRAY_MAIN, &from, buf, (size_t)n,
           (buf[0] & 0x01) != 0);
  }
  while ((n = nat__spray_next_send(&p->dia, p->now, buf, sizeof buf, &sock,
                                   &dst, &ttl)) > 0) {
    int j;
    moved++;
    assert_int_equal(ttl, 0);
    assert_int_equal(sock, NAT__SPRAY_MAIN);
    assert_true(nat_addr_equal_ip(&dst, &p->acc_pub_ip));
    p->dia_opened[dst.port] = 1;
    j = sock_of_port(p, dst.port);
    if (j >= 0) /* the acceptor NAT: the mapping admits the dialer */
      feed(&p->acc, (uint32_t)j, &p->dia_pub, buf, (size_t)n, true);
  }
  return moved;
}

static void path_init(path *p, uint64_t seed) {
  nat_bday_side acc = side(NAT_BEH_APD, NAT_PA_RANDOM), dia;
  nat_bday_plan pa, pd;
  memset(p, 0, sizeof *p);
  p->rs_a = seed;
  p->rs_d = seed ^ 0x5555;
  dia = side(NAT_BEH_EI, 0);
  acc.sockets = K;
  acc.lo = RANGE_LO;
  acc.hi = RANGE_LO + RANGE_N - 1;
  assert_int_equal(nat_bday_plan_make(&acc, &dia, &pa), 0);
  assert_int_equal(nat_bday_plan_make(&dia, &acc, &pd), 0);
  assert_int_equal(pa.role, NAT_BDAY_ACCEPTOR);
  assert_int_equal(pd.role, NAT_BDAY_DIALER);
  assert_int_equal(nat_ticket_init_random(&p->tacc, rand_sm, &p->rs_a), 0);
  assert_int_equal(nat_ticket_init_random(&p->tdia, rand_sm, &p->rs_d), 0);
  add(&p->tacc, NAT_CAND_SRFLX, "198.51.100.7:40000");
  add(&p->tdia, NAT_CAND_SRFLX, "203.0.113.9:5555");
  p->acc_pub_ip = addr("198.51.100.7:0");
  p->dia_pub = addr("203.0.113.9:5555");
  for (int i = 0; i < K; i++) { /* distinct random ports in the range */
    uint8_t r[2];
    do {
      rand_sm(&p->rs_a, r, 2);
      p->mapped[i] = (uint16_t)(RANGE_LO + ((r[0] << 8 | r[1]) % RANGE_N));
    } while (sock_of_port(p, p->mapped[i]) != i);
  }
  p->now = 1000 * MS;
  assert_int_equal(nat__spray_start(&p->acc, NAT_BDAY_ACCEPTOR, &pa, &acc,
                                    &p->tacc, &p->tdia, NAT_AF_INET, false, K,
                                    p->now, 0, rand_sm, &p->rs_a),
                   0);
  assert_int_equal(nat__spray_start(&p->dia, NAT_BDAY_DIALER, &pd, &acc,
                                    &p->tdia, &p->tacc, NAT_AF_INET, true, 0,
                                    p->now, 50 * MS, rand_sm, &p->rs_d),
                   0);
}

/* Run until both sides have their hit or the windows end. */
static void run(path *p) {
  for (int guard = 0; guard < 100000; guard++) {
    nat_tstamp e1, e2, e;
    step(p);
    nat__spray_handle_expiry(&p->acc, p->now);
    nat__spray_handle_expiry(&p->dia, p->now);
    step(p);
    if ((p->acc.hit || p->acc.exhausted) && (p->dia.hit || p->dia.exhausted))
      return;
    e1 = nat__spray_get_expiry(&p->acc);
    e2 = nat__spray_get_expiry(&p->dia);
    e = e1 < e2 ? e1 : e2;
    assert_true(e != NAT_TSTAMP_MAX);
    p->now = e > p->now ? e : p->now + MS;
  }
  fail_msg("the spray did not end");
}

static void test_spray_hits(void **state) {
  path *p = calloc(1, sizeof *p);
  (void)state;
  assert_non_null(p);
  path_init(p, 42);
  /* the acceptor's first checks go out at once, one per socket */
  step(p);
  assert_int_equal(p->acc.st.keepalives, K);
  run(p);
  assert_true(p->dia.hit);
  assert_true(p->acc.hit);
  /* the hit is the first probe that landed on a mapped port */
  for (uint32_t i = 0; i < p->dia.st.probes_sent; i++)
    if (sock_of_port(p, p->dia.probe_port[i]) >= 0) {
      assert_int_equal(p->dia.st.hit_probe, i + 1);
      break;
    }
  assert_int_equal(p->dia.hit_remote.port, p->mapped[p->acc.hit_sock]);
  assert_true(nat_addr_equal(&p->acc.hit_remote, &p->dia_pub));
  /* every probe went to the range first, at 250/s after the hold */
  for (uint32_t i = 0; i < p->dia.st.probes_sent; i++)
    assert_true(p->dia.probe_port[i] >= RANGE_LO &&
                p->dia.probe_port[i] < RANGE_LO + RANGE_N);
  assert_int_equal(p->acc.st.answers_sent, 1);
  assert_int_equal(p->acc.st.ignored + p->dia.st.ignored, 0);
  /* no more probes or keepalives once hit */
  assert_int_equal(nat__spray_get_expiry(&p->dia), NAT_TSTAMP_MAX);
  assert_int_equal(nat__spray_get_expiry(&p->acc), NAT_TSTAMP_MAX);
  assert_true(nat__spray_p_now(&p->dia, p->now) > 0.0);
  nat__spray_free(&p->acc);
  nat__spray_free(&p->dia);
  free(p);
}

static void test_spray_exhausts(void **state) {
  path *p = calloc(1, sizeof *p);
  (void)state;
  assert_non_null(p);
  path_init(p, 43);
  for (int i = 0; i < K; i++) /* the NAT maps outside the range sprayed */
    p->mapped[i] = (uint16_t)(60000 + i);
  p->dia.plan.probes = 100; /* a short budget: 100 probes, all in range */
  run(p);
  assert_false(p->dia.hit);
  assert_true(p->dia.exhausted);
  assert_int_equal(p->dia.st.probes_sent, 100);
  nat__spray_free(&p->acc);
  nat__spray_free(&p->dia);
  free(p);
}

/* A host that answers probes without the key, replays a dialer's check
 * from elsewhere, floods an acceptor socket with junk, or answers a
 * transaction twice: counted, never a hit. */
static void test_spray_hostile(void **state) {
  path *p = calloc(1, sizeof *p);
  uint8_t buf[512], tid[NAT_STUN_TID_LEN];
  nat_addr dst, evil = addr("192.0.2.66:4444"), from;
  uint32_t sock;
  ssize_t n;
  int ttl;
  nat_stun_builder b;
  (void)state;
  assert_non_null(p);
  path_init(p, 44);
  p->now += 50 * MS;
  /* the dialer's first probe */
  while ((n = nat__spray_next_send(&p->dia, p->now, buf, sizeof buf, &sock,
                                   &dst, &ttl)) > 0 &&
         sock != NAT__SPRAY_MAIN)
    ;
  assert_true(n > 0);
  /* 1. an answer from the probed address, signed with a wrong key */
  memcpy(tid, p->dia.salt, 8);
  memset(tid + 8, 0, 4); /* probe 0 */
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &p->dia_pub);
  nat_stun_add_integrity(&b, (const uint8_t *)"not-the-key", 11);
  n = nat_stun_builder_finish(&b, true);
  assert_true(n > 0);
  feed(&p->dia, NAT__SPRAY_MAIN, &dst, buf, (size_t)n, true);
  assert_false(p->dia.hit);
  assert_int_equal(p->dia.st.ignored, 1);
  /* 2. the same without any integrity */
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &p->dia_pub);
  n = nat_stun_builder_finish(&b, true);
  feed(&p->dia, NAT__SPRAY_MAIN, &dst, buf, (size_t)n, true);
  assert_int_equal(p->dia.st.ignored, 2);
  /* 3. a correctly keyed answer, but from another port than probed */
  n = nat__check_msg_response(buf, sizeof buf, tid, &p->dia_pub, 0, NULL,
                              p->tacc.pwd);
  from = dst;
  from.port = (uint16_t)(dst.port + 1);
  feed(&p->dia, NAT__SPRAY_MAIN, &from, buf, (size_t)n, true);
  assert_false(p->dia.hit);
  assert_int_equal(p->dia.st.ignored, 3);
  /* 4. a keyed check (the dialer's, replayed) from another address on an
   * acceptor socket: no answer, no hit */
  n = nat__check_msg_request(buf, sizeof buf, tid, p->tacc.ufrag, p->tdia.ufrag,
                             p->tacc.pwd, 1, true, 1, false);
  feed(&p->acc, 3, &evil, buf, (size_t)n, true);
  assert_false(p->acc.hit);
  assert_int_equal(p->acc.st.replays, 1);
  assert_int_equal(p->acc.st.answers_sent, 0);
  /* 5. junk and checks keyed for someone else flood a socket */
  memset(buf, 0xA5, 64);
  for (int i = 0; i < 100; i++)
    feed(&p->acc, 5, &evil, buf, 64, true);
  n = nat__check_msg_request(buf, sizeof buf, tid, p->tacc.ufrag, p->tdia.ufrag,
                             "wrong-password-here", 1, true, 1, false);
  feed(&p->acc, 5, &p->dia_pub, buf, (size_t)n, true);
  assert_int_equal(p->acc.st.ignored, 101);
  assert_false(p->acc.hit);
  /* 6. a keyed answer to probe 0 from the probed address: the hit; the
   * same answer again is a replay */
  n = nat__check_msg_response(buf, sizeof buf, tid, &p->dia_pub, 0, NULL,
                              p->tacc.pwd);
  feed(&p->dia, NAT__SPRAY_MAIN, &dst, buf, (size_t)n, true);
  assert_true(p->dia.hit);
  assert_int_equal(p->dia.st.hit_probe, 1);
  feed(&p->dia, NAT__SPRAY_MAIN, &dst, buf, (size_t)n, true);
  assert_int_equal(p->dia.st.replays, 1);
  /* 7. on the dialer's main socket, STUN that is not the spray's is left
   * to the agent's checks */
  memset(tid, 0x11, sizeof tid);
  n = nat__check_msg_response(buf, sizeof buf, tid, &p->dia_pub, 0, NULL,
                              p->tacc.pwd);
  from = dst;
  from.port = 45678; /* where one of the agent's checks went */
  feed(&p->dia, NAT__SPRAY_MAIN, &from, buf, (size_t)n, false);
  assert_false(nat__spray_via(&p->dia, &from));
  /* 8. the same answered by a spray socket (its SOFTWARE), keyed: left to
   * the checks too, and the path it proves is the spray's; unkeyed or
   * from another IP it proves nothing */
  n = nat__check_msg_response(buf, sizeof buf, tid, &p->dia_pub, 0,
                              NAT__SPRAY_SOFTWARE, "not-the-key");
  feed(&p->dia, NAT__SPRAY_MAIN, &from, buf, (size_t)n, false);
  assert_false(nat__spray_via(&p->dia, &from));
  n = nat__check_msg_response(buf, sizeof buf, tid, &p->dia_pub, 0,
                              NAT__SPRAY_SOFTWARE, p->tacc.pwd);
  feed(&p->dia, NAT__SPRAY_MAIN, &evil, buf, (size_t)n, false);
  assert_false(nat__spray_via(&p->dia, &evil));
  feed_at = 5 * NAT_MILLISECONDS;
  assert_int_equal(nat__spray_via_at(&p->dia, &from), 0);
  feed(&p->dia, NAT__SPRAY_MAIN, &from, buf, (size_t)n, false);
  assert_true(nat__spray_via(&p->dia, &from));
  assert_true(nat__spray_via(&p->dia, &dst)); /* the hit's */
  /* when each path was proved: the check's answer now, the hit's time */
  assert_int_equal(nat__spray_via_at(&p->dia, &from), 5 * NAT_MILLISECONDS);
  assert_int_equal(nat__spray_via_at(&p->dia, &dst), p->dia.t_hit);
  assert_int_equal(nat__spray_via_at(&p->dia, &evil), 0);
  /* 9. the acceptor's main socket: the dialer's plain check (USE-CANDIDATE)
   * is the checks' alone; a probe (none) that found it marks the path as
   * the spray's; both are left to the checks */
  n = nat__check_msg_request(buf, sizeof buf, tid, p->tacc.ufrag, p->tdia.ufrag,
                             p->tacc.pwd, 1, true, 1, true);
  feed(&p->acc, NAT__SPRAY_MAIN, &p->dia_pub, buf, (size_t)n, false);
  assert_false(nat__spray_via(&p->acc, &p->dia_pub));
  n = nat__check_msg_request(buf, sizeof buf, tid, p->tacc.ufrag, p->tdia.ufrag,
                             p->tacc.pwd, 1, true, 1, false);
  feed(&p->acc, NAT__SPRAY_MAIN, &evil, buf, (size_t)n, false);
  assert_false(nat__spray_via(&p->acc, &evil));
  feed_at = 7 * NAT_MILLISECONDS;
  feed(&p->acc, NAT__SPRAY_MAIN, &p->dia_pub, buf, (size_t)n, false);
  assert_true(nat__spray_via(&p->acc, &p->dia_pub));
  assert_int_equal(nat__spray_via_at(&p->acc, &p->dia_pub),
                   7 * NAT_MILLISECONDS);
  feed_at = 0;
  nat__spray_free(&p->acc);
  nat__spray_free(&p->dia);
  free(p);
}

/* ------------------------------------------- both hard, in memory */

/* Two NATs that map per destination at random ports of a narrow range
 * (BR ports each) and filter per address and port, reusing a port for
 * another destination (as Linux conntrack does: a tuple must be unique,
 * not a port). A probe of side X from socket s to port q of Y's IP makes
 * (or reuses) X's mapping (s, q) at a random port p; it gets in at Y only
 * if Y has a mapping with port q towards X's p. */
#define BK    8
#define BR    64
#define BR_LO 30000

typedef struct bmap {
  uint16_t port[BK][BR]; /* [socket][dest port - BR_LO]: 0 none */
} bmap;

typedef struct bpath {
  nat__spray s[2];
  nat_ticket t[2];
  nat_addr ip[2];
  bmap m[2];
  nat_tstamp now;
  uint64_t rs[2], nat_rs;
} bpath;

/* X's mapping for (socket, dest port): made on first use. @return its
 * port, 0 when the range is full. */
static uint16_t bmap_get(bpath *p, int x, uint32_t sock, uint16_t dport) {
  bmap *m = &p->m[x];
  uint16_t *slot = &m->port[sock][dport - BR_LO];
  uint8_t r[2];
  for (int tries = 0; *slot == 0 && tries < 1000; tries++) {
    uint16_t v, taken = 0;
    rand_sm(&p->nat_rs, r, 2);
    v = (uint16_t)(BR_LO + (r[0] << 8 | r[1]) % BR);
    for (uint32_t s = 0; s < BK; s++) /* the tuple must be unique */
      taken |= m->port[s][dport - BR_LO] == v;
    if (!taken)
      *slot = v;
  }
  return *slot;
}

static void bfeed(bpath *p, int y, uint16_t to_port, const nat_addr *from,
                  const uint8_t *buf, size_t len) {
  bmap *m = &p->m[y];
  nat_stun_msg msg;
  uint32_t sock = BK;
  if (from->port < BR_LO || from->port >= BR_LO + BR)
    return;
  for (uint32_t s = 0; s < BK; s++) /* Y's mapping (s, X's port) at q? */
    if (m->port[s][from->port - BR_LO] == to_port)
      sock = s;
  if (sock == BK)
    return; /* no mapping admits it: dropped */
  assert_true(nat_stun_decode(&msg, buf, len) > 0);
  assert_true(nat__spray_recv(&p->s[y], p->now, sock, from, &msg));
}

static void bstep(bpath *p) {
  uint8_t buf[512];
  uint32_t sock;
  nat_addr dst, from;
  ssize_t n;
  int ttl;
  for (int x = 0; x < 2; x++)
    while ((n = nat__spray_next_send(&p->s[x], p->now, buf, sizeof buf, &sock,
                                     &dst, &ttl)) > 0) {
      assert_true(sock < BK);
      assert_int_equal(ttl, 0);
      assert_true(nat_addr_equal_ip(&dst, &p->ip[1 - x]));
      assert_true(dst.port >= BR_LO && dst.port < BR_LO + BR);
      from = p->ip[x];
      from.port = bmap_get(p, x, sock, dst.port);
      if (from.port != 0)
        bfeed(p, 1 - x, dst.port, &from, buf, (size_t)n);
    }
}

static void test_spray_both_hard(void **state) {
  bpath *p = calloc(1, sizeof *p);
  nat_bday_side side0 = side(NAT_BEH_APD, NAT_PA_RANDOM), side1;
  nat_bday_plan plan[2];
  char a0[40], a1[40];
  (void)state;
  assert_non_null(p);
  side0.lo = BR_LO;
  side0.hi = BR_LO + BR - 1;
  side0.sockets = BK;
  side0.probes = 512;
  side1 = side0;
  /* refused unless both allow it */
  side0.allow_both_hard = true;
  assert_int_equal(nat_bday_plan_make(&side0, &side1, &plan[0]), 0);
  assert_int_equal(plan[0].why, NAT_BDAY_WHY_BOTH_HARD);
  side1.allow_both_hard = true;
  assert_int_equal(nat_bday_plan_make(&side0, &side1, &plan[0]), 0);
  assert_int_equal(nat_bday_plan_make(&side1, &side0, &plan[1]), 0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(plan[i].role, NAT_BDAY_BOTH);
    assert_int_equal(plan[i].sockets, BK);
    assert_int_equal(plan[i].probes, 512);
    assert_int_equal(plan[i].n, BR);
    /* 512 probes a side over 64 ports: 1 - (1 - 1/4096)^(512^2) */
    assert_true(plan[i].p_success > 0.9999);
  }
  p->rs[0] = 5;
  p->rs[1] = 6;
  p->nat_rs = 7;
  for (int i = 0; i < 2; i++)
    assert_int_equal(nat_ticket_init_random(&p->t[i], rand_sm, &p->rs[i]), 0);
  add(&p->t[0], NAT_CAND_SRFLX, "198.51.100.7:40000");
  add(&p->t[1], NAT_CAND_SRFLX, "203.0.113.9:5555");
  p->ip[0] = addr("198.51.100.7:0");
  p->ip[1] = addr("203.0.113.9:0");
  p->now = 1000 * MS;
  for (int i = 0; i < 2; i++)
    assert_int_equal(nat__spray_start(&p->s[i], NAT_BDAY_BOTH, &plan[i],
                                      i == 0 ? &side1 : &side0, &p->t[i],
                                      &p->t[1 - i], NAT_AF_INET, i == 0, BK,
                                      p->now, 0, rand_sm, &p->rs[i]),
                     0);
  for (int guard = 0; guard < 10000 && !(p->s[0].hit && p->s[1].hit); guard++) {
    nat_tstamp e0, e1;
    bstep(p);
    bstep(p); /* answers queued by the first */
    e0 = nat__spray_get_expiry(&p->s[0]);
    e1 = nat__spray_get_expiry(&p->s[1]);
    p->now = (e0 < e1 ? e0 : e1) > p->now ? (e0 < e1 ? e0 : e1) : p->now + MS;
  }
  assert_true(p->s[0].hit && p->s[1].hit);
  /* the pair each side proved: its socket's mapping towards the other's */
  for (int i = 0; i < 2; i++) {
    assert_true(nat_addr_equal_ip(&p->s[i].hit_remote, &p->ip[1 - i]));
    assert_true(p->s[i].nhits >= 1);
    assert_int_equal(p->s[i].hits[0], p->s[i].hit_sock);
  }
  print_message("both hard: hits at %s and %s after %u and %u probes\n",
                nat_addr_format(&p->s[0].hit_remote, a0, sizeof a0),
                nat_addr_format(&p->s[1].hit_remote, a1, sizeof a1),
                p->s[0].st.probes_sent, p->s[1].st.probes_sent);
  for (int i = 0; i < 2; i++)
    nat__spray_free(&p->s[i]);
  free(p);
}

static void test_spray_start_refuses(void **state) {
  nat__spray s;
  nat_bday_plan p;
  nat_bday_side a = side(NAT_BEH_APD, NAT_PA_RANDOM), d = side(NAT_BEH_EI, 0);
  nat_ticket t1, t2;
  uint64_t st = 1;
  (void)state;
  assert_int_equal(nat_bday_plan_make(&d, &a, &p), 0);
  assert_int_equal(nat_ticket_init_random(&t1, rand_sm, &st), 0);
  assert_int_equal(nat_ticket_init_random(&t2, rand_sm, &st), 0);
  /* the peer has no public address of our family */
  assert_int_equal(nat__spray_start(&s, NAT_BDAY_DIALER, &p, &a, &t1, &t2,
                                    NAT_AF_INET, true, 0, 0, 0, rand_sm, &st),
                   NAT_EINVAL);
  add(&t2, NAT_CAND_SRFLX, "198.51.100.7:40000");
  assert_int_equal(nat__spray_start(&s, NAT_BDAY_NONE, &p, &a, &t1, &t2,
                                    NAT_AF_INET, true, 0, 0, 0, rand_sm, &st),
                   NAT_EINVAL);
  /* an acceptor needs sockets, at most K */
  assert_int_equal(nat__spray_start(&s, NAT_BDAY_ACCEPTOR, &p, &a, &t1, &t2,
                                    NAT_AF_INET, false, 0, 0, 0, rand_sm, &st),
                   NAT_EINVAL);
  assert_int_equal(nat__spray_start(&s, NAT_BDAY_ACCEPTOR, &p, &a, &t1, &t2,
                                    NAT_AF_INET, false, p.sockets + 1, 0, 0,
                                    rand_sm, &st),
                   NAT_EINVAL);
  assert_int_equal(nat__spray_start(&s, NAT_BDAY_DIALER, &p, &a, &t1, &t2,
                                    NAT_AF_INET, true, 0, 0, 0, rand_sm, &st),
                   0);
  nat__spray_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_roles),
      cmocka_unit_test(test_plan_both_hard_and_caps),
      cmocka_unit_test(test_targets),
      cmocka_unit_test(test_spray_hits),
      cmocka_unit_test(test_spray_exhausts),
      cmocka_unit_test(test_spray_hostile),
      cmocka_unit_test(test_spray_both_hard),
      cmocka_unit_test(test_spray_start_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
