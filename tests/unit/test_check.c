/* Unit tests: sans-I/O connectivity checks (nat/check.h), end to end.
 *
 * A simulated network: two agents, each on one UDP "socket" in a LAN
 * (10.0.L.2, or both in LAN 0 for the same-NAT case) behind the pure NAT
 * model (nat/natbox.h: raw IPv4/UDP packets through nat_box_outbound /
 * nat_box_inbound), or on a public address. The WAN has a fixed one-way
 * delay and seeded loss; a LAN hop takes 1 ms. The srflx candidate is what
 * the NAT gives a packet to a STUN server address at t=0 (the mapping
 * STUN would have reported). A fake clock jumps from event to event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/ipv4.h"
#include "nat/check.h"
#include "nat/error.h"
#include "nat/natbox.h"
#include "nat/stun.h"
#include "nat/ticket.h"

#define MS    NAT_MILLISECONDS
#define PKT   600
#define STUNS 0xCB007101u /* 203.0.113.1: the STUN server */

enum { NONE = -1, FULL, RESTRICTED, PORT_RESTRICTED, SYMMETRIC };
static const char *const kind_name[] = {"full-cone", "restricted",
                                        "port-restricted", "symmetric"};

typedef struct ev {
  nat_tstamp at;
  uint64_t seq;
  bool wan; /* true: arrives at the WAN side; false: deliver in a LAN */
  uint8_t pkt[PKT];
  size_t len;
} ev;

typedef struct agent {
  nat_check *chk;
  nat_addr local;
  int lan; /* index of the NAT in front, or -1 */
  nat_cand cands[4];
  size_t ncands;
  nat_tstamp done_at;
  int final;
  unsigned role_events;
  nat_tstamp first_ok;   /* first PAIR_SUCCEEDED, 0 if none */
  unsigned nominated_ev; /* PAIR_NOMINATED events */
  nat_tstamp nominated_at;
  nat_check_pair committed; /* the pair of PAIR_NOMINATED */
  bool heard;               /* a check (request) reached this agent */
  unsigned asked_first;     /* requests it sent before that */
} agent;

typedef struct net {
  nat_box *box[2];
  uint32_t pub[2];
  agent a[2];
  ev *evs;
  size_t nev, cap;
  uint64_t seq, rng;
  nat_tstamp now, delay;
  double loss;
  unsigned lost;
} net;

static uint64_t next_rand(net *n) {
  n->rng ^= n->rng << 13;
  n->rng ^= n->rng >> 7;
  n->rng ^= n->rng << 17;
  return n->rng;
}

static void rand_fn(void *ctx, uint8_t *buf, size_t len) {
  net *n = ctx;
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)(next_rand(n) >> 24);
}

/* ------------------------------------------------------------ network */

static void push(net *n, bool wan, nat_tstamp at, const uint8_t *pkt,
                 size_t len) {
  ev *e;
  if (n->nev == n->cap) {
    n->cap = n->cap ? 2 * n->cap : 64;
    n->evs = realloc(n->evs, n->cap * sizeof *n->evs);
    assert_non_null(n->evs);
  }
  e = &n->evs[n->nev++];
  e->at = at;
  e->seq = n->seq++;
  e->wan = wan;
  memcpy(e->pkt, pkt, len);
  e->len = len;
}

static bool lose(net *n) {
  if (n->loss > 0 && (double)(next_rand(n) % 1000000) / 1e6 < n->loss) {
    n->lost++;
    return true;
  }
  return false;
}

static bool same_lan(const agent *x, uint32_t ip) {
  return x->lan >= 0 &&
         (ip >> 8) == (0x0A000000u | (uint32_t)(x->lan + 1) << 8) >> 8;
}

/* Agent @p i sends @p data to @p dst. */
static void send_from(net *n, int i, const nat_addr *dst, const uint8_t *data,
                      size_t len) {
  agent *x = &n->a[i];
  uint8_t pkt[PKT];
  size_t plen = nat__ip_udp4_build(pkt, &x->local, dst, data, len);
  if (!x->heard && len >= 2 && (data[0] & 0x01) == 0 && (data[1] & 0x10) == 0)
    x->asked_first++; /* a STUN request (class bits 0) */
  uint32_t dip = nat__ip_rd32(pkt + 16);
  if (x->lan >= 0 && same_lan(x, dip)) {
    push(n, false, n->now + 1 * MS, pkt, plen);
    return;
  }
  if (x->lan >= 0) {
    int v = nat_box_outbound(n->box[x->lan], n->now, pkt, plen);
    if (v == NAT_BOX_TO_LAN)
      push(n, false, n->now + 1 * MS, pkt, plen);
    if (v != NAT_BOX_TO_WAN)
      return;
  }
  if (!lose(n))
    push(n, true, n->now + n->delay, pkt, plen);
}

