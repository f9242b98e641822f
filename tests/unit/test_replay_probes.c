/* Replay, issue 13 (second part): answers delivered through RESPONSE-PORT
 * and the lifetime probes they make (turnutils_natdiscovery -t), the
 * allocation measurable when the analyzer's rules for few samples decide,
 * requests to an untranslated "mapped" address (no hairpin test), and
 * netcheck's hop probes left out of the log. */
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

/* Feed a Binding request with ID @p n carrying RESPONSE-PORT @p rport and
 * CHANGE-REQUEST @p change (0: none). */
static void req_rport_change(nat_replay *r, nat_tstamp ms, const char *src,
                             const char *dst, unsigned n, uint16_t rport,
                             uint32_t change) {
  uint8_t buf[256], tid[12],
      v[4] = {(uint8_t)(rport >> 8), (uint8_t)rport, 0, 0};
  nat_stun_builder b;
  nat_addr s = A(src), d = A(dst);
  ssize_t len;
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0xA5;
  if (n > 255) { /* IDs beyond one byte: bytes 1 and 2 (resp() never
                    answers these) */
    tid[1] = (uint8_t)(n >> 8);
    tid[2] = (uint8_t)n;
  }
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_REQUEST, tid),
                   0);
  if (rport != 0)
    assert_int_equal(nat_stun_add_attr(&b, NAT_ATTR_RESPONSE_PORT, v, 4), 0);
  if (change != 0)
    assert_int_equal(nat_stun_add_change_request(&b, change), 0);
  len = nat_stun_builder_finish(&b, true);
  assert_true(len > 0);
  assert_int_equal(nat_replay_feed(r, T0 + ms * MS, &s, &d, buf, (size_t)len),
                   0);
}

static void req_rport(nat_replay *r, nat_tstamp ms, const char *src,
                      const char *dst, unsigned n, uint16_t rport) {
  req_rport_change(r, ms, src, dst, n, rport, 0);
}

static bool same(const nat_addr *a, const char *s) {
  nat_addr b = A(s);
  return nat_addr_equal(a, &b);
}

/* The observations of test @p test in @p log. */
static size_t count_test(const nat_obslog *log, uint8_t test,
                         const nat_obs **last) {
  size_t i, k = 0;
  for (i = 0; i < nat_obslog_count(log); i++)
    if (nat_obslog_at(log, i)->test == test) {
      k++;
      if (last != NULL)
        *last = nat_obslog_at(log, i);
    }
  return k;
}

#define X  "10.0.0.2:5000"
#define Y  "10.0.0.2:5001"
#define XM "198.51.100.7:6000"
#define YM "198.51.100.7:6001"

/* natdiscovery -t behind a NAT: X asks P, 2 s later Y asks P with
 * RESPONSE-PORT = X's mapped port; @p how: 0 the answer arrives at X, 1 it
 * never arrives, 2 it comes back to Y itself (RESPONSE-PORT ignored), 3 it
 * arrives at a socket that is neither (a hostile or unrelated answer). */
static void lifetime_run(nat_replay *r, int how) {
  req(r, 0, X, P, 1, 0, false);
  resp(r, 10, P, X, 1, XM, ALT, false);
  req_rport(r, 2000, Y, P, 2, 6000);
  if (how == 0)
    resp(r, 2001, P, X, 2, YM, ALT, false);
  else if (how == 2)
    resp(r, 2001, P, Y, 2, YM, ALT, false);
  else if (how == 3)
    resp(r, 2001, P, "10.0.0.2:5009", 2, YM, ALT, false);
}

