/* Replay: synthetic captured datagram streams -> observation log. A full
 * RFC 5780 run pairing into the shapes of verdict.h with the right tags
 * (and the same analyzers a live run uses giving the expected verdicts);
 * retransmissions; spoofed, unmatched and duplicate responses; a classic
 * RFC 3489 client; a capture taken outside the NAT; picking the client;
 * the replay differences the fixtures found (netcheck's allocation
 * sockets, an address-dependent NAT captured outside, the classic client's
 * change requests from a socket with no opening request, and their
 * shapes that make filtering measurable); more servers than server_idx
 * can number. */
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
#include "replay_test_util.h"

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
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_FILTERING), "");
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_LIFETIME),
                      "no RESPONSE-PORT probe asked for an answer at a "
                      "socket left idle after its mapping was made");
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
      assert_non_null(strstr(nat_replay_strerror(&d, NAT_REPLAY_M_FILTERING),
                             "outside the NAT"));
      assert_non_null(strstr(nat_replay_strerror(&d, NAT_REPLAY_M_NAT),
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
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_NAT),
                      "no request was answered");
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* The tags of the observations of local socket @p local, in log order,
 * as a string of test digits ("14": one MAPPING, one ALLOCATION). */
/* A full table that drops an answered request's entry (kept to tell
 * duplicates) closes no request early: evicted counts only pending
 * requests closed as timeouts ("of which"), never more than timeouts. */
static void test_eviction_of_answered(void **state) {
  nat_replay_config cfg = {0};
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  cfg.max_pending = 2;
  r = mk(&cfg);
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  resp(r, 1, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", NULL, false);
  req(r, 2, "10.0.0.2:5000", P, 2, 0, false);
  resp(r, 3, P, "10.0.0.2:5000", 2, "198.51.100.7:6000", NULL, false);
  req(r, 4, "10.0.0.2:5000", P, 3, 0, false); /* drops 1's entry */
  nat_replay_get_diag(r, &d);
  assert_int_equal(d.evicted, 0);
  assert_int_equal(d.timeouts, 0);
  req(r, 5, "10.0.0.2:5000", P, 4, 0, false); /* drops 2's entry */
  req(r, 6, "10.0.0.2:5000", P, 5, 0, false); /* closes 3, unanswered */
  nat_replay_get_diag(r, &d);
  assert_int_equal(d.evicted, 1);
  assert_int_equal(d.timeouts, 1);
  finish(r, &log, &d);
  assert_int_equal(d.requests, 5);
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.timeouts, 3);
  assert_int_equal(d.evicted, 1);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* A host with a public address (no translation) whose second socket
 * sends a request to the first one's address, which answers it (an ICE
 * agent does): the request looks like a hairpin test and is left out as
 * untranslated, but it was answered by a response, not seen arriving as
 * a hairpin request: hairpin_arrivals stays 0 (it wrapped below zero),
 * responses loses that one answer. */
static void test_untranslated_hairpin_answered(void **state) {
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  r = mk(NULL);
  req(r, 0, "203.0.113.50:5000", P, 1, 0, false);
  resp(r, 10, P, "203.0.113.50:5000", 1, "203.0.113.50:5000", NULL, false);
  req(r, 20, "203.0.113.50:5001", "203.0.113.50:5000", 2, 0, false);
  resp(r, 21, "203.0.113.50:5000", "203.0.113.50:5001", 2, "203.0.113.50:5001",
       NULL, false);
  nat_replay_get_diag(r, &d);
  assert_int_equal(d.hairpin_requests, 1);
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.hairpin_arrivals, 0);
  finish(r, &log, &d);
  assert_int_equal(d.requests, 2);
  assert_int_equal(d.hairpin_requests, 0);
  assert_int_equal(d.hairpin_arrivals, 0);
  assert_int_equal(d.responses, 1);
  assert_int_equal(d.timeouts, 0);
  assert_int_equal(nat_obslog_count(&log), 1);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Feed an error response (420) to ID @p n. */