static void deliver_lan(net *n, const uint8_t *pkt, size_t len) {
  nat_addr src, dst;
  int i;
  nat__ip_udp4_addrs(pkt, &src, &dst);
  for (i = 0; i < 2; i++)
    if (nat_addr_equal(&n->a[i].local, &dst)) {
      int rc;
      if (len > 29 && (pkt[28] & 0x01) == 0 && (pkt[29] & 0x10) == 0)
        n->a[i].heard = true;
      rc = nat_check_recv(n->a[i].chk, n->now, &src, pkt + 28, len - 28);
      /* ENOTFOUND: a late answer to a check the agent already ended */
      assert_true(rc == 0 || rc == NAT_ENOTFOUND);
    }
}

static void arrive_wan(net *n, uint8_t *pkt, size_t len) {
  uint32_t dip = nat__ip_rd32(pkt + 16);
  int k;
  for (k = 0; k < 2; k++)
    if (n->box[k] != NULL && n->pub[k] == dip) {
      if (nat_box_inbound(n->box[k], n->now, pkt, len) == NAT_BOX_TO_LAN)
        deliver_lan(n, pkt, len);
      return;
    }
  deliver_lan(n, pkt, len); /* a public host, or nobody */
}

static void flush(net *n, int i) {
  uint8_t buf[PKT];
  nat_addr dst;
  ssize_t len;
  while ((len = nat_check_next_send(n->a[i].chk, n->now, buf, sizeof buf,
                                    &dst)) > 0)
    send_from(n, i, &dst, buf, (size_t)len);
  assert_true(len == 0);
}

static void on_event(void *arg, const nat_check_event *e) {
  agent *x = arg;
  if (e->type == NAT_CHECK_EV_SELECTED || e->type == NAT_CHECK_EV_FAILED) {
    assert_int_equal(x->final, 0);
    x->final = e->type;
    x->done_at = e->at;
  }
  if (e->type == NAT_CHECK_EV_ROLE_CHANGED)
    x->role_events++;
  if (e->type == NAT_CHECK_EV_PAIR_SUCCEEDED && x->first_ok == 0)
    x->first_ok = e->at;
  if (e->type == NAT_CHECK_EV_PAIR_NOMINATED) {
    assert_non_null(e->info);
    assert_true(e->controlling);
    assert_int_equal(x->final, 0);
    x->nominated_ev++;
    x->nominated_at = e->at;
    x->committed = *e->info;
  }
}

/* Pop the earliest event (by time, then sequence). */
static bool pop(net *n, nat_tstamp upto, ev *out) {
  size_t i, best = SIZE_MAX;
  for (i = 0; i < n->nev; i++)
    if (n->evs[i].at <= upto &&
        (best == SIZE_MAX || n->evs[i].at < n->evs[best].at ||
         (n->evs[i].at == n->evs[best].at && n->evs[i].seq < n->evs[best].seq)))
      best = i;
  if (best == SIZE_MAX)
    return false;
  *out = n->evs[best];
  n->evs[best] = n->evs[--n->nev];
  return true;
}

static void run(net *n, nat_tstamp limit) {
  ev e;
  int i;
  for (;;) {
    nat_tstamp t = NAT_TSTAMP_MAX;
    for (i = 0; i < 2; i++) {
      if (nat_check_get_expiry(n->a[i].chk) <= n->now)
        nat_check_handle_expiry(n->a[i].chk, n->now);
      flush(n, i);
    }
    while (pop(n, n->now, &e)) {
      if (e.wan)
        arrive_wan(n, e.pkt, e.len);
      else
        deliver_lan(n, e.pkt, e.len);
      flush(n, 0);
      flush(n, 1);
    }
    if (n->a[0].final && n->a[1].final)
      return;
    for (i = 0; i < 2; i++) {
      nat_tstamp x = nat_check_get_expiry(n->a[i].chk);
      if (x < t)
        t = x;
    }
    for (size_t k = 0; k < n->nev; k++)
      if (n->evs[k].at < t)
        t = n->evs[k].at;
    if (t == NAT_TSTAMP_MAX || t > limit)
      return;
    if (t > n->now)
      n->now = t;
  }
}

/* ------------------------------------------------------------- set-up */

static const char *const ufrag[2] = {"ufA1", "ufB2"};
static const char *const pwd[2] = {"passwordA-0123456789abcd",
                                   "passwordB-0123456789abcd"};

static nat_box *make_box(int kind, uint32_t pub, bool hairpin) {
  nat_box_config bc;
  nat_box *b = NULL;
  memset(&bc, 0, sizeof bc);
  bc.public_ip[0] = pub;
  bc.seed = pub;
  bc.mapping = kind == SYMMETRIC ? NAT_BEH_APD : NAT_BEH_EI;
  bc.filtering = kind == FULL         ? NAT_BEH_EI
                 : kind == RESTRICTED ? NAT_BEH_AD
                                      : NAT_BEH_APD;
  bc.alloc = kind == SYMMETRIC ? NAT_ALLOC_RANDOM : NAT_ALLOC_PRESERVE;
  bc.hairpin = hairpin;
  assert_int_equal(nat_box_new(&b, &bc), 0);
  return b;
}

/* What a STUN server would have reported: the NAT's mapping for a packet
 * to 203.0.113.1:3478. */