static void test_lifetime_from_response_port(void **state) {
  nat_replay_config cfg = {.capture_point = NAT_REPLAY_AT_CLIENT};
  nat_replay *r = mk(&cfg);
  nat_obslog log;
  nat_replay_diag d;
  nat_verdict v;
  const nat_obs *o = NULL;
  (void)state;
  lifetime_run(r, 0);
  finish(r, &log, &d);
  /* the answer delivered to X pairs with Y's request: no copy */
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.timeouts + d.copies + d.spoofed, 0);
  assert_int_equal(count_test(&log, NAT_OBS_LIFETIME, &o), 1);
  assert_true(same(&o->local, Y));
  assert_int_equal(o->status, 0);
  assert_int_equal(o->response_port, 6000);
  assert_int_equal(o->idle, 1990 * MS); /* from X's answer at 10 ms */
  assert_true(same(&o->mapped, YM));
  assert_true(d.measurable & NAT_REPLAY_M_LIFETIME);
  /* idle only on the lifetime observation */
  for (size_t i = 0; i < nat_obslog_count(&log); i++)
    if (nat_obslog_at(&log, i)->test != NAT_OBS_LIFETIME)
      assert_int_equal(nat_obslog_at(&log, i)->idle, 0);
  nat_verdict_init(&v);
  assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
  assert_int_equal(v.lifetime_min, 1990 * MS);
  assert_int_equal(v.lifetime_max, 0);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* never delivered: the mapping did not survive 1990 ms (an upper
   * bound) */
  r = mk(&cfg);
  lifetime_run(r, 1);
  finish(r, &log, &d);
  assert_int_equal(count_test(&log, NAT_OBS_LIFETIME, &o), 1);
  assert_int_equal(o->status, NAT_ETIMEDOUT);
  assert_int_equal(o->idle, 1990 * MS);
  assert_true(d.measurable & NAT_REPLAY_M_LIFETIME);
  nat_verdict_init(&v);
  assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
  assert_int_equal(v.lifetime_min, 0);
  assert_int_equal(v.lifetime_max, 1990 * MS);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* answered at Y itself: the server ignored RESPONSE-PORT, no probe */
  r = mk(&cfg);
  lifetime_run(r, 2);
  finish(r, &log, &d);
  assert_int_equal(d.responses, 2);
  assert_int_equal(count_test(&log, NAT_OBS_LIFETIME, NULL), 0);
  assert_false(d.measurable & NAT_REPLAY_M_LIFETIME);
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_LIFETIME),
                      "no RESPONSE-PORT probe asked for an answer at a "
                      "socket left idle after its mapping was made");
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* delivered to a socket that is not X: not the answer it asked for */
  r = mk(&cfg);
  lifetime_run(r, 3);
  finish(r, &log, &d);
  assert_int_equal(d.responses, 1);
  assert_int_equal(d.copies, 1);
  assert_int_equal(d.timeouts, 1);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* No NAT (a public host's capture): the answer to RESPONSE-PORT reaches
 * that port itself and pairs, but a lifetime does not apply; outside the
 * NAT it is not measurable either. */
static void test_lifetime_needs_nat_inside(void **state) {
  nat_replay_config cfg = {.capture_point = NAT_REPLAY_AT_CLIENT};
  nat_replay *r = mk(&cfg);
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  req(r, 0, "198.51.100.2:5000", P, 1, 0, false);
  resp(r, 10, P, "198.51.100.2:5000", 1, "198.51.100.2:5000", ALT, false);
  req_rport(r, 2000, "198.51.100.2:5001", P, 2, 5000);
  resp(r, 2001, P, "198.51.100.2:5000", 2, "198.51.100.2:5001", ALT, false);
  finish(r, &log, &d);
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.copies, 0);
  assert_false(d.saw_translation);
  assert_false(d.measurable & NAT_REPLAY_M_LIFETIME);
  assert_string_equal(nat_replay_strerror(&d, NAT_REPLAY_M_LIFETIME),
                      "no NAT: a mapping lifetime does not apply");
  nat_obslog_free(&log);
  nat_replay_free(r);

  cfg.capture_point = NAT_REPLAY_OUTSIDE;
  r = mk(&cfg);
  lifetime_run(r, 0);
  finish(r, &log, &d);
  assert_false(d.measurable & NAT_REPLAY_M_LIFETIME);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Many RESPONSE-PORT requests to one idle socket (a hostile capture):
 * at most 256 are examined as lifetime probes, the rest stay plain
 * observations. */
static void test_lifetime_probe_cap(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  unsigned i;
  char src[32];
  (void)state;
  req(r, 0, X, P, 1, 0, false);
  resp(r, 10, P, X, 1, XM, ALT, false);
  for (i = 0; i < 300; i++) {
    snprintf(src, sizeof src, "10.0.0.2:%u", 20000 + i);
    req_rport(r, 2000 + i, src, P, 1000 + i, 6000);
  }
  finish(r, &log, &d);
  assert_int_equal(d.timeouts, 300);
  assert_int_equal(count_test(&log, NAT_OBS_LIFETIME, NULL), 256);
  assert_true(d.measurable & NAT_REPLAY_M_LIFETIME);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* turnutils_stunclient on a public host: socket 46326 asks IP1:P1, then
 * change IP+port with RESPONSE-PORT 46327, answered from IP2:P2 at 46327;
 * then 46327 sends its own change request, answered from IP2:P2. The
 * answer delivered through RESPONSE-PORT pairs, comes from an IP neither
 * socket sent to (EI filtering), and the two sockets' preserved ports
 * show a preserving allocation. */
static void test_stunclient_public(void **state) {
  nat_replay_config cfg = {.capture_point = NAT_REPLAY_AT_CLIENT};
  nat_replay *r = mk(&cfg);
  nat_obslog log;
  nat_replay_diag d;
  nat_verdict v;
  (void)state;
  req(r, 0, "198.51.100.2:46326", P, 1, 0, false);
  resp(r, 1, P, "198.51.100.2:46326", 1, "198.51.100.2:46326", ALT, false);
  req_rport_change(r, 2, "198.51.100.2:46326", P, 2, 46327, CIP | CPT);
  resp(r, 3, ALT, "198.51.100.2:46327", 2, "198.51.100.2:46326", ALT, false);
  req_rport_change(r, 4, "198.51.100.2:46327", P, 3, 0, CIP | CPT);
  resp(r, 5, ALT, "198.51.100.2:46327", 3, "198.51.100.2:46327", ALT, false);
  finish(r, &log, &d);
  assert_int_equal(d.responses, 3);
  assert_int_equal(d.copies + d.timeouts + d.spoofed, 0);
  assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
  assert_true(d.measurable & NAT_REPLAY_M_ALLOCATION);
  assert_false(d.measurable & NAT_REPLAY_M_LIFETIME);
  nat_verdict_init(&v);
  assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
  assert_int_equal(v.filtering, NAT_BEH_EI);
  assert_int_equal(v.alloc.kind, NAT_PA_PRESERVING);
  assert_int_equal(v.basic.nat_present, NAT_TRI_NO);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* Behind a NAT: socket Y opens IP1:P1, then change requests that ask
 * their answers at port + 1 (RESPONSE-PORT, as turnutils_stunclient
 * does), unanswered: the answers went towards another mapping (none
 * there), so their loss says nothing about Y's filter. They are left out
 * of the log; the same requests without RESPONSE-PORT rate the filter
 * (APD). */
static void test_change_answer_elsewhere_lost(void **state) {
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  nat_verdict v;
  int with;
  (void)state;
  for (with = 0; with < 2; with++) {
    uint16_t rp = with ? 5001 : 0;
    r = mk(NULL);
    req(r, 0, X, P, 1, 0, false);
    resp(r, 1, P, X, 1, XM, ALT, false);
    req_rport_change(r, 10, X, P, 2, rp, CIP | CPT);
    req_rport_change(r, 20, X, P, 3, rp, CPT);
    finish(r, &log, &d);
    assert_int_equal(d.timeouts, 2);
    nat_verdict_init(&v);
    assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
    if (with) {
      /* only the opening request, as a basic observation */
      assert_int_equal(nat_obslog_count(&log), 1);
      assert_int_equal(nat_obslog_at(&log, 0)->change_flags, 0);
      assert_false(d.measurable & NAT_REPLAY_M_FILTERING);
      assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
    } else {
      assert_int_equal(count_test(&log, NAT_OBS_FILTERING, NULL), 3);
      assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
      assert_int_equal(v.filtering, NAT_BEH_APD);
    }
    nat_verdict_free(&v);
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

/* A change-IP request answered at another socket X (RESPONSE-PORT): the
 * answer from IP2 proves an endpoint-independent filter only if X never
 * sent to IP2; if it did, the answer proves nothing and is left out (the
 * analyzer would read it as the requesting socket's EI). */
static void test_change_answer_elsewhere(void **state) {
  nat_replay_config cfg = {.capture_point = NAT_REPLAY_AT_CLIENT};
  nat_replay *r;
  nat_obslog log;
  nat_replay_diag d;
  nat_verdict v;
  int x_asked_ip2;
  (void)state;
  for (x_asked_ip2 = 0; x_asked_ip2 < 2; x_asked_ip2++) {
    const char *xdst = x_asked_ip2 ? IP2 : P;
    r = mk(&cfg);
    req(r, 0, "198.51.100.2:5002", xdst, 1, 0, false);
    resp(r, 1, xdst, "198.51.100.2:5002", 1, "198.51.100.2:5002", ALT, false);
    req(r, 10, "198.51.100.2:5001", P, 2, 0, false);
    resp(r, 11, P, "198.51.100.2:5001", 2, "198.51.100.2:5001", ALT, false);
    req_rport_change(r, 20, "198.51.100.2:5001", P, 3, 5002, CIP | CPT);
    resp(r, 21, ALT, "198.51.100.2:5002", 3, "198.51.100.2:5001", ALT, false);
    finish(r, &log, &d);
    assert_int_equal(d.responses, 3);
    assert_int_equal(d.copies, 0);
    nat_verdict_init(&v);
    assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
    if (x_asked_ip2) {
      for (size_t i = 0; i < nat_obslog_count(&log); i++)
        assert_int_equal(nat_obslog_at(&log, i)->change_flags, 0);
      assert_int_equal(v.filtering, NAT_BEH_UNKNOWN);
    } else {
      assert_true(d.measurable & NAT_REPLAY_M_FILTERING);
      assert_int_equal(v.filtering, NAT_BEH_EI);
    }
    nat_verdict_free(&v);
    nat_obslog_free(&log);
    nat_replay_free(r);
  }
}

/* natdiscovery -m -f's shape: socket A asks IP1:P1, IP2:P1, IP2:P2 (one
 * EI mapping), socket B opens IP1:P1 and sends change requests: no two
 * fresh single-destination sockets, but two mappings from two sockets.
 * Allocation is measurable when the rules for few samples decide
 * (preserved ports), not when they do not. */
static void alloc_run(nat_replay *r, const char *bmapped) {
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  resp(r, 1, P, "10.0.0.2:5000", 1, "198.51.100.7:5000", ALT, false);
  req(r, 2, "10.0.0.2:5000", IP2, 2, 0, false);
  resp(r, 3, IP2, "10.0.0.2:5000", 2, "198.51.100.7:5000", ALT, false);
  req(r, 4, "10.0.0.2:5000", ALT, 3, 0, false);
  resp(r, 5, ALT, "10.0.0.2:5000", 3, "198.51.100.7:5000", ALT, false);
  req(r, 10, "10.0.0.2:5001", P, 4, 0, false);
  resp(r, 11, P, "10.0.0.2:5001", 4, bmapped, ALT, false);
  req(r, 12, "10.0.0.2:5001", P, 5, CIP | CPT, false);
  req(r, 14, "10.0.0.2:5001", P, 6, CPT, false);
}

static void test_allocation_from_few_samples(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  nat_verdict v;
  (void)state;
  alloc_run(r, "198.51.100.7:5001");
  finish(r, &log, &d);
  assert_int_equal(count_test(&log, NAT_OBS_ALLOCATION, NULL), 0);
  assert_true(d.inside);
  assert_true(d.measurable & NAT_REPLAY_M_ALLOCATION);
  nat_verdict_init(&v);
  assert_int_equal(nat_replay_verdict(&v, &log, &d, NULL), 0);
  assert_int_equal(v.alloc.kind, NAT_PA_PRESERVING);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* socket B's port not preserved: two samples decide nothing */
  r = mk(NULL);
  alloc_run(r, "198.51.100.7:7777");
  finish(r, &log, &d);
  assert_false(d.measurable & NAT_REPLAY_M_ALLOCATION);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* No NAT: socket B's request to socket A's "mapped" address, which is
 * A's own local address, is no hairpin test: left out, counted as
 * ignored, hairpinning not measurable. Behind a NAT it stays one. */
static void test_untranslated_hairpin(void **state) {
  nat_replay_config cfg = {.capture_point = NAT_REPLAY_AT_CLIENT};
  nat_replay *r = mk(&cfg);
  nat_obslog log;
  nat_replay_diag d;
  (void)state;
  req(r, 0, "198.51.100.2:5000", P, 1, 0, false);
  resp(r, 1, P, "198.51.100.2:5000", 1, "198.51.100.2:5000", ALT, false);
  req(r, 10, "198.51.100.2:5001", "198.51.100.2:5000", 2, 0, false);
  finish(r, &log, &d);
  assert_int_equal(d.hairpin_requests, 0);
  assert_int_equal(d.ignored, 1);
  assert_int_equal(d.timeouts, 0);
  assert_int_equal(d.requests, 2);
  assert_int_equal(count_test(&log, NAT_OBS_HAIRPIN, NULL), 0);
  assert_int_equal(nat_obslog_count(&log), 1);
  assert_false(d.measurable & NAT_REPLAY_M_HAIRPIN);
  nat_obslog_free(&log);
  nat_replay_free(r);

  r = mk(&cfg);
  req(r, 0, "10.0.0.2:5000", P, 1, 0, false);
  resp(r, 1, P, "10.0.0.2:5000", 1, "198.51.100.7:6000", ALT, false);
  req(r, 10, "10.0.0.2:5001", "198.51.100.7:6000", 2, 0, false);
  finish(r, &log, &d);
  assert_int_equal(d.hairpin_requests, 1);
  assert_int_equal(count_test(&log, NAT_OBS_HAIRPIN, NULL), 1);
  assert_true(d.measurable & NAT_REPLAY_M_HAIRPIN);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

/* A request or (@p mapped) a response with ID @p n and IP TTL @p ttl,
 * as the capture reader gives it. */
static void ttl_pkt(nat_replay *r, nat_tstamp ms, const char *src,
                    const char *dst, unsigned n, const char *mapped,
                    uint8_t ttl) {
  pkt_ex(r, ms, src, dst, n, mapped, ttl, NAT_CAPDIR_UNKNOWN, false);
}

/* netcheck's hop probes: TTL 1..4 from the behaviour socket (one
 * answered by the server: it is 4 hops away), among requests with TTL
 * 64. They are left out of the log and counted; with no usual TTL of 32
 * or more (all small), nothing is taken for a hop probe. */
static void test_hop_probes(void **state) {
  nat_replay *r = mk(NULL);
  nat_obslog log;
  nat_replay_diag d;
  unsigned t;
  (void)state;
  ttl_pkt(r, 0, X, P, 1, NULL, 64);
  ttl_pkt(r, 1, P, X, 1, XM, 60);
  ttl_pkt(r, 2, X, IP2, 2, NULL, 64);
  ttl_pkt(r, 3, IP2, X, 2, XM, 60);
  for (t = 1; t <= 4; t++)
    ttl_pkt(r, 10, X, P, 10 + t, NULL, (uint8_t)t);
  ttl_pkt(r, 11, P, X, 14, XM, 60);
  finish(r, &log, &d);
  assert_int_equal(d.request_ttl, 64);
  assert_int_equal(d.hop_probes, 4);
  assert_int_equal(d.requests, 6);
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.timeouts, 0);
  for (size_t i = 0; i < nat_obslog_count(&log); i++)
    assert_true(same(&nat_obslog_at(&log, i)->server, P) ||
                same(&nat_obslog_at(&log, i)->server, IP2));
  /* the two servers' basic observations, both answered */
  assert_int_equal(count_test(&log, NAT_OBS_BASIC, NULL), 2);
  assert_int_equal(nat_obslog_count(&log), 2);
  assert_int_equal(nat_obslog_at(&log, 0)->status, 0);
  assert_int_equal(nat_obslog_at(&log, 1)->status, 0);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* a hop probe answered by an error response (the server refused it)
   * leaves the responses with the probe: the responses counted are the
   * two servers' answers only (it stayed 3, one answer too many) */
  r = mk(NULL);
  ttl_pkt(r, 0, X, P, 1, NULL, 64);
  ttl_pkt(r, 1, P, X, 1, XM, 60);
  ttl_pkt(r, 2, X, IP2, 2, NULL, 64);
  ttl_pkt(r, 3, IP2, X, 2, XM, 60);
  ttl_pkt(r, 10, X, P, 13, NULL, 4);
  pkt_msg(r, 11, P, X, 13, NAT_STUN_ERROR, NULL, 60, NAT_CAPDIR_UNKNOWN, false);
  finish(r, &log, &d);
  assert_int_equal(d.hop_probes, 1);
  assert_int_equal(d.requests, 3);
  assert_int_equal(d.responses, 2);
  assert_int_equal(d.timeouts, 0);
  assert_int_equal(nat_obslog_count(&log), 2);
  nat_obslog_free(&log);
  nat_replay_free(r);

  /* every request with a small TTL (a path of routers that set it so, or
   * only hop probes): no usual TTL to tell them apart, none dropped */
  r = mk(NULL);
  ttl_pkt(r, 0, X, P, 1, NULL, 8);
  ttl_pkt(r, 1, P, X, 1, XM, 60);
  finish(r, &log, &d);
  assert_int_equal(d.hop_probes, 0);
  assert_int_equal(nat_obslog_count(&log), 1);
  nat_obslog_free(&log);
  nat_replay_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lifetime_from_response_port),
      cmocka_unit_test(test_lifetime_needs_nat_inside),
      cmocka_unit_test(test_lifetime_probe_cap),
      cmocka_unit_test(test_stunclient_public),
      cmocka_unit_test(test_change_answer_elsewhere_lost),
      cmocka_unit_test(test_change_answer_elsewhere),
      cmocka_unit_test(test_allocation_from_few_samples),
      cmocka_unit_test(test_untranslated_hairpin),
      cmocka_unit_test(test_hop_probes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
