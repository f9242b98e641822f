/* Replay: synthetic captured datagram streams -> observation log. A full
 * RFC 5780 run pairing into the shapes of verdict.h with the right tags
 * (and the same analyzers a live run uses giving the expected verdicts);
 * retransmissions; spoofed, unmatched and duplicate responses; a classic
 * RFC 3489 client; a capture taken outside the NAT; picking the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/analyze.h"
#include "nat/error.h"
#include "nat/replay.h"
#include "nat/stun.h"
#include "nat/verdict.h"

#define MS NAT_MILLISECONDS
#define T0 ((nat_tstamp)1700000000 * NAT_SECONDS) /* capture epoch time */

static nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* Feed a Binding request with ID @p n (classic with a 128-bit ID when
 * @p classic). */
static void req(nat_replay *r, nat_tstamp ms, const char *src, const char *dst,
                unsigned n, uint32_t change, bool classic) {
  uint8_t buf[256], tid[16];
  nat_stun_builder b;
  nat_addr s = A(src), d = A(dst);
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0xA5;
  if (classic)
    assert_int_equal(nat_stun_builder_init_classic(&b, buf, sizeof buf,
                                                   NAT_STUN_BINDING,
                                                   NAT_STUN_REQUEST, tid),
                     0);
  else
    assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf,
                                           NAT_STUN_BINDING, NAT_STUN_REQUEST,
                                           tid),
                     0);
  if (change)
    nat_stun_add_change_request(&b, change);
  ssize_t len = nat_stun_builder_finish(&b, !classic);
  assert_true(len > 0);
  assert_int_equal(nat_replay_feed(r, T0 + ms * MS, &s, &d, buf, (size_t)len),
                   0);
}

/* Feed a success response to ID @p n with mapped address @p mapped and,
 * if not NULL, OTHER-ADDRESS (or CHANGED-ADDRESS when classic). */
static void resp(nat_replay *r, nat_tstamp ms, const char *src, const char *dst,
                 unsigned n, const char *mapped, const char *other,
                 bool classic) {
  uint8_t buf[256], tid[16];
  nat_stun_builder b;
  nat_addr s = A(src), d = A(dst), m = A(mapped), o;
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0xA5;
  if (classic) {
    nat_stun_builder_init_classic(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                  NAT_STUN_SUCCESS, tid);
    nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &m);
    nat_stun_add_addr(&b, NAT_ATTR_SOURCE_ADDRESS, &s);
  } else {
    nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                          NAT_STUN_SUCCESS, tid);
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &m);
    nat_stun_add_addr(&b, NAT_ATTR_RESPONSE_ORIGIN, &s);
  }
  if (other != NULL) {
    o = A(other);
    nat_stun_add_addr(
        &b, classic ? NAT_ATTR_CHANGED_ADDRESS : NAT_ATTR_OTHER_ADDRESS, &o);
  }
  ssize_t len = nat_stun_builder_finish(&b, !classic);
  assert_true(len > 0);
  assert_int_equal(nat_replay_feed(r, T0 + ms * MS, &s, &d, buf, (size_t)len),
                   0);
}

static nat_replay *mk(const nat_replay_config *cfg) {
  nat_replay *r = NULL;
  assert_int_equal(nat_replay_new(&r, cfg), 0);
  assert_non_null(r);
  return r;
}

static void finish(nat_replay *r, nat_obslog *log, nat_replay_diag *d) {
  nat_obslog_init(log);
  assert_int_equal(nat_replay_finish(r, log), 0);
  nat_replay_get_diag(r, d);
  assert_int_equal(nat_replay_finish(r, log), NAT_EINVAL);
}

static void expect_obs(const nat_obs *o, uint8_t test, const char *local,
                       const char *server, int status, uint32_t change) {
  assert_non_null(o);
  assert_int_equal(o->test, test);
  assert_true(nat_addr_equal(&o->local, &(nat_addr){0}) == false);
  nat_addr l = A(local), s = A(server);
  assert_true(nat_addr_equal(&o->local, &l));
  assert_true(nat_addr_equal(&o->server, &s));
  assert_int_equal(o->status, status);
  assert_int_equal(o->change_flags, change);
}

#define P    "203.0.113.1:3478"
#define IP2  "203.0.113.2:3478"
#define ALT  "203.0.113.2:3479"
#define P1P2 "203.0.113.1:3479"
#define CIP  NAT_STUN_CHANGE_IP
#define CPT  NAT_STUN_CHANGE_PORT