static nat_addr srflx_of(net *n, int i) {
  uint8_t pkt[PKT], data[4] = {0};
  nat_addr stun, src, dst;
  agent *x = &n->a[i];
  size_t len;
  nat_addr_set_v4(&stun, STUNS, 3478);
  len = nat__ip_udp4_build(pkt, &x->local, &stun, data, sizeof data);
  assert_int_equal(nat_box_outbound(n->box[x->lan], 0, pkt, len),
                   NAT_BOX_TO_WAN);
  nat__ip_udp4_addrs(pkt, &src, &dst);
  return src;
}

typedef struct setup {
  int kind[2];     /* NONE or a NAT kind per side */
  bool same_nat;   /* both agents behind kind[0]'s NAT */
  bool srflx_only; /* signal only srflx candidates */
  bool both_controlling;
  bool both_controlled;
  bool wrong_pwd;  /* agent 0 has a wrong copy of agent 1's password */
  bool hints;      /* tell the agents each side's mapping kind */
  bool aggressive; /* aggressive nomination on both agents */
  bool hairpin;    /* the NATs hairpin */
  bool passive0;   /* agent 0 starts no ordinary check (config passive) */
  double loss;
  uint64_t seed;
} setup;

static void init_agent(net *n, int i, const setup *s) {
  agent *x = &n->a[i];
  nat_cand c;
  x->lan = s->same_nat ? 0 : (s->kind[i] == NONE ? -1 : i);
  if (x->lan >= 0)
    nat_addr_set_v4(&x->local,
                    0x0A000002u | (uint32_t)(x->lan + 1) << 8 |
                        (uint32_t)(s->same_nat ? i : 0),
                    5000);
  else
    nat_addr_set_v4(&x->local, 0xC633640Au + (uint32_t)i, 5000);
  nat_cand_make(&x->cands[x->ncands++], NAT_CAND_HOST, &x->local, &x->local,
                NULL, 65535);
  if (x->lan >= 0) {
    nat_addr m = srflx_of(n, i);
    nat_addr stun;
    nat_addr_set_v4(&stun, STUNS, 3478);
    nat_cand_make_srflx(&c, &m, &x->local, &stun);
    x->cands[x->ncands++] = c;
  }
}

static void init_check(net *n, int i, const setup *s) {
  nat_check_config cfg;
  agent *x = &n->a[i];
  uint64_t tb = i == 0 ? 0x2000 : 0x1000;
  size_t k;
  memset(&cfg, 0, sizeof cfg);
  cfg.tie_breaker = tb;
  cfg.controlling =
      s->both_controlling ||
      (!s->both_controlled && nat_check_role_for(tb, i == 0 ? 0x1000 : 0x2000));
  cfg.local_ufrag = ufrag[i];
  cfg.local_pwd = pwd[i];
  cfg.remote_ufrag = ufrag[1 - i];
  cfg.remote_pwd =
      (i == 0 && s->wrong_pwd) ? "notthepassword-01234567" : pwd[1 - i];
  cfg.local_mapping = cfg.remote_mapping = -1;
  if (s->hints) {
    cfg.local_mapping = s->kind[i] == SYMMETRIC ? NAT_BEH_APD : 0;
    cfg.remote_mapping = s->kind[1 - i] == SYMMETRIC ? NAT_BEH_APD : 0;
  }
  cfg.rand = rand_fn;
  cfg.rand_ctx = n;
  cfg.aggressive = s->aggressive;
  cfg.passive = i == 0 && s->passive0;
  assert_int_equal(nat_check_new(&x->chk, &cfg, on_event, x), 0);
  for (k = 0; k < x->ncands; k++)
    assert_int_equal(nat_check_add_local(x->chk, &x->cands[k]), 0);
}

static void add_remotes(net *n, int i, const setup *s) {
  agent *peer = &n->a[1 - i];
  size_t k;
  for (k = 0; k < peer->ncands; k++) {
    if (s->srflx_only && peer->cands[k].type != NAT_CAND_SRFLX)
      continue;
    assert_int_equal(nat_check_add_remote(n->a[i].chk, 0, &peer->cands[k]), 0);
  }
}

static void net_init(net *n, const setup *s) {
  int i;
  memset(n, 0, sizeof *n);
  n->rng = s->seed ? s->seed : 0x9E3779B97F4A7C15ull;
  n->delay = 20 * MS;
  n->loss = s->loss;
  n->pub[0] = 0xC6336401u; /* 198.51.100.1 */
  n->pub[1] = 0xC6336402u; /* 198.51.100.2 */
  for (i = 0; i < 2; i++)
    if (s->kind[i] != NONE && (i == 0 || !s->same_nat))
      n->box[i] = make_box(s->kind[i], n->pub[i], s->hairpin);
  for (i = 0; i < 2; i++)
    init_agent(n, i, s);
  for (i = 0; i < 2; i++)
    init_check(n, i, s);
  for (i = 0; i < 2; i++) {
    add_remotes(n, i, s);
    assert_int_equal(nat_check_start(n->a[i].chk, 0), 0);
  }
}

static void net_free(net *n) {
  int i;
  for (i = 0; i < 2; i++) {
    nat_check_free(n->a[i].chk);
    nat_box_free(n->box[i]);
  }
  free(n->evs);
}