static void err_resp(nat_replay *r, nat_tstamp ms, const char *src,
                     const char *dst, unsigned n) {
  uint8_t buf[256], tid[16];
  nat_stun_builder b;
  nat_addr s = A(src), d = A(dst);
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0xA5;
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_ERROR, tid),
                   0);
  nat_stun_add_error(&b, 420, "Unknown Attribute");
  ssize_t len = nat_stun_builder_finish(&b, true);
  assert_true(len > 0);
  assert_int_equal(nat_replay_feed(r, T0 + ms * MS, &s, &d, buf, (size_t)len),
                   0);
}

/* A capture that starts mid-run: a request to A1's mapped address, sent
 * before any answer shows that mapping, is seen arriving at A1 and is
 * answered with an error response. Tagging recognizes it as a hairpin
 * request, but it was answered (an error is an answer): it is no timeout
 * to turn into a hairpin arrival (timeouts wrapped below zero). */
static void test_late_hairpin_error_answered(void **state) {
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  r = mk(NULL);
  req(r, 0, "192.168.1.2:27821", "198.51.100.2:27820", 1, 0, false);
  req(r, 1, "198.51.100.2:27821", "192.168.1.2:27820", 1, 0, false);
  err_resp(r, 2, "198.51.100.2:27820", "192.168.1.2:27821", 1);
  req(r, 10, "192.168.1.2:27820", P, 2, 0, false);
  resp(r, 20, P, "192.168.1.2:27820", 2, "198.51.100.2:27820", NULL, false);
  finish(r, &log, &d);
  assert_int_equal(d.requests, 2);
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.timeouts, 0);
  assert_int_equal(d.hairpin_arrivals, 0);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

static void sock_tests(const nat_obslog *log, const char *local, char *out,
                       size_t len) {
  nat_addr l = A(local);
  size_t i, k = 0;
  for (i = 0; i < nat_obslog_count(log) && k + 1 < len; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (nat_addr_equal(&o->local, &l))
      out[k++] = (char)('0' + o->test);
  }
  out[k] = '\0';
}

/* netcheck's live plan (probe_plan.c) on a sequential NAT (+1 per new
 * mapping, endpoint-independent): S0 basic + RFC 5780 mapping; the
 * filtering socket; fresh allocation sockets to the primary, the first of
 * which (B) also sends the hairpin request, the last of which then also
 * asks IP1:P2, IP2:P1 and IP2:P2. Live, B's and the last socket's plain
 * requests are NAT_OBS_ALLOCATION only: the replay must record the same,
 * so the allocation analyzer gets as many samples as the live run. */
static void netcheck_run(nat_replay *r) {
  const char *S0 = "10.0.0.2:5000", *SF = "10.0.0.2:5001";
  const char *B = "10.0.0.2:5002", *LAST = "10.0.0.2:5005";
  unsigned id = 1;
  req(r, 0, S0, P, id, 0, false);
  resp(r, 1, P, S0, id++, "198.51.100.7:6000", ALT, false);
  req(r, 2, SF, P, id, 0, false);
  resp(r, 3, P, SF, id++, "198.51.100.7:6001", ALT, false);
  req(r, 4, B, P, id, 0, false);
  resp(r, 5, P, B, id++, "198.51.100.7:6002", ALT, false);
  req(r, 6, "10.0.0.2:5003", P, id, 0, false);
  resp(r, 7, P, "10.0.0.2:5003", id++, "198.51.100.7:6003", ALT, false);
  req(r, 8, "10.0.0.2:5004", P, id, 0, false);
  resp(r, 9, P, "10.0.0.2:5004", id++, "198.51.100.7:6004", ALT, false);
  req(r, 10, LAST, P, id, 0, false);
  resp(r, 11, P, LAST, id++, "198.51.100.7:6005", ALT, false);
  /* RFC 5780 mapping from S0 */
  req(r, 20, S0, P, id, 0, false);
  resp(r, 21, P, S0, id++, "198.51.100.7:6000", ALT, false);
  req(r, 22, S0, IP2, id, 0, false);
  resp(r, 23, IP2, S0, id++, "198.51.100.7:6000", ALT, false);
  req(r, 24, S0, ALT, id, 0, false);
  resp(r, 25, ALT, S0, id++, "198.51.100.7:6000", ALT, false);
  /* filtering: both change requests filtered */
  req(r, 26, SF, P, id++, CIP | CPT, false);
  req(r, 27, SF, P, id++, CPT, false);
  /* hairpin from B to S0's mapping: not answered */
  req(r, 28, B, "198.51.100.7:6000", id++, 0, false);
  /* the last allocation socket's other destinations */
  req(r, 30, LAST, P1P2, id, 0, false);
  resp(r, 31, P1P2, LAST, id++, "198.51.100.7:6005", ALT, false);
  req(r, 32, LAST, IP2, id, 0, false);
  resp(r, 33, IP2, LAST, id++, "198.51.100.7:6005", ALT, false);
  req(r, 34, LAST, ALT, id, 0, false);
  resp(r, 35, ALT, LAST, id++, "198.51.100.7:6005", ALT, false);
}

