/* The masking of a replay's verdict (nat_replay_mask, nat_replay_verdict):
 * for a capture taken on the client, outside the NAT, or at an unknown
 * point, and for each kind of missing evidence, which verdicts are
 * withheld (and the explain line saying why), which are kept, and the
 * strategy table redone from what is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "nat/replay.h"

#define ALL_BUT_LIFETIME                                                       \
  (NAT_REPLAY_M_BASIC | NAT_REPLAY_M_NAT | NAT_REPLAY_M_MAPPING |              \
   NAT_REPLAY_M_FILTERING | NAT_REPLAY_M_HAIRPIN | NAT_REPLAY_M_ALLOCATION)

/* A kind no strategy has: a strategy still holding it was not redone. */
#define UNTOUCHED 0xee

static nat_server_verdict servers[2];

static nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* A verdict where every field is known: a symmetric (APD/APD) sequential
 * NAT behind a second NAT, measured with an RFC 5780 server. */
static void full(nat_verdict *v) {
  uint8_t p;
  memset(v, 0, sizeof *v);
  memset(servers, 0, sizeof servers);
  servers[0].server_idx = 0;
  servers[0].family = NAT_AF_INET;
  servers[0].reachable = true;
  servers[0].has_mapped = true;
  servers[0].mapped = A("198.51.100.2:40000");
  servers[0].rtt = 12 * NAT_MILLISECONDS;
  servers[0].rfc5780 = true;
  servers[0].nat_present = NAT_TRI_YES;
  servers[1] = servers[0];
  servers[1].server_idx = 1;
  servers[1].rfc5780 = false;
  v->basic.servers = servers;
  v->basic.nservers = 2;
  v->basic.udp_reachable = true;
  v->basic.v4.tried = 2;
  v->basic.v4.answered = 2;
  v->basic.v4.public_agree = NAT_AGREE_SAME;
  v->basic.v4.public_ip = A("198.51.100.2");
  v->basic.v4.nat_present = NAT_TRI_YES;
  v->basic.v6.nat_present = NAT_TRI_NO;
  v->basic.nat_present = NAT_TRI_YES;
  v->mapping = NAT_BEH_APD;
  v->filtering = NAT_BEH_APD;
  v->hairpinning = NAT_TRI_YES;
  v->pooling = NAT_POOL_SINGLE;
  v->alloc.kind = NAT_PA_SEQUENTIAL;
  v->alloc.delta = 2;
  v->alloc.lo = 40000;
  v->alloc.hi = 40030;
  v->alloc.samples = 16;
  v->alloc.confidence = 0.9;
  v->alloc.parity = NAT_TRI_YES;
  v->prediction.n = 2;
  v->prediction.port[0] = 40032;
  v->prediction.prob[0] = 0.8;
  v->prediction.port[1] = 40034;
  v->prediction.prob[1] = 0.1;
  v->double_nat = NAT_TRI_YES;
  v->lifetime_min = 30 * NAT_SECONDS;
  v->lifetime_max = 45 * NAT_SECONDS;
  v->rfc5780_used = true;
  v->difficulty = 2;
  v->mapping_varies = NAT_TRI_YES;
  v->filtering_unsupported = true;
  v->self_class = NAT_PEER_HARD_SEQUENTIAL;
  v->observations = 40;
  for (p = 0; p < NAT_PEER_CLASSES; p++) {
    v->strategy[p].peer = p;
    v->strategy[p].kind = UNTOUCHED;
  }
  strcpy(v->explain[0], "from the analyzers");
  v->nexplain = 1;
}

/* A diag as the replay leaves it for a capture at @p point. */
static nat_replay_diag diag(uint8_t point, bool inside, uint32_t measurable) {
  nat_replay_diag d;
  memset(&d, 0, sizeof d);
  d.capture_point = point;
  d.inside = inside;
  d.saw_translation = inside && point == NAT_REPLAY_AUTO;
  d.measurable = measurable;
  d.requests = 40;
  d.responses = 36;
  d.change_requests = 4;
  d.hairpin_requests = 1;
  return d;
}