static unsigned role_conflicts(const nat_check *c);

/* Both selected the same path: each side's valid local address is what
 * the other sends to. */
static void assert_same_pair(net *n) {
  nat_check_pair p0, p1;
  assert_int_equal(nat_check_selected(n->a[0].chk, &p0), 0);
  assert_int_equal(nat_check_selected(n->a[1].chk, &p1), 0);
  assert_true(nat_addr_equal(&p0.local.addr, &p1.remote.addr));
  assert_true(nat_addr_equal(&p1.local.addr, &p0.remote.addr));
  assert_true(nat_check_is_controlling(n->a[0].chk) !=
              nat_check_is_controlling(n->a[1].chk));
}

/* ------------------------------------------------------------- tests */

/* Run @p n for up to 20 s: both agents must select, the same pair. */
static void run_selected(net *n) {
  run(n, 20 * NAT_SECONDS);
  assert_int_equal(n->a[0].final, NAT_CHECK_EV_SELECTED);
  assert_int_equal(n->a[1].final, NAT_CHECK_EV_SELECTED);
  assert_same_pair(n);
}

/* Both agents start with the same role (@p s: both_controlling or
 * both_controlled); after run_selected() the larger tie-breaker (agent 0)
 * controls: it keeps control after a conflict (RFC 8445 7.3.1.1; agent 1
 * switches) or takes it (agent 0 switches). Free @p n after. */
static void run_roles(net *n, const setup *s) {
  bool both = s->both_controlling;
  net_init(n, s);
  assert_int_equal(nat_check_is_controlling(n->a[0].chk), both);
  assert_int_equal(nat_check_is_controlling(n->a[1].chk), both);
  run_selected(n);
  assert_true(nat_check_is_controlling(n->a[0].chk));
  assert_false(nat_check_is_controlling(n->a[1].chk));
  assert_int_equal(n->a[0].role_events, both ? 0 : 1);
  assert_int_equal(n->a[1].role_events, both ? 1 : 0);
  if (both)
    assert_true(role_conflicts(n->a[0].chk) + role_conflicts(n->a[1].chk) > 0);
}

/* Every pair of {full cone, restricted, port-restricted, no NAT}: a pair
 * is selected on both sides, the same one, within bounded time. */
static void test_nat_matrix(void **state) {
  int i, j;
  (void)state;
  printf("  simulated time to selection (20 ms one way), A / B:\n");
  for (i = NONE; i <= PORT_RESTRICTED; i++)
    for (j = NONE; j <= PORT_RESTRICTED; j++) {
      setup s = {.kind = {i, j}};
      net n;
      nat_check_pair p0, p1;
      net_init(&n, &s);
      run_selected(&n);
      assert_true(n.a[0].done_at < 1 * NAT_SECONDS);
      assert_true(n.a[1].done_at < 1 * NAT_SECONDS);
      nat_check_selected(n.a[0].chk, &p0);
      nat_check_selected(n.a[1].chk, &p1);
      printf("  %-15s <-> %-15s  %4llu / %4llu ms  A: %s -> %s\n",
             i == NONE ? "no NAT" : kind_name[i],
             j == NONE ? "no NAT" : kind_name[j],
             (unsigned long long)(n.a[0].done_at / MS),
             (unsigned long long)(n.a[1].done_at / MS),
             nat_cand_type_name(p0.local.type),
             nat_cand_type_name(p0.remote.type));
      net_free(&n);
    }
}

/* Two hosts behind one NAT (hairpinning off) connect over host
 * candidates. */
static void test_same_nat_host(void **state) {
  setup s = {.kind = {PORT_RESTRICTED, PORT_RESTRICTED}, .same_nat = true};
  net n;
  nat_check_pair p0, p1;
  (void)state;
  net_init(&n, &s);
  run_selected(&n);
  nat_check_selected(n.a[0].chk, &p0);
  nat_check_selected(n.a[1].chk, &p1);
  assert_int_equal(p0.local.type, NAT_CAND_HOST);
  assert_int_equal(p0.remote.type, NAT_CAND_HOST);
  assert_int_equal(p1.local.type, NAT_CAND_HOST);
  assert_int_equal(p1.remote.type, NAT_CAND_HOST);
  printf("  same NAT, host pair selected at %llu / %llu ms\n",
         (unsigned long long)(n.a[0].done_at / MS),
         (unsigned long long)(n.a[1].done_at / MS));
  net_free(&n);
}

/* Aggressive nomination, every pair of {full cone, restricted,
 * port-restricted, no NAT}: both sides select the same pair; the
 * controlling one (agent 0, the larger tie-breaker) selects at its first
 * success, and well before regular nomination does. */