static void test_netcheck_allocation_sockets(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_verdict v;
  char t[32];
  (void)state;
  netcheck_run(r);
  finish(r, &log, &d);
  sock_tests(&log, "10.0.0.2:5005", t, sizeof t);
  assert_string_equal(t, "4444"); /* was "1111": MAPPING only */
  sock_tests(&log, "10.0.0.2:5002", t, sizeof t);
  assert_string_equal(t, "43"); /* was "03": the hairpin made it basic */
  sock_tests(&log, "10.0.0.2:5003", t, sizeof t);
  assert_string_equal(t, "4");
  sock_tests(&log, "10.0.0.2:5000", t, sizeof t);
  assert_string_equal(t, "01111"); /* first request basic and mapping */
  sock_tests(&log, "10.0.0.2:5001", t, sizeof t);
  assert_string_equal(t, "222");
  assert_int_equal(d.measurable,
                   NAT_REPLAY_M_BASIC | NAT_REPLAY_M_NAT |
                       NAT_REPLAY_M_MAPPING | NAT_REPLAY_M_FILTERING |
                       NAT_REPLAY_M_HAIRPIN | NAT_REPLAY_M_ALLOCATION);
  nat_verdict_init(&v);
  assert_int_equal(nat_verdict_compute(&v, &log), 0);
  /* four fresh mappings, as live: 6002..6005 (the last socket's other
   * destinations reuse 6005); 6003..6005 alone were three */
  assert_int_equal(v.alloc.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(v.alloc.delta, 1);
  assert_int_equal(v.alloc.samples, 4);
  assert_int_equal(v.alloc.lo, 6002);
  assert_int_equal(v.alloc.hi, 6005);
  assert_int_equal(v.mapping, NAT_BEH_EI);
  assert_true(v.rfc5780_used);
  assert_int_equal(v.filtering, NAT_BEH_APD);
  assert_int_equal(v.hairpinning, NAT_TRI_NO);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* A socket that asked IP1:P2 is netcheck's allocation socket only next to
 * fresh sockets that asked the primary alone: otherwise its probes stay a
 * mapping test. */
static void test_p1p2_socket_without_fresh_sockets(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  const char *L = "10.0.0.2:5000", *M = "198.51.100.7:6000";
  char t[16];
  bool rfc5780 = false;
  (void)state;
  req(r, 0, L, P, 1, 0, false);
  resp(r, 1, P, L, 1, M, ALT, false);
  req(r, 2, L, P1P2, 2, 0, false);
  resp(r, 3, P1P2, L, 2, M, ALT, false);
  req(r, 4, L, IP2, 3, 0, false);
  resp(r, 5, IP2, L, 3, "198.51.100.7:6001", ALT, false);
  finish(r, &log, &d);
  sock_tests(&log, L, t, sizeof t);
  assert_string_equal(t, "0111");
  assert_true(d.measurable & NAT_REPLAY_M_MAPPING);
  assert_false(d.measurable & NAT_REPLAY_M_ALLOCATION);
  /* a new mapping for IP2, the same for IP1:P2 */
  assert_int_equal(nat_analyze_mapping(&log, &rfc5780), NAT_BEH_AD);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* An address-dependent NAT captured outside (natbox-ad-netcheck-outside):
 * IP1:P1 and IP1:P2 share a public port, so one "socket" has two
 * destinations, and every answer has mapped == source. That is no
 * evidence of an endpoint-independent mapping: not measurable. */
static void test_outside_address_dependent(void **state) {
  nat_replay_config cfg = {0};
  nat_obslog log;
  nat_replay_diag d;
  const char *E1 = "198.51.100.7:6000", *E2 = "198.51.100.7:6001";
  (void)state;
  for (int point = NAT_REPLAY_AUTO; point <= NAT_REPLAY_OUTSIDE; point += 2) {
    nat_replay *r;
    cfg.capture_point = (uint8_t)point;
    r = mk(&cfg);
    req(r, 0, E1, P, 1, 0, false);
    resp(r, 1, P, E1, 1, E1, ALT, false);
    req(r, 2, E1, P1P2, 2, 0, false);
    resp(r, 3, P1P2, E1, 2, E1, ALT, false);
    req(r, 4, E2, IP2, 3, 0, false);
    resp(r, 5, IP2, E2, 3, E2, ALT, false);
    req(r, 6, E2, ALT, 4, 0, false);
    resp(r, 7, ALT, E2, 4, E2, ALT, false);
    finish(r, &log, &d);
    assert_false(d.inside);
    assert_int_equal(d.measurable & NAT_REPLAY_M_MAPPING, 0);
    assert_non_null(strstr(nat_replay_strerror(&d, NAT_REPLAY_M_MAPPING),
                           "outside the NAT"));
    /* what the analyzer would have said: the wrong verdict withheld */
    assert_int_equal(nat_analyze_mapping(&log, NULL), NAT_BEH_EI);
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

/* Outside, one source answered by two server IPs with one mapped address
 * shows an endpoint-independent mapping; answered with two different
 * mapped addresses (a further NAT beyond the capture point) it does not. */
static void test_outside_two_server_ips(void **state) {
  nat_replay_config cfg = {0};
  nat_obslog log;
  nat_replay_diag d;
  const char *E = "198.51.100.7:6000";
  nat_replay *r;
  (void)state;
  cfg.capture_point = NAT_REPLAY_OUTSIDE;
  r = mk(&cfg);
  req(r, 0, E, P, 1, 0, false);
  resp(r, 1, P, E, 1, E, ALT, false);
  req(r, 2, E, IP2, 2, 0, false);
  resp(r, 3, IP2, E, 2, E, ALT, false);
  finish(r, &log, &d);
  assert_true(d.measurable & NAT_REPLAY_M_MAPPING);
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_MAPPING), "");
  assert_int_equal(nat_analyze_mapping(&log, NULL), NAT_BEH_EI);
  nat_obslog_free(&log);
  nat_replay_free(r);

  r = mk(&cfg);
  req(r, 0, E, P, 1, 0, false);
  resp(r, 1, P, E, 1, "192.0.2.9:7000", ALT, false);
  req(r, 2, E, IP2, 2, 0, false);
  resp(r, 3, IP2, E, 2, "192.0.2.9:7001", ALT, false);
  /* an unanswered request to a second IP proves nothing either */
  req(r, 4, "198.51.100.7:6002", P, 3, 0, false);
  resp(r, 5, P, "198.51.100.7:6002", 3, "198.51.100.7:6002", ALT, false);
  req(r, 6, "198.51.100.7:6002", IP2, 4, 0, false);
  finish(r, &log, &d);
  assert_int_equal(d.measurable & NAT_REPLAY_M_MAPPING, 0);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Debian's `stun` client behind a full cone (full-cone-stun.pcap): test I
 * and the mapping test from socket A; the change requests (change IP,
 * then change port) from socket B, which sends no plain request at all.
 * No observation of B is an opening request (its probes carry
 * CHANGE-REQUEST) and none is made up; but the change-IP answer came from
 * IP2, which B never sent anything to: only an endpoint-independent
 * filter lets that in (verdict.h), so filtering is measurable and EI.
 * With @p b_opens, B first sends its own answered request to IP1:P1
 * (the RFC 5780 shape); with @p b_ip2, a plain request to IP2:P1, after
 * which the answer from IP2 proves nothing. */
static void classic_full_cone(nat_replay *r, bool b_opens, bool b_ip2) {
  const char *LA = "10.0.0.2:40000", *MA = "198.51.100.7:40000";
  const char *LB = "10.0.0.2:40001", *MB = "198.51.100.7:40001";
  req(r, 0, LA, P, 1, 0, true);
  resp(r, 1, P, LA, 1, MA, ALT, true);
  if (b_opens) {
    req(r, 5, LB, P, 6, 0, true);
    resp(r, 6, P, LB, 6, MB, ALT, true);
  }
  if (b_ip2) {
    req(r, 7, LB, IP2, 7, 0, true);
    resp(r, 8, IP2, LB, 7, MB, ALT, true);
  }
  req(r, 10, LB, P, 2, CIP, true);
  resp(r, 11, IP2, LB, 2, MB, ALT, true);
  req(r, 20, LB, P, 3, CPT, true);
  resp(r, 21, P1P2, LB, 3, MB, ALT, true);
  req(r, 30, LA, IP2, 4, 0, true);
  resp(r, 31, IP2, LA, 4, MA, ALT, true);
}

static void test_classic_change_socket_without_opening(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_addr lb = A("10.0.0.2:40001");
  size_t i, b_obs = 0;
  (void)state;
  classic_full_cone(r, false, false);
  finish(r, &log, &d);
  assert_int_equal(d.spoofed, 0);
  assert_int_equal(d.responses, 4);
  for (i = 0; i < nat_obslog_count(&log); i++) {
    const nat_obs *o = nat_obslog_at(&log, i);
    if (!nat_addr_equal(&o->local, &lb))
      continue;
    b_obs++;
    /* B's observations are its two probes, as sent */
    assert_int_equal(o->test, NAT_OBS_FILTERING);
    assert_int_not_equal(o->change_flags, 0);
  }
  assert_int_equal(b_obs, 2);
  assert_true(d.inside);
  assert_true(d.measurable & NAT_REPLAY_M_MAPPING);
  assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_FILTERING), "");
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* the same with B's own answered request to IP1:P1 first: that is the
   * opening request, and the change-IP answer gives EI */
  r = mk(NULL);
  classic_full_cone(r, true, false);
  finish(r, &log, &d);
  expect_obs(nat_obslog_at(&log, 0), NAT_OBS_BASIC, "10.0.0.2:40000", P, 0, 0);
  expect_obs(nat_obslog_at(&log, 1), NAT_OBS_MAPPING, "10.0.0.2:40000", P, 0,
             0);
  expect_obs(nat_obslog_at(&log, 2), NAT_OBS_FILTERING, "10.0.0.2:40001", P, 0,
             0);
  assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* B sent to IP2 before its change-IP request: an address-dependent
   * filter would let IP2's answer in too; no opening request to IP1:P1
   * either, so filtering is not measurable, and says why */
  r = mk(NULL);
  classic_full_cone(r, false, true);
  finish(r, &log, &d);
  assert_true(d.inside);
  assert_int_equal(d.measurable & NAT_REPLAY_M_FILTERING, 0);
  assert_non_null(
      strstr(nat_replay_strerror(&d, NAT_REPLAY_M_FILTERING), "never sent to"));
  assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* An opening request sent after the change requests does not open the
 * mapping they probed: the analyzer does not rate change requests before
 * it. A change-IP+port answer from IP2, which the socket never sent to,
 * still proves EI; without one, filtering is not measurable. */
static void test_opening_after_change_requests(void **state) {
  const char *L = "10.0.0.2:5001", *M = "198.51.100.7:6001";
  nat_obslog log;
  nat_replay_diag d;
  int pass;
  (void)state;
  for (pass = 0; pass < 2; pass++) {
    nat_replay *r = mk(NULL);
    req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
    resp(r, 1, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", ALT, false);
    req(r, 10, L, P, 2, CIP | CPT, false);
    if (pass == 0)
      resp(r, 11, ALT, L, 2, M, ALT, false);
    req(r, 20, L, P, 3, CPT, false);
    resp(r, 21, P1P2, L, 3, M, ALT, false);
    req(r, 30, L, P, 4, 0, false);
    resp(r, 31, P, L, 4, M, ALT, false);
    finish(r, &log, &d);
    assert_true(d.inside);
    if (pass == 0) {
      assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
      assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_EI);
    } else {
      assert_int_equal(d.measurable & NAT_REPLAY_M_FILTERING, 0);
      assert_int_equal(nat_analyze_filtering(&log), NAT_BEH_UNKNOWN);
    }
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

/* pcap-fixtures/port-restricted-stun.pcap's shape (Debian's classic
 * `stun` behind a port-restricted cone NAT): socket A's plain request to
 * IP1:P1 is answered with CHANGED-ADDRESS; socket B sends only change
 * requests to IP1:P1, 7 change-IP and 7 change-port, none answered. They
 * opened the mapping themselves: with the alternate known and >= 3
 * unanswered tries each way, filtering is measurable (verdict.h: APD),
 * and B's requests are all tagged FILTERING. Two tries each are not
 * enough; without the alternate (no CHANGED-ADDRESS) neither. A
 * change-port answer from IP1:P2 with change-IP unanswered is the AD
 * shape. Outside the NAT, never. */
static void classic_prc(nat_replay *r, unsigned tries, bool alt,
                        bool port_answered) {
  const char *LA = "192.168.1.2:27820", *MA = "198.51.100.2:27820";
  const char *LB = "192.168.1.2:27821", *MB = "198.51.100.2:27821";
  unsigned i;
  req(r, 0, LA, P, 1, 0, true);
  resp(r, 1, P, LA, 1, MA, alt ? ALT : NULL, true);
  for (i = 0; i < tries; i++) {
    req(r, 10 + 180 * i, LB, P, 10 + 2 * i, CIP, true);
    req(r, 20 + 180 * i, LB, P, 11 + 2 * i, CPT, true);
    if (port_answered)
      resp(r, 21 + 180 * i, P1P2, LB, 11 + 2 * i, MB, alt ? ALT : NULL, true);
  }
  req(r, 30, LA, IP2, 3, 0, true);
  resp(r, 31, IP2, LA, 3, MA, alt ? ALT : NULL, true);
}

static void test_classic_change_socket_shapes(void **state) {
  static const struct {
    unsigned tries;
    bool alt, port_answered;
    uint8_t point;
    bool measurable;
  } cases[] = {
      {7, true, false, NAT_REPLAY_AUTO, true},     /* APD shape */
      {3, true, false, NAT_REPLAY_AUTO, true},     /* the least */
      {2, true, false, NAT_REPLAY_AUTO, false},    /* too few tries */
      {7, false, false, NAT_REPLAY_AUTO, false},   /* no alternate */
      {3, true, true, NAT_REPLAY_AUTO, true},      /* AD shape */
      {2, true, true, NAT_REPLAY_AUTO, false},     /* too few change-IP */
      {7, true, false, NAT_REPLAY_OUTSIDE, false}, /* outside: never */
  };
  nat_addr lb = A("192.168.1.2:27821");
  size_t c, i;
  (void)state;
  for (c = 0; c < sizeof cases / sizeof *cases; c++) {
    nat_replay_config cfg = {0};
    nat_obslog log;
    nat_replay_diag d;
    size_t b_obs = 0;
    nat_replay *r;
    cfg.capture_point = cases[c].point;
    r = mk(&cfg);
    classic_prc(r, cases[c].tries, cases[c].alt, cases[c].port_answered);
    finish(r, &log, &d);
    assert_int_equal(d.change_requests, 2 * cases[c].tries);
    for (i = 0; i < nat_obslog_count(&log); i++) {
      const nat_obs *o = nat_obslog_at(&log, i);
      if (!nat_addr_equal(&o->local, &lb))
        continue;
      b_obs++;
      assert_int_equal(o->test, NAT_OBS_FILTERING);
      assert_int_not_equal(o->change_flags, 0);
      assert_int_equal(o->status,
                       (o->change_flags & CIP) || !cases[c].port_answered
                           ? NAT_ETIMEDOUT
                           : 0);
    }
    assert_int_equal(b_obs, 2 * cases[c].tries);
    assert_int_equal(d.inside, cases[c].point != NAT_REPLAY_OUTSIDE);
    if (cases[c].measurable) {
      assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
      assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_FILTERING), "");
    } else {
      assert_int_equal(d.measurable & NAT_REPLAY_M_FILTERING, 0);
      assert_string_not_equal(nat_replay_strerror(&d, NAT_REPLAY_M_FILTERING),
                              "");
    }
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

/* A hostile capture with more destinations than server_idx can number:
 * the first NAT_REPLAY_MAX_SERVERS become servers 0.., the rest are left
 * out and counted instead of wrapping onto server 0. */
static void test_server_cap(void **state) {
  const unsigned extra = 100, total = NAT_REPLAY_MAX_SERVERS + extra;
  nat_replay_config cfg = {0};
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  nat_addr src = A("10.0.0.2:5000"), dst = A("100.64.0.0:3478");
  uint8_t buf[64], tid[NAT_STUN_TID_LEN];
  unsigned i;
  size_t k;
  (void)state;
  cfg.max_obs = total;
  r = mk(&cfg);
  for (i = 0; i < total; i++) {
    nat_stun_builder b;
    ssize_t len;
    memset(tid, 0, sizeof tid);
    memcpy(tid, &i, sizeof i);
    dst.ip[1] = (uint8_t)(64 + (i >> 16));
    dst.ip[2] = (uint8_t)(i >> 8);
    dst.ip[3] = (uint8_t)i;
    nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                          NAT_STUN_REQUEST, tid);
    len = nat_stun_builder_finish(&b, false);
    assert_true(len > 0);
    assert_int_equal(nat_replay_feed(r, T0 + (nat_tstamp)i * MS, &src, &dst,
                                     buf, (size_t)len),
                     0);
  }
  finish(r, &log, &d);
  assert_int_equal(d.requests, total);
  assert_int_equal(d.nservers, NAT_REPLAY_MAX_SERVERS);
  assert_int_equal(d.server_overflow, extra);
  assert_int_equal(d.obs_dropped, extra);
  assert_int_equal(nat_obslog_count(&log), NAT_REPLAY_MAX_SERVERS);
  for (k = 0; k < nat_obslog_count(&log); k++) {
    const nat_obs *o = nat_obslog_at(&log, k);
    assert_int_equal(o->server_idx, k); /* in order of first appearance */
    assert_int_equal(o->status, NAT_ETIMEDOUT);
  }
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
      cmocka_unit_test(test_eviction_of_answered),
      cmocka_unit_test(test_untranslated_hairpin_answered),
      cmocka_unit_test(test_late_hairpin_error_answered),
      cmocka_unit_test(test_netcheck_allocation_sockets),
      cmocka_unit_test(test_p1p2_socket_without_fresh_sockets),
      cmocka_unit_test(test_outside_address_dependent),
      cmocka_unit_test(test_outside_two_server_ips),
      cmocka_unit_test(test_classic_change_socket_without_opening),
      cmocka_unit_test(test_opening_after_change_requests),
      cmocka_unit_test(test_classic_change_socket_shapes),
      cmocka_unit_test(test_server_cap),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
