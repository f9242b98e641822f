/* Unit tests: the punch agent's sans-I/O core (src/punch/agent_core.c):
 * remote ordering, the check hold, the hole openers' targets, and the
 * check run on a fake clock (openers first with TTL 2, our checks after
 * the hold, then paced). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "punch/agent_core.h"

#define MS NAT_MILLISECONDS

static void rand_a(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 7 + 3);
}

/* a different byte string each call (transaction IDs must differ) */
static void rand_seq(void *ctx, uint8_t *buf, size_t len) {
  static uint8_t n;
  (void)ctx;
  n++;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 31 + n);
}

static void rand_b(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 13 + 101);
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

/* Us: host 10.0.1.2:5000 on 10.0.1.0/24, srflx 198.51.100.1:6000 (SEEN).
 * The peer: host 10.0.2.2:7000, srflx 198.51.100.2:8000. */
static void setup_core(nat__punch_core *c, bool ticket_mode) {
  nat__punch_core_init(c, ticket_mode, false);
  c->local = addr("10.0.1.2:5000");
  c->subnets[0].addr = addr("10.0.1.0");
  c->subnets[0].prefix = 24;
  c->nsubnets = 1;
  assert_int_equal(nat_ticket_init_random(&c->mine, rand_a, NULL), 0);
  assert_int_equal(nat_ticket_init_random(&c->peer, rand_b, NULL), 0);
  add(&c->mine, NAT_CAND_HOST, "10.0.1.2:5000");
  c->seen = addr("198.51.100.1:6000");
  c->has_seen = true;
  nat__punch_add_srflx(c, &c->seen, &(nat_addr){0});
  add(&c->peer, NAT_CAND_HOST, "10.0.2.2:7000");
  add(&c->peer, NAT_CAND_SRFLX, "198.51.100.2:8000");
  c->has_peer = true;
}

static void test_ordering(void **state) {
  nat__punch_core c;
  nat_cand r;
  (void)state;
  setup_core(&c, false);
  assert_false(nat__punch_same_public_ip(&c));
  /* a host candidate off our subnets: type preference 0 */
  r = nat__punch_remote_ordered(&c, &c.peer.cands[0], false);
  assert_int_equal(r.priority >> 24, 0);
  assert_int_equal(r.priority & 0xFFFFFF, c.peer.cands[0].priority & 0xFFFFFF);
  /* srflx keeps its priority (type preference 100) */
  r = nat__punch_remote_ordered(&c, &c.peer.cands[1], false);
  assert_int_equal(r.priority, c.peer.cands[1].priority);
  assert_int_equal(r.priority >> 24, 100);
  /* the same public IP: the host pair keeps 126 */
  c.peer.cands[1].addr = addr("198.51.100.1:8000");
  assert_true(nat__punch_same_public_ip(&c));
  r = nat__punch_remote_ordered(&c, &c.peer.cands[0], true);
  assert_int_equal(r.priority >> 24, 126);
  /* on our subnet: kept */
  c.peer.cands[1].addr = addr("198.51.100.2:8000");
  c.peer.cands[0].addr = addr("10.0.1.9:7000");
  assert_true(
      nat__punch_on_subnet(c.subnets, c.nsubnets, &c.peer.cands[0].addr));
  r = nat__punch_remote_ordered(&c, &c.peer.cands[0], false);
  assert_int_equal(r.priority >> 24, 126);
  /* ticket mode: never demoted */
  setup_core(&c, true);
  r = nat__punch_remote_ordered(&c, &c.peer.cands[0], false);
  assert_int_equal(r.priority >> 24, 126);
}

static void test_on_subnet(void **state) {
  nat_iface f[2];
  nat_addr a;
  (void)state;
  memset(f, 0, sizeof f);
  f[0].addr = addr("192.168.4.0");
  f[0].prefix = 22;
  f[1].addr = addr("172.16.9.9");
  f[1].prefix = 32;
  a = addr("192.168.7.200");
  assert_true(nat__punch_on_subnet(f, 2, &a));
  a = addr("192.168.8.1");
  assert_false(nat__punch_on_subnet(f, 2, &a));
  a = addr("172.16.9.9");
  assert_true(nat__punch_on_subnet(f, 2, &a));
  a = addr("[2001:db8::1]:1");
  assert_false(nat__punch_on_subnet(f, 2, &a));
}