static void test_aggressive_matrix(void **state) {
  int i, j;
  (void)state;
  printf("  aggressive, simulated time to selection (20 ms one way), A / B:\n");
  for (i = NONE; i <= PORT_RESTRICTED; i++)
    for (j = NONE; j <= PORT_RESTRICTED; j++) {
      setup s = {.kind = {i, j}, .aggressive = true};
      setup r = {.kind = {i, j}};
      net n, reg;
      nat_check_pair p0;
      net_init(&n, &s);
      run_selected(&n);
      assert_true(nat_check_is_controlling(n.a[0].chk));
      /* selected at the first success */
      assert_true(n.a[0].first_ok > 0);
      assert_int_equal(n.a[0].done_at, n.a[0].first_ok);
      nat_check_selected(n.a[0].chk, &p0);
      assert_true(p0.nominated);
      assert_int_equal(p0.state, NAT_PAIR_SUCCEEDED);
      /* the host pair is checked first (higher priority), the one that
       * works one pacing step (10 ms) later at most, and is selected one
       * round trip (40 ms) after that on both sides */
      assert_true(n.a[0].done_at >= 2 * n.delay);
      assert_true(n.a[0].done_at <= 10 * MS + 2 * n.delay);
      assert_true(n.a[1].done_at <= 10 * MS + 2 * n.delay);
      if (i != NONE && j != NONE) {
        assert_int_equal(n.a[0].done_at, 50 * MS);
        assert_int_equal(n.a[1].done_at, 50 * MS);
      }
      /* the peer's check came in first: committed to the selected pair */
      assert_int_equal(n.a[0].nominated_ev, 1);
      assert_int_equal(n.a[1].nominated_ev, 0);
      assert_true(n.a[0].nominated_at < n.a[0].done_at);
      assert_true(
          nat_addr_equal(&n.a[0].committed.remote.addr, &p0.remote.addr));
      /* regular nomination on the same network: later on both sides */
      net_init(&reg, &r);
      run(&reg, 20 * NAT_SECONDS);
      assert_true(n.a[0].done_at < reg.a[0].done_at);
      assert_true(n.a[1].done_at < reg.a[1].done_at);
      printf("  %-15s <-> %-15s  %4llu / %4llu ms (regular %4llu / %4llu)  "
             "A: %s -> %s%s\n",
             i == NONE ? "no NAT" : kind_name[i],
             j == NONE ? "no NAT" : kind_name[j],
             (unsigned long long)(n.a[0].done_at / MS),
             (unsigned long long)(n.a[1].done_at / MS),
             (unsigned long long)(reg.a[0].done_at / MS),
             (unsigned long long)(reg.a[1].done_at / MS),
             nat_cand_type_name(p0.local.type),
             nat_cand_type_name(p0.remote.type),
             n.a[0].nominated_ev ? " (committed)" : "");
      net_free(&reg);
      net_free(&n);
    }
}

/* Two hosts behind one NAT, aggressive: with hairpinning off only the
 * host pair works; with it on the srflx pair works too, but the host pair
 * (higher priority: checked first, 2 ms round trip in the LAN) wins. */
static void test_aggressive_same_nat(void **state) {
  int hp;
  (void)state;
  for (hp = 0; hp < 2; hp++) {
    setup s = {.kind = {PORT_RESTRICTED, PORT_RESTRICTED},
               .same_nat = true,
               .aggressive = true,
               .hairpin = hp == 1};
    net n;
    nat_check_pair p0, p1;
    net_init(&n, &s);
    run_selected(&n);
    nat_check_selected(n.a[0].chk, &p0);
    nat_check_selected(n.a[1].chk, &p1);
    assert_int_equal(p0.local.type, NAT_CAND_HOST);
    assert_int_equal(p0.remote.type, NAT_CAND_HOST);
    assert_int_equal(p1.local.type, NAT_CAND_HOST);
    assert_int_equal(p1.remote.type, NAT_CAND_HOST);
    /* one LAN round trip (2 ms) after the first check; the controlled
     * side's own check is answered 1 ms later */
    assert_int_equal(n.a[0].done_at, 2 * MS);
    assert_true(n.a[1].done_at <= 3 * MS);
    printf("  same NAT, hairpin %s: host pair selected at %llu / %llu ms\n",
           hp ? "on" : "off", (unsigned long long)(n.a[0].done_at / MS),
           (unsigned long long)(n.a[1].done_at / MS));
    net_free(&n);
  }
}

/* Aggressive nomination with a role conflict (both start controlling) and
 * with both starting controlled: the larger tie-breaker (agent 0) ends
 * controlling, and both select the same pair. */
static void test_aggressive_roles(void **state) {
  int k;
  (void)state;
  for (k = 0; k < 2; k++) {
    setup s = {.kind = {RESTRICTED, FULL},
               .aggressive = true,
               .both_controlling = k == 0,
               .both_controlled = k == 1};
    net n;
    run_roles(&n, &s);
    assert_int_equal(n.a[1].nominated_ev, 0); /* never as controlled */
    assert_true(n.a[0].done_at < 1 * NAT_SECONDS);
    assert_true(n.a[1].done_at < 1 * NAT_SECONDS);
    net_free(&n);
  }
}

/* Aggressive nomination under 5 % loss, 40 seeds: both sides always select
 * the same pair. */
