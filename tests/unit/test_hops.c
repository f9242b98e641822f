/* The hop probe's core (nat/hops.h) with constructed inputs, no sockets:
 * the requests (one per TTL, transaction IDs that encode TTL and round),
 * ICMP reports matched by the quoted transaction ID or by send order, the
 * server's answers (reached_ttl), refusals, rounds and the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/hops.h"
#include "nat/stun.h"

#define MS NAT_MILLISECONDS

static nat_addr A(const char *s) {
  nat_addr a;
  memset(&a, 0, sizeof a);
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

static void fixed_rand(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  memset(buf, 0xA5, len);
}

/* Every request the probe hands out at @p now, copied. */
typedef struct sent {
  size_t n;
  uint8_t ttl[64];
  uint8_t data[64][64];
  size_t len[64];
} sent;

static void drain(nat_hops *h, nat_tstamp now, sent *s) {
  nat_hops_send x;
  while (nat_hops_next_send(h, now, &x) == 1) {
    assert_true(s->n < 64);
    assert_true(x.len <= 64);
    assert_true(nat_addr_equal(&x.dst, &(nat_addr){0}) == false);
    s->ttl[s->n] = x.ttl;
    memcpy(s->data[s->n], x.data, x.len);
    s->len[s->n] = x.len;
    s->n++;
  }
}

static nat_hops *mk(unsigned max, unsigned rounds, nat_tstamp deadline) {
  nat_hops_config c;
  nat_hops *h = NULL;
  memset(&c, 0, sizeof c);
  c.target = A("203.0.113.1:3478");
  c.max_ttl = max;
  c.rounds = rounds;
  c.deadline = deadline;
  c.rand = fixed_rand;
  assert_int_equal(nat_hops_new(&h, &c, 1000 * MS), 0);
  return h;
}

/* The server's success response to request @p req. */
static size_t answer(const uint8_t *req, uint8_t *out, size_t cap) {
  nat_stun_builder b;
  nat_addr m = A("198.51.100.2:40000");
  nat_stun_builder_init(&b, out, cap, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        req + 8);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &m);
  return (size_t)nat_stun_builder_finish(&b, true);
}

static nat_hops_report rep(uint8_t kind, const char *offender,
                           const uint8_t *quote, size_t qlen) {
  nat_hops_report r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  r.offender = A(offender);
  r.dst = A("203.0.113.1:3478");
  r.quote = quote;
  r.quote_len = qlen;
  return r;
}

static void test_requests(void **state) {
  nat_hops *h = mk(0, 1, 0);
  sent s;
  nat_stun_msg m;
  size_t i;
  (void)state;
  memset(&s, 0, sizeof s);
  drain(h, 1000 * MS, &s);
  assert_int_equal(s.n, NAT_HOPS_DEFAULT);
  for (i = 0; i < s.n; i++) {
    assert_int_equal(s.ttl[i], i + 1);
    assert_true(nat_stun_decode(&m, s.data[i], s.len[i]) > 0);
    assert_int_equal(m.method, NAT_STUN_BINDING);
    assert_int_equal(m.cls, NAT_STUN_REQUEST);
    assert_int_equal(m.tid[NAT_HOPS_TID_TTL], i + 1);
    assert_int_equal(m.tid[NAT_HOPS_TID_ROUND], 0);
    assert_int_equal(m.tid[0], 0xA5); /* the random prefix */
  }
  /* nothing more in this round; one round only: done 2 intervals on */
  memset(&s, 0, sizeof s);
  drain(h, 1001 * MS, &s);
  assert_int_equal(s.n, 0);
  assert_false(nat_hops_done(h));
  assert_int_equal(nat_hops_get_expiry(h), 1200 * MS);
  nat_hops_handle_expiry(h, 1200 * MS);
  assert_true(nat_hops_done(h));
  assert_int_equal(nat_hops_get_expiry(h), NAT_TSTAMP_MAX);
  nat_hops_free(h);
}

