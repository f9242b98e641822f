/* The verdict's conclusions by likelihood (nat/verdict.h, issue 13): the
 * evidence of every fact, the "dependent" mapping, filtering from change
 * requests that opened the mapping themselves (Debian's classic `stun`
 * client), allocation from few samples (turnutils_natdiscovery -m -f),
 * and NAT presence. The logs have the packet shapes of real captures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "nat/verdict.h"

#define P1   "203.0.113.1:3478"  /* primary */
#define P2   "203.0.113.2:3478"  /* IP2:P1 */
#define OA   "203.0.113.2:3479"  /* OTHER-/CHANGED-ADDRESS (IP2:P2) */
#define P1P2 "203.0.113.1:3479"  /* IP1:P2 */
#define SA   "192.168.1.2:27820" /* the classic client's first socket */
#define SB   "192.168.1.2:27821" /* its change-request socket */
#define MA   "198.51.100.2:27820"
#define MB   "198.51.100.2:27821"

static nat_addr A(const char *s) {
  nat_addr a;
  memset(&a, 0, sizeof a);
  if (s != NULL)
    assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

static nat_tstamp clock_ns;

/* One observation: @p mapped NULL is a timeout after @p tries
 * transmissions; an answer comes from the server. */
static nat_obs ob(uint8_t test, const char *local, const char *server,
                  const char *mapped, unsigned tries) {
  nat_obs o;
  memset(&o, 0, sizeof o);
  o.test = test;
  o.local = A(local);
  o.server = A(server);
  o.sent_at = clock_ns;
  clock_ns += NAT_MILLISECONDS;
  o.transmissions = mapped ? 1 : tries;
  o.status = mapped ? 0 : NAT_ETIMEDOUT;
  if (mapped != NULL) {
    o.has_mapped = true;
    o.mapped = A(mapped);
    o.from = o.server;
  }
  return o;
}

static void add(nat_obslog *log, nat_obs o) {
  assert_int_equal(nat_obslog_append(log, &o), 0);
}

/* The classic client's first socket: a plain request to IP1:P1, answered
 * with CHANGED-ADDRESS (RFC 3489). */
static void add_classic_a(nat_obslog *log) {
  nat_obs o = ob(NAT_OBS_BASIC, SA, P1, MA, 1);
  o.classic = true;
  o.has_changed_address = true;
  o.changed_address = A(OA);
  add(log, o);
}

/* A classic change request from socket B to IP1:P1: answered from
 * @p from (NULL: one timed-out transmission). */
static void add_change(nat_obslog *log, uint32_t flags, const char *from) {
  nat_obs o = ob(NAT_OBS_FILTERING, SB, P1, from ? MB : NULL, 1);
  o.classic = true;
  o.change_flags = flags;
  if (from != NULL) {
    o.from = A(from);
    o.has_changed_address = true;
    o.changed_address = A(OA);
  }
  add(log, o);
}

/* Socket B's 7 change-IP then 7 change-port tries; the first try of each
 * kind answered from @p ip_from / @p port_from (NULL: all 7 time out). */
static void add_changes(nat_obslog *log, const char *ip_from,
                        const char *port_from) {
  for (int i = 0; i < 7; i++)
    add_change(log, 0x04, i == 0 ? ip_from : NULL);
  for (int i = 0; i < 7; i++)
    add_change(log, 0x02, i == 0 ? port_from : NULL);
}

static void compute(nat_verdict *v, nat_obslog *log) {
  nat_verdict_init(v);
  assert_int_equal(nat_verdict_compute(v, log), 0);
}

static void must_reason(const nat_verdict *v, uint8_t fact, const char *a,
                        const char *b) {
  const char *r = v->evidence[fact].reason;
  if (strstr(r, a) == NULL || (b != NULL && strstr(r, b) == NULL)) {
    print_error("%s: '%s' lacks '%s' / '%s'\n", nat_fact_name(fact), r, a,
                b ? b : "");
    fail();
  }
}

/* Concluded facts carry a confidence in (0, 1], unknown ones 0; every
 * reason is set. */
static void evidence_consistent(const nat_verdict *v) {
  bool known[NAT_FACTS] = {
      v->basic.nat_present != NAT_TRI_UNKNOWN,
      v->mapping != NAT_BEH_UNKNOWN,
      v->filtering != NAT_BEH_UNKNOWN,
      v->hairpinning != NAT_TRI_UNKNOWN,
      v->alloc.kind != NAT_PA_UNKNOWN,
  };
  for (uint8_t f = 0; f < NAT_FACTS; f++) {
    assert_true(v->evidence[f].reason[0] != '\0');
    if (known[f])
      assert_true(v->evidence[f].confidence > 0.0 &&
                  v->evidence[f].confidence <= 1.0);
    else
      assert_true(v->evidence[f].confidence == 0.0);
  }
}

static void close_to(double got, double want) {
  if (fabs(got - want) > 1e-12) {
    print_error("%.15g != %.15g\n", got, want);
    fail();
  }
}

/* ---------------------------------------------------------- the evidence */

static void test_fact_names(void **state) {
  (void)state;
  assert_string_equal(nat_fact_name(NAT_FACT_NAT), "nat_present");
  assert_string_equal(nat_fact_name(NAT_FACT_MAPPING), "mapping");
  assert_string_equal(nat_fact_name(NAT_FACT_FILTERING), "filtering");
  assert_string_equal(nat_fact_name(NAT_FACT_HAIRPIN), "hairpinning");
  assert_string_equal(nat_fact_name(NAT_FACT_ALLOCATION), "allocation");
  assert_string_equal(nat_fact_name(NAT_FACTS), "unknown");
  assert_string_equal(nat_beh_name(NAT_BEH_DEPENDENT), "dependent");
  /* natbox cannot run it: never parsed */
  assert_int_equal(nat_beh_parse("dependent"), NAT_BEH_UNKNOWN);
}

/* An empty log: every fact unknown, each says what is missing. */
static void test_evidence_empty(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  compute(&v, &log);
  evidence_consistent(&v);
  must_reason(&v, NAT_FACT_NAT, "no answered request", NULL);
  must_reason(&v, NAT_FACT_MAPPING, "no answered request", NULL);
  must_reason(&v, NAT_FACT_FILTERING, "not tested", NULL);
  must_reason(&v, NAT_FACT_HAIRPIN, "not tested", NULL);
  must_reason(&v, NAT_FACT_ALLOCATION, "0 new mappings from fresh sockets",
              "need 2 preserved ports");
  nat_verdict_free(&v);
}

/* The live probe plan's shape: the verdicts are the old ones, and each
 * carries its evidence (a port-restricted cone, 7 tries per silence). */
static void test_evidence_live(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  const char *q[3] = {P1, P2, OA};
  for (int i = 0; i < 3; i++) {
    o = ob(NAT_OBS_MAPPING, "10.0.0.2:5000", q[i], "198.51.100.2:40000", 1);
    o.has_other_address = true;
    o.other_address = A(i == 0 ? OA : P1);
    add(&log, o);
  }
  o = ob(NAT_OBS_FILTERING, "10.0.0.2:5001", P1, "198.51.100.2:40001", 1);
  o.has_other_address = true;
  o.other_address = A(OA);
  add(&log, o);
  o = ob(NAT_OBS_FILTERING, "10.0.0.2:5001", P1, NULL, 7);
  o.change_flags = 0x06;
  add(&log, o);
  o.change_flags = 0x02;
  o.transmissions = 5;
  add(&log, o);
  add(&log,
      ob(NAT_OBS_HAIRPIN, "10.0.0.2:5002", "198.51.100.2:40000", NULL, 4));
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  assert_int_equal(v.hairpinning, NAT_TRI_NO);
  evidence_consistent(&v);
  close_to(v.evidence[NAT_FACT_MAPPING].confidence, 1.0);
  must_reason(&v, NAT_FACT_MAPPING, "same public address", NULL);
  /* the weaker silence (5 tries) bounds APD */
  close_to(v.evidence[NAT_FACT_FILTERING].confidence, 1.0 - 1e-5);
  must_reason(&v, NAT_FACT_FILTERING, "after 7 tries", "after 5");
  close_to(v.evidence[NAT_FACT_HAIRPIN].confidence, 1.0 - 1e-4);
  must_reason(&v, NAT_FACT_HAIRPIN, "after 4 tries", NULL);
  assert_int_equal(v.basic.nat_present, NAT_TRI_YES);
  must_reason(&v, NAT_FACT_NAT, "198.51.100.2:40000 for local 10.0.0.2:5000",
              "translated");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void test_evidence_no_nat(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add(&log, ob(NAT_OBS_BASIC, "192.0.2.10:5000", P1, "192.0.2.10:5000", 1));
  compute(&v, &log);
  assert_int_equal(v.basic.nat_present, NAT_TRI_NO);
  close_to(v.evidence[NAT_FACT_NAT].confidence, 1.0);
  assert_string_equal(v.evidence[NAT_FACT_NAT].reason,
                      "the server saw the request's own source address: no "
                      "translation (192.0.2.10:5000)");
  evidence_consistent(&v);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* ---------------------------------------------------- mapping "dependent" */

/* Debian's `stun` asks IP1:P1 and IP2:P1 only (CHANGED-ADDRESS): the
 * mapping changed with the IP; AD and APD are not told apart. */
static void test_mapping_dependent(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  add_classic_a(&log);
  o = ob(NAT_OBS_BASIC, SA, P2, "198.51.100.2:31000", 1);
  o.classic = true;
  add(&log, o);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_DEPENDENT);
  assert_int_equal(v.mapping_varies, NAT_TRI_YES);
  assert_true(v.rfc5780_used); /* the CHANGED-ADDRESS shape */
  assert_int_equal(v.difficulty, 2);
  assert_string_equal(nat_classic_name(&v), "symmetric");
  close_to(v.evidence[NAT_FACT_MAPPING].confidence, 1.0);
  must_reason(&v, NAT_FACT_MAPPING, MA " for " P1 " but 198.51.100.2:31000",
              "the mapping changed with the destination IP; no two ports of "
              "one IP were asked, so address- and address-and-port-dependent "
              "are not told apart");
  /* the strategy treats it as hard (unknown ports: hard-random) */
  assert_int_equal(v.strategy[NAT_PEER_HARD_RANDOM].kind, NAT_STRAT_RELAY);
  evidence_consistent(&v);
  nat_verdict_free(&v);

  /* a later socket that decides wins: DEPENDENT only where none does */
  o = ob(NAT_OBS_BASIC, "192.168.1.2:27830", "198.51.100.7:3478",
         "198.51.100.2:1000", 1);
  add(&log, o);
  o = ob(NAT_OBS_BASIC, "192.168.1.2:27830", "198.51.100.7:3479",
         "198.51.100.2:1001", 1);
  add(&log, o);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_APD);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* --------------------------------- filtering: change requests that opened */

static void test_filtering_classic_port_restricted(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_classic_a(&log);
  add_changes(&log, NULL, NULL);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  assert_false(v.filtering_unsupported);
  close_to(v.evidence[NAT_FACT_FILTERING].confidence, 1.0 - 1e-7);
  must_reason(
      &v, NAT_FACT_FILTERING,
      "change requests from " SB " to " P1 " opened the mapping",
      "no answer from 203.0.113.2 (change IP) after 7 tries nor from " P1P2
      " (change port) after 7 -> address-and-port-dependent");
  evidence_consistent(&v);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void test_filtering_classic_restricted(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_classic_a(&log);
  add_changes(&log, NULL, P1P2);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_AD);
  close_to(v.evidence[NAT_FACT_FILTERING].confidence, 1.0 - 1e-7);
  must_reason(&v, NAT_FACT_FILTERING, "answer from " P1P2 " (change port)",
              "address-dependent");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void test_filtering_classic_full_cone(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_classic_a(&log);
  add_changes(&log, P2, P1P2);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_EI);
  close_to(v.evidence[NAT_FACT_FILTERING].confidence, 1.0);
  must_reason(&v, NAT_FACT_FILTERING, "answer from " P2 " to change IP",
              "never sent to");
  assert_string_equal(nat_classic_name(&v), "unknown"); /* mapping: 1 IP */
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* What the rule does not rate: too few tries, no alternate advertised, a
 * server that never answered, a server that ignores CHANGE-REQUEST, change
 * requests to two destinations, a change-port answer from an address the
 * socket sent to. */
static void test_filtering_classic_not_decisive(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  /* 2 tries of each: below the 3 the loss model needs */
  add_classic_a(&log);
  for (int i = 0; i < 2; i++) {
    add_change(&log, 0x04, NULL);
    add_change(&log, 0x02, NULL);
  }
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  close_to(v.evidence[NAT_FACT_FILTERING].confidence, 0.0);
  must_reason(&v, NAT_FACT_FILTERING,
              "no change-IP request was answered or timed out after an "
              "opening request",
              "fewer than 3 tries");
  nat_verdict_free(&v);
  /* one more change-IP try: change IP rated, change port still short */
  add_change(&log, 0x04, NULL);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  must_reason(&v, NAT_FACT_FILTERING, "change port timed out after fewer",
              "(AD or APD)");
  nat_verdict_free(&v);
  /* and one more change-port try: APD at 1 - 0.1^3 */
  add_change(&log, 0x02, NULL);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  close_to(v.evidence[NAT_FACT_FILTERING].confidence, 0.999);
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* no CHANGED-ADDRESS: the server may drop change requests */
  add(&log, ob(NAT_OBS_BASIC, SA, P1, MA, 1));
  add_changes(&log, NULL, NULL);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  compute(&v, &log);
  must_reason(&v, NAT_FACT_FILTERING, "advertised no OTHER-ADDRESS", NULL);
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* the server never answered anything: the path may be dead */
  o = ob(NAT_OBS_BASIC, SA, P1, NULL, 7);
  add(&log, o);
  add_changes(&log, NULL, NULL);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* change port answered from the primary address: no CHANGE-REQUEST */
  add_classic_a(&log);
  add_changes(&log, NULL, P1);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_true(v.filtering_unsupported);
  must_reason(&v, NAT_FACT_FILTERING, "ignores CHANGE-REQUEST", NULL);
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* change requests to two destinations */
  add_classic_a(&log);
  add_changes(&log, NULL, NULL);
  o = ob(NAT_OBS_FILTERING, SB, "198.51.100.7:3478", NULL, 7);
  o.change_flags = 0x04;
  add(&log, o);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);

  /* the socket itself sent to IP1:P2: an APD filter lets that answer in */
  add_classic_a(&log);
  add(&log, ob(NAT_OBS_BASIC, SB, P1P2, NULL, 7));
  add_changes(&log, NULL, P1P2);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
}

/* ----------------------------------------------- allocation, few samples */

/* turnutils_natdiscovery -m -f behind a full cone: socket 38508 asked
 * twice (the mapping test), socket 55207 (the filtering test). */
static void test_alloc_few_preserving(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:38508", P1, "198.51.100.2:38508", 1));
  add(&log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:38508", OA, "198.51.100.2:38508", 1));
  add(&log,
      ob(NAT_OBS_FILTERING, "192.168.1.2:55207", P1, "198.51.100.2:55207", 1));
  o = ob(NAT_OBS_FILTERING, "192.168.1.2:55207", P1, "198.51.100.2:55207", 1);
  o.change_flags = 0x06;
  o.from = A(OA);
  add(&log, o);
  compute(&v, &log);
  assert_int_equal(v.alloc.kind, NAT_PA_PRESERVING);
  assert_int_equal(v.alloc.samples, 2);
  assert_int_equal(v.alloc.lo, 38508);
  assert_int_equal(v.alloc.hi, 55207);
  assert_int_equal(v.alloc.parity, NAT_TRI_YES);
  close_to(v.alloc.confidence, 1.0 - 1.0 / (64512.0 * 64512.0));
  close_to(v.evidence[NAT_FACT_ALLOCATION].confidence, v.alloc.confidence);
  must_reason(&v, NAT_FACT_ALLOCATION, "first mapping of all 2 local ports",
              "-> preserving");
  assert_int_equal(v.prediction.n, 0);
  evidence_consistent(&v);
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* one local port only: not enough */
  add(&log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:38508", P1, "198.51.100.2:38508", 1));
  compute(&v, &log);
  assert_int_equal(v.alloc.kind, NAT_PA_UNKNOWN);
  must_reason(&v, NAT_FACT_ALLOCATION, "1 allocations over all sockets",
              "need 2 preserved ports from 2 sockets");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* Debian's `stun` behind natbox-ad (a capture): socket A 20769 keeps its
 * port for IP1:P1, socket B 20770 keeps its port (its change requests),
 * then A's mapping for IP2:P1 finds 20769 taken and gets 20771. Ports
 * 20769, 20770, 20771 fit delta 1, but the first mapping of each socket
 * kept its port: preserving, not sequential. */
static void test_alloc_few_preserving_taken(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  o = ob(NAT_OBS_BASIC, "192.168.1.2:20769", P1, "198.51.100.2:20769", 1);
  o.has_changed_address = true;
  o.changed_address = A(OA);
  add(&log, o);
  o = ob(NAT_OBS_FILTERING, "192.168.1.2:20770", P1, "198.51.100.2:20770", 1);
  o.change_flags = 0x02;
  o.from = A(P1P2);
  add(&log, o);
  add(&log,
      ob(NAT_OBS_BASIC, "192.168.1.2:20769", P2, "198.51.100.2:20771", 1));
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_DEPENDENT);
  assert_int_equal(v.alloc.kind, NAT_PA_PRESERVING);
  assert_int_equal(v.alloc.samples, 3);
  assert_int_equal(v.alloc.lo, 20769);
  assert_int_equal(v.alloc.hi, 20771);
  assert_int_equal(v.alloc.parity, NAT_TRI_UNKNOWN);
  close_to(v.alloc.confidence, 1.0 - 1.0 / (64512.0 * 64512.0));
  assert_int_equal(v.prediction.n, 0);
  /* a port-preserving NAT with a non-EI mapping: predictable ports */
  assert_int_equal(v.self_class, NAT_PEER_HARD_SEQUENTIAL);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* turnutils_natdiscovery -m -f behind a symmetric NAT with random ports:
 * socket 39296 to IP1:P1, IP2:P1, IP2:P2, socket 47701 to IP1:P1. */
static void add_symmetric(nat_obslog *log, bool fourth) {
  add(log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:39296", P1, "198.51.100.2:26407", 1));
  add(log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:39296", P2, "198.51.100.2:27172", 1));
  add(log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:39296", OA, "198.51.100.2:56927", 1));
  if (fourth)
    add(log, ob(NAT_OBS_FILTERING, "192.168.1.2:47701", P1,
                "198.51.100.2:39528", 1));
}

static void test_alloc_few_random(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_symmetric(&log, true);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_APD);
  assert_int_equal(v.alloc.kind, NAT_PA_RANDOM);
  assert_int_equal(v.alloc.samples, 4);
  assert_int_equal(v.alloc.lo, 26407);
  assert_int_equal(v.alloc.hi, 56927);
  /* steps +765, +29755, -17399: two beyond 1024 */
  close_to(v.alloc.confidence, 1.0 - 0.01);
  close_to(v.evidence[NAT_FACT_ALLOCATION].confidence, 0.99);
  must_reason(&v, NAT_FACT_ALLOCATION, "none preserved, 2 steps beyond 1024",
              "-> random");
  assert_int_equal(v.prediction.n, 0);
  assert_int_equal(v.self_class, NAT_PEER_HARD_RANDOM);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* three allocations: not enough for random */
  add_symmetric(&log, false);
  compute(&v, &log);
  assert_int_equal(v.alloc.kind, NAT_PA_UNKNOWN);
  must_reason(&v, NAT_FACT_ALLOCATION, "3 allocations", "4 unpreserved");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* A sequential symmetric NAT seen by the same two sockets: 3+ on one
 * step, predicted from those samples. */
static void test_alloc_few_sequential(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:39296", P1, "198.51.100.2:20000", 1));
  add(&log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:39296", P2, "198.51.100.2:20001", 1));
  add(&log,
      ob(NAT_OBS_MAPPING, "192.168.1.2:39296", OA, "198.51.100.2:20002", 1));
  add(&log,
      ob(NAT_OBS_FILTERING, "192.168.1.2:47701", P1, "198.51.100.2:20003", 1));
  compute(&v, &log);
  assert_int_equal(v.alloc.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(v.alloc.delta, 1);
  assert_int_equal(v.alloc.samples, 4);
  assert_true(v.prediction.n > 0);
  assert_int_equal(v.prediction.port[0], 20004);
  close_to(v.evidence[NAT_FACT_ALLOCATION].confidence, v.alloc.confidence);
  must_reason(&v, NAT_FACT_ALLOCATION, "4 allocations",
              "steps multiples of +1 -> sequential");
  nat_verdict_free(&v);
  /* the same from the allocation analyzer alone (a replay's question) */
  nat_alloc_verdict a;
  nat_prediction pr;
  assert_int_equal(nat_analyze_allocation(&log, &a, &pr), 0);
  assert_int_equal(a.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(a.samples, 4);
  assert_int_equal(pr.port[0], 20004);
  assert_int_equal(nat_analyze_allocation(&log, &a, NULL), 0);
  assert_int_equal(a.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(nat_analyze_allocation(NULL, &a, &pr), NAT_EINVAL);
  assert_int_equal(a.kind, NAT_PA_UNKNOWN);
  assert_int_equal(pr.n, 0);
  nat_obslog_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fact_names),
      cmocka_unit_test(test_evidence_empty),
      cmocka_unit_test(test_evidence_live),
      cmocka_unit_test(test_evidence_no_nat),
      cmocka_unit_test(test_mapping_dependent),
      cmocka_unit_test(test_filtering_classic_port_restricted),
      cmocka_unit_test(test_filtering_classic_restricted),
      cmocka_unit_test(test_filtering_classic_full_cone),
      cmocka_unit_test(test_filtering_classic_not_decisive),
      cmocka_unit_test(test_alloc_few_preserving),
      cmocka_unit_test(test_alloc_few_preserving_taken),
      cmocka_unit_test(test_alloc_few_random),
      cmocka_unit_test(test_alloc_few_sequential),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
