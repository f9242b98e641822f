/* The behaviour analyzers and the verdict on synthetic observation logs
 * shaped like the probe plan's (nat/verdict.h): no NAT, the cones,
 * symmetric NATs, servers without RFC 5780, servers that ignore or refuse
 * CHANGE-REQUEST, change requests without an opening request (the
 * classic client's), UDP blocked, hairpinning, pooling, double NAT, lifetime,
 * the strategy table, names and the explanation lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "nat/verdict.h"

#define P1   "203.0.113.1:3478" /* primary */
#define P2   "203.0.113.2:3478" /* IP2:P1 */
#define OA   "203.0.113.2:3479" /* OTHER-ADDRESS (IP2:P2) */
#define P1P2 "203.0.113.1:3479" /* IP1:P2: change-port source */
#define LAN  "10.0.0.2:5000"
#define PUB  "198.51.100.2:40000"

static nat_addr A(const char *s) {
  nat_addr a;
  memset(&a, 0, sizeof a);
  if (s != NULL)
    assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

static nat_tstamp clock_ns;

/* One observation: @p mapped NULL means a timeout after 7 tries. Answers
 * come from the server and carry OTHER-ADDRESS when the server is one of
 * the lab's RFC 5780 pair. */
static nat_obs ob(uint8_t test, const char *local, const char *server,
                  const char *mapped) {
  nat_obs o;
  memset(&o, 0, sizeof o);
  o.test = test;
  o.local = A(local);
  o.server = A(server);
  o.sent_at = clock_ns;
  clock_ns += NAT_MILLISECONDS;
  o.transmissions = mapped ? 1 : 7;
  o.status = mapped ? 0 : NAT_ETIMEDOUT;
  if (mapped != NULL) {
    o.has_mapped = true;
    o.mapped = A(mapped);
    o.from = o.server;
    o.rtt = 5 * NAT_MILLISECONDS;
  }
  return o;
}

static nat_obs other(nat_obs o, const char *oa) {
  if (o.status == 0) {
    o.has_other_address = true;
    o.other_address = A(oa);
  }
  return o;
}

/* A change request: answered from @p from (NULL: timeout). */
static nat_obs chg(const char *local, uint32_t flags, const char *mapped,
                   const char *from) {
  nat_obs o = ob(NAT_OBS_FILTERING, local, P1, from ? mapped : NULL);
  o.change_flags = flags;
  if (from != NULL) {
    o.from = A(from);
    o = other(o, OA);
  }
  return o;
}

static void add(nat_obslog *log, nat_obs o) {
  assert_int_equal(nat_obslog_append(log, &o), 0);
}

/* RFC 5780 4.3 from socket @p local: answers m1 (P1), m2 (P2), m3 (OA). */
static void add_mapping(nat_obslog *log, const char *local, const char *m1,
                        const char *m2, const char *m3) {
  add(log, other(ob(NAT_OBS_MAPPING, local, P1, m1), OA));
  add(log, other(ob(NAT_OBS_MAPPING, local, P2, m2), P1P2));
  add(log, other(ob(NAT_OBS_MAPPING, local, OA, m3), P1));
}

/* RFC 5780 4.4 from socket @p local: opening request, then change IP+port
 * answered from @p from_ipport and change port from @p from_port (NULL:
 * timeout). */
static void add_filtering(nat_obslog *log, const char *local,
                          const char *mapped, const char *from_ipport,
                          const char *from_port) {
  add(log, other(ob(NAT_OBS_FILTERING, local, P1, mapped), OA));
  add(log, chg(local, 0x06, mapped, from_ipport));
  add(log, chg(local, 0x02, mapped, from_port));
}

/* @p n allocation samples from fresh sockets: mapped ports from @p port
 * stepping by @p step (0: pseudo-random). */
static void add_alloc(nat_obslog *log, size_t n, int step) {
  uint32_t x = 12345;
  for (size_t i = 0; i < n; i++) {
    char local[32], mapped[32];
    unsigned port;
    x = x * 1103515245u + 12345u;
    snprintf(local, sizeof local, "10.0.0.2:%u", 33000u + (x >> 16) % 20000u);
    x = x * 1103515245u + 12345u;
    port =
        step ? 20000u + (unsigned)(step * (int)i) : 1024u + (x >> 8) % 64512u;
    snprintf(mapped, sizeof mapped, "198.51.100.2:%u", port);
    add(log, ob(NAT_OBS_ALLOCATION, local, P1, mapped));
  }
}

static bool explained(const nat_verdict *v, const char *a, const char *b) {
  for (size_t i = 0; i < v->nexplain; i++)
    if (strstr(v->explain[i], a) && (b == NULL || strstr(v->explain[i], b)))
      return true;
  return false;
}

static void must_explain(const nat_verdict *v, const char *a, const char *b) {
  if (!explained(v, a, b)) {
    for (size_t i = 0; i < v->nexplain; i++)
      print_error("  %s\n", v->explain[i]);
    print_error("no line with '%s' and '%s'\n", a, b ? b : "");
    fail();
  }
}

static void compute(nat_verdict *v, nat_obslog *log) {
  nat_verdict_init(v);
  assert_int_equal(nat_verdict_compute(v, log), 0);
  for (size_t i = 0; i < v->nexplain; i++)
    assert_true(v->explain[i][0] != '\0');
}

static void test_no_nat(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, "192.0.2.10:5000", "192.0.2.10:5000", "192.0.2.10:5000",
              "192.0.2.10:5000");
  add_filtering(&log, "192.0.2.10:5001", "192.0.2.10:5001", OA, P1P2);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_int_equal(v.filtering, NAT_BEH_EI);
  assert_int_equal(v.basic.nat_present, NAT_TRI_NO);
  assert_int_equal(v.double_nat, NAT_TRI_NO);
  assert_int_equal(v.difficulty, 1);
  assert_true(v.rfc5780_used);
  assert_string_equal(nat_classic_name(&v), "open internet");
  must_explain(&v, "no translation", "192.0.2.10:5000");
  /* a stateful firewall without NAT */
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  add_mapping(&log, "192.0.2.10:5000", "192.0.2.10:5000", "192.0.2.10:5000",
              "192.0.2.10:5000");
  add_filtering(&log, "192.0.2.10:5001", "192.0.2.10:5001", NULL, NULL);
  compute(&v, &log);
  assert_string_equal(nat_classic_name(&v), "symmetric udp firewall");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void cone(nat_verdict *v, const char *from_ipport,
                 const char *from_port) {
  nat_obslog log;
  nat_obslog_init(&log);
  add_mapping(&log, LAN, PUB, PUB, PUB);
  add_filtering(&log, "10.0.0.2:5001", "198.51.100.2:40001", from_ipport,
                from_port);
  compute(v, &log);
  nat_obslog_free(&log);
}

static void test_cones(void **state) {
  nat_verdict v;
  (void)state;
  cone(&v, OA, P1P2);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_int_equal(v.filtering, NAT_BEH_EI);
  assert_int_equal(v.basic.nat_present, NAT_TRI_YES);
  assert_int_equal(v.difficulty, 1);
  assert_int_equal(v.self_class, NAT_PEER_EASY);
  assert_string_equal(nat_classic_name(&v), "full cone");
  must_explain(&v, "same public address " PUB " for " P1 " and " P2,
               "endpoint-independent");
  must_explain(&v, "filtering: answer from " OA, "endpoint-independent");
  for (int c = 0; c < NAT_PEER_CLASSES; c++)
    assert_int_equal(v.strategy[c].kind, NAT_STRAT_DIRECT);
  nat_verdict_free(&v);

  cone(&v, NULL, P1P2);
  assert_int_equal(v.filtering, NAT_BEH_AD);
  assert_string_equal(nat_classic_name(&v), "restricted cone");
  must_explain(&v, "no answer from " OA " (change IP and port) after 7 tries",
               "answer from " P1P2 " (change port) -> address-dependent");
  /* EI mapping + AD filtering: even hard peers get in directly */
  assert_int_equal(v.strategy[NAT_PEER_HARD_RANDOM].kind, NAT_STRAT_DIRECT);
  nat_verdict_free(&v);

  cone(&v, NULL, NULL);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  assert_false(v.filtering_unsupported);
  assert_string_equal(nat_classic_name(&v), "port-restricted cone");
  must_explain(&v, "no answer from " OA, "from " P1P2);
  must_explain(&v, "address-and-port-dependent", NULL);
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_DIRECT);
  assert_int_equal(v.strategy[NAT_PEER_HARD_SEQUENTIAL].kind,
                   NAT_STRAT_PREDICT);
  assert_int_equal(v.strategy[NAT_PEER_HARD_RANDOM].kind, NAT_STRAT_BIRTHDAY);
  nat_verdict_free(&v);
}