static void expect_kept_nat(const nat_verdict *v) {
  assert_int_equal(v->basic.nat_present, NAT_TRI_YES);
  assert_int_equal(v->basic.v4.nat_present, NAT_TRI_YES);
  assert_int_equal(v->basic.v6.nat_present, NAT_TRI_NO);
  assert_int_equal(v->basic.servers[0].nat_present, NAT_TRI_YES);
  assert_int_equal(v->basic.servers[1].nat_present, NAT_TRI_YES);
  assert_int_equal(v->double_nat, NAT_TRI_YES);
}

static void expect_kept_mapping(const nat_verdict *v, uint8_t self_class) {
  assert_int_equal(v->mapping, NAT_BEH_APD);
  assert_int_equal(v->mapping_varies, NAT_TRI_YES);
  assert_true(v->rfc5780_used);
  assert_int_equal(v->difficulty, 2);
  assert_int_equal(v->self_class, self_class);
}

static void expect_kept_allocation(const nat_verdict *v) {
  assert_int_equal(v->alloc.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(v->alloc.delta, 2);
  assert_int_equal(v->alloc.samples, 16);
  assert_true(v->alloc.confidence == 0.9);
  assert_int_equal(v->alloc.parity, NAT_TRI_YES);
  assert_int_equal(v->prediction.n, 2);
  assert_int_equal(v->prediction.port[0], 40032);
}

static void expect_masked_allocation(const nat_verdict *v) {
  assert_int_equal(v->alloc.kind, NAT_PA_UNKNOWN);
  assert_int_equal(v->alloc.delta, 0);
  assert_true(v->alloc.confidence == 0.0);
  assert_int_equal(v->alloc.parity, NAT_TRI_UNKNOWN);
  assert_int_equal(v->prediction.n, 0);
  /* the observed range and sample count stay: facts, not a verdict */
  assert_int_equal(v->alloc.lo, 40000);
  assert_int_equal(v->alloc.hi, 40030);
}

/* What is never masked: reachability, public address, RTT, pooling. */
static void expect_kept_basic(const nat_verdict *v) {
  char ip[NAT_ADDR_STRLEN];
  assert_true(v->basic.udp_reachable);
  assert_int_equal(v->basic.nservers, 2);
  assert_int_equal(v->basic.v4.public_agree, NAT_AGREE_SAME);
  assert_string_equal(nat_addr_format_ip(&v->basic.v4.public_ip, ip, sizeof ip),
                      "198.51.100.2");
  assert_true(v->basic.servers[0].reachable);
  assert_int_equal(v->basic.servers[0].rtt, 12 * NAT_MILLISECONDS);
  assert_int_equal(v->basic.servers[0].mapped.port, 40000);
  assert_int_equal(v->pooling, NAT_POOL_SINGLE);
  assert_int_equal(v->observations, 40);
  assert_string_equal(v->explain[0], "from the analyzers");
}

static void expect_untouched_strategy(const nat_verdict *v) {
  uint8_t p;
  for (p = 0; p < NAT_PEER_CLASSES; p++)
    assert_int_equal(v->strategy[p].kind, UNTOUCHED);
}

/* The strategy table is nat_strategy_for() of what is left. */
static void expect_redone_strategy(const nat_verdict *v) {
  nat_strategy s;
  uint8_t p;
  for (p = 0; p < NAT_PEER_CLASSES; p++) {
    assert_int_equal(
        nat_strategy_for(v->self_class, v->filtering, &v->prediction, p, &s),
        0);
    assert_int_equal(v->strategy[p].peer, p);
    assert_int_equal(v->strategy[p].kind, s.kind);
    assert_true(v->strategy[p].probes_99 == s.probes_99);
  }
}

/* On the client with every test in the capture: only the lifetime (never
 * in a capture) is withheld, silently; nothing else changes. */
static void test_client_everything(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AT_CLIENT, true, ALL_BUT_LIFETIME);
  nat_verdict v;
  (void)state;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d), NAT_REPLAY_M_LIFETIME);
  assert_int_equal(v.lifetime_min, 0);
  assert_int_equal(v.lifetime_max, 0);
  expect_kept_basic(&v);
  expect_kept_nat(&v);
  expect_kept_mapping(&v, NAT_PEER_HARD_SEQUENTIAL);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  assert_true(v.filtering_unsupported);
  assert_int_equal(v.hairpinning, NAT_TRI_YES);
  expect_kept_allocation(&v);
  expect_untouched_strategy(&v);
  assert_int_equal(v.nexplain, 1);
}

