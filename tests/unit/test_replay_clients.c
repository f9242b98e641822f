/* Replay, issue 13: where was this captured (the capture point inferred
 * per client from translations, TTLs and Linux cooked directions,
 * nat_replay_feed_pkt), several clients reported per client
 * (nat_replay_finish_client), and captures that start mid-run (they know
 * less, never something else). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nat/analyze.h"
#include "nat/capture.h"
#include "nat/error.h"
#include "nat/replay.h"
#include "nat/stun.h"
#include "nat/verdict.h"
#include "replay_test_util.h"

static void pkt(nat_replay *r, nat_tstamp ms, const char *src, const char *dst,
                unsigned n, const char *resp_mapped, uint8_t ttl, uint8_t dir) {
  pkt_ex(r, ms, src, dst, n, resp_mapped, ttl, dir, false);
}

/* One client socket to two server IPs, answered with @p mapped (NULL:
 * mapped == local, no NAT), requests with TTL @p ttl and direction
 * @p dir; responses arrive with TTL 60, IN. */
static void point_run(nat_replay *r, const char *local, const char *mapped,
                      uint8_t ttl, uint8_t dir) {
  const char *m = mapped != NULL ? mapped : local;
  pkt(r, 0, local, P, 1, NULL, ttl, dir);
  pkt(r, 1, local, P, 1, NULL, ttl, dir); /* a retransmission */
  pkt(r, 5, P, local, 1, m, 60, dir ? NAT_CAPDIR_IN : 0);
  pkt(r, 10, local, IP2, 2, NULL, ttl, dir);
  pkt(r, 15, IP2, local, 2, m, 60, dir ? NAT_CAPDIR_IN : 0);
}