/* Double NAT path: hop 1 home router, hop 2 carrier NAT, server at 3. */
static void test_match_by_tid(void **state) {
  nat_hops *h = mk(4, 3, 0);
  nat_hop_list l;
  nat_hops_report r;
  nat_addr srv = A("203.0.113.1:3478");
  uint8_t resp[128];
  size_t n;
  sent s;
  (void)state;
  memset(&s, 0, sizeof s);
  drain(h, 1000 * MS, &s);
  assert_int_equal(s.n, 4);
  r = rep(NAT_HOP_TIME_EXCEEDED, "100.64.0.1", s.data[1], s.len[1]);
  assert_int_equal(nat_hops_report_icmp(h, 1007 * MS, &r), 0);
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.0.1.1", s.data[0], s.len[0]);
  assert_int_equal(nat_hops_report_icmp(h, 1002 * MS, &r), 0);
  n = answer(s.data[3], resp, sizeof resp); /* TTL 4 first */
  assert_int_equal(nat_hops_recv(h, 1010 * MS, &srv, resp, n), 0);
  assert_false(nat_hops_done(h)); /* TTL 3 may still reach */
  n = answer(s.data[2], resp, sizeof resp);
  assert_int_equal(nat_hops_recv(h, 1011 * MS, &srv, resp, n), 0);
  assert_true(nat_hops_done(h)); /* every hop below 3 answered */
  nat_hops_get(h, &l);
  assert_int_equal(l.reached_ttl, 3);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.hop[0].kind, NAT_HOP_TIME_EXCEEDED);
  assert_true(nat_addr_equal_ip(&l.hop[0].addr, &(nat_addr){0}) == false);
  assert_int_equal(l.hop[0].space, NAT_SPACE_PRIVATE);
  assert_int_equal(l.hop[0].rtt, 2 * MS);
  assert_false(l.hop[0].by_order);
  assert_int_equal(l.hop[1].space, NAT_SPACE_SHARED);
  assert_int_equal(l.hop[1].rtt, 7 * MS);
  assert_int_equal(l.hop[2].kind, NAT_HOP_SERVER);
  assert_int_equal(l.hop[2].space, NAT_SPACE_PUBLIC);
  assert_int_equal(l.hop[2].rtt, 11 * MS);
  assert_int_equal(l.reports, 2);
  assert_int_equal(l.answers, 2);
  /* a late answer is still consumed (it must not reach the tests) */
  assert_int_equal(nat_hops_recv(h, 1020 * MS, &srv, resp, n), 0);
  nat_hops_get(h, &l);
  assert_int_equal(l.refused, 1);
  nat_hops_free(h);
}

static void test_not_ours(void **state) {
  nat_hops *h = mk(3, 1, 0);
  nat_hops_report r;
  nat_addr srv = A("203.0.113.1:3478"), other = A("203.0.113.9:3478");
  uint8_t req[64], resp[128], tid[12] = {1, 2, 3};
  nat_stun_builder b;
  nat_hop_list l;
  size_t n, len;
  sent s;
  (void)state;
  memset(&s, 0, sizeof s);
  drain(h, 1000 * MS, &s);
  /* another transaction of the socket (the behaviour tests) */
  nat_stun_builder_init(&b, req, sizeof req, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  len = (size_t)nat_stun_builder_finish(&b, true);
  n = answer(req, resp, sizeof resp);
  assert_int_equal(nat_hops_recv(h, 1001 * MS, &srv, resp, n), NAT_ENOTFOUND);
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.0.1.1", req, len);
  assert_int_equal(nat_hops_report_icmp(h, 1001 * MS, &r), NAT_ENOTFOUND);
  /* not STUN */
  assert_int_equal(
      nat_hops_recv(h, 1001 * MS, &srv, (const uint8_t *)"hello", 5),
      NAT_ENOTFOUND);
  /* ours, from another address: consumed, refused */
  n = answer(s.data[2], resp, sizeof resp);
  assert_int_equal(nat_hops_recv(h, 1001 * MS, &other, resp, n), 0);
  /* a report about another destination */
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.0.1.1", s.data[0], s.len[0]);
  r.dst = other;
  assert_int_equal(nat_hops_report_icmp(h, 1001 * MS, &r), NAT_ENOTFOUND);
  /* a short unreachable report is never matched by order */
  r = rep(NAT_HOP_UNREACHABLE, "203.0.113.1", NULL, 0);
  assert_int_equal(nat_hops_report_icmp(h, 1001 * MS, &r), NAT_ENOTFOUND);
  nat_hops_get(h, &l);
  assert_int_equal(l.reached_ttl, 0);
  assert_int_equal(l.refused, 1);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.hop[0].kind, NAT_HOP_SILENT);
  nat_hops_free(h);
}

/* Routers that quote only the UDP header: by send order. */
static void test_match_by_order(void **state) {
  nat_hops *h = mk(4, 2, 0);
  nat_hops_report r;
  nat_hop_list l;
  sent s;
  (void)state;
  memset(&s, 0, sizeof s);
  drain(h, 1000 * MS, &s);
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.0.1.1", NULL, 0);
  assert_int_equal(nat_hops_report_icmp(h, 1001 * MS, &r), 0);
  r = rep(NAT_HOP_TIME_EXCEEDED, "100.64.0.1", NULL, 0);
  assert_int_equal(nat_hops_report_icmp(h, 1003 * MS, &r), 0);
  /* the same router again (a retransmission): still TTL 1 */
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.0.1.1", NULL, 0);
  assert_int_equal(nat_hops_report_icmp(h, 1004 * MS, &r), 0);
  nat_hops_get(h, &l);
  assert_true(l.hop[0].by_order);
  assert_int_equal(l.hop[0].space, NAT_SPACE_PRIVATE);
  assert_int_equal(l.hop[0].rtt, 1 * MS);
  assert_int_equal(l.hop[1].space, NAT_SPACE_SHARED);
  assert_int_equal(l.hop[2].kind, NAT_HOP_SILENT);
  /* a full quote later replaces the guess */
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.9.9.9", s.data[0], s.len[0]);
  assert_int_equal(nat_hops_report_icmp(h, 1005 * MS, &r), 0);
  nat_hops_get(h, &l);
  assert_false(l.hop[0].by_order);
  assert_int_equal(l.hop[0].addr.ip[1], 9);
  nat_hops_free(h);
}