/* On the client without CHANGE-REQUEST probes: filtering withheld (it
 * then counts as APD in the strategies), the rest kept. */
static void test_client_no_change_requests(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AT_CLIENT, true,
                           ALL_BUT_LIFETIME & ~NAT_REPLAY_M_FILTERING);
  nat_verdict v;
  (void)state;
  d.change_requests = 0;
  full(&v);
  v.mapping = NAT_BEH_EI;
  v.filtering = NAT_BEH_EI;
  v.self_class = NAT_PEER_EASY;
  assert_int_equal(nat_replay_mask(&v, &d),
                   NAT_REPLAY_M_FILTERING | NAT_REPLAY_M_LIFETIME);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_false(v.filtering_unsupported);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_int_equal(v.self_class, NAT_PEER_EASY);
  expect_kept_basic(&v);
  expect_kept_nat(&v);
  expect_kept_allocation(&v);
  assert_int_equal(v.hairpinning, NAT_TRI_YES);
  /* easy self, unknown (APD) filtering: direct, predict, birthday */
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_DIRECT);
  assert_int_equal(v.strategy[NAT_PEER_HARD_SEQUENTIAL].kind,
                   NAT_STRAT_PREDICT);
  assert_int_equal(v.strategy[NAT_PEER_HARD_RANDOM].kind, NAT_STRAT_BIRTHDAY);
  expect_redone_strategy(&v);
  assert_int_equal(v.nexplain, 2);
  assert_string_equal(v.explain[1], "Replay: filtering not measurable from "
                                    "this capture: no CHANGE-REQUEST probes "
                                    "in the capture");
}

/* On the client, change requests without an opening request. */
static void test_client_filtering_without_opening(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AT_CLIENT, true,
                           ALL_BUT_LIFETIME & ~NAT_REPLAY_M_FILTERING);
  nat_verdict v;
  (void)state;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d),
                   NAT_REPLAY_M_FILTERING | NAT_REPLAY_M_LIFETIME);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_int_equal(v.nexplain, 2);
  assert_non_null(strstr(v.explain[1], "Replay: filtering not measurable "
                                       "from this capture: no answered "
                                       "request opened the mapping"));
}

/* On the client, no socket answered from two destinations: mapping and
 * everything resting on it (class, difficulty) withheld. */
static void test_client_no_mapping(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AT_CLIENT, true,
                           ALL_BUT_LIFETIME & ~NAT_REPLAY_M_MAPPING);
  nat_verdict v;
  (void)state;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d),
                   NAT_REPLAY_M_MAPPING | NAT_REPLAY_M_LIFETIME);
  assert_int_equal(v.mapping, NAT_BEH_UNKNOWN);
  assert_int_equal(v.mapping_varies, NAT_TRI_UNKNOWN);
  assert_false(v.rfc5780_used);
  assert_int_equal(v.difficulty, 0);
  assert_int_equal(v.self_class, NAT_PEER_CLASSES);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  expect_kept_nat(&v);
  expect_kept_allocation(&v);
  expect_kept_basic(&v);
  /* unknown class counts as hard-random: birthday against everyone */
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_BIRTHDAY);
  assert_int_equal(v.strategy[NAT_PEER_HARD_SEQUENTIAL].kind,
                   NAT_STRAT_BIRTHDAY);
  expect_redone_strategy(&v);
  assert_int_equal(v.nexplain, 2);
  assert_string_equal(v.explain[1],
                      "Replay: mapping not measurable from this capture: no "
                      "socket had answers from two destinations (RFC 5780 "
                      "section 4.3 probes)");
}

/* On the client, fewer than two fresh sockets: the allocation withheld,
 * and a hard-sequential class (which rests on it) becomes unknown. */
static void test_client_no_allocation(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AT_CLIENT, true,
                           ALL_BUT_LIFETIME & ~NAT_REPLAY_M_ALLOCATION);
  nat_verdict v;
  (void)state;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d),
                   NAT_REPLAY_M_ALLOCATION | NAT_REPLAY_M_LIFETIME);
  expect_masked_allocation(&v);
  assert_int_equal(v.self_class, NAT_PEER_CLASSES);
  assert_int_equal(v.mapping, NAT_BEH_APD);
  assert_int_equal(v.difficulty, 2);
  expect_kept_nat(&v);
  expect_redone_strategy(&v);
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_BIRTHDAY);
  assert_string_equal(v.explain[1],
                      "Replay: allocation not measurable from this capture: "
                      "fewer than two fresh sockets asked the same server, "
                      "and the mappings answered are too few for the rules "
                      "for few samples");

  /* an easy class does not rest on the allocation: kept */
  full(&v);
  v.mapping = NAT_BEH_EI;
  v.self_class = NAT_PEER_EASY;
  nat_replay_mask(&v, &d);
  assert_int_equal(v.self_class, NAT_PEER_EASY);
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_DIRECT);
}