static void test_aggressive_loss(void **state) {
  uint64_t seed;
  nat_tstamp worst = 0;
  (void)state;
  for (seed = 1; seed <= 40; seed++) {
    setup s = {.kind = {PORT_RESTRICTED, RESTRICTED},
               .loss = 0.05,
               .aggressive = true,
               .seed = seed * 0x2545F4914F6CDD1Dull};
    net n;
    net_init(&n, &s);
    run_selected(&n);
    if (n.a[1].done_at > worst)
      worst = n.a[1].done_at;
    net_free(&n);
  }
  printf("  aggressive, 5%% loss, 40 runs: all agreed, worst %llu ms\n",
         (unsigned long long)(worst / MS));
}

static void assert_all_no_response(nat_check *c) {
  size_t i, n = nat_check_pair_count(c);
  nat_check_pair p;
  assert_true(n > 0);
  for (i = 0; i < n; i++) {
    assert_int_equal(nat_check_pair_get(c, i, &p), 0);
    assert_int_equal(p.state, NAT_PAIR_FAILED);
    assert_int_equal(p.fail, NAT_PAIR_FAIL_NO_RESPONSE);
    assert_true(p.sent >= 7);
  }
}

/* APD mapping on both sides, only srflx candidates: no response on any
 * pair, in bounded time; the mapping hint turns it into "use birthday". */
static void test_symmetric_fails(void **state) {
  int h;
  (void)state;
  for (h = 0; h < 2; h++) {
    setup s = {
        .kind = {SYMMETRIC, SYMMETRIC}, .srflx_only = true, .hints = h == 1};
    net n;
    char text[2048];
    int i;
    net_init(&n, &s);
    run(&n, 30 * NAT_SECONDS);
    for (i = 0; i < 2; i++) {
      assert_int_equal(n.a[i].final, NAT_CHECK_EV_FAILED);
      assert_true(n.a[i].done_at <= 10 * NAT_SECONDS);
      assert_int_equal(nat_check_status_get(n.a[i].chk), NAT_CHECK_FAILED);
      assert_all_no_response(n.a[i].chk);
      assert_int_equal(nat_check_hint_get(n.a[i].chk),
                       h ? NAT_CHECK_HINT_BIRTHDAY
                         : NAT_CHECK_HINT_NO_RESPONSE);
    }
    nat_check_explain(n.a[0].chk, text, sizeof text);
    assert_non_null(strstr(text, "no response"));
    assert_non_null(strstr(text, h ? "birthday" : "filters"));
    if (h)
      printf("  symmetric/symmetric failed at %llu ms:\n%s",
             (unsigned long long)(n.a[0].done_at / MS), text);
    net_free(&n);
  }
}

/* A wrong password: integrity failures, no selection. */
static void test_wrong_password(void **state) {
  setup s = {.kind = {FULL, PORT_RESTRICTED}, .wrong_pwd = true};
  net n;
  nat_check_pair p;
  size_t i;
  bool integrity = false;
  char text[2048];
  (void)state;
  net_init(&n, &s);
  run(&n, 30 * NAT_SECONDS);
  assert_int_equal(n.a[0].final, NAT_CHECK_EV_FAILED);
  assert_int_equal(n.a[1].final, NAT_CHECK_EV_FAILED);
  assert_int_equal(nat_check_selected(n.a[0].chk, &p), NAT_EAGAIN);
  assert_int_equal(nat_check_selected(n.a[1].chk, &p), NAT_EAGAIN);
  for (i = 0; i < nat_check_pair_count(n.a[0].chk); i++) {
    nat_check_pair_get(n.a[0].chk, i, &p);
    if (p.fail == NAT_PAIR_FAIL_INTEGRITY)
      integrity = true;
  }
  assert_true(integrity);
  assert_int_equal(nat_check_hint_get(n.a[0].chk), NAT_CHECK_HINT_CREDENTIALS);
  assert_int_equal(nat_check_hint_get(n.a[1].chk), NAT_CHECK_HINT_CREDENTIALS);
  nat_check_explain(n.a[0].chk, text, sizeof text);
  assert_non_null(strstr(text, "integrity failure"));
  net_free(&n);
}

static unsigned role_conflicts(const nat_check *c) {
  size_t i;
  unsigned sum = 0;
  nat_check_pair p;
  for (i = 0; i < nat_check_pair_count(c); i++) {
    nat_check_pair_get(c, i, &p);
    sum += p.role_conflicts;
  }
  return sum;
}

/* Both start controlling: the larger tie-breaker keeps control, the other
 * switches (RFC 8445 7.3.1.1), and they still agree on one pair. */
static void test_role_conflict(void **state) {
  setup s = {.kind = {RESTRICTED, FULL}, .both_controlling = true};
  net n;
  (void)state;
  run_roles(&n, &s); /* agent 0 keeps control, after a conflict */
  net_free(&n);
}

/* Both start controlled: the larger tie-breaker takes control. */
static void test_role_both_controlled(void **state) {
  setup s = {.kind = {FULL, NONE}, .both_controlled = true};
  net n;
  (void)state;
  run_roles(&n, &s); /* agent 0 takes control */
  net_free(&n);
}