static void test_check_hold(void **state) {
  (void)state;
  /* ticket mode: 250 ms whatever the RTTs */
  assert_int_equal(nat__punch_check_hold_ms(true, 0, 0), 250);
  assert_int_equal(nat__punch_check_hold_ms(true, 80 * MS, 10 * MS), 250);
  /* only ours: 1.5 x RTT, at least the 50 ms margin, at most 500 ms */
  assert_int_equal(nat__punch_check_hold_ms(false, 0, 0), 50);
  assert_int_equal(nat__punch_check_hold_ms(false, 20 * MS, 0), 50);
  assert_int_equal(nat__punch_check_hold_ms(false, 40 * MS, 0), 60);
  assert_int_equal(nat__punch_check_hold_ms(false, 41 * MS, 0), 62);
  assert_int_equal(nat__punch_check_hold_ms(false, 400 * MS, 0), 500);
  /* both: 50 + 1.5 x (peer - ours) / 2 - (ours + peer) / 2, floor 20 */
  assert_int_equal(nat__punch_check_hold_ms(false, 40 * MS, 40 * MS), 20);
  assert_int_equal(nat__punch_check_hold_ms(false, 20 * MS, 100 * MS), 50);
  assert_int_equal(nat__punch_check_hold_ms(false, 10 * MS, 30 * MS), 45);
  assert_int_equal(nat__punch_check_hold_ms(false, 100 * MS, 20 * MS), 20);
  /* capped */
  assert_int_equal(nat__punch_check_hold_ms(false, 1 * MS, 2000 * MS), 500);
}

static void test_hole_targets(void **state) {
  nat__punch_core c;
  nat_addr t[NAT_TICKET_MAX_CANDS];
  (void)state;
  setup_core(&c, false);
  add(&c.peer, NAT_CAND_SRFLX, "[2001:db8::2]:8000");
  add(&c.peer, NAT_CAND_PREDICTED, "198.51.100.2:8001");
  /* host candidates and another family skipped */
  assert_int_equal(nat__punch_hole_targets(&c, t, NAT_TICKET_MAX_CANDS), 2);
  assert_true(nat_addr_equal(&t[0], &c.peer.cands[1].addr));
  assert_true(nat_addr_equal(&t[1], &c.peer.cands[3].addr));
  assert_int_equal(nat__punch_hole_targets(&c, t, 1), 1);
  /* the rendezvous saw one of our host addresses: not behind a NAT */
  c.seen = addr("10.0.1.2:5000");
  assert_int_equal(nat__punch_hole_targets(&c, t, NAT_TICKET_MAX_CANDS), 0);
  c.seen = addr("198.51.100.1:6000");
  c.stun_mapped = addr("10.0.1.2:5000");
  c.has_stun_mapped = true;
  assert_int_equal(nat__punch_hole_targets(&c, t, NAT_TICKET_MAX_CANDS), 0);
}

static unsigned nfailed;
static void on_check(void *arg, const nat_check_event *ev) {
  (void)arg;
  if (ev->type == NAT_CHECK_EV_FAILED)
    nfailed++;
}

/* The sends due at @p now: openers counted in @p holes, checks in
 * @p checks (each a STUN Binding request to a peer candidate). */
static void drain(nat__punch_core *c, nat_tstamp now, unsigned *holes,
                  unsigned *checks, nat_addr *last) {
  uint8_t buf[1500];
  nat_addr dst;
  int ttl = -1;
  ssize_t n;
  while ((n = nat__punch_next_send(c, now, buf, sizeof buf, &dst, &ttl)) > 0) {
    if (ttl == NAT__PUNCH_HOLE_TTL) {
      assert_int_equal(n, 1);
      nat__punch_hole_sent(c);
      (*holes)++;
    } else {
      assert_int_equal(ttl, 0);
      assert_true(nat_stun_is_stun(buf, (size_t)n));
      (*checks)++;
      *last = dst;
    }
  }
}

static void test_pacing(void **state) {
  nat__punch_core c;
  unsigned holes = 0, checks = 0;
  nat_addr last;
  nat_tstamp t0 = 1000 * MS, now;
  (void)state;
  setup_core(&c, false);
  c.rdv_rtt = 40 * MS; /* no peer figure: hold 60 ms */
  nfailed = 0;
  assert_int_equal(nat__punch_checks_start(&c, t0, t0 + 10000 * MS, rand_seq,
                                           on_check, NULL),
                   0);
  assert_int_equal(c.start_at, t0 + 60 * MS);
  /* the opener to the peer's srflx at once, with TTL 2; no check yet */
  drain(&c, t0, &holes, &checks, &last);
  assert_int_equal(holes, 1);
  assert_int_equal(checks, 0);
  assert_int_equal(c.holes_opened, 1);
  assert_int_equal(nat__punch_get_expiry(&c), t0 + 60 * MS);
  nat__punch_handle_expiry(&c, t0 + 59 * MS);
  drain(&c, t0 + 59 * MS, &holes, &checks, &last);
  assert_int_equal(checks, 0);
  /* the hold is over: the first check, to the srflx pair (the demoted
   * host pair comes after it) */
  now = t0 + 60 * MS;
  nat__punch_handle_expiry(&c, now);
  drain(&c, now, &holes, &checks, &last);
  assert_int_equal(checks, 1);
  assert_true(nat_addr_equal(&last, &c.peer.cands[1].addr));
  /* the next new check one pacing step (10 ms) later, to the host */
  assert_int_equal(nat__punch_get_expiry(&c), now + 10 * MS);
  nat__punch_handle_expiry(&c, now + 9 * MS);
  drain(&c, now + 9 * MS, &holes, &checks, &last);
  assert_int_equal(checks, 1);
  nat__punch_handle_expiry(&c, now + 10 * MS);
  drain(&c, now + 10 * MS, &holes, &checks, &last);
  assert_int_equal(checks, 2);
  assert_true(nat_addr_equal(&last, &c.peer.cands[0].addr));
  assert_int_equal(holes, 1);
  assert_int_equal(nfailed, 0);
  assert_int_equal(nat_check_pair_count(c.chk), 2);
  nat__punch_core_free(&c);
}