/* On the client without a hairpin request: only hairpinning withheld, and
 * the strategies (which do not use it) are left as they are. */
static void test_client_no_hairpin(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AT_CLIENT, true,
                           ALL_BUT_LIFETIME & ~NAT_REPLAY_M_HAIRPIN);
  nat_verdict v;
  (void)state;
  d.hairpin_requests = 0;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d),
                   NAT_REPLAY_M_HAIRPIN | NAT_REPLAY_M_LIFETIME);
  assert_int_equal(v.hairpinning, NAT_TRI_UNKNOWN);
  expect_kept_mapping(&v, NAT_PEER_HARD_SEQUENTIAL);
  expect_kept_allocation(&v);
  expect_untouched_strategy(&v);
  assert_string_equal(v.explain[1],
                      "Replay: hairpinning not measurable from this capture: "
                      "no request to another socket's mapped address");
}

/* Outside the NAT, an endpoint-independent mapping shown by two server
 * IPs: mapping kept; NAT presence, filtering, hairpinning and allocation
 * withheld, with the outside reasons, in report order. */
static void test_outside(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_OUTSIDE, false,
                           NAT_REPLAY_M_BASIC | NAT_REPLAY_M_MAPPING);
  const char *outside = "the capture may have been taken outside the NAT, "
                        "where answers the NAT drops are still seen";
  char want[NAT_EXPLAIN_LEN];
  nat_verdict v;
  (void)state;
  full(&v);
  v.mapping = NAT_BEH_EI;
  v.self_class = NAT_PEER_EASY;
  v.difficulty = 1;
  assert_int_equal(nat_replay_mask(&v, &d),
                   NAT_REPLAY_M_MASKABLE & ~NAT_REPLAY_M_MAPPING);
  assert_int_equal(v.basic.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.basic.v4.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.basic.v6.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.basic.servers[0].nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.basic.servers[1].nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.double_nat, NAT_TRI_UNKNOWN);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_int_equal(v.self_class, NAT_PEER_EASY);
  assert_int_equal(v.difficulty, 1);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_int_equal(v.hairpinning, NAT_TRI_UNKNOWN);
  expect_masked_allocation(&v);
  expect_kept_basic(&v);
  expect_redone_strategy(&v);
  assert_int_equal(v.nexplain, 5);
  assert_string_equal(v.explain[1],
                      "Replay: nat_present not measurable from this capture: "
                      "captured outside the NAT: the client's own address is "
                      "not in the capture");
  snprintf(want, sizeof want,
           "Replay: filtering not measurable from this capture: %s", outside);
  assert_string_equal(v.explain[2], want);
  snprintf(want, sizeof want,
           "Replay: hairpinning not measurable from this capture: %s", outside);
  assert_string_equal(v.explain[3], want);
  snprintf(want, sizeof want,
           "Replay: allocation not measurable from this capture: %s", outside);
  assert_string_equal(v.explain[4], want);
}

/* Capture point unknown and no translation seen: only the basic facts
 * are kept; NAT presence's reason depends on whether anything was
 * answered. */
static void test_unknown_point(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AUTO, false, NAT_REPLAY_M_BASIC);
  nat_verdict v;
  (void)state;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d), NAT_REPLAY_M_MASKABLE);
  assert_int_equal(v.basic.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.double_nat, NAT_TRI_UNKNOWN);
  assert_int_equal(v.mapping, NAT_BEH_UNKNOWN);
  assert_int_equal(v.self_class, NAT_PEER_CLASSES);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_int_equal(v.hairpinning, NAT_TRI_UNKNOWN);
  expect_masked_allocation(&v);
  assert_int_equal(v.lifetime_max, 0);
  expect_kept_basic(&v);
  expect_redone_strategy(&v);
  assert_int_equal(v.nexplain, 6);
  assert_string_equal(v.explain[1],
                      "Replay: nat_present not measurable from this capture: "
                      "every mapped address equals the request's source: no "
                      "NAT, or a capture taken outside the NAT");
  assert_non_null(strstr(v.explain[2], "Replay: mapping not measurable from "
                                       "this capture: the capture may have "
                                       "been taken outside the NAT, where a "
                                       "new mapping cannot be told"));

  d.responses = 0;
  full(&v);
  nat_replay_mask(&v, &d);
  assert_string_equal(v.explain[1],
                      "Replay: nat_present not measurable from this capture: "
                      "no request was answered");
}

