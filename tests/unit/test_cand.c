/* Unit tests: candidates (nat/cand.h): the RFC 8445 priority formula,
 * foundations, validation of remote candidates, host selection, srflx
 * and predicted candidates. Pure; the driver is run once on the real
 * interfaces only to check it returns something consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nat/cand.h"
#include "nat/error.h"

static nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

static void test_priority(void **state) {
  (void)state;
  /* RFC 8445 5.1.2.1 with the recommended type preferences */
  assert_int_equal(nat_cand_priority(126, 65535, 1), 2130706431u);
  assert_int_equal(nat_cand_priority(110, 65535, 1), 1862270975u);
  assert_int_equal(nat_cand_priority(100, 65535, 1), 1694498815u);
  assert_int_equal(nat_cand_priority(0, 65535, 1), 16777215u);
  assert_int_equal(nat_cand_priority(126, 65535, 2), 2130706430u);
  assert_int_equal(nat_cand_priority(126, 0, 256), 2113929216u);
  assert_int_equal(nat_cand_priority(90, 65534, 1),
                   90u * 16777216u + 65534u * 256u + 255u);
  /* clamped */
  assert_int_equal(nat_cand_priority(200, 65535, 0), 2130706431u);
  assert_int_equal(nat_cand_type_pref(NAT_CAND_HOST), 126);
  assert_int_equal(nat_cand_type_pref(NAT_CAND_PRFLX), 110);
  assert_int_equal(nat_cand_type_pref(NAT_CAND_SRFLX), 100);
  assert_int_equal(nat_cand_type_pref(NAT_CAND_PREDICTED), 90);
  assert_int_equal(nat_cand_type_pref(NAT_CAND_RELAY), 0);
  assert_string_equal(nat_cand_type_name(NAT_CAND_PREDICTED), "predicted");
  assert_string_equal(nat_cand_type_name(77), "unknown");
}

static void test_make_and_foundation(void **state) {
  nat_cand h1, h2, s1, s2, s3;
  nat_addr base = A("10.0.0.2:5000"), stun1 = A("203.0.113.1:3478"),
           stun2 = A("203.0.113.9:3478");
  nat_addr m = A("198.51.100.1:40000");
  char buf[80];
  (void)state;
  assert_int_equal(nat_cand_make(&h1, NAT_CAND_HOST, &base, &base, NULL, 65535),
                   0);
  assert_int_equal(h1.priority, 2130706431u);
  assert_int_equal(strlen(h1.foundation), 8);
  nat_addr other = A("10.0.0.2:6000");
  nat_cand_make(&h2, NAT_CAND_HOST, &other, &other, NULL, 65535);
  assert_string_equal(h1.foundation, h2.foundation); /* same IP, type */
  assert_int_equal(nat_cand_make_srflx(&s1, &m, &base, &stun1), 0);
  assert_int_equal(s1.type, NAT_CAND_SRFLX);
  assert_int_equal(s1.priority, 1694498815u);
  assert_string_not_equal(s1.foundation, h1.foundation);
  nat_cand_make_srflx(&s2, &m, &base, &stun1);
  nat_cand_make_srflx(&s3, &m, &base, &stun2);
  assert_string_equal(s1.foundation, s2.foundation);
  assert_string_not_equal(s1.foundation, s3.foundation); /* other server */
  assert_string_equal(nat_cand_format(&s1, buf, sizeof buf),
                      "srflx 198.51.100.1:40000");
  assert_int_equal(nat_cand_make(&h1, 9, &base, NULL, NULL, 1), NAT_EINVAL);
  assert_int_equal(nat_cand_make(NULL, 0, &base, NULL, NULL, 1), NAT_EINVAL);
  nat_addr none;
  memset(&none, 0, sizeof none);
  assert_int_equal(nat_cand_make_srflx(&s1, &none, &base, NULL), NAT_EINVAL);
}