static void test_no_pairs_fails(void **state) {
  nat__punch_core c;
  unsigned holes = 0, checks = 0;
  nat_addr last;
  (void)state;
  setup_core(&c, true);
  /* the peer offers only IPv6: refused, no pair */
  c.peer.ncands = 0;
  add(&c.peer, NAT_CAND_SRFLX, "[2001:db8::2]:8000");
  nfailed = 0;
  assert_int_equal(
      nat__punch_checks_start(&c, 0, 10000 * MS, rand_seq, on_check, NULL), 0);
  assert_int_equal(c.nrefused, 1);
  assert_int_equal(c.refused_why[0], NAT_CAND_REJECT_FAMILY);
  assert_int_equal(c.start_at, 250 * MS); /* ticket mode hold */
  nat__punch_handle_expiry(&c, 250 * MS);
  drain(&c, 250 * MS, &holes, &checks, &last);
  assert_int_equal(holes + checks, 0);
  assert_int_equal(nfailed, 1);
  assert_int_equal(nat__punch_get_expiry(&c), NAT_TSTAMP_MAX);
  nat__punch_core_free(&c);
}

static void test_gather_grace(void **state) {
  (void)state;
  assert_int_equal(nat__punch_gather_grace(0), 150 * MS);
  assert_int_equal(nat__punch_gather_grace(220 * MS), 220 * MS);
  assert_int_equal(nat__punch_gather_grace(2000 * MS), 500 * MS);
}

/* The mapping behaviour from two or three looks: two that agree by chance
 * (a NAT mapping per destination at random ports of a narrow range) say
 * "independent"; the third look towards the STUN server's other address
 * decides it (lab.punch.both-hard failed once in CI from such a draw). */
static void test_guess_mapping(void **state) {
  nat__punch_core c;
  nat_addr rdv = addr("203.0.113.1:4000"), stun = addr("203.0.113.1:3478");
  (void)state;
  setup_core(&c, false);
  c.seen = addr("198.51.100.1:10421");
  c.stun_mapped = addr("198.51.100.1:10421");
  c.has_stun_mapped = true;
  nat__punch_guess_mapping(&c, &rdv, &stun);
  assert_int_equal(c.local_mapping, NAT_BEH_EI);
  c.other_dst = addr("203.0.113.2:3479");
  c.other_mapped = addr("198.51.100.1:10777");
  c.has_other_mapped = true;
  nat__punch_guess_mapping(&c, &rdv, &stun);
  assert_int_equal(c.local_mapping, NAT_BEH_AD);
  /* all three agree: independent */
  c.other_mapped = c.seen;
  nat__punch_guess_mapping(&c, &rdv, &stun);
  assert_int_equal(c.local_mapping, NAT_BEH_EI);
  /* towards one IP two ports differ: port-dependent, whatever the third */
  c.stun_mapped = addr("198.51.100.1:10500");
  nat__punch_guess_mapping(&c, &rdv, &stun);
  assert_int_equal(c.local_mapping, NAT_BEH_APD);
  /* the rendezvous and the other address on one IP (another port) */
  c.stun_mapped = c.seen;
  c.other_dst = addr("203.0.113.1:3479");
  c.other_mapped = addr("198.51.100.1:10777");
  nat__punch_guess_mapping(&c, &rdv, &stun);
  assert_int_equal(c.local_mapping, NAT_BEH_APD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ordering),
      cmocka_unit_test(test_on_subnet),
      cmocka_unit_test(test_check_hold),
      cmocka_unit_test(test_hole_targets),
      cmocka_unit_test(test_pacing),
      cmocka_unit_test(test_no_pairs_fails),
      cmocka_unit_test(test_gather_grace),
      cmocka_unit_test(test_guess_mapping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