/* Unknown point, but a translation seen: the replay counts it as inside,
 * and what it measured is kept. */
static void test_unknown_point_inside(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AUTO, true, ALL_BUT_LIFETIME);
  nat_verdict v;
  (void)state;
  full(&v);
  assert_int_equal(nat_replay_mask(&v, &d), NAT_REPLAY_M_LIFETIME);
  expect_kept_nat(&v);
  expect_kept_mapping(&v, NAT_PEER_HARD_SEQUENTIAL);
  expect_kept_allocation(&v);
  expect_untouched_strategy(&v);
}

/* The evidence of each withheld fact says why, with confidence 0; the
 * evidence of a measurable fact is the analyzers' own, untouched. */
static void test_evidence_of_withheld(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_OUTSIDE, false,
                           NAT_REPLAY_M_BASIC | NAT_REPLAY_M_MAPPING);
  static const struct {
    int fact;
    uint32_t bit;
  } withheld[] = {
      {NAT_FACT_NAT, NAT_REPLAY_M_NAT},
      {NAT_FACT_FILTERING, NAT_REPLAY_M_FILTERING},
      {NAT_FACT_HAIRPIN, NAT_REPLAY_M_HAIRPIN},
      {NAT_FACT_ALLOCATION, NAT_REPLAY_M_ALLOCATION},
  };
  char want[NAT_EXPLAIN_LEN];
  nat_verdict v;
  size_t i;
  (void)state;
  full(&v);
  for (i = 0; i < NAT_FACTS; i++) {
    v.evidence[i].confidence = 0.99;
    snprintf(v.evidence[i].reason, sizeof v.evidence[i].reason, "analyzer %zu",
             i);
  }
  nat_replay_mask(&v, &d);
  for (i = 0; i < sizeof withheld / sizeof *withheld; i++) {
    const nat_conclusion *c = &v.evidence[withheld[i].fact];
    snprintf(want, sizeof want, "not measurable from this capture: %s",
             nat_replay_strerror(&d, withheld[i].bit));
    assert_true(c->confidence == 0.0);
    assert_string_equal(c->reason, want);
  }
  assert_non_null(strstr(v.evidence[NAT_FACT_NAT].reason,
                         "captured outside the NAT: the client's own "
                         "address is not in the capture"));
  /* mapping is measurable here: its evidence is the analyzers' */
  assert_true(v.evidence[NAT_FACT_MAPPING].confidence == 0.99);
  assert_string_equal(v.evidence[NAT_FACT_MAPPING].reason, "analyzer 1");

  /* everything measurable (lifetime aside): no evidence is touched */
  d = diag(NAT_REPLAY_AT_CLIENT, true, ALL_BUT_LIFETIME);
  full(&v);
  for (i = 0; i < NAT_FACTS; i++) {
    v.evidence[i].confidence = 0.5;
    strcpy(v.evidence[i].reason, "kept");
  }
  assert_int_equal(nat_replay_mask(&v, &d), NAT_REPLAY_M_LIFETIME);
  for (i = 0; i < NAT_FACTS; i++) {
    assert_true(v.evidence[i].confidence == 0.5);
    assert_string_equal(v.evidence[i].reason, "kept");
  }
}

/* UDP unreachable: the strategies (relay for all) are not redone. */
static void test_unreachable_keeps_strategy(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AUTO, false, 0);
  nat_verdict v;
  (void)state;
  full(&v);
  v.basic.udp_reachable = false;
  nat_replay_mask(&v, &d);
  expect_untouched_strategy(&v);
  assert_int_equal(v.nexplain, 6);
}

