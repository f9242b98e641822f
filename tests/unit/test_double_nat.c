/* Double NAT and carrier NAT from all the evidence (nat/verdict.h,
 * "Double NAT", nat_verdict_double_nat): every rule with constructed
 * logs, hop lists and gateway addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/verdict.h"

#define SRV "203.0.113.1:3478"
#define LAN "192.168.1.2:5000"
#define PUB "198.51.100.2:5000"

static nat_addr A(const char *s) {
  nat_addr a;
  memset(&a, 0, sizeof a);
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* A log of one answered Binding request: @p local seen as @p mapped. */
static void one(nat_obslog *log, const char *local, const char *mapped) {
  nat_obs o;
  memset(&o, 0, sizeof o);
  o.local = A(local);
  o.server = A(SRV);
  o.from = o.server;
  o.has_mapped = true;
  o.mapped = A(mapped);
  o.transmissions = 1;
  o.rtt = NAT_MILLISECONDS;
  nat_obslog_init(log);
  assert_int_equal(nat_obslog_append(log, &o), 0);
}

/* Hops: NULL entries are silent; the last one, if @p reached, is the
 * server. */
static nat_hop_list hops(const char *const *addr, size_t n, bool reached) {
  nat_hop_list l;
  size_t i;
  memset(&l, 0, sizeof l);
  l.target = A(SRV);
  l.max_ttl = 8;
  l.n = reached ? n : 8;
  l.reached_ttl = reached ? (uint8_t)n : 0;
  for (i = 0; i < NAT_HOPS_MAX; i++)
    l.hop[i].ttl = (uint8_t)(i + 1);
  for (i = 0; i < n; i++) {
    if (addr[i] == NULL)
      continue;
    l.hop[i].kind =
        reached && i + 1 == n ? NAT_HOP_SERVER : NAT_HOP_TIME_EXCEEDED;
    l.hop[i].addr = A(addr[i]);
    l.hop[i].space = (uint8_t)nat_addr_space_of(&l.hop[i].addr);
    l.hop[i].rtt = NAT_MILLISECONDS;
  }
  return l;
}

typedef struct fx {
  nat_obslog log;
  nat_verdict v;
} fx;

static int setup(void **state) {
  static fx f;
  nat_obslog_init(&f.log);
  nat_verdict_init(&f.v);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  nat_verdict_free(&f->v);
  nat_obslog_free(&f->log);
  return 0;
}

static void run(fx *f, const char *local, const char *mapped,
                const nat_hop_list *h, const nat_gateway_addr *gw, size_t ngw) {
  one(&f->log, local, mapped);
  assert_int_equal(nat_verdict_compute(&f->v, &f->log), 0);
  assert_int_equal(nat_verdict_double_nat(&f->v, &f->log, h, gw, ngw), 0);
}

static void must_say(const nat_verdict *v, const char *what) {
  size_t i;
  bool line = false;
  if (strstr(v->double_nat_reason, what) == NULL)
    fail_msg("reason '%s' lacks '%s'", v->double_nat_reason, what);
  for (i = 0; i < v->nexplain; i++)
    if (strncmp(v->explain[i], "double NAT: ", 12) == 0) {
      assert_false(line); /* one line, replaced */
      line = true;
      assert_non_null(strstr(v->explain[i], what));
    }
  assert_true(line);
}

/* The log's rules alone (nat_verdict_compute) fill the new fields. */
static void test_log_rules(void **state) {
  fx *f = *state;
  one(&f->log, "100.64.1.2:5000", PUB);
  assert_int_equal(nat_verdict_compute(&f->v, &f->log), 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_YES);
  must_say(&f->v, "100.64.0.0/10");
  nat_obslog_free(&f->log);
  one(&f->log, LAN, "100.64.7.8:6000"); /* (c): public address shared */
  assert_int_equal(nat_verdict_compute(&f->v, &f->log), 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_YES);
  must_say(&f->v, "non-public 100.64.7.8");
  nat_obslog_free(&f->log);
  one(&f->log, PUB, PUB);
  assert_int_equal(nat_verdict_compute(&f->v, &f->log), 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_NO);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_NO);
  must_say(&f->v, "holds its public address 198.51.100.2");
  nat_obslog_free(&f->log);
  one(&f->log, LAN, PUB);
  assert_int_equal(nat_verdict_compute(&f->v, &f->log), 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "cannot tell");
  /* and the log's rules still decide first */
  assert_int_equal(nat_verdict_double_nat(&f->v, &f->log, NULL, NULL, 0), 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "no hop probe; no port-mapping probe");
}

static void test_yes_shared_hop(void **state) {
  fx *f = *state;
  const char *p[] = {"192.168.1.1", "100.64.0.1", "203.0.113.1"};
  nat_hop_list h = hops(p, 3, true);
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_YES);
  must_say(&f->v, "hop 2 100.64.0.1 is in the shared address space of RFC "
                  "6598: carrier-grade NAT");
  /* idempotent */
  assert_int_equal(nat_verdict_double_nat(&f->v, &f->log, &h, NULL, 0), 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  must_say(&f->v, "hop 2 100.64.0.1");
}

static void test_yes_private_hop(void **state) {
  fx *f = *state;
  const char *p[] = {"192.168.1.1", NULL, "10.20.0.1", "198.51.100.1",
                     "203.0.113.1"};
  nat_hop_list h = hops(p, 5, true);
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "hop 3 10.20.0.1 is in private space");
}

static void test_yes_gateway_private(void **state) {
  fx *f = *state;
  nat_gateway_addr gw = {A("10.0.0.7"), "NAT-PMP"};
  run(f, LAN, PUB, NULL, &gw, 1);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "external address 10.0.0.7 (by NAT-PMP) is in private");
}