static void test_symmetric(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  /* random */
  nat_obslog_init(&log);
  add_mapping(&log, LAN, "198.51.100.2:31337", "198.51.100.2:5123",
              "198.51.100.2:60001");
  add_filtering(&log, "10.0.0.2:5001", "198.51.100.2:40001", NULL, NULL);
  add_alloc(&log, 20, 0);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_APD);
  assert_int_equal(v.mapping_varies, NAT_TRI_YES);
  assert_int_equal(v.alloc.kind, NAT_PA_RANDOM);
  assert_int_equal(v.prediction.n, 0);
  assert_int_equal(v.difficulty, 2);
  assert_int_equal(v.self_class, NAT_PEER_HARD_RANDOM);
  assert_string_equal(nat_classic_name(&v), "symmetric");
  must_explain(&v, "198.51.100.2:5123 for " P2, "address-and-port-dependent");
  must_explain(&v, "198.51.100.2:60001 for " OA, NULL);
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_BIRTHDAY);
  assert_int_equal(v.strategy[NAT_PEER_HARD_RANDOM].kind, NAT_STRAT_RELAY);
  assert_true(v.strategy[NAT_PEER_HARD_RANDOM].seconds_99 > 60);
  must_explain(&v, "strategy vs hard-random peers: relay", "probes");
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* sequential, address-dependent */
  add_mapping(&log, LAN, "198.51.100.2:20000", "198.51.100.2:20001",
              "198.51.100.2:20001");
  add_alloc(&log, 20, 1);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_AD);
  assert_int_equal(v.alloc.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(v.alloc.delta, 1);
  assert_true(v.prediction.n > 0);
  assert_int_equal(v.prediction.port[0], 20020);
  assert_int_equal(v.self_class, NAT_PEER_HARD_SEQUENTIAL);
  assert_int_equal(v.strategy[NAT_PEER_EASY].kind, NAT_STRAT_PREDICT);
  assert_true(v.strategy[NAT_PEER_EASY].probes_50 == 1);
  assert_int_equal(v.strategy[NAT_PEER_HARD_RANDOM].kind, NAT_STRAT_BIRTHDAY);
  must_explain(&v, "but 198.51.100.2:20001 for " P2 " and " OA,
               "address-dependent");
  must_explain(&v, "prediction: next public ports 20020", NULL);
  must_explain(&v, "sequential", "+1");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void test_mapping_5780_missing(void **state) {
  nat_obslog log;
  bool r;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, LAN, PUB, NULL, NULL);
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* varies with the IP, IP2:P2 lost: not EI, AD and APD not told apart */
  add_mapping(&log, LAN, PUB, "198.51.100.2:40001", NULL);
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_DEPENDENT);
  assert_true(r);
  nat_obslog_free(&log);
  add_mapping(&log, LAN, NULL, PUB, PUB);
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* the first socket cannot tell, the second one can */
  add_mapping(&log, LAN, PUB, NULL, NULL);
  add_mapping(&log, "10.0.0.2:5002", "198.51.100.2:40002", "198.51.100.2:40002",
              "198.51.100.2:40002");
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_EI);
  nat_obslog_free(&log);
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_UNKNOWN);
  assert_false(r);
  assert_int_equal(nat_analyze_mapping(NULL, &r), NAT_BEH_UNKNOWN);
}