/* Explain lines stop at NAT_EXPLAIN_MAX. */
static void test_explain_room(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_OUTSIDE, false, NAT_REPLAY_M_BASIC);
  nat_verdict v;
  (void)state;
  full(&v);
  v.nexplain = NAT_EXPLAIN_MAX - 1;
  assert_int_equal(nat_replay_mask(&v, &d), NAT_REPLAY_M_MASKABLE);
  assert_int_equal(v.nexplain, NAT_EXPLAIN_MAX);
  assert_non_null(strstr(v.explain[NAT_EXPLAIN_MAX - 1], "nat_present"));
}

static void test_names_and_arguments(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_AUTO, false, 0);
  nat_verdict v;
  nat_obslog log;
  (void)state;
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_BASIC), "basic");
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_NAT), "nat_present");
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_MAPPING), "mapping");
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_FILTERING), "filtering");
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_HAIRPIN), "hairpinning");
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_ALLOCATION),
                      "allocation");
  assert_string_equal(nat_replay_bit_name(NAT_REPLAY_M_LIFETIME), "lifetime");
  assert_string_equal(nat_replay_bit_name(0), "unknown");
  assert_string_equal(
      nat_replay_bit_name(NAT_REPLAY_M_NAT | NAT_REPLAY_M_MAPPING), "unknown");
  full(&v);
  assert_int_equal(nat_replay_mask(NULL, &d), 0);
  assert_int_equal(nat_replay_mask(&v, NULL), 0);
  assert_int_equal(v.mapping, NAT_BEH_APD);
  nat_obslog_init(&log);
  assert_int_equal(nat_replay_verdict(NULL, &log, &d, NULL), NAT_EINVAL);
  assert_int_equal(nat_replay_verdict(&v, NULL, &d, NULL), NAT_EINVAL);
  assert_int_equal(nat_replay_verdict(&v, &log, NULL, NULL), NAT_EINVAL);
}

/* nat_replay_verdict: the analyzers' verdict of a log, then the mask. One
 * answered Binding request with mapped != local shows a NAT; captured
 * outside, that is withheld; on the client it is kept. */
static void test_verdict_of_log(void **state) {
  nat_replay_diag d = diag(NAT_REPLAY_OUTSIDE, false, NAT_REPLAY_M_BASIC);
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  uint32_t masked = 0;
  (void)state;
  memset(&o, 0, sizeof o);
  o.test = NAT_OBS_BASIC;
  o.local = A("10.0.0.2:5000");
  o.server = A("203.0.113.1:3478");
  o.from = o.server;
  o.has_mapped = true;
  o.mapped = A("198.51.100.2:40000");
  o.transmissions = 1;
  o.rtt = 5 * NAT_MILLISECONDS;
  nat_obslog_init(&log);
  assert_int_equal(nat_obslog_append(&log, &o), 0);
  nat_verdict_init(&v);

  assert_int_equal(nat_replay_verdict(&v, &log, &d, &masked), 0);
  assert_int_equal(masked, NAT_REPLAY_M_MASKABLE);
  assert_true(v.basic.udp_reachable);
  assert_int_equal(v.basic.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.basic.servers[0].nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(v.basic.servers[0].rtt, 5 * NAT_MILLISECONDS);

  d = diag(NAT_REPLAY_AT_CLIENT, true, NAT_REPLAY_M_BASIC | NAT_REPLAY_M_NAT);
  assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
  assert_int_equal(v.basic.nat_present, NAT_TRI_YES);
  assert_int_equal(v.basic.servers[0].nat_present, NAT_TRI_YES);
  assert_int_equal(v.mapping, NAT_BEH_UNKNOWN);

  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_everything),
      cmocka_unit_test(test_client_no_change_requests),
      cmocka_unit_test(test_client_filtering_without_opening),
      cmocka_unit_test(test_client_no_mapping),
      cmocka_unit_test(test_client_no_allocation),
      cmocka_unit_test(test_client_no_hairpin),
      cmocka_unit_test(test_outside),
      cmocka_unit_test(test_unknown_point),
      cmocka_unit_test(test_unknown_point_inside),
      cmocka_unit_test(test_evidence_of_withheld),
      cmocka_unit_test(test_unreachable_keeps_strategy),
      cmocka_unit_test(test_explain_room),
      cmocka_unit_test(test_names_and_arguments),
      cmocka_unit_test(test_verdict_of_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