static void test_yes_gateway_shared(void **state) {
  fx *f = *state;
  nat_gateway_addr gw = {A("100.80.1.2"), "PCP"};
  run(f, LAN, PUB, NULL, &gw, 1);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_YES);
  must_say(&f->v, "100.80.1.2 (by PCP) is in the shared address space");
}

static void test_yes_gateway_differs(void **state) {
  fx *f = *state;
  nat_gateway_addr gw = {A("198.51.100.77"), NULL};
  run(f, LAN, PUB, NULL, &gw, 1);
  assert_int_equal(f->v.double_nat, NAT_TRI_YES);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "198.51.100.77 (by the gateway) is not the public address "
                  "198.51.100.2 STUN saw");
}

static void test_no_gateway_matches(void **state) {
  fx *f = *state;
  const char *p[] = {"192.168.1.1", "10.255.0.1", "203.0.113.1"};
  nat_hop_list h = hops(p, 3, true);
  nat_gateway_addr gw[2] = {{A("2001:db8::1"), "UPnP"},
                            {A("198.51.100.2"), "UPnP"}};
  run(f, LAN, PUB, &h, gw, 2);
  assert_int_equal(f->v.double_nat, NAT_TRI_NO);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "198.51.100.2 (by UPnP) is the public address STUN saw");
  must_say(&f->v, "hop 2 10.255.0.1 in private space is a router");
  /* a shared-space hop outweighs the gateway's match (a gateway behind a
   * carrier NAT may report the CGN's address, learned by STUN) */
  {
    const char *c[] = {"192.168.1.1", "100.64.1.1", "203.0.113.1"};
    nat_hop_list hc = hops(c, 3, true);
    nat_obslog_free(&f->log);
    run(f, LAN, PUB, &hc, gw, 2);
    assert_int_equal(f->v.double_nat, NAT_TRI_YES);
    assert_int_equal(f->v.carrier_nat, NAT_TRI_YES);
    must_say(&f->v, "hop 2 100.64.1.1 is in the shared address space");
  }
  /* the gateway's match without the hops to back it: unknown */
  nat_obslog_free(&f->log);
  run(f, LAN, PUB, NULL, gw, 2);
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "a gateway behind a carrier NAT can report that address");
  must_say(&f->v, "no hop probe");
  /* the host's own public address decides before anything */
  nat_obslog_free(&f->log);
  run(f, PUB, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_NO);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_NO);
}

static void test_unknown(void **state) {
  fx *f = *state;
  const char *silent[] = {NULL, NULL, NULL};
  const char *one_nat[] = {"192.168.1.1", "198.51.100.9", "203.0.113.1"};
  nat_hop_list h = hops(silent, 3, false);
  nat_gateway_addr none = {{0}, NULL};
  run(f, LAN, PUB, &h, &none, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "no hop answered the hop probe (8 TTLs); no gateway "
                  "answered port mapping");
  /* only public routers beyond hop 1: still not a proof (a NAT numbered
   * in public space inside would look the same) */
  nat_obslog_free(&f->log);
  h = hops(one_nat, 3, true);
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "no hop beyond hop 1 192.168.1.1 is in private or shared");
  /* a gateway that answered without an address */
  nat_obslog_free(&f->log);
  {
    nat_gateway_addr gw = {{0}, "PCP"};
    run(f, LAN, PUB, &h, &gw, 1);
  }
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "no gateway gave a usable external address");
  assert_int_equal(nat_verdict_double_nat(NULL, NULL, NULL, NULL, 0),
                   NAT_EINVAL);
  assert_int_equal(nat_verdict_double_nat(&f->v, NULL, NULL, NULL, 1),
                   NAT_EINVAL);
}

/* The server at TTL 2: one router between, the only NAT (rule 6). */
static void test_no_one_router(void **state) {
  fx *f = *state;
  const char *p[] = {"192.168.1.1", "203.0.113.1"};
  nat_hop_list h = hops(p, 2, true);
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_NO);
  assert_int_equal(f->v.carrier_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "the server answered at TTL 2: hop 1 192.168.1.1 is the "
                  "only router between the host and the server, so the only "
                  "NAT");
  /* hop 1 silent: still one router */
  nat_obslog_free(&f->log);
  h.hop[0].kind = NAT_HOP_SILENT;
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_NO);
  must_say(&f->v, "one router between the host and the server");
}

/* The server on the link: no router to judge. */
static void test_unknown_no_router(void **state) {
  fx *f = *state;
  const char *p[] = {"203.0.113.1"};
  nat_hop_list h = hops(p, 1, true);
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_UNKNOWN);
  must_say(&f->v, "the server answered at TTL 1 (no router between)");
}

/* Hop 1 in shared space: the first router is the carrier's. */
static void test_carrier_first_hop(void **state) {
  fx *f = *state;
  const char *p[] = {"100.64.0.1", "203.0.113.1"};
  nat_hop_list h = hops(p, 2, true);
  run(f, LAN, PUB, &h, NULL, 0);
  assert_int_equal(f->v.double_nat, NAT_TRI_NO); /* the only router */
  assert_int_equal(f->v.carrier_nat, NAT_TRI_YES);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_log_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_yes_shared_hop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_yes_private_hop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_yes_gateway_private, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_yes_gateway_shared, setup, teardown),
      cmocka_unit_test_setup_teardown(test_yes_gateway_differs, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_no_gateway_matches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_one_router, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_no_router, setup, teardown),
      cmocka_unit_test_setup_teardown(test_carrier_first_hop, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
