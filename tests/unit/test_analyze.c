/* The basic analyzer on synthetic observation logs: NAT present / absent /
 * unknown, public address agreement, unreachable servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "nat/analyze.h"
#include "nat/error.h"
#include "nat/obs.h"

static nat_addr addr(const char *s) {
  nat_addr a;
  memset(&a, 0, sizeof a);
  if (s != NULL)
    assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* A basic observation: @p mapped NULL means no mapped address; @p status
 * as in nat_obs. */
static nat_obs mk(uint16_t server, const char *srv, const char *local,
                  const char *mapped, int status, nat_tstamp rtt_ms) {
  nat_obs o;
  memset(&o, 0, sizeof o);
  o.server_idx = server;
  o.test = NAT_OBS_BASIC;
  o.server = addr(srv);
  o.local = addr(local);
  o.status = status;
  o.transmissions = 1;
  if (status == 0 || status == NAT_ESTUNERR) {
    o.from = o.server;
    o.rtt = rtt_ms * NAT_MILLISECONDS;
  }
  if (mapped != NULL) {
    o.has_mapped = true;
    o.mapped = addr(mapped);
  }
  return o;
}

static void add(nat_obslog *log, nat_obs o) {
  assert_int_equal(nat_obslog_append(log, &o), 0);
}

static void analyze(nat_analysis *a, const nat_obslog *log) {
  nat_analyze_init(a);
  assert_int_equal(nat_analyze_basic(a, log), 0);
}

static void test_obs_nat_verdicts(void **state) {
  nat_obs o;
  (void)state;
  o = mk(0, "198.51.100.1:3478", "192.0.2.5:4000", "192.0.2.5:4000", 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_NO);
  o = mk(0, "198.51.100.1:3478", "10.0.0.5:4000", "203.0.113.9:4000", 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_YES);
  /* same IP, port rewritten: still a translation */
  o = mk(0, "198.51.100.1:3478", "192.0.2.5:4000", "192.0.2.5:4001", 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_YES);
  /* unspecified or missing local address: cannot tell */
  o = mk(0, "198.51.100.1:3478", "0.0.0.0:4000", "203.0.113.9:4000", 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_UNKNOWN);
  o = mk(0, "[2001:db8::1]:3478", "[::]:4000", "[2001:db8::9]:4000", 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_UNKNOWN);
  o = mk(0, "198.51.100.1:3478", NULL, "203.0.113.9:4000", 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_UNKNOWN);
  /* no answer, or no mapped address */
  o = mk(0, "198.51.100.1:3478", "192.0.2.5:4000", NULL, NAT_ETIMEDOUT, 0);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_UNKNOWN);
  o = mk(0, "198.51.100.1:3478", "192.0.2.5:4000", NULL, 0, 5);
  assert_int_equal(nat_analyze_obs_nat(&o), NAT_TRI_UNKNOWN);
  assert_int_equal(nat_analyze_obs_nat(NULL), NAT_TRI_UNKNOWN);
  assert_string_equal(nat_tri_name(NAT_TRI_YES), "yes");
  assert_string_equal(nat_tri_name(NAT_TRI_NO), "no");
  assert_string_equal(nat_tri_name(NAT_TRI_UNKNOWN), "unknown");
}