/* No OTHER-ADDRESS anywhere: the mapping from comparing servers. */
static void test_no_rfc5780(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  bool r = true;
  (void)state;
  nat_obslog_init(&log);
  add(&log, ob(NAT_OBS_MAPPING, LAN, "198.51.100.7:3478", PUB));
  add(&log, ob(NAT_OBS_MAPPING, LAN, "192.0.2.9:3478", PUB));
  /* the filtering test against a server that advertises nothing */
  add(&log, ob(NAT_OBS_FILTERING, "10.0.0.2:5001", "198.51.100.7:3478",
               "198.51.100.2:40001"));
  o = ob(NAT_OBS_FILTERING, "10.0.0.2:5001", "198.51.100.7:3478", NULL);
  o.change_flags = 0x06;
  add(&log, o);
  o.change_flags = 0x02;
  add(&log, o);
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_false(v.rfc5780_used);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  must_explain(&v, "same public address " PUB " for 198.51.100.7:3478",
               "192.0.2.9:3478");
  must_explain(&v, "filtering:", "OTHER-ADDRESS");
  assert_string_equal(nat_classic_name(&v), "unknown");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* the probe plan sends no change request without RFC 5780 */
  add(&log, ob(NAT_OBS_FILTERING, "10.0.0.2:5001", "198.51.100.7:3478",
               "198.51.100.2:40001"));
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  must_explain(&v, "198.51.100.7:3478 advertises no OTHER-ADDRESS",
               "no change requests");
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* varies by IP, same for two ports of one IP: AD */
  add(&log, ob(NAT_OBS_MAPPING, LAN, "198.51.100.7:3478", PUB));
  add(&log, ob(NAT_OBS_MAPPING, LAN, "198.51.100.7:3479", PUB));
  add(&log, ob(NAT_OBS_MAPPING, LAN, "192.0.2.9:3478", "198.51.100.2:40001"));
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_AD);
  assert_false(r);
  nat_obslog_free(&log);
  /* a port alone changes it: APD */
  add(&log, ob(NAT_OBS_MAPPING, LAN, "198.51.100.7:3478", PUB));
  add(&log, ob(NAT_OBS_MAPPING, LAN, "198.51.100.7:3479", "198.51.100.2:1"));
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_APD);
  nat_obslog_free(&log);

  /* varies by IP only, no same-IP pair: dependent (hard) */
  add(&log, ob(NAT_OBS_MAPPING, LAN, "198.51.100.7:3478", PUB));
  add(&log, ob(NAT_OBS_MAPPING, LAN, "192.0.2.9:3478", "198.51.100.2:40001"));
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_DEPENDENT);
  assert_int_equal(v.mapping_varies, NAT_TRI_YES);
  assert_int_equal(v.difficulty, 2);
  must_explain(&v, "changed with the destination IP", "192.0.2.9:3478");
  nat_verdict_free(&v);
  nat_obslog_free(&log);

  /* one server only: unknown, says why */
  add(&log, ob(NAT_OBS_BASIC, LAN, "198.51.100.7:3478", PUB));
  compute(&v, &log);
  assert_int_equal(v.mapping, NAT_BEH_UNKNOWN);
  assert_int_equal(v.difficulty, 0);
  must_explain(&v, "only 198.51.100.7:3478 answered", "unknown");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

/* A server that answers change requests from its primary address: the
 * NAT lets those in, other tools call it EI. */
static void test_change_request_ignored(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, LAN, PUB, PUB, PUB);
  add_filtering(&log, "10.0.0.2:5001", "198.51.100.2:40001", P1, P1);
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_true(v.filtering_unsupported);
  assert_string_equal(nat_classic_name(&v), "unknown");
  must_explain(&v, "from " P1, "ignores CHANGE-REQUEST");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* right IP, same port for change port: ignored too */
  add_filtering(&log, "10.0.0.2:5001", "198.51.100.2:40001", NULL, P1);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* no source recorded: RESPONSE-ORIGIN decides */
  add(&log, other(ob(NAT_OBS_FILTERING, LAN, P1, PUB), OA));
  o = chg(LAN, 0x06, PUB, P1);
  memset(&o.from, 0, sizeof o.from);
  o.has_response_origin = true;
  o.response_origin = A(P1);
  add(&log, o);
  add(&log, chg(LAN, 0x02, PUB, NULL));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* the same with RESPONSE-ORIGIN = OTHER-ADDRESS: a real EI answer */
  add(&log, other(ob(NAT_OBS_FILTERING, LAN, P1, PUB), OA));
  o.response_origin = A(OA);
  o.sent_at = clock_ns; /* after the new opening request */
  add(&log, o);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
}