static void test_capture_point_inferred(void **state) {
  static const struct {
    const char *local, *mapped;
    uint8_t ttl, dir, point;
    uint8_t inferred;
    bool nat; /* NAT presence measurable */
    const char *reason;
  } cases[] = {
      /* (b) a host with a public address, captured on itself */
      {"198.51.100.9:5000", NULL, 64, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AT_CLIENT,
       true, "requests leave with TTL 64"},
      {"198.51.100.9:5000", NULL, 128, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AT_CLIENT,
       true, "TTL 128"},
      {"198.51.100.9:5000", NULL, 255, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AT_CLIENT,
       true, "TTL 255"},
      /* (b) Linux cooked: outgoing, never incoming, whatever its TTL */
      {"198.51.100.9:5000", NULL, 50, NAT_CAPDIR_OUTGOING, NAT_REPLAY_AUTO,
       NAT_REPLAY_AT_CLIENT, true, "outgoing, never incoming"},
      /* (c) forwarded by a router, no translation: outside, not known */
      {"198.51.100.9:5000", NULL, 63, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AUTO,
       false, "TTL 63, forwarded by a router"},
      {"198.51.100.9:5000", NULL, 32, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AUTO,
       false, "TTL 32"},
      {"198.51.100.9:5000", NULL, 1, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AUTO, false,
       "TTL 1"},
      {"198.51.100.9:5000", NULL, 0, 0, NAT_REPLAY_AUTO, NAT_REPLAY_AUTO, false,
       "no TTL or direction"},
      /* a router's -i any: the requests came IN too */
      {"198.51.100.9:5000", NULL, 50, NAT_CAPDIR_IN, NAT_REPLAY_AUTO,
       NAT_REPLAY_AUTO, false, "TTL 50"},
      /* (a) a translation wins over a forwarded TTL */
      {"10.0.0.2:5000", "198.51.100.7:6000", 63, 0, NAT_REPLAY_AUTO,
       NAT_REPLAY_AT_CLIENT, true, "maps 10.0.0.2:5000 to 198.51.100.7:6000"},
      /* given outside: the inference is still reported, the point wins */
      {"198.51.100.9:5000", NULL, 64, 0, NAT_REPLAY_OUTSIDE,
       NAT_REPLAY_AT_CLIENT, false, "TTL 64"},
  };
  size_t c;
  (void)state;
  for (c = 0; c < sizeof cases / sizeof *cases; c++) {
    nat_replay_config cfg = {0};
    nat_obslog log;
    nat_replay_diag d;
    nat_verdict v;
    nat_replay *r;
    cfg.capture_point = cases[c].point;
    r = mk(&cfg);
    point_run(r, cases[c].local, cases[c].mapped, cases[c].ttl, cases[c].dir);
    finish(r, &log, &d);
    assert_int_equal(d.requests, 2);
    assert_int_equal(d.retransmissions, 1);
    assert_int_equal(d.request_ttl, cases[c].ttl);
    assert_int_equal(d.point_inferred, cases[c].inferred);
    assert_int_equal(d.capture_point, cases[c].point);
    if (strstr(d.point_reason, cases[c].reason) == NULL)
      fail_msg("case %zu: '%s' lacks '%s'", c, d.point_reason, cases[c].reason);
    assert_int_equal((d.measurable & NAT_REPLAY_M_NAT) != 0, cases[c].nat);
    assert_int_equal(d.inside, cases[c].point != NAT_REPLAY_OUTSIDE &&
                                   cases[c].inferred == NAT_REPLAY_AT_CLIENT);
    if (cases[c].dir == NAT_CAPDIR_OUTGOING)
      assert_int_equal(d.requests_outgoing, 3); /* with the retransmission */
    nat_verdict_init(&v);
    assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
    /* the verdict the report prints: no NAT when (b) says so */
    if (cases[c].nat)
      assert_int_equal(v.basic.nat_present,
                       cases[c].mapped != NULL ? NAT_TRI_YES : NAT_TRI_NO);
    else
      assert_int_equal(v.basic.nat_present, NAT_TRI_UNKNOWN);
    if (cases[c].nat && cases[c].mapped == NULL)
      assert_non_null(strstr(d.point_reason, "no NAT"));
    nat_verdict_free(&v);
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

/* The most common TTL of the first transmissions wins (a hop probe's
 * TTL 1..3 or a forwarded copy do not change it); nat_replay_feed_msg
 * says none. */
static void test_request_ttl_mode(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_capture_pkt p;
  (void)state;
  pkt(r, 0, "198.51.100.9:5000", P, 1, NULL, 1, 0);
  pkt(r, 1, "198.51.100.9:5000", P, 2, NULL, 2, 0);
  pkt(r, 2, "198.51.100.9:5000", P, 3, NULL, 64, 0);
  pkt(r, 3, "198.51.100.9:5000", P, 4, NULL, 64, 0);
  pkt(r, 4, "198.51.100.9:5000", P, 4, NULL, 1, 0); /* retransmission */
  pkt(r, 4, "198.51.100.9:5000", P, 4, NULL, 1, 0);
  pkt(r, 5, P, "198.51.100.9:5000", 4, "198.51.100.9:5000", 64, 0);
  finish(r, &log, &d);
  assert_int_equal(d.request_ttl, 64);
  assert_int_equal(d.point_inferred, NAT_REPLAY_AT_CLIENT);
  nat_obslog_free(&log);
  nat_replay_free(r);

  r = mk(NULL);
  memset(&p, 0, sizeof p);
  assert_int_equal(nat_replay_feed_pkt(r, &p), NAT_EINVAL); /* no msg */
  assert_int_equal(nat_replay_feed_pkt(r, NULL), NAT_EINVAL);
  assert_int_equal(nat_replay_feed_pkt(NULL, &p), NAT_EINVAL);
  req(r, 0, "198.51.100.9:5000", P, 1, 0, false);
  resp(r, 1, P, "198.51.100.9:5000", 1, "198.51.100.9:5000", NULL, false);
  finish(r, &log, &d);
  assert_int_equal(d.request_ttl, 0);
  assert_int_equal(d.point_inferred, NAT_REPLAY_AUTO);
  assert_false(d.inside);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Two clients behind two NATs, and hairpin traffic arriving at the first
 * from a NAT's public address whose departure is not in the capture:
 * each client gets its own log and diag; the hairpin-only requester is
 * not a client. */
static void test_per_client(void **state) {
  const char *A1 = "10.0.0.2:5000", *A2 = "10.0.0.2:5001";
  const char *B1 = "10.1.0.2:7000";
  nat_replay_config cfg = {0};
  nat_replay *r;
  nat_obslog log, lb;
  nat_replay_diag d, db;
  char ip[NAT_ADDR_STRLEN];
  size_t i, found = 0;
  (void)state;
  r = mk(NULL);
  pkt(r, 0, A1, P, 1, NULL, 64, 0);
  pkt(r, 1, B1, P, 2, NULL, 128, 0);
  pkt(r, 2, P, A1, 1, "198.51.100.7:6000", 60, 0);
  pkt(r, 3, P, B1, 2, "198.51.100.8:7000", 60, 0);
  pkt(r, 4, A2, P, 3, NULL, 64, 0);
  pkt(r, 5, P, A2, 3, "198.51.100.7:6001", 60, 0);
  pkt(r, 6, B1, IP2, 4, NULL, 128, 0);
  pkt(r, 7, IP2, B1, 4, "198.51.100.8:7000", 60, 0);
  /* a hairpin request arriving at A2 from 198.51.100.9 (its departure
   * not captured): a request from a requester that is not a client */
  pkt(r, 8, "198.51.100.9:9000", A2, 5, NULL, 62, 0);
  pkt(r, 9, "198.51.100.9:9000", A2, 6, NULL, 62, 0);
  pkt(r, 9, "198.51.100.9:9000", A2, 7, NULL, 62, 0);
  finish(r, &log, &d);
  assert_int_equal(d.nclients, 3);
  /* the hairpin-only requester sent most requests, yet is not picked */
  assert_int_equal(d.client_requests[2], 3);
  assert_string_equal(nat_addr_format_ip(&d.client, ip, sizeof ip), "10.0.0.2");
  assert_int_equal(nat_obslog_count(&log), 3); /* A's basic + 2 alloc */
  for (i = 0; i < nat_obslog_count(&log); i++)
    assert_true(nat_addr_equal_ip(&nat_obslog_at(&log, i)->local, &d.client));
  assert_int_equal(d.other_client_obs, 2 + 3);
  assert_true(d.saw_translation);
  assert_int_equal(d.request_ttl, 64);
  assert_int_equal(nat_obslog_count(&log), 3);

  for (i = 0; i < d.nclients; i++) {
    int rv;
    nat_obslog_init(&lb);
    rv = nat_replay_finish_client(r, i, &lb, &db);
    nat_addr_format_ip(&d.clients[i], ip, sizeof ip);
    if (strcmp(ip, "198.51.100.9") == 0) {
      assert_int_equal(rv, NAT_ENOTFOUND);
      assert_int_equal(nat_obslog_count(&lb), 0);
      nat_obslog_free(&lb);
      continue;
    }
    assert_int_equal(rv, 0);
    found++;
    assert_true(nat_addr_equal_ip(&db.client, &d.clients[i]));
    assert_int_equal(db.point_inferred, NAT_REPLAY_AT_CLIENT);
    assert_true(db.inside);
    if (strcmp(ip, "10.1.0.2") == 0) {
      /* B: one socket, two server IPs: its own mapping test, its TTL */
      assert_int_equal(db.request_ttl, 128);
      assert_int_equal(db.nservers, 2);
      assert_int_equal(nat_obslog_count(&lb), 2);
      assert_true(db.measurable & NAT_REPLAY_M_MAPPING);
      assert_false(db.measurable & NAT_REPLAY_M_ALLOCATION);
      assert_int_equal(db.other_client_obs, 2 + 3);
      assert_int_equal(nat_analyze_mapping(&lb, NULL), NAT_BEH_EI);
    } else {
      /* A again: the same log as nat_replay_finish()'s */
      assert_int_equal(db.request_ttl, 64);
      assert_int_equal(nat_obslog_count(&lb), nat_obslog_count(&log));
      assert_int_equal(db.measurable, d.measurable);
      assert_int_equal(db.other_client_obs, d.other_client_obs);
    }
    for (size_t k = 0; k < nat_obslog_count(&lb); k++)
      assert_true(
          nat_addr_equal_ip(&nat_obslog_at(&lb, k)->local, &d.clients[i]));
    nat_obslog_free(&lb);
  }
  assert_int_equal(found, 2);
  nat_obslog_init(&lb);
  assert_int_equal(nat_replay_finish_client(r, d.nclients, &lb, &db),
                   NAT_EINVAL);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* before finish, and with --client: refused */
  cfg.client = A("10.0.0.2");
  r = mk(&cfg);
  pkt(r, 0, A1, P, 1, NULL, 64, 0);
  pkt(r, 2, P, A1, 1, "198.51.100.7:6000", 60, 0);
  assert_int_equal(nat_replay_finish_client(r, 0, &lb, &db), NAT_EINVAL);
  finish(r, &log, &d);
  assert_int_equal(d.request_ttl, 64);
  assert_int_equal(nat_replay_finish_client(r, 0, &lb, &db), NAT_EINVAL);
  nat_obslog_free(&log);
  nat_obslog_free(&lb);
  nat_replay_free(r);
}

/* A capture that starts mid-run: an answer whose request is not in it is
 * unmatched and makes no observation; a request seen only from its
 * retransmission counts as a request; a hairpin request sent before the
 * capture shows its target's mapping (learned from a later answer) is
 * still a hairpin request, answered by its arrival; one to the client's
 * public IP at a mapping no answer shows is a hairpin request if seen
 * arriving at a client socket, else left out (ignored) when unanswered,
 * not made a server; answered and never seen arriving, it stays a server
 * (a STUN server on the NAT's public address). */
static void test_capture_starts_mid_run(void **state) {
  const char *A1 = "10.0.0.2:5000", *A2 = "10.0.0.2:5001";
  const char *M1 = "198.51.100.7:6000", *M2 = "198.51.100.7:6001";
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_addr m1 = A(M1), m2 = A(M2), unknown = A("198.51.100.7:7777");
  size_t i, hairpins = 0;
  (void)state;
  resp(r, 0, P, A1, 9, M1, ALT, false); /* its request was cut */
  req(r, 1, A2, P, 2, 0, false);        /* a retransmission, first cut */
  resp(r, 2, P, A2, 2, M2, ALT, false);
  req(r, 3, A2, M1, 3, 0, false); /* hairpin: M1 not known yet */
  req(r, 4, M2, A1, 3, 0, false); /* ... arriving at A1 */
  req(r, 5, A2, "198.51.100.7:7777", 5, 0, false);
  /* to another mapping no answer shows, seen arriving at A1 and
   * answered by A1: a hairpin request all the same */
  req(r, 5, A2, "198.51.100.7:8888", 6, 0, false);
  req(r, 5, M2, A1, 6, 0, false);
  resp(r, 6, "198.51.100.7:8888", A2, 6, M2, NULL, false);
  /* answered at the public IP, never seen arriving: a server there */
  req(r, 5, A2, "198.51.100.7:3478", 7, 0, false);
  resp(r, 6, "198.51.100.7:3478", A2, 7, M2, NULL, false);
  req(r, 6, A1, P, 4, 0, false);
  resp(r, 7, P, A1, 4, M1, ALT, false); /* M1 learned now */
  finish(r, &log, &d);
  assert_int_equal(d.unmatched, 1);
  assert_int_equal(d.requests, 6);
  assert_int_equal(d.hairpin_requests, 2);
  assert_int_equal(d.hairpin_arrivals, 1);
  assert_int_equal(d.copies, 1); /* 8888's arrival: answered anyway */
  assert_int_equal(d.ignored, 1);
  assert_int_equal(d.nservers, 2);
  for (i = 0; i < nat_obslog_count(&log); i++) {
    const nat_obs *o = nat_obslog_at(&log, i);
    assert_false(nat_addr_equal(&o->server, &unknown));
    if (nat_addr_equal(&o->server, &m1) || o->server.port == 8888) {
      hairpins++;
      assert_int_equal(o->test, NAT_OBS_HAIRPIN);
      assert_int_equal(o->status, 0);
      if (o->server.port == 6000)
        assert_true(nat_addr_equal(&o->from, &m2));
    } else if (o->server.port == 3478 && o->server.ip[0] == 198) {
      assert_int_equal(o->server_idx, 1);
      assert_int_not_equal(o->test, NAT_OBS_HAIRPIN);
    } else {
      assert_int_equal(o->server_idx, 0);
      assert_int_equal(o->transmissions, 1);
      assert_int_equal(o->status, 0);
    }
  }
  assert_int_equal(hairpins, 2);
  assert_true(d.measurable & NAT_REPLAY_M_HAIRPIN);
  assert_int_equal(nat_analyze_hairpin(&log), NAT_TRI_YES);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Whether an explain line of @p v contains @p text. */
static bool explains(const nat_verdict *v, const char *text) {
  size_t i;
  for (i = 0; i < v->nexplain; i++)
    if (strstr(v->explain[i], text) != NULL)
      return true;
  return false;
}

/* Every request came as IP fragments and none was answered: dropped
 * fragments (natbox forwards none) look like blocked UDP, so the replay
 * says it cannot tell (nat_replay_udp_unknown); one whole request left
 * unanswered, or one answer, decides it again. */
static void test_udp_unknown_fragments(void **state) {
  static const struct {
    bool frag2;    /* the second request came as fragments */
    bool answered; /* the first request was answered */
    bool unknown;
  } cases[] = {{true, false, true}, {false, false, false}, {true, true, false}};
  size_t i;
  (void)state;
  assert_false(nat_replay_udp_unknown(NULL));
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nat_replay *r = mk(NULL);
    nat_obslog log = {0};
    nat_replay_diag d;
    nat_verdict v;
    nat_verdict_init(&v);
    pkt_ex(r, 0, "192.168.1.2:4000", P, 1, NULL, 64, 0, true);
    pkt_ex(r, 3000, "192.168.1.2:4000", P, 1, NULL, 64, 0, true);
    pkt_ex(r, 3100, "192.168.1.2:4000", IP2, 2, NULL, 64, 0, cases[i].frag2);
    if (cases[i].answered)
      pkt_ex(r, 3200, P, "192.168.1.2:4000", 1, "198.51.100.2:4000", 60, 0,
             true);
    finish(r, &log, &d);
    assert_int_equal(d.frag_requests, cases[i].frag2 ? 3 : 2);
    assert_int_equal(nat_replay_udp_unknown(&d), cases[i].unknown);
    assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
    assert_int_equal(explains(&v, "UDP reachability not measurable"),
                     cases[i].unknown);
    nat_verdict_free(&v);
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_capture_point_inferred),
      cmocka_unit_test(test_request_ttl_mode),
      cmocka_unit_test(test_udp_unknown_fragments),
      cmocka_unit_test(test_per_client),
      cmocka_unit_test(test_capture_starts_mid_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