static void test_validate_table(void **state) {
  static const struct {
    const char *addr;
    int strict, loose;
  } t[] = {
      {"198.51.100.7:4000", NAT_CAND_OK, NAT_CAND_OK},
      {"10.1.2.3:4000", NAT_CAND_OK, NAT_CAND_OK},
      {"100.64.1.1:4000", NAT_CAND_OK, NAT_CAND_OK},
      {"[2001:db8::1]:4000", NAT_CAND_OK, NAT_CAND_OK},
      {"[fd00::1]:4000", NAT_CAND_OK, NAT_CAND_OK},
      {"127.0.0.1:4000", NAT_CAND_REJECT_LOOPBACK, NAT_CAND_OK},
      {"127.8.9.1:4000", NAT_CAND_REJECT_LOOPBACK, NAT_CAND_OK},
      {"[::1]:4000", NAT_CAND_REJECT_LOOPBACK, NAT_CAND_OK},
      {"[::ffff:127.0.0.1]:4000", NAT_CAND_REJECT_LOOPBACK, NAT_CAND_OK},
      {"169.254.3.4:4000", NAT_CAND_REJECT_LINK_LOCAL, NAT_CAND_OK},
      {"[fe80::1]:4000", NAT_CAND_REJECT_LINK_LOCAL, NAT_CAND_OK},
      {"224.0.0.251:5353", NAT_CAND_REJECT_MULTICAST,
       NAT_CAND_REJECT_MULTICAST},
      {"239.1.1.1:4000", NAT_CAND_REJECT_MULTICAST, NAT_CAND_REJECT_MULTICAST},
      {"[ff02::1]:4000", NAT_CAND_REJECT_MULTICAST, NAT_CAND_REJECT_MULTICAST},
      {"255.255.255.255:4000", NAT_CAND_REJECT_BROADCAST,
       NAT_CAND_REJECT_BROADCAST},
      {"192.168.7.255:4000", NAT_CAND_REJECT_SUBNET_BROADCAST,
       NAT_CAND_REJECT_SUBNET_BROADCAST},
      {"192.168.7.254:4000", NAT_CAND_OK, NAT_CAND_OK},
      {"10.255.255.255:4000", NAT_CAND_OK, NAT_CAND_OK}, /* not our subnet */
      {"0.0.0.0:4000", NAT_CAND_REJECT_UNSPECIFIED,
       NAT_CAND_REJECT_UNSPECIFIED},
      {"0.1.2.3:4000", NAT_CAND_REJECT_UNSPECIFIED,
       NAT_CAND_REJECT_UNSPECIFIED},
      {"[::]:4000", NAT_CAND_REJECT_UNSPECIFIED, NAT_CAND_REJECT_UNSPECIFIED},
      {"198.51.100.7:0", NAT_CAND_REJECT_PORT_ZERO, NAT_CAND_REJECT_PORT_ZERO},
      {"127.0.0.1:0", NAT_CAND_REJECT_PORT_ZERO, NAT_CAND_REJECT_PORT_ZERO},
  };
  nat_iface sub[2];
  nat_cand_policy strict, loose;
  nat_addr none;
  size_t i;
  (void)state;
  memset(sub, 0, sizeof sub);
  sub[0].addr = A("192.168.7.20");
  sub[0].prefix = 24;
  sub[1].addr = A("198.51.100.4"); /* a /31 has no broadcast */
  sub[1].prefix = 31;
  memset(&strict, 0, sizeof strict);
  strict.subnets = sub;
  strict.nsubnets = 2;
  loose = strict;
  loose.allow_loopback = true;
  for (i = 0; i < sizeof t / sizeof t[0]; i++) {
    nat_addr a = A(t[i].addr);
    assert_int_equal(nat_cand_validate_remote(&a, &strict), t[i].strict);
    assert_int_equal(nat_cand_validate_remote(&a, &loose), t[i].loose);
    assert_non_null(nat_cand_reject_strerror(t[i].strict));
  }
  nat_addr p = A("198.51.100.5:1");
  assert_int_equal(nat_cand_validate_remote(&p, &strict), NAT_CAND_OK);
  nat_addr lo = A("127.0.0.1:9");
  assert_int_equal(nat_cand_validate_remote(&lo, NULL),
                   NAT_CAND_REJECT_LOOPBACK);
  memset(&none, 0, sizeof none);
  assert_int_equal(nat_cand_validate_remote(&none, NULL),
                   NAT_CAND_REJECT_FAMILY);
  assert_int_equal(nat_cand_validate_remote(NULL, NULL),
                   NAT_CAND_REJECT_FAMILY);
  assert_string_equal(nat_cand_reject_strerror(NAT_CAND_REJECT_LOOPBACK),
                      "loopback address (allowed only for tests)");
}