static void test_change_request_420(void **state) {
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, LAN, PUB, PUB, PUB);
  add(&log, other(ob(NAT_OBS_FILTERING, LAN, P1, PUB), OA));
  for (int i = 0; i < 2; i++) {
    o = ob(NAT_OBS_FILTERING, LAN, P1, NULL);
    o.change_flags = i == 0 ? 0x06 : 0x02;
    o.status = NAT_ESTUNERR;
    o.error_code = 420;
    strcpy(o.error_reason, "Unknown Attribute");
    o.from = o.server;
    o.transmissions = 1;
    add(&log, o);
  }
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_true(v.filtering_unsupported);
  must_explain(&v, "error 420 Unknown Attribute", "does not support");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void test_filtering_edges(void **state) {
  nat_obslog log;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  /* opening request unanswered: nothing to conclude from the silence */
  add(&log, other(ob(NAT_OBS_FILTERING, LAN, P1, NULL), OA));
  add(&log, chg(LAN, 0x06, PUB, NULL));
  add(&log, chg(LAN, 0x02, PUB, NULL));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* opening from the mapping test on the same socket */
  add(&log, other(ob(NAT_OBS_MAPPING, LAN, P1, PUB), OA));
  add(&log, chg(LAN, 0x06, PUB, NULL));
  add(&log, chg(LAN, 0x02, PUB, P1P2));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_AD);
  nat_obslog_free(&log);
  /* change port never sent: EI or AD cannot be told without it */
  add(&log, other(ob(NAT_OBS_FILTERING, LAN, P1, PUB), OA));
  add(&log, chg(LAN, 0x06, PUB, NULL));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  /* a retry that got through counts */
  o = chg(LAN, 0x06, PUB, OA);
  add(&log, o);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
  assert_int_equal(nat_analyze_filtering(NULL), NAT_BEH_UNKNOWN);
}

/* Debian's classic `stun` client sends its change requests from a second
 * socket that sent nothing else: no opening request. An answer to change
 * IP that comes from an IP this socket never sent to can only pass an
 * endpoint-independent filter (verdict.h). */
static void test_filtering_without_opening(void **state) {
  const char *LB = "10.0.0.2:5001", *MB = "198.51.100.2:40001";
  nat_obslog log;
  nat_verdict v;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, LAN, PUB, PUB, PUB);
  add(&log, chg(LB, 0x04, MB, P2)); /* change IP, from IP2:P1 */
  add(&log, chg(LB, 0x02, MB, P1P2));
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_EI);
  assert_false(v.filtering_unsupported);
  assert_string_equal(nat_classic_name(&v), "full cone");
  must_explain(&v, "answer from " P2 " to change IP", "never sent to");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* change IP+port answered from OTHER-ADDRESS, change port timed out */
  add(&log, chg(LB, 0x06, MB, OA));
  add(&log, chg(LB, 0x02, MB, NULL));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
  /* only RESPONSE-ORIGIN says where the answer came from */
  o = chg(LB, 0x04, MB, P2);
  memset(&o.from, 0, sizeof o.from);
  o.has_response_origin = true;
  o.response_origin = A(P2);
  add(&log, o);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
}

/* What does not prove it: an answer from the primary address (the server
 * ignored CHANGE-REQUEST), from an IP the socket did send to (an
 * address-dependent filter lets that in), to change port only, or no
 * answer at all. */
static void test_filtering_without_opening_no_proof(void **state) {
  const char *LB = "10.0.0.2:5001", *MB = "198.51.100.2:40001";
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, LAN, PUB, PUB, PUB);
  add(&log, chg(LB, 0x04, MB, P1)); /* from the primary address */
  add(&log, chg(LB, 0x02, MB, P1P2));
  compute(&v, &log);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_false(explained(&v, "never sent to", NULL));
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* the socket sent to IP2 before (any test): its filter knows IP2 */
  add(&log, ob(NAT_OBS_BASIC, LB, OA, MB));
  add(&log, chg(LB, 0x04, MB, P2));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* ... or after: it still does not count */
  add(&log, chg(LB, 0x06, MB, OA));
  add(&log, ob(NAT_OBS_BASIC, LB, P2, MB));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* change port answered from another port of the same IP */
  add(&log, chg(LB, 0x02, MB, P1P2));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  /* nothing answered: a restricted NAT and a server that drops change
   * requests look the same */
  add(&log, chg(LB, 0x04, MB, NULL));
  add(&log, chg(LB, 0x02, MB, NULL));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
}

/* With an opening request the RFC 5780 rules decide; change requests
 * sent before the opening request are not rated by them, but an answer
 * from a never-contacted IP among them still proves EI. */
static void test_filtering_opening_rules_first(void **state) {
  const char *LB = "10.0.0.2:5001", *MB = "198.51.100.2:40001";
  nat_obslog log;
  (void)state;
  nat_obslog_init(&log);
  add(&log, chg(LB, 0x06, MB, OA));
  add(&log, chg(LB, 0x02, MB, P1P2));
  add(&log, other(ob(NAT_OBS_FILTERING, LB, P1, MB), OA));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
  /* rated after the opening request: timeouts give APD as before */
  add(&log, other(ob(NAT_OBS_FILTERING, LB, P1, MB), OA));
  add(&log, chg(LB, 0x06, MB, NULL));
  add(&log, chg(LB, 0x02, MB, NULL));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_APD);
  nat_obslog_free(&log);
}