/* 5 % loss each way on the WAN: still selected, over many seeds. */
static void test_loss(void **state) {
  uint64_t seed;
  nat_tstamp worst = 0;
  unsigned lost = 0;
  (void)state;
  for (seed = 1; seed <= 40; seed++) {
    setup s = {.kind = {PORT_RESTRICTED, RESTRICTED},
               .loss = 0.05,
               .seed = seed * 0x2545F4914F6CDD1Dull};
    net n;
    net_init(&n, &s);
    run_selected(&n);
    if (n.a[0].done_at > worst)
      worst = n.a[0].done_at;
    if (n.a[1].done_at > worst)
      worst = n.a[1].done_at;
    lost += n.lost;
    net_free(&n);
  }
  printf("  5%% loss, 40 runs: all selected, worst %llu ms, %u packets "
         "lost\n",
         (unsigned long long)(worst / MS), lost);
}

/* Non-STUN datagrams go back to the caller (for QUIC); malformed input
 * never crashes; arguments are checked. */
static void test_demux_and_args(void **state) {
  net n;
  setup s = {.kind = {NONE, NONE}};
  uint8_t quic[40] = {0x40, 1, 2, 3};
  nat_addr from;
  nat_check_config cfg;
  nat_check *c = NULL;
  nat_cand bad;
  (void)state;
  net_init(&n, &s);
  nat_addr_set_v4(&from, 0xC633640Bu, 5000);
  assert_int_equal(nat_check_recv(n.a[0].chk, 0, &from, quic, sizeof quic),
                   NAT_ENOTSTUN);
  nat_addr_set_v4(&from, 0x7F000001u, 5000);
  nat_cand_make(&bad, NAT_CAND_HOST, &from, NULL, NULL, 1);
  assert_int_equal(nat_check_add_remote(n.a[0].chk, 0, &bad), NAT_EBADADDR);
  assert_int_equal(nat_check_start(n.a[0].chk, 0), NAT_EINVAL);
  memset(&cfg, 0, sizeof cfg);
  cfg.rand = rand_fn;
  cfg.local_ufrag = "abcd";
  assert_int_equal(nat_check_new(&c, &cfg, NULL, NULL), NAT_EINVAL);
  net_free(&n);
}

/* A STUN response to none of the checks (the caller's own srflx
 * discovery) is handed back with NAT_ENOTFOUND. */
static void test_foreign_response(void **state) {
  net n;
  setup s = {.kind = {NONE, NONE}};
  uint8_t buf[128], tid[12] = {1, 2, 3};
  nat_stun_builder b;
  nat_addr from, mapped;
  ssize_t len;
  (void)state;
  net_init(&n, &s);
  nat_addr_set_v4(&from, STUNS, 3478);
  nat_addr_set_v4(&mapped, 0xC633640Au, 5000);
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &mapped);
  len = nat_stun_builder_finish(&b, true);
  assert_true(len > 0);
  assert_int_equal(nat_check_recv(n.a[0].chk, 0, &from, buf, (size_t)len),
                   NAT_ENOTFOUND);
  /* the same, decoded by the caller (nat_check_recv_msg) */
  {
    nat_stun_msg m;
    assert_int_equal(nat_stun_decode(&m, buf, (size_t)len), len);
    assert_int_equal(nat_check_recv_msg(n.a[0].chk, 0, &from, &m),
                     NAT_ENOTFOUND);
    assert_int_equal(nat_check_recv_msg(n.a[0].chk, 0, &from, NULL),
                     NAT_EINVAL);
    m.classic = true;
    assert_int_equal(nat_check_recv_msg(n.a[0].chk, 0, &from, &m),
                     NAT_ENOTSTUN);
  }
  net_free(&n);
}

static void counter_rand(void *ctx, uint8_t *buf, size_t len) {
  unsigned *x = ctx;
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)(++*x * 131u);
}

/* An authenticated success answer whose XOR-MAPPED-ADDRESS is of the other
 * family: the check succeeded, but that address is no candidate of the
 * pair (RFC 8445 7.2.5.3.1 pairs addresses of one family); the pair keeps
 * its base as local candidate and no mapped address (fuzz_check: the pair
 * reported an IPv6 peer-reflexive local candidate on an IPv4 base). */