/* Round 2 resends only the TTLs still silent below the one that reached;
 * the deadline ends the probe. */
static void test_rounds_and_deadline(void **state) {
  nat_hops *h = mk(5, 3, 250 * MS);
  nat_addr srv = A("203.0.113.1:3478");
  nat_hops_report r;
  nat_stun_msg m;
  uint8_t resp[128];
  size_t n;
  sent s;
  (void)state;
  memset(&s, 0, sizeof s);
  drain(h, 1000 * MS, &s);
  assert_int_equal(s.n, 5);
  n = answer(s.data[2], resp, sizeof resp); /* reached at 3 */
  assert_int_equal(nat_hops_recv(h, 1005 * MS, &srv, resp, n), 0);
  r = rep(NAT_HOP_TIME_EXCEEDED, "10.0.1.1", s.data[0], s.len[0]);
  assert_int_equal(nat_hops_report_icmp(h, 1002 * MS, &r), 0);
  assert_int_equal(nat_hops_get_expiry(h), 1100 * MS);
  memset(&s, 0, sizeof s);
  drain(h, 1050 * MS, &s);
  assert_int_equal(s.n, 0);
  drain(h, 1100 * MS, &s);
  assert_int_equal(s.n, 1); /* TTL 2 only */
  assert_int_equal(s.ttl[0], 2);
  assert_true(nat_stun_decode(&m, s.data[0], s.len[0]) > 0);
  assert_int_equal(m.tid[NAT_HOPS_TID_ROUND], 1);
  assert_int_equal(nat_hops_get_expiry(h), 1200 * MS);
  memset(&s, 0, sizeof s);
  drain(h, 1200 * MS, &s);
  assert_int_equal(s.n, 1);
  assert_int_equal(nat_hops_get_expiry(h), 1250 * MS); /* the deadline */
  nat_hops_handle_expiry(h, 1250 * MS);
  assert_true(nat_hops_done(h));
  /* after the end nothing is matched */
  r = rep(NAT_HOP_TIME_EXCEEDED, "100.64.0.1", s.data[0], s.len[0]);
  assert_int_equal(nat_hops_report_icmp(h, 1260 * MS, &r), NAT_ENOTFOUND);
  nat_hops_free(h);
}

static void test_args(void **state) {
  nat_hops_config c;
  nat_hops *h = NULL;
  nat_hops_send x;
  (void)state;
  memset(&c, 0, sizeof c);
  c.rand = fixed_rand;
  assert_int_equal(nat_hops_new(&h, &c, 0), NAT_EINVAL); /* no target */
  c.target = A("203.0.113.1:3478");
  c.max_ttl = NAT_HOPS_MAX + 1;
  assert_int_equal(nat_hops_new(&h, &c, 0), NAT_EINVAL);
  c.max_ttl = 0;
  c.rounds = NAT_HOPS_ROUNDS_MAX + 1;
  assert_int_equal(nat_hops_new(&h, &c, 0), NAT_EINVAL);
  c.rounds = 0;
  c.rand = NULL;
  assert_int_equal(nat_hops_new(&h, &c, 0), NAT_EINVAL);
  assert_int_equal(nat_hops_next_send(NULL, 0, &x), NAT_EINVAL);
  assert_true(nat_hops_done(NULL));
  nat_hops_free(NULL);
  assert_string_equal(nat_hop_kind_name(NAT_HOP_SERVER), "server");
  assert_string_equal(nat_hop_kind_name(9), "?");
  assert_string_equal(nat_addr_space_name(NAT_SPACE_LINK_LOCAL), "link-local");
  assert_string_equal(nat_addr_space_name(99), "none");
}

static void test_spaces(void **state) {
  static const struct {
    const char *ip;
    nat_addr_space space;
  } cases[] = {
      {"100.64.0.1", NAT_SPACE_SHARED},  {"100.128.0.1", NAT_SPACE_PUBLIC},
      {"172.31.0.1", NAT_SPACE_PRIVATE}, {"127.0.0.1", NAT_SPACE_LOOPBACK},
      {"fe80::1", NAT_SPACE_LINK_LOCAL}, {"fd00::1", NAT_SPACE_PRIVATE},
      {"224.0.0.1", NAT_SPACE_OTHER},    {"0.0.0.0", NAT_SPACE_OTHER},
      {"2001:db8::1", NAT_SPACE_PUBLIC},
  };
  size_t i;
  (void)state;
  assert_int_equal(nat_addr_space_of(&(nat_addr){0}), NAT_SPACE_NONE);
  assert_int_equal(nat_addr_space_of(NULL), NAT_SPACE_NONE);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nat_addr a = A(cases[i].ip);
    assert_int_equal(nat_addr_space_of(&a), cases[i].space);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_match_by_tid),
      cmocka_unit_test(test_not_ours),
      cmocka_unit_test(test_match_by_order),
      cmocka_unit_test(test_rounds_and_deadline),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_spaces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