static void test_udp_blocked(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add(&log, ob(NAT_OBS_BASIC, LAN, P1, NULL));
  add_mapping(&log, LAN, NULL, NULL, NULL);
  add_filtering(&log, "10.0.0.2:5001", NULL, NULL, NULL);
  compute(&v, &log);
  assert_false(v.basic.udp_reachable);
  assert_int_equal(v.mapping, NAT_BEH_UNKNOWN);
  assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
  assert_int_equal(v.difficulty, 0);
  assert_string_equal(nat_classic_name(&v), "udp blocked");
  for (int c = 0; c < NAT_PEER_CLASSES; c++)
    assert_int_equal(v.strategy[c].kind, NAT_STRAT_RELAY);
  must_explain(&v, "no answer from " P1, "7 tries");
  must_explain(&v, "verdict: unknown", "UDP blocked");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* an empty log is not "blocked" */
  compute(&v, &log);
  assert_string_equal(nat_classic_name(&v), "unknown");
  nat_verdict_free(&v);
}

static void test_hairpin(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  assert_int_equal(nat_analyze_hairpin(&log), NAT_TRI_UNKNOWN);
  add(&log, ob(NAT_OBS_HAIRPIN, "10.0.0.2:5002", PUB, NULL));
  assert_int_equal(nat_analyze_hairpin(&log), NAT_TRI_NO);
  compute(&v, &log);
  assert_int_equal(v.hairpinning, NAT_TRI_NO);
  must_explain(&v, "hairpinning: 10.0.0.2:5002 to its own public address " PUB,
               "-> no");
  nat_verdict_free(&v);
  add(&log, ob(NAT_OBS_HAIRPIN, "10.0.0.2:5002", PUB, "10.0.0.2:5002"));
  assert_int_equal(nat_analyze_hairpin(&log), NAT_TRI_YES);
  compute(&v, &log);
  must_explain(&v, "hairpinning:", "-> yes");
  /* the hairpin answer (mapped == local) is not a "no NAT" sign */
  assert_int_equal(v.basic.nat_present, NAT_TRI_UNKNOWN);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  assert_int_equal(nat_analyze_hairpin(NULL), NAT_TRI_UNKNOWN);
}

static void test_pooling(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  assert_int_equal(nat_analyze_pooling(&log), NAT_POOL_UNKNOWN);
  add_mapping(&log, LAN, PUB, "198.51.100.2:40001", "198.51.100.2:40002");
  assert_int_equal(nat_analyze_pooling(&log), NAT_POOL_SINGLE);
  add(&log, ob(NAT_OBS_BASIC, "10.0.0.2:7000", "192.0.2.9:3478",
               "198.51.100.3:1234"));
  assert_int_equal(nat_analyze_pooling(&log), NAT_POOL_ARBITRARY);
  compute(&v, &log);
  must_explain(&v, "pooling: local 10.0.0.2 appears as 198.51.100.2",
               "198.51.100.3");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  add(&log, ob(NAT_OBS_BASIC, "10.0.0.2:7000", P1, PUB));
  add(&log, ob(NAT_OBS_BASIC, "10.0.1.2:7000", P1, "198.51.100.3:40000"));
  assert_int_equal(nat_analyze_pooling(&log), NAT_POOL_PAIRED);
  nat_obslog_free(&log);
  assert_int_equal(nat_analyze_pooling(NULL), NAT_POOL_UNKNOWN);
}