static void test_select_host(void **state) {
  static const char *const in[] = {
      "127.0.0.1",  "10.0.0.2",     "fe80::1", "192.168.1.5",    "2001:db8::5",
      "100.64.0.9", "198.51.100.3", "fd12::7", "224.0.0.1",      "0.0.0.0",
      "10.0.0.2",   "::1",          "ff02::1", "255.255.255.255"};
  static const char *const want[] = {"[2001:db8::5]:5000", "198.51.100.3:5000",
                                     "[fd12::7]:5000",     "10.0.0.2:5000",
                                     "192.168.1.5:5000",   "100.64.0.9:5000"};
  static const char *const want_lo[] = {"[fe80::1]:5000", "[::1]:5000",
                                        "127.0.0.1:5000"};
  nat_iface ifs[14];
  nat_cand out[16];
  size_t n = 0, i;
  char buf[NAT_ADDR_STRLEN];
  (void)state;
  memset(ifs, 0, sizeof ifs);
  for (i = 0; i < 14; i++)
    ifs[i].addr = A(in[i]);
  assert_int_equal(nat_cand_select_host(ifs, 14, 5000, false, out, 16, &n), 0);
  assert_int_equal(n, 6);
  for (i = 0; i < n; i++) {
    assert_string_equal(nat_addr_format(&out[i].addr, buf, sizeof buf),
                        want[i]);
    assert_int_equal(out[i].type, NAT_CAND_HOST);
    assert_int_equal(out[i].priority,
                     nat_cand_priority(126, (uint16_t)(65535 - i), 1));
    assert_true(nat_addr_equal(&out[i].base, &out[i].addr));
  }
  assert_int_equal(nat_cand_select_host(ifs, 14, 5000, true, out, 16, &n), 0);
  assert_int_equal(n, 9);
  for (i = 0; i < 3; i++)
    assert_string_equal(nat_addr_format(&out[6 + i].addr, buf, sizeof buf),
                        want_lo[i]);
  /* max respected */
  assert_int_equal(nat_cand_select_host(ifs, 14, 5000, true, out, 2, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(nat_cand_select_host(NULL, 3, 5000, true, out, 2, &n),
                   NAT_EINVAL);
  assert_int_equal(nat_cand_select_host(NULL, 0, 5000, true, out, 2, &n), 0);
  assert_int_equal(n, 0);
}

static void test_predicted(void **state) {
  nat_prediction p;
  nat_cand out[NAT_PREDICT_MAX];
  nat_addr m = A("198.51.100.1:40000"), base = A("10.0.0.2:5000");
  size_t n = 0;
  (void)state;
  memset(&p, 0, sizeof p);
  p.n = 3;
  p.port[0] = 40002;
  p.port[1] = 40001;
  p.port[2] = 40003;
  assert_int_equal(nat_cand_make_predicted(&p, &m, &base, out, 16, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(out[0].type, NAT_CAND_PREDICTED);
  assert_int_equal(out[0].addr.port, 40002);
  assert_true(nat_addr_equal_ip(&out[2].addr, &m));
  assert_true(out[0].priority > out[1].priority);
  assert_true(out[1].priority > out[2].priority);
  assert_int_equal(out[0].priority, nat_cand_priority(90, 65535, 1));
  assert_int_equal(nat_cand_make_predicted(&p, &m, &base, out, 2, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(nat_cand_make_predicted(NULL, &m, &base, out, 2, &n),
                   NAT_EINVAL);
}

/* The driver on this machine's interfaces: whatever it finds passes the
 * selector's rules (with loopback allowed there is at least 127.0.0.1). */
static void test_gather_driver(void **state) {
  nat_cand out[32];
  nat_iface subs[16];
  size_t n = 0, ns = 0, i;
  (void)state;
  assert_int_equal(nat_cand_gather_host(4242, true, out, 32, &n, subs, 16, &ns),
                   0);
  assert_true(n >= 1);
  for (i = 0; i < n; i++) {
    assert_int_equal(out[i].addr.port, 4242);
    assert_int_equal(out[i].type, NAT_CAND_HOST);
  }
  assert_true(ns >= 1);
  assert_int_equal(
      nat_cand_gather_host(4242, false, out, 32, &n, NULL, 0, NULL), 0);
  for (i = 0; i < n; i++) {
    assert_false(nat_addr_is_loopback(&out[i].addr));
    assert_false(nat_addr_is_link_local(&out[i].addr));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_priority),
      cmocka_unit_test(test_make_and_foundation),
      cmocka_unit_test(test_validate_table),
      cmocka_unit_test(test_select_host),
      cmocka_unit_test(test_predicted),
      cmocka_unit_test(test_gather_driver),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