static void test_no_nat(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_addr pub = addr("192.0.2.5");
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      mk(0, "198.51.100.1:3478", "192.0.2.5:4000", "192.0.2.5:4000", 0, 8));
  add(&log,
      mk(1, "198.51.100.2:3478", "192.0.2.5:4000", "192.0.2.5:4000", 0, 3));
  analyze(&a, &log);
  assert_true(a.udp_reachable);
  assert_int_equal(a.nservers, 2);
  assert_int_equal(a.v4.tried, 2);
  assert_int_equal(a.v4.answered, 2);
  assert_int_equal(a.v4.public_agree, NAT_AGREE_SAME);
  assert_true(nat_addr_equal(&a.v4.public_ip, &pub));
  assert_int_equal(a.v4.nat_present, NAT_TRI_NO);
  assert_int_equal(a.v6.tried, 0);
  assert_int_equal(a.v6.public_agree, NAT_AGREE_NONE);
  assert_int_equal(a.v6.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(a.nat_present, NAT_TRI_NO);
  assert_int_equal(a.servers[0].rtt, 8 * NAT_MILLISECONDS);
  assert_int_equal(a.servers[1].rtt, 3 * NAT_MILLISECONDS);
  assert_int_equal(a.servers[1].nat_present, NAT_TRI_NO);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_nat_present_agreeing_servers(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_addr pub = addr("203.0.113.7");
  (void)state;
  nat_obslog_init(&log);
  add(&log, mk(0, "198.51.100.1:3478", "192.168.1.5:4000", "203.0.113.7:61000",
               0, 20));
  /* another server sees another port: endpoint-dependent mapping, same IP */
  add(&log, mk(1, "198.51.100.2:19302", "192.168.1.5:4000", "203.0.113.7:61001",
               0, 30));
  analyze(&a, &log);
  assert_true(a.udp_reachable);
  assert_int_equal(a.v4.public_agree, NAT_AGREE_SAME);
  assert_true(nat_addr_equal(&a.v4.public_ip, &pub));
  assert_int_equal(a.v4.public_ip.port, 0);
  assert_int_equal(a.v4.nat_present, NAT_TRI_YES);
  assert_int_equal(a.nat_present, NAT_TRI_YES);
  assert_int_equal(a.servers[0].mapped.port, 61000);
  assert_int_equal(a.servers[1].mapped.port, 61001);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_public_address_varies(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_addr first = addr("203.0.113.7");
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      mk(0, "198.51.100.1:3478", "10.0.0.2:4000", "203.0.113.7:5000", 0, 20));
  add(&log,
      mk(1, "198.51.100.2:3478", "10.0.0.2:4000", "203.0.113.8:5000", 0, 20));
  analyze(&a, &log);
  assert_int_equal(a.v4.public_agree, NAT_AGREE_VARIES);
  assert_true(nat_addr_equal(&a.v4.public_ip, &first));
  assert_int_equal(a.v4.nat_present, NAT_TRI_YES);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_unknown_without_local(void **state) {
  nat_obslog log;
  nat_analysis a;
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      mk(0, "198.51.100.1:3478", "0.0.0.0:4000", "203.0.113.7:5000", 0, 20));
  analyze(&a, &log);
  assert_true(a.udp_reachable);
  assert_int_equal(a.v4.public_agree, NAT_AGREE_SAME);
  assert_int_equal(a.v4.nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(a.nat_present, NAT_TRI_UNKNOWN);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_unreachable_server(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_obs t;
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      mk(0, "198.51.100.1:3478", "192.0.2.5:4000", "192.0.2.5:4000", 0, 8));
  t = mk(1, "198.51.100.9:3478", "192.0.2.5:4000", NULL, NAT_ETIMEDOUT, 0);
  t.transmissions = 4;
  add(&log, t);
  analyze(&a, &log);
  assert_true(a.udp_reachable);
  assert_int_equal(a.nservers, 2);
  assert_true(a.servers[0].reachable);
  assert_false(a.servers[1].reachable);
  assert_false(a.servers[1].has_mapped);
  assert_int_equal(a.servers[1].rtt, 0);
  assert_int_equal(a.servers[1].obs_index, 1);
  assert_int_equal(a.v4.tried, 2);
  assert_int_equal(a.v4.answered, 1);
  assert_int_equal(a.v4.nat_present, NAT_TRI_NO);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_udp_blocked(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_obs r;
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      mk(0, "198.51.100.1:3478", "192.0.2.5:4000", NULL, NAT_ETIMEDOUT, 0));
  add(&log, mk(0, "[2001:db8::1]:3478", "[2001:db8::5]:4000", NULL,
               UV_ENETUNREACH, 0));
  /* a name that never resolved: no family */
  r = mk(1, NULL, NULL, NULL, NAT_ERESOLVE, 0);
  add(&log, r);
  analyze(&a, &log);
  assert_false(a.udp_reachable);
  assert_int_equal(a.nservers, 3);
  assert_int_equal(a.servers[0].family, NAT_AF_INET);
  assert_int_equal(a.servers[1].family, NAT_AF_INET6);
  assert_int_equal(a.servers[2].family, NAT_AF_NONE);
  assert_int_equal(a.v4.tried, 1);
  assert_int_equal(a.v6.tried, 1);
  assert_int_equal(a.v4.answered + a.v6.answered, 0);
  assert_int_equal(a.v4.public_agree, NAT_AGREE_NONE);
  assert_int_equal(a.v6.public_agree, NAT_AGREE_NONE);
  assert_int_equal(a.nat_present, NAT_TRI_UNKNOWN);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_families_and_rfc5780(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_obs o;
  nat_addr pub6 = addr("2001:db8::5");
  (void)state;
  nat_obslog_init(&log);
  o = mk(0, "198.51.100.1:3478", "10.0.0.2:4000", "203.0.113.7:5000", 0, 20);
  o.has_other_address = true;
  o.other_address = addr("198.51.100.2:3479");
  add(&log, o);
  add(&log, mk(0, "[2001:db8::1]:3478", "[2001:db8::5]:4001",
               "[2001:db8::5]:4001", 0, 21));
  analyze(&a, &log);
  assert_int_equal(a.nservers, 2);
  assert_true(a.servers[0].rfc5780);
  assert_false(a.servers[1].rfc5780);
  assert_int_equal(a.v4.nat_present, NAT_TRI_YES);
  assert_int_equal(a.v6.nat_present, NAT_TRI_NO);
  assert_int_equal(a.v6.public_agree, NAT_AGREE_SAME);
  assert_true(nat_addr_equal(&a.v6.public_ip, &pub6));
  assert_int_equal(a.nat_present, NAT_TRI_YES);
  nat_analyze_free(&a);
  nat_obslog_free(&log);
}

static void test_retry_then_answer_and_error_response(void **state) {
  nat_obslog log;
  nat_analysis a;
  nat_obs e;
  (void)state;
  nat_obslog_init(&log);
  add(&log,
      mk(0, "198.51.100.1:3478", "192.0.2.5:4000", NULL, NAT_ETIMEDOUT, 0));
  add(&log,
      mk(0, "198.51.100.1:3478", "192.0.2.5:4000", "192.0.2.5:4000", 0, 9));
  add(&log,
      mk(0, "198.51.100.1:3478", "192.0.2.5:4000", "192.0.2.5:4000", 0, 4));
  e = mk(1, "198.51.100.2:3478", "192.0.2.5:4000", NULL, NAT_ESTUNERR, 6);
  e.error_code = 420;
  add(&log, e);
  /* other tests do not count */
  e = mk(2, "198.51.100.3:3478", "192.0.2.5:4000", "203.0.113.1:1", 0, 1);
  e.test = NAT_OBS_FILTERING;
  add(&log, e);
  analyze(&a, &log);
  assert_int_equal(a.nservers, 2);
  assert_int_equal(a.servers[0].attempts, 3);
  assert_int_equal(a.servers[0].obs_index, 1);
  assert_true(a.servers[0].reachable);
  assert_int_equal(a.servers[0].rtt, 4 * NAT_MILLISECONDS);
  assert_true(a.servers[1].reachable);
  assert_false(a.servers[1].has_mapped);
  assert_int_equal(a.servers[1].rtt, 0); /* error responses give no RTT */
  assert_int_equal(a.servers[1].nat_present, NAT_TRI_UNKNOWN);
  assert_int_equal(a.v4.answered, 2);
  assert_int_equal(a.v4.public_agree, NAT_AGREE_SAME);
  assert_int_equal(a.v4.nat_present, NAT_TRI_NO);
  /* analyzing again resets the previous result */
  assert_int_equal(nat_analyze_basic(&a, &log), 0);
  assert_int_equal(a.nservers, 2);
  assert_int_equal(a.v4.tried, 2);
  assert_int_equal(nat_analyze_basic(NULL, &log), NAT_EINVAL);
  assert_int_equal(nat_analyze_basic(&a, NULL), NAT_EINVAL);
  nat_analyze_free(&a);
  nat_analyze_free(NULL);
  nat_obslog_free(&log);
}

static void test_empty_log(void **state) {
  nat_obslog log;
  nat_analysis a;
  (void)state;
  nat_obslog_init(&log);
  analyze(&a, &log);
  assert_false(a.udp_reachable);
  assert_int_equal(a.nservers, 0);
  assert_int_equal(a.nat_present, NAT_TRI_UNKNOWN);
  nat_analyze_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_obs_nat_verdicts),
      cmocka_unit_test(test_no_nat),
      cmocka_unit_test(test_nat_present_agreeing_servers),
      cmocka_unit_test(test_public_address_varies),
      cmocka_unit_test(test_unknown_without_local),
      cmocka_unit_test(test_unreachable_server),
      cmocka_unit_test(test_udp_blocked),
      cmocka_unit_test(test_families_and_rfc5780),
      cmocka_unit_test(test_retry_then_answer_and_error_response),
      cmocka_unit_test(test_empty_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