static void test_double_nat(void **state) {
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  add_mapping(&log, "100.64.1.2:5000", PUB, PUB, PUB);
  compute(&v, &log);
  assert_int_equal(v.double_nat, NAT_TRI_YES);
  must_explain(&v, "100.64.1.2", "100.64.0.0/10");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* a server inside the carrier sees a shared address */
  add(&log, ob(NAT_OBS_BASIC, "192.168.1.2:5000", "100.64.0.1:3478",
               "100.64.7.8:6000"));
  add(&log, ob(NAT_OBS_BASIC, "192.168.1.2:5000", P1, PUB));
  compute(&v, &log);
  assert_int_equal(v.double_nat, NAT_TRI_YES);
  must_explain(&v, "100.64.0.1:3478 saw local 192.168.1.2", "100.64.7.8");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  /* private local, public mapped: cannot tell */
  add_mapping(&log, LAN, PUB, PUB, PUB);
  compute(&v, &log);
  assert_int_equal(v.double_nat, NAT_TRI_UNKNOWN);
  must_explain(&v, "double NAT: cannot tell", "198.51.100.2");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

static void test_lifetime(void **state) {
  static const struct {
    unsigned idle_s;
    bool alive;
  } probes[] = {{10, true}, {30, true}, {120, false}, {60, false}};
  nat_obslog log;
  nat_verdict v;
  (void)state;
  nat_obslog_init(&log);
  compute(&v, &log);
  assert_true(v.lifetime_min == 0 && v.lifetime_max == 0);
  nat_verdict_free(&v);
  for (size_t i = 0; i < 4; i++) {
    nat_obs o = ob(NAT_OBS_LIFETIME, LAN, P1, probes[i].alive ? PUB : NULL);
    o.idle = probes[i].idle_s * NAT_SECONDS;
    add(&log, o);
  }
  compute(&v, &log);
  assert_true(v.lifetime_min == 30 * NAT_SECONDS);
  assert_true(v.lifetime_max == 60 * NAT_SECONDS);
  must_explain(&v, "lifetime: mapping alive after 30.0 s idle", "60.0 s");
  nat_verdict_free(&v);
  /* requests that made the mappings (idle 0, no RESPONSE-PORT) and an
   * answered control probe change nothing */
  {
    nat_obs o = ob(NAT_OBS_LIFETIME, LAN, P1, NULL);
    add(&log, o);
    o = ob(NAT_OBS_LIFETIME, LAN, P1, PUB);
    o.response_port = 40000;
    add(&log, o);
    compute(&v, &log);
    assert_true(v.lifetime_min == 30 * NAT_SECONDS);
    assert_true(v.lifetime_max == 60 * NAT_SECONDS);
    nat_verdict_free(&v);
  }
  nat_obslog_free(&log);
  /* every control probe lost: the timeouts mean nothing */
  for (size_t i = 0; i < 4; i++) {
    nat_obs o = ob(NAT_OBS_LIFETIME, LAN, P1, NULL);
    o.response_port = 40000;
    o.idle = i == 0 ? 0 : (nat_tstamp)i * 10 * NAT_SECONDS;
    add(&log, o);
  }
  compute(&v, &log);
  assert_true(v.lifetime_min == 0 && v.lifetime_max == 0);
  must_explain(&v, "lifetime: the control probe", "not measured");
  nat_verdict_free(&v);
  nat_obslog_free(&log);
}

typedef struct srow {
  uint8_t self, filt, peer, want;
} srow;

/* Every row of the table in nat/verdict.h. */
static void test_strategy_table(void **state) {
  static const srow rows[] = {
      {NAT_PEER_EASY, NAT_BEH_APD, NAT_PEER_EASY, NAT_STRAT_DIRECT},
      {NAT_PEER_EASY, NAT_BEH_EI, NAT_PEER_EASY, NAT_STRAT_DIRECT},
      {NAT_PEER_EASY, NAT_BEH_EI, NAT_PEER_HARD_SEQUENTIAL, NAT_STRAT_DIRECT},
      {NAT_PEER_EASY, NAT_BEH_EI, NAT_PEER_HARD_RANDOM, NAT_STRAT_DIRECT},
      {NAT_PEER_EASY, NAT_BEH_AD, NAT_PEER_HARD_SEQUENTIAL, NAT_STRAT_DIRECT},
      {NAT_PEER_EASY, NAT_BEH_AD, NAT_PEER_HARD_RANDOM, NAT_STRAT_DIRECT},
      {NAT_PEER_EASY, NAT_BEH_APD, NAT_PEER_HARD_SEQUENTIAL, NAT_STRAT_PREDICT},
      {NAT_PEER_EASY, NAT_BEH_APD, NAT_PEER_HARD_RANDOM, NAT_STRAT_BIRTHDAY},
      {NAT_PEER_EASY, NAT_BEH_UNKNOWN, NAT_PEER_HARD_RANDOM,
       NAT_STRAT_BIRTHDAY},
      {NAT_PEER_HARD_SEQUENTIAL, NAT_BEH_APD, NAT_PEER_EASY, NAT_STRAT_PREDICT},
      {NAT_PEER_HARD_SEQUENTIAL, NAT_BEH_APD, NAT_PEER_HARD_SEQUENTIAL,
       NAT_STRAT_PREDICT},
      {NAT_PEER_HARD_SEQUENTIAL, NAT_BEH_APD, NAT_PEER_HARD_RANDOM,
       NAT_STRAT_BIRTHDAY},
      {NAT_PEER_HARD_RANDOM, NAT_BEH_APD, NAT_PEER_EASY, NAT_STRAT_BIRTHDAY},
      {NAT_PEER_HARD_RANDOM, NAT_BEH_APD, NAT_PEER_HARD_SEQUENTIAL,
       NAT_STRAT_BIRTHDAY},
      {NAT_PEER_HARD_RANDOM, NAT_BEH_APD, NAT_PEER_HARD_RANDOM,
       NAT_STRAT_RELAY},
      {NAT_PEER_CLASSES, NAT_BEH_UNKNOWN, NAT_PEER_EASY, NAT_STRAT_BIRTHDAY},
      {NAT_PEER_CLASSES, NAT_BEH_UNKNOWN, NAT_PEER_HARD_RANDOM,
       NAT_STRAT_RELAY},
  };
  nat_strategy st;
  nat_prediction pr;
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    assert_int_equal(
        nat_strategy_for(rows[i].self, rows[i].filt, NULL, rows[i].peer, &st),
        0);
    if (st.kind != rows[i].want) {
      print_error("row %zu: got %s\n", i, nat_strategy_name(st.kind));
      fail();
    }
    assert_int_equal(st.peer, rows[i].peer);
  }
  /* the figures: one hard side, 256 ports open */
  nat_strategy_for(NAT_PEER_EASY, NAT_BEH_APD, NULL, NAT_PEER_HARD_RANDOM, &st);
  assert_true(st.probes_50 >= 170 && st.probes_50 <= 180);
  assert_true(st.probes_99 >= 1100 && st.probes_99 <= 1200);
  assert_true(st.seconds_99 > 4 && st.seconds_99 < 5);
  /* both hard: relay, with the spray it would take */
  nat_strategy_for(NAT_PEER_HARD_RANDOM, NAT_BEH_APD, NULL,
                   NAT_PEER_HARD_RANDOM, &st);
  assert_true(st.probes_50 > 52000 && st.probes_50 < 56000);
  assert_true(st.seconds_99 > NAT_STRATEGY_MAX_SECONDS);
  /* direct needs no probes */
  nat_strategy_for(NAT_PEER_EASY, NAT_BEH_EI, NULL, NAT_PEER_EASY, &st);
  assert_true(st.probes_50 == 0 && st.probes_99 == 0);
  /* our own prediction sets the probe counts */
  memset(&pr, 0, sizeof pr);
  pr.n = 3;
  pr.prob[0] = 0.4;
  pr.prob[1] = 0.3;
  pr.prob[2] = 0.2;
  nat_strategy_for(NAT_PEER_HARD_SEQUENTIAL, NAT_BEH_APD, &pr, NAT_PEER_EASY,
                   &st);
  assert_true(st.probes_50 == 2 && st.probes_99 == 3);
  assert_int_equal(
      nat_strategy_for(NAT_PEER_EASY, NAT_BEH_EI, NULL, NAT_PEER_CLASSES, &st),
      NAT_EINVAL);
  assert_int_equal(
      nat_strategy_for(NAT_PEER_EASY, NAT_BEH_EI, NULL, NAT_PEER_EASY, NULL),
      NAT_EINVAL);
}