static void test_mapped_other_family(void **state) {
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 9};
  nat_check_config cfg;
  nat_check *c = NULL;
  nat_check_pair p;
  nat_cand host, remote;
  nat_addr base, peer, dst, mapped;
  nat_stun_builder b;
  uint8_t buf[512], resp[256];
  unsigned ctr = 0;
  ssize_t n;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.controlling = true;
  cfg.tie_breaker = 5;
  cfg.local_ufrag = "L";
  cfg.local_pwd = "lpwd-test-1";
  cfg.remote_ufrag = "R";
  cfg.remote_pwd = "rpwd-test-1";
  cfg.rand = counter_rand;
  cfg.rand_ctx = &ctr;
  assert_int_equal(nat_check_new(&c, &cfg, NULL, NULL), 0);
  nat_addr_set_v4(&base, 0x0A000001u, 5000);
  nat_addr_set_v4(&peer, 0xCB00710Au, 7000);
  nat_cand_make(&host, NAT_CAND_HOST, &base, &base, NULL, 65535);
  nat_cand_make(&remote, NAT_CAND_HOST, &peer, NULL, NULL, 65535);
  assert_int_equal(nat_check_add_local(c, &host), 0);
  assert_int_equal(nat_check_add_remote(c, 0, &remote), 0);
  assert_int_equal(nat_check_start(c, 0), 0);
  nat_check_handle_expiry(c, 0);
  n = nat_check_next_send(c, 0, buf, sizeof buf, &dst);
  assert_true(n > 0);
  assert_true(nat_addr_equal(&dst, &peer));
  memset(&mapped, 0, sizeof mapped);
  mapped.family = NAT_AF_INET6;
  memcpy(mapped.ip, v6, 16);
  mapped.port = 6000;
  nat_stun_builder_init(&b, resp, sizeof resp, NAT_STUN_BINDING,
                        NAT_STUN_SUCCESS, buf + 8);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &mapped);
  nat_stun_add_integrity(&b, (const uint8_t *)"rpwd-test-1", 11);
  n = nat_stun_builder_finish(&b, true);
  assert_true(n > 0);
  assert_int_equal(nat_check_recv(c, 5 * MS, &peer, resp, (size_t)n), 0);
  assert_int_equal(nat_check_pair_get(c, 0, &p), 0);
  assert_int_equal(p.state, NAT_PAIR_SUCCEEDED);
  assert_int_equal(p.local.type, NAT_CAND_HOST);
  assert_true(nat_addr_equal(&p.local.addr, &base));
  assert_int_equal(p.mapped.family, NAT_AF_NONE);
  nat_check_free(c);
}

/* Config from two tickets: credentials crossed, opposite roles. */
static void test_config_from_tickets(void **state) {
  nat_ticket ta, tb;
  nat_check_config ca, cb;
  net n; /* only for its random source */
  (void)state;
  memset(&n, 0, sizeof n);
  n.rng = 77;
  nat_ticket_init_random(&ta, rand_fn, &n);
  nat_ticket_init_random(&tb, rand_fn, &n);
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  assert_int_equal(nat_check_config_from_tickets(&ca, &ta, &tb), 0);
  assert_int_equal(nat_check_config_from_tickets(&cb, &tb, &ta), 0);
  assert_true(ca.controlling != cb.controlling);
  assert_string_equal(ca.remote_pwd, cb.local_pwd);
  assert_string_equal(cb.remote_ufrag, ca.local_ufrag);
  assert_true(ca.tie_breaker == ta.tie_breaker);
  assert_int_equal(nat_check_config_from_tickets(NULL, &ta, &tb), NAT_EINVAL);
}

/* The hints' short keys (reports show them) and advice lines. */
/* A passive agent (a port-mapped side whose NAT maps per destination;
 * here a full cone stands for the mapping: any address reaches it) sends
 * no check of its own to the peer's public candidates: the peer's check
 * comes first, then its answers and triggered check select the same pair
 * (the peer behind a port-restricted NAT); the same run without passive
 * has it ask first. */
static void test_passive(void **state) {
  for (int passive = 0; passive <= 1; passive++) {
    setup s = {.kind = {FULL, PORT_RESTRICTED},
               .srflx_only = true,
               .aggressive = true,
               .passive0 = passive == 1};
    net n;
    net_init(&n, &s);
    run_selected(&n);
    if (passive)
      assert_int_equal(n.a[0].asked_first, 0);
    else
      assert_true(n.a[0].asked_first > 0);
    assert_true(n.a[0].heard);
    net_free(&n);
  }
  (void)state;
}

static void test_hint_names(void **state) {
  static const char *const keys[] = {"none",          "birthday",
                                     "no-response",   "credentials",
                                     "not-nominated", "no-pairs"};
  (void)state;
  for (int h = NAT_CHECK_HINT_NONE; h <= NAT_CHECK_HINT_NO_PAIRS; h++) {
    assert_string_equal(nat_check_hint_name(h), keys[h]);
    if (h != NAT_CHECK_HINT_NONE)
      assert_true(strlen(nat_check_hint_strerror(h)) > 0);
  }
  assert_string_equal(nat_check_hint_strerror(NAT_CHECK_HINT_NONE), "");
  assert_string_equal(nat_check_hint_name(-1), "unknown");
  assert_string_equal(nat_check_hint_name(NAT_CHECK_HINT_NO_PAIRS + 1),
                      "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nat_matrix),
      cmocka_unit_test(test_same_nat_host),
      cmocka_unit_test(test_aggressive_matrix),
      cmocka_unit_test(test_aggressive_same_nat),
      cmocka_unit_test(test_aggressive_roles),
      cmocka_unit_test(test_aggressive_loss),
      cmocka_unit_test(test_symmetric_fails),
      cmocka_unit_test(test_wrong_password),
      cmocka_unit_test(test_role_conflict),
      cmocka_unit_test(test_role_both_controlled),
      cmocka_unit_test(test_loss),
      cmocka_unit_test(test_demux_and_args),
      cmocka_unit_test(test_foreign_response),
      cmocka_unit_test(test_mapped_other_family),
      cmocka_unit_test(test_config_from_tickets),
      cmocka_unit_test(test_hint_names),
      cmocka_unit_test(test_passive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