/* An endpoint-independent, address-dependent-filtering NAT that
 * hairpins, probed the way a live run's probe plan does. */
static void full_run(nat_replay *r) {
  /* mapping: one socket to IP1:P1, IP2:P1, IP2:P2 */
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  resp(r, 10, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", ALT, false);
  req(r, 20, "10.0.0.2:5000", IP2, 2, 0, false);
  resp(r, 30, IP2, "10.0.0.2:5000", 2, "198.51.100.7:6000", ALT, false);
  req(r, 40, "10.0.0.2:5000", ALT, 3, 0, false);
  resp(r, 50, ALT, "10.0.0.2:5000", 3, "198.51.100.7:6000", ALT, false);
  /* filtering: open, change IP+port (filtered), change port (passes) */
  req(r, 100, "10.0.0.2:5001", P, 4, 0, false);
  resp(r, 110, P, "10.0.0.2:5001", 4, "198.51.100.7:6001", ALT, false);
  req(r, 120, "10.0.0.2:5001", P, 5, CIP | CPT, false);
  req(r, 130, "10.0.0.2:5001", P, 6, CPT, false);
  resp(r, 140, P1P2, "10.0.0.2:5001", 6, "198.51.100.7:6001", ALT, false);
  /* hairpin: socket 5002 to 5000's mapped address; it arrives at 5000 */
  req(r, 200, "10.0.0.2:5002", "198.51.100.7:6000", 7, 0, false);
  req(r, 201, "198.51.100.7:6002", "10.0.0.2:5000", 7, 0, false);
  /* allocation: three fresh sockets to the primary */
  req(r, 300, "10.0.0.2:5003", P, 8, 0, false);
  resp(r, 310, P, "10.0.0.2:5003", 8, "198.51.100.7:6003", ALT, false);
  req(r, 320, "10.0.0.2:5004", P, 9, 0, false);
  resp(r, 330, P, "10.0.0.2:5004", 9, "198.51.100.7:6004", ALT, false);
  req(r, 340, "10.0.0.2:5005", P, 10, 0, false);
  resp(r, 350, P, "10.0.0.2:5005", 10, "198.51.100.7:6005", ALT, false);
}

static void test_full_rfc5780_run(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  full_run(r);
  finish(r, &log, &d);
  assert_int_equal(nat_obslog_count(&log), 11);
  expect_obs(nat_obslog_at(&log, 0), NAT_OBS_BASIC, "10.0.0.2:5000", P, 0, 0);
  expect_obs(nat_obslog_at(&log, 1), NAT_OBS_MAPPING, "10.0.0.2:5000", P, 0, 0);
  expect_obs(nat_obslog_at(&log, 2), NAT_OBS_MAPPING, "10.0.0.2:5000", IP2, 0,
             0);
  expect_obs(nat_obslog_at(&log, 3), NAT_OBS_MAPPING, "10.0.0.2:5000", ALT, 0,
             0);
  expect_obs(nat_obslog_at(&log, 4), NAT_OBS_FILTERING, "10.0.0.2:5001", P, 0,
             0);
  expect_obs(nat_obslog_at(&log, 5), NAT_OBS_FILTERING, "10.0.0.2:5001", P,
             NAT_ETIMEDOUT, CIP | CPT);
  expect_obs(nat_obslog_at(&log, 6), NAT_OBS_FILTERING, "10.0.0.2:5001", P, 0,
             CPT);
  expect_obs(nat_obslog_at(&log, 7), NAT_OBS_HAIRPIN, "10.0.0.2:5002",
             "198.51.100.7:6000", 0, 0);
  expect_obs(nat_obslog_at(&log, 8), NAT_OBS_ALLOCATION, "10.0.0.2:5003", P, 0,
             0);
  expect_obs(nat_obslog_at(&log, 10), NAT_OBS_ALLOCATION, "10.0.0.2:5005", P, 0,
             0);
  /* the facts of each observation */
  const nat_obs *o = nat_obslog_at(&log, 0);
  assert_int_equal(o->rtt, 10 * MS);
  assert_int_equal(o->sent_at, 0);
  assert_int_equal(o->transmissions, 1);
  assert_true(o->has_other_address);
  assert_true(o->has_response_origin);
  assert_int_equal(o->server_idx, 0);
  assert_int_equal(nat_obslog_at(&log, 3)->server_idx, 0);
  assert_int_equal(nat_obslog_at(&log, 6)->sent_at, 130 * MS);
  assert_true(nat_addr_equal(&nat_obslog_at(&log, 6)->from, &(nat_addr){0}) ==
              false);
  assert_int_equal(nat_obslog_at(&log, 7)->rtt, 1 * MS);
  /* diagnostics */
  assert_int_equal(d.requests, 10);
  assert_int_equal(d.responses, 9); /* 8 answers + the hairpin arrival */
  assert_int_equal(d.timeouts, 1);
  assert_int_equal(d.hairpin_arrivals, 1);
  assert_int_equal(d.change_requests, 2);
  assert_int_equal(d.hairpin_requests, 1);
  assert_int_equal(d.spoofed + d.unmatched + d.duplicates + d.copies, 0);
  assert_int_equal(d.nservers, 1);
  assert_int_equal(d.nclients, 1);
  assert_true(nat_addr_equal(&d.client, &(nat_addr){0}) == false);
  assert_true(d.saw_translation);
  assert_true(d.inside);
  assert_int_equal(d.measurable,
                   NAT_REPLAY_M_BASIC | NAT_REPLAY_M_NAT |
                       NAT_REPLAY_M_MAPPING | NAT_REPLAY_M_FILTERING |
                       NAT_REPLAY_M_HAIRPIN | NAT_REPLAY_M_ALLOCATION);
  assert_string_equal(nat_replay_why_not(&d, NAT_REPLAY_M_FILTERING), "");
  assert_string_equal(nat_replay_why_not(&d, NAT_REPLAY_M_LIFETIME),
                      "mapping lifetime is not inferred from captures");
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* The replayed log through the analyzers a live run uses. */
static void test_full_run_same_analyzers(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_analysis an;
  bool rfc5780 = false;
  char ip[NAT_ADDR_STRLEN];
  (void)state;
  full_run(r);
  finish(r, &log, &d);
  nat_analyze_init(&an);
  assert_int_equal(nat_analyze_basic(&an, &log), 0);
  assert_true(an.udp_reachable);
  assert_int_equal(an.nservers, 1);
  assert_int_equal(an.servers[0].rtt, 10 * MS);
  assert_true(an.servers[0].rfc5780);
  assert_int_equal(an.v4.public_agree, NAT_AGREE_SAME);
  assert_string_equal(nat_addr_format_ip(&an.v4.public_ip, ip, sizeof ip),
                      "198.51.100.7");
  assert_int_equal(an.nat_present, NAT_TRI_YES);
  nat_analyze_free(&an);
  assert_int_equal(nat_analyze_mapping(&log, &rfc5780), NAT_BEH_EI);
  assert_true(rfc5780);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_AD);
  assert_int_equal(nat_analyze_hairpin(&log), NAT_TRI_YES);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

static void test_retransmissions_and_duplicates(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  req(r, 500, "10.0.0.2:5000", P, 1, 0, false);
  req(r, 1500, "10.0.0.2:5000", P, 1, 0, false);
  resp(r, 1600, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", NULL, false);
  req(r, 1601, "10.0.0.2:5000", P, 1, 0, false); /* crossed the answer */
  resp(r, 1650, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", NULL, false);
  finish(r, &log, &d);
  assert_int_equal(nat_obslog_count(&log), 1);
  const nat_obs *o = nat_obslog_at(&log, 0);
  assert_int_equal(o->test, NAT_OBS_BASIC);
  assert_int_equal(o->transmissions, 3);
  assert_int_equal(o->rtt, 1600 * MS);
  assert_int_equal(d.requests, 1);
  assert_int_equal(d.retransmissions, 3);
  assert_int_equal(d.duplicates, 1);
  assert_int_equal(d.timeouts, 0);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

static void test_spoofed_unmatched_malformed(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_addr s = A("10.0.0.9:1"), t = A("10.0.0.2:5000");
  static const uint8_t junk[] = "\x00\x01\x00\x04\x21\x12\xa4\x42"
                                "0123456789ab\x00\x20\x00\x08";
  (void)state;
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  /* from an address the request did not go to */
  resp(r, 5, "203.0.113.66:3478", "10.0.0.2:5000", 1, "6.6.6.6:6666", NULL,
       false);
  resp(r, 10, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", ALT, false);
  /* change IP+port: only the port changed -> spoofed; the right one */
  req(r, 20, "10.0.0.2:5000", P, 2, CIP | CPT, false);
  resp(r, 25, P1P2, "10.0.0.2:5000", 2, "6.6.6.6:6666", NULL, false);
  resp(r, 30, ALT, "10.0.0.2:5000", 2, "198.51.100.7:6000", NULL, false);
  /* a server that ignores CHANGE-REQUEST answers from the primary: kept,
   * the filtering analyzer must see it */
  req(r, 40, "10.0.0.2:5000", P, 3, CPT, false);
  resp(r, 45, P, "10.0.0.2:5000", 3, "198.51.100.7:6000", NULL, false);
  /* no such request */
  resp(r, 50, P, "10.0.0.2:5000", 99, "198.51.100.7:6000", NULL, false);
  assert_int_equal(
      nat_replay_feed(r, T0 + 60 * MS, &s, &t, junk, sizeof junk - 1), 0);
  finish(r, &log, &d);
  assert_int_equal(d.spoofed, 2);
  assert_int_equal(d.unmatched, 1);
  assert_int_equal(d.malformed, 1);
  assert_int_equal(d.responses, 3);
  for (size_t i = 0; i < nat_obslog_count(&log); i++) {
    const nat_obs *o = nat_obslog_at(&log, i);
    char m[NAT_ADDR_STRLEN];
    assert_int_equal(o->status, 0);
    assert_string_equal(nat_addr_format(&o->mapped, m, sizeof m),
                        "198.51.100.7:6000");
  }
  assert_true(nat_addr_equal(&nat_obslog_at(&log, 2)->from, &(nat_addr){0}) ==
              false);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Debian's `stun` client (RFC 3489): classic 128-bit IDs, CHANGE-REQUEST,
 * answers with MAPPED-ADDRESS and CHANGED-ADDRESS; behind a
 * port-restricted cone both change tests time out. */
static void test_classic_3489_client(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  const char *L = "10.0.0.2:40000", *M = "198.51.100.7:40000";
  (void)state;
  req(r, 0, L, P, 1, 0, true);
  resp(r, 2, P, L, 1, M, ALT, true);
  req(r, 3, L, P, 2, CIP | CPT, true);
  req(r, 4, L, ALT, 3, 0, true);
  resp(r, 6, ALT, L, 3, M, P, true);
  req(r, 7, L, P, 4, CPT, true);
  req(r, 8, L, M, 5, 0, true); /* its hairpin test: to its own mapping */
  finish(r, &log, &d);
  assert_int_equal(nat_obslog_count(&log), 7);
  expect_obs(nat_obslog_at(&log, 6), NAT_OBS_HAIRPIN, L, M, NAT_ETIMEDOUT, 0);
  assert_int_equal(nat_analyze_hairpin(&log), NAT_TRI_NO);
  assert_int_equal(d.nservers, 1);
  expect_obs(nat_obslog_at(&log, 0), NAT_OBS_BASIC, L, P, 0, 0);
  expect_obs(nat_obslog_at(&log, 1), NAT_OBS_MAPPING, L, P, 0, 0);
  expect_obs(nat_obslog_at(&log, 2), NAT_OBS_FILTERING, L, P, 0, 0);
  expect_obs(nat_obslog_at(&log, 3), NAT_OBS_FILTERING, L, P, NAT_ETIMEDOUT,
             CIP | CPT);
  expect_obs(nat_obslog_at(&log, 4), NAT_OBS_MAPPING, L, ALT, 0, 0);
  expect_obs(nat_obslog_at(&log, 5), NAT_OBS_FILTERING, L, P, NAT_ETIMEDOUT,
             CPT);
  const nat_obs *o = nat_obslog_at(&log, 0);
  assert_true(o->classic);
  assert_true(o->has_mapped);
  assert_true(o->has_changed_address);
  assert_false(o->has_other_address);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_APD);
  assert_int_equal(d.measurable & NAT_REPLAY_M_FILTERING,
                   NAT_REPLAY_M_FILTERING);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Classic IDs are 128 bits: the same last 96 bits with another first 32
 * are another transaction. */
static void test_classic_128_bit_ids(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  uint8_t buf[64], tid[16];
  nat_stun_builder b;
  nat_addr s = A("10.0.0.2:1"), t = A(P);
  (void)state;
  for (int i = 0; i < 2; i++) {
    memset(tid, 7, sizeof tid);
    tid[0] = (uint8_t)i;
    nat_stun_builder_init_classic(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                  NAT_STUN_REQUEST, tid);
    ssize_t n = nat_stun_builder_finish(&b, false);
    assert_int_equal(nat_replay_feed(r, T0, &s, &t, buf, (size_t)n), 0);
  }
  finish(r, &log, &d);
  assert_int_equal(d.requests, 2);
  assert_int_equal(d.retransmissions, 0);
  assert_int_equal(d.timeouts, 2);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Captured between the NAT and the server: the source seen is the
 * mapped address. NAT presence cannot be told; filtering is not
 * measurable (the NAT may drop what the capture saw arrive). */
static void test_outside_the_nat(void **state) {
  nat_replay_config cfg = {0};
  nat_obslog log;
  nat_replay_diag d;
  nat_analysis an;
  const char *O = "198.51.100.7:6000";
  (void)state;
  for (int point = NAT_REPLAY_AUTO; point <= NAT_REPLAY_OUTSIDE; point++) {
    nat_replay *r;
    cfg.capture_point = (uint8_t)point;
    r = mk(&cfg);
    req(r, 0, O, P, 1, 0, false);
    resp(r, 10, P, O, 1, O, ALT, false);
    req(r, 20, O, ALT, 2, 0, false);
    resp(r, 30, ALT, O, 2, O, ALT, false);
    req(r, 40, O, P, 3, CIP | CPT, false);
    resp(r, 50, ALT, O, 3, O, ALT, false);
    finish(r, &log, &d);
    const nat_obs *o = nat_obslog_at(&log, 0);
    assert_true(nat_addr_equal(&o->local, &o->mapped));
    assert_false(d.saw_translation);
    assert_true(d.measurable & NAT_REPLAY_M_MAPPING);
    if (point == NAT_REPLAY_AT_CLIENT) {
      /* the user says so: a host with a public address, no NAT */
      assert_true(d.inside);
      assert_true(d.measurable & NAT_REPLAY_M_NAT);
      assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
    } else {
      assert_false(d.inside);
      assert_false(d.measurable & NAT_REPLAY_M_NAT);
      assert_false(d.measurable & NAT_REPLAY_M_FILTERING);
      assert_non_null(strstr(nat_replay_why_not(&d, NAT_REPLAY_M_FILTERING),
                             "outside the NAT"));
      assert_non_null(strstr(nat_replay_why_not(&d, NAT_REPLAY_M_NAT),
                             point == NAT_REPLAY_OUTSIDE
                                 ? "captured outside the NAT"
                                 : "no NAT, or a capture taken outside"));
    }
    /* what the analyzer would say, and why the report must not print it
     * unqualified: mapped == local reads as "no NAT" */
    nat_analyze_init(&an);
    assert_int_equal(nat_analyze_basic(&an, &log), 0);
    assert_int_equal(an.nat_present, NAT_TRI_NO);
    nat_analyze_free(&an);
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

static void two_clients(nat_replay *r) {
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  resp(r, 1, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", NULL, false);
  req(r, 2, "10.0.0.3:5000", P, 2, 0, false);
  resp(r, 3, P, "10.0.0.3:5000", 2, "198.51.100.7:7000", NULL, false);
  req(r, 4, "10.0.0.2:5001", P, 3, 0, false);
  resp(r, 5, P, "10.0.0.2:5001", 3, "198.51.100.7:6001", NULL, false);
}

static void test_client_choice(void **state) {
  nat_replay_config cfg = {0};
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  char b[NAT_ADDR_STRLEN];
  (void)state;
  r = mk(NULL); /* automatic: the IP with the most requests */
  two_clients(r);
  finish(r, &log, &d);
  assert_int_equal(d.nclients, 2);
  assert_int_equal(d.client_requests[0], 2);
  assert_int_equal(d.client_requests[1], 1);
  assert_string_equal(nat_addr_format_ip(&d.client, b, sizeof b), "10.0.0.2");
  assert_int_equal(d.other_client_obs, 1);
  /* two fresh sockets to one server: an allocation test, plus the
   * server's basic observation */
  assert_int_equal(nat_obslog_count(&log), 3);
  assert_int_equal(nat_obslog_at(&log, 0)->test, NAT_OBS_BASIC);
  assert_int_equal(nat_obslog_at(&log, 1)->test, NAT_OBS_ALLOCATION);
  assert_int_equal(nat_obslog_at(&log, 2)->test, NAT_OBS_ALLOCATION);
  nat_obslog_free(&log);
  nat_replay_free(r);
  cfg.client = A("10.0.0.3"); /* --client 10.0.0.3 */
  r = mk(&cfg);
  two_clients(r);
  finish(r, &log, &d);
  assert_string_equal(nat_addr_format_ip(&d.client, b, sizeof b), "10.0.0.3");
  assert_int_equal(d.other_client_obs, 2);
  assert_int_equal(nat_obslog_count(&log), 1);
  assert_string_equal(
      nat_addr_format(&nat_obslog_at(&log, 0)->mapped, b, sizeof b),
      "198.51.100.7:7000");
  nat_obslog_free(&log);
  nat_replay_free(r);
  cfg.client = A("10.0.0.2:5001"); /* one socket only */
  r = mk(&cfg);
  two_clients(r);
  finish(r, &log, &d);
  assert_int_equal(nat_obslog_count(&log), 1);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* A capture on the NAT box itself (-i any): each message is seen on both
 * sides. The outside copies are not new transactions. */
static void test_copies_across_the_nat(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  req(r, 0, "198.51.100.7:6000", P, 1, 0, false);
  resp(r, 10, P, "198.51.100.7:6000", 1, "198.51.100.7:6000", NULL, false);
  resp(r, 10, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", NULL, false);
  finish(r, &log, &d);
  assert_int_equal(d.copies, 2);
  assert_int_equal(d.requests, 1);
  assert_int_equal(nat_obslog_count(&log), 1);
  assert_int_equal(nat_obslog_at(&log, 0)->status, 0);
  assert_true(d.saw_translation);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Bounded memory: requests time out at capture time + the window, and a
 * full table closes its oldest request. */
static void test_timeouts_and_eviction(void **state) {
  nat_replay_config cfg = {0};
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  cfg.max_pending = 2;
  cfg.timeout = 1 * NAT_SECONDS;
  cfg.max_obs = 3;
  r = mk(&cfg);
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  req(r, 1, "10.0.0.2:5000", P, 2, 0, false);
  req(r, 2, "10.0.0.2:5000", P, 3, 0, false);    /* evicts 1 */
  req(r, 5000, "10.0.0.2:5000", P, 4, 0, false); /* 2, 3 expired */
  resp(r, 5001, P, "10.0.0.2:5000", 2, "198.51.100.7:6000", NULL, false);
  req(r, 5002, "10.0.0.2:5000", P, 5, 0, false);
  finish(r, &log, &d);
  assert_int_equal(d.requests, 5);
  assert_int_equal(d.evicted, 1);
  assert_int_equal(d.timeouts, 5);
  assert_int_equal(d.unmatched, 1); /* the answer came after the window */
  assert_int_equal(d.obs_dropped, 2);
  assert_int_equal(nat_obslog_count(&log), 3);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(nat_obslog_at(&log, i)->status, NAT_ETIMEDOUT);
  assert_int_equal(d.measurable & NAT_REPLAY_M_NAT, 0);
  assert_string_equal(nat_replay_why_not(&d, NAT_REPLAY_M_NAT),
                      "no request was answered");
  nat_obslog_free(&log);
  nat_replay_free(r);
}

static void test_bad_arguments(void **state) {
  nat_replay_config cfg = {0};
  nat_replay *r = NULL;
  nat_addr a = A(P);
  uint8_t x = 0;
  (void)state;
  assert_int_equal(nat_replay_new(NULL, NULL), NAT_EINVAL);
  cfg.client.family = 9;
  assert_int_equal(nat_replay_new(&r, &cfg), NAT_EINVAL);
  r = mk(NULL);
  assert_int_equal(nat_replay_feed(r, 0, NULL, &a, &x, 1), NAT_EINVAL);
  assert_int_equal(nat_replay_finish(r, NULL), NAT_EINVAL);
  nat_replay_free(r);
  nat_replay_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_rfc5780_run),
      cmocka_unit_test(test_full_run_same_analyzers),
      cmocka_unit_test(test_retransmissions_and_duplicates),
      cmocka_unit_test(test_spoofed_unmatched_malformed),
      cmocka_unit_test(test_classic_3489_client),
      cmocka_unit_test(test_classic_128_bit_ids),
      cmocka_unit_test(test_outside_the_nat),
      cmocka_unit_test(test_client_choice),
      cmocka_unit_test(test_copies_across_the_nat),
      cmocka_unit_test(test_timeouts_and_eviction),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