static void test_names(void **state) {
  nat_verdict v;
  (void)state;
  assert_string_equal(nat_beh_name(NAT_BEH_EI), "endpoint-independent");
  assert_string_equal(nat_beh_name(NAT_BEH_AD), "address-dependent");
  assert_string_equal(nat_beh_name(NAT_BEH_APD), "address-and-port-dependent");
  assert_string_equal(nat_beh_name(NAT_BEH_UNKNOWN), "unknown");
  assert_string_equal(nat_beh_name(99), "unknown");
  assert_string_equal(nat_beh_short_name(NAT_BEH_EI), "ei");
  assert_string_equal(nat_beh_short_name(NAT_BEH_AD), "ad");
  assert_string_equal(nat_beh_short_name(NAT_BEH_APD), "apd");
  assert_string_equal(nat_beh_short_name(NAT_BEH_UNKNOWN), "unknown");
  for (uint8_t b = NAT_BEH_EI; b <= NAT_BEH_APD; b++) {
    assert_int_equal(nat_beh_parse(nat_beh_name(b)), b);
    assert_int_equal(nat_beh_parse(nat_beh_short_name(b)), b);
  }
  assert_int_equal(nat_beh_parse("unknown"), NAT_BEH_UNKNOWN);
  assert_int_equal(nat_beh_parse("EI"), NAT_BEH_UNKNOWN);
  assert_int_equal(nat_beh_parse(""), NAT_BEH_UNKNOWN);
  assert_int_equal(nat_beh_parse(NULL), NAT_BEH_UNKNOWN);
  assert_string_equal(nat_pa_kind_name(NAT_PA_PRESERVING), "preserving");
  assert_string_equal(nat_pa_kind_name(NAT_PA_SEQUENTIAL), "sequential");
  assert_string_equal(nat_pa_kind_name(NAT_PA_RANDOM), "random");
  assert_string_equal(nat_pa_kind_name(0), "unknown");
  assert_string_equal(nat_pooling_name(NAT_POOL_SINGLE), "single");
  assert_string_equal(nat_pooling_name(NAT_POOL_PAIRED), "paired");
  assert_string_equal(nat_pooling_name(NAT_POOL_ARBITRARY), "arbitrary");
  assert_string_equal(nat_pooling_name(0), "unknown");
  assert_string_equal(nat_strategy_name(NAT_STRAT_DIRECT), "direct");
  assert_string_equal(nat_strategy_name(NAT_STRAT_PREDICT), "predict");
  assert_string_equal(nat_strategy_name(NAT_STRAT_BIRTHDAY), "birthday");
  assert_string_equal(nat_strategy_name(NAT_STRAT_RELAY), "relay");
  assert_string_equal(nat_peer_class_name(NAT_PEER_EASY), "easy");
  assert_string_equal(nat_peer_class_name(NAT_PEER_HARD_SEQUENTIAL),
                      "hard-sequential");
  assert_string_equal(nat_peer_class_name(NAT_PEER_HARD_RANDOM), "hard-random");
  assert_string_equal(nat_difficulty_name(1), "easy");
  assert_string_equal(nat_difficulty_name(2), "hard");
  assert_string_equal(nat_difficulty_name(0), "unknown");
  assert_string_equal(nat_classic_name(NULL), "unknown");
  nat_verdict_init(&v);
  assert_string_equal(nat_classic_name(&v), "unknown");
  assert_int_equal(v.self_class, NAT_PEER_CLASSES);
  assert_int_equal(nat_verdict_compute(NULL, NULL), NAT_EINVAL);
  assert_int_equal(nat_verdict_compute(&v, NULL), NAT_EINVAL);
  nat_verdict_free(&v);
  nat_verdict_free(NULL);
}

/* IPv6 sockets are analysed too; IPv4 ones come first. */
static void test_ipv6(void **state) {
  nat_obslog log;
  bool r;
  (void)state;
  nat_obslog_init(&log);
  add(&log, ob(NAT_OBS_MAPPING, "[2001:db8::5]:5000", "[2001:db8:1::1]:3478",
               "[2001:db8::5]:5000"));
  add(&log, ob(NAT_OBS_MAPPING, "[2001:db8::5]:5000", "[2001:db8:2::1]:3478",
               "[2001:db8::5]:5000"));
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_EI);
  add_mapping(&log, LAN, PUB, "198.51.100.2:1", "198.51.100.2:2");
  assert_int_equal(nat_analyze_mapping(&log, &r), NAT_BEH_APD);
  nat_obslog_free(&log);
}

/* ------------------------------------------------- scaling: long logs
 * A long log that repeats one run, or that has many silent sockets before
 * the one that answers, gives the verdict of the run alone: every
 * analyzer must look at each socket once (the verdict used to be
 * quadratic in the log: minutes for a 100k-observation replay). */

/* One run of the probe plan: basic, mapping (AD), filtering (AD),
 * 20 sequential allocations, a hairpin probe that times out. */
static void core_run(nat_obslog *log) {
  add(log,
      other(ob(NAT_OBS_BASIC, "10.0.0.2:4000", P1, "198.51.100.2:40000"), OA));
  add(log, ob(NAT_OBS_BASIC, "10.0.0.2:4000", "192.0.2.9:3478",
              "198.51.100.2:40000"));
  add_mapping(log, LAN, "198.51.100.2:20000", "198.51.100.2:20001",
              "198.51.100.2:20001");
  add_filtering(log, "10.0.0.2:5001", "198.51.100.2:40001", NULL, P1P2);
  add_alloc(log, 20, 1);
  add(log, ob(NAT_OBS_HAIRPIN, "10.0.0.2:5002", PUB, NULL));
}

/* Mapping and filtering sockets that got no answer (copy @p k). */
static void silent_run(nat_obslog *log, unsigned k) {
  char local[32];
  snprintf(local, sizeof local, "10.1.%u.%u:%u", k / 200 % 200, k % 200,
           6000u + k % 50000u);
  add(log, ob(NAT_OBS_MAPPING, local, P1, NULL));
  add(log, ob(NAT_OBS_MAPPING, local, P2, NULL));
  snprintf(local, sizeof local, "10.2.%u.%u:%u", k / 200 % 200, k % 200,
           6000u + k % 50000u);
  add(log, ob(NAT_OBS_FILTERING, local, P1, NULL));
  add(log, chg(local, 0x06, NULL, NULL));
  add(log, chg(local, 0x02, NULL, NULL));
}

static bool counts_line(const char *line) {
  return strncmp(line, "reachability:", 13) == 0 ||
         strncmp(line, "pooling:", 8) == 0;
}

/* The same explanation line; with @p exact false, only the conclusion
 * (after the last "->") must match: tries add up over repeated probes. */
static void same_line(const char *one, const char *big, bool exact) {
  const char *a = strrchr(one, '>'), *b = strrchr(big, '>');
  if (exact || a == NULL)
    assert_string_equal(big, one);
  else
    assert_string_equal(b != NULL ? b : big, a);
}

/* @p big has the verdict of @p one; only the counts may differ (the
 * number of observations, answers and tries), and the server attempts. */
static void same_verdict(const nat_verdict *one, const nat_verdict *big,
                         bool exact) {
  assert_int_equal(big->mapping, one->mapping);
  assert_int_equal(big->filtering, one->filtering);
  assert_int_equal(big->hairpinning, one->hairpinning);
  assert_int_equal(big->pooling, one->pooling);
  assert_int_equal(big->double_nat, one->double_nat);
  assert_int_equal(big->rfc5780_used, one->rfc5780_used);
  assert_int_equal(big->mapping_varies, one->mapping_varies);
  assert_int_equal(big->filtering_unsupported, one->filtering_unsupported);
  assert_int_equal(big->difficulty, one->difficulty);
  assert_int_equal(big->self_class, one->self_class);
  assert_int_equal(big->basic.udp_reachable, one->basic.udp_reachable);
  assert_int_equal(big->basic.nat_present, one->basic.nat_present);
  assert_int_equal(big->basic.nservers, one->basic.nservers);
  assert_memory_equal(&big->alloc, &one->alloc, sizeof one->alloc);
  assert_memory_equal(&big->prediction, &one->prediction,
                      sizeof one->prediction);
  assert_memory_equal(big->strategy, one->strategy, sizeof one->strategy);
  assert_int_equal(big->nexplain, one->nexplain);
  for (size_t i = 0; i < one->nexplain; i++)
    if (!counts_line(one->explain[i]))
      same_line(one->explain[i], big->explain[i], exact);
}

static void test_scaling(void **state) {
  nat_obslog log;
  nat_verdict one, big;
  unsigned k;
  (void)state;
  nat_obslog_init(&log);
  core_run(&log);
  compute(&one, &log);
  assert_int_equal(one.mapping, NAT_BEH_AD);
  assert_int_equal(one.filtering, NAT_BEH_AD);
  assert_int_equal(one.alloc.kind, NAT_PA_SEQUENTIAL);
  /* the same run repeated: about 100,000 observations */
  while (nat_obslog_count(&log) < 100000)
    core_run(&log);
  compute(&big, &log);
  assert_int_equal(big.observations, nat_obslog_count(&log));
  same_verdict(&one, &big, false);
  nat_verdict_free(&big);
  nat_obslog_free(&log);
  /* 100,000 observations of silent sockets, then the run */
  for (k = 0; nat_obslog_count(&log) < 100000; k++)
    silent_run(&log, k);
  core_run(&log);
  compute(&big, &log);
  same_verdict(&one, &big, true);
  assert_int_equal(nat_analyze_mapping(&log, NULL), NAT_BEH_AD);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_AD);
  assert_int_equal(nat_analyze_pooling(&log), NAT_POOL_SINGLE);
  nat_verdict_free(&big);
  nat_verdict_free(&one);
  nat_obslog_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_nat),
      cmocka_unit_test(test_cones),
      cmocka_unit_test(test_symmetric),
      cmocka_unit_test(test_mapping_5780_missing),
      cmocka_unit_test(test_no_rfc5780),
      cmocka_unit_test(test_change_request_ignored),
      cmocka_unit_test(test_change_request_420),
      cmocka_unit_test(test_filtering_edges),
      cmocka_unit_test(test_filtering_without_opening),
      cmocka_unit_test(test_filtering_without_opening_no_proof),
      cmocka_unit_test(test_filtering_opening_rules_first),
      cmocka_unit_test(test_udp_blocked),
      cmocka_unit_test(test_hairpin),
      cmocka_unit_test(test_pooling),
      cmocka_unit_test(test_double_nat),
      cmocka_unit_test(test_lifetime),
      cmocka_unit_test(test_strategy_table),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_scaling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
