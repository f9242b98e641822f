/* nat_addr: parsing, formatting, sockaddr conversion, classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "nat/addr.h"
#include "nat/error.h"

typedef struct parse_case {
  const char *in;
  int rv;
  const char *formatted; /* nat_addr_format() of the result when rv == 0 */
} parse_case;

static void test_parse_table(void **state) {
  static const parse_case cases[] = {
      {"1.2.3.4", 0, "1.2.3.4:3478"},
      {"1.2.3.4:5", 0, "1.2.3.4:5"},
      {"1.2.3.4:0", 0, "1.2.3.4:0"},
      {"255.255.255.255:65535", 0, "255.255.255.255:65535"},
      {"::1", 0, "[::1]:3478"},
      {"[::1]", 0, "[::1]:3478"},
      {"[2001:db8::1]:19302", 0, "[2001:db8::1]:19302"},
      {"fe80::1:2", 0, "[fe80::1:2]:3478"}, /* bare v6: colons are the IP */
      {"1.2.3.4:65536", NAT_EBADADDR, NULL},
      {"1.2.3.4:-1", NAT_EBADADDR, NULL},
      {"1.2.3.4:", NAT_EBADADDR, NULL},
      {"1.2.3.4:80x", NAT_EBADADDR, NULL},
      {"1.2.3", NAT_EBADADDR, NULL},
      {"256.1.1.1", NAT_EBADADDR, NULL},
      {"", NAT_EBADADDR, NULL},
      {":80", NAT_EBADADDR, NULL},
      {"[1.2.3.4]:80", NAT_EBADADDR, NULL}, /* brackets are for IPv6 */
      {"[::1", NAT_EBADADDR, NULL},
      {"[::1]x", NAT_EBADADDR, NULL},
      {"[]:80", NAT_EBADADDR, NULL},
      {"example.com", NAT_EBADADDR, NULL}, /* names are nat_resolve's */
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nat_addr a;
    char buf[NAT_ADDR_STRLEN];
    int rv = nat_addr_parse(&a, cases[i].in, 3478);
    if (rv != cases[i].rv)
      fail_msg("parse(\"%s\") = %d (%s), want %d", cases[i].in, rv,
               nat_err_name(rv), cases[i].rv);
    if (rv == 0)
      assert_string_equal(nat_addr_format(&a, buf, sizeof buf),
                          cases[i].formatted);
  }
  assert_int_equal(nat_addr_parse(NULL, "1.2.3.4", 0), NAT_EINVAL);
}

static void test_format_edge(void **state) {
  nat_addr a;
  char buf[NAT_ADDR_STRLEN], small[6];
  (void)state;
  memset(&a, 0, sizeof a);
  assert_string_equal(nat_addr_format(&a, buf, sizeof buf), "-");
  assert_int_equal(nat_addr_parse(&a,
                                  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:"
                                  "65535",
                                  0),
                   0);
  nat_addr_format(&a, buf, sizeof buf);
  assert_int_equal(strlen(buf), 47);
  /* Truncates, never overflows. */
  nat_addr_format(&a, small, sizeof small);
  assert_int_equal(strlen(small), 5);
  nat_addr_set_v4(&a, 0xC0000201u, 7);
  assert_string_equal(nat_addr_format(&a, buf, sizeof buf), "192.0.2.1:7");
  assert_string_equal(nat_addr_format_ip(&a, buf, sizeof buf), "192.0.2.1");
}

static void test_equal(void **state) {
  nat_addr a, b, c, d;
  (void)state;
  assert_int_equal(nat_addr_parse(&a, "192.0.2.1:10", 0), 0);
  assert_int_equal(nat_addr_parse(&b, "192.0.2.1:11", 0), 0);
  assert_int_equal(nat_addr_parse(&c, "192.0.2.1:10", 0), 0);
  assert_int_equal(nat_addr_parse(&d, "[::ffff:192.0.2.1]:10", 0), 0);
  assert_true(nat_addr_equal(&a, &c));
  assert_false(nat_addr_equal(&a, &b));
  assert_true(nat_addr_equal_ip(&a, &b));
  assert_false(nat_addr_equal_ip(&a, &d)); /* families differ */
}

static void test_sockaddr_roundtrip(void **state) {
  struct sockaddr_storage ss;
  nat_addr a, back;
  char buf[NAT_ADDR_STRLEN];
  (void)state;
  assert_int_equal(nat_addr_parse(&a, "198.51.100.7:3479", 0), 0);
  assert_int_equal(nat_addr_to_sockaddr(&a, (struct sockaddr *)&ss, sizeof ss),
                   (int)sizeof(struct sockaddr_in));
  assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(3479));
  assert_int_equal(nat_addr_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
  assert_true(nat_addr_equal(&a, &back));

  assert_int_equal(nat_addr_parse(&a, "[2001:db8::7]:1", 0), 0);
  assert_int_equal(nat_addr_to_sockaddr(&a, (struct sockaddr *)&ss, sizeof ss),
                   (int)sizeof(struct sockaddr_in6));
  assert_int_equal(nat_addr_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
  assert_string_equal(nat_addr_format(&back, buf, sizeof buf),
                      "[2001:db8::7]:1");
  assert_int_equal(nat_addr_to_sockaddr(&a, (struct sockaddr *)&ss, 8),
                   NAT_ENOBUFS);

  ss.ss_family = AF_UNIX;
  assert_int_equal(nat_addr_from_sockaddr(&back, (struct sockaddr *)&ss),
                   NAT_EBADFAMILY);
  memset(&a, 0, sizeof a);
  assert_int_equal(nat_addr_to_sockaddr(&a, (struct sockaddr *)&ss, sizeof ss),
                   NAT_EBADFAMILY);
}

typedef struct class_case {
  const char *ip;
  bool priv, shared, loop, ll, unspec, mcast;
} class_case;

static void test_classes(void **state) {
  static const class_case cases[] = {
      {"10.1.2.3", 1, 0, 0, 0, 0, 0},
      {"172.16.0.1", 1, 0, 0, 0, 0, 0},
      {"172.31.255.255", 1, 0, 0, 0, 0, 0},
      {"172.32.0.1", 0, 0, 0, 0, 0, 0},
      {"192.168.1.1", 1, 0, 0, 0, 0, 0},
      {"100.64.0.1", 0, 1, 0, 0, 0, 0},
      {"100.127.255.255", 0, 1, 0, 0, 0, 0},
      {"100.128.0.1", 0, 0, 0, 0, 0, 0},
      {"127.0.0.2", 0, 0, 1, 0, 0, 0},
      {"169.254.3.4", 0, 0, 0, 1, 0, 0},
      {"0.0.0.0", 0, 0, 0, 0, 1, 0},
      {"239.1.1.1", 0, 0, 0, 0, 0, 1},
      {"203.0.113.9", 0, 0, 0, 0, 0, 0},
      {"::1", 0, 0, 1, 0, 0, 0},
      {"::", 0, 0, 0, 0, 1, 0},
      {"fd00::1", 1, 0, 0, 0, 0, 0},
      {"fe80::1", 0, 0, 0, 1, 0, 0},
      {"febf::1", 0, 0, 0, 1, 0, 0},
      {"fec0::1", 0, 0, 0, 0, 0, 0},
      {"ff02::1", 0, 0, 0, 0, 0, 1},
      {"2001:db8::1", 0, 0, 0, 0, 0, 0},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nat_addr a;
    const class_case *c = &cases[i];
    assert_int_equal(nat_addr_parse(&a, c->ip, 1), 0);
    if (nat_addr_is_private(&a) != c->priv ||
        nat_addr_is_shared(&a) != c->shared ||
        nat_addr_is_loopback(&a) != c->loop ||
        nat_addr_is_link_local(&a) != c->ll ||
        nat_addr_is_unspecified(&a) != c->unspec ||
        nat_addr_is_multicast(&a) != c->mcast)
      fail_msg("wrong class for %s", c->ip);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_table),
      cmocka_unit_test(test_format_edge),
      cmocka_unit_test(test_equal),
      cmocka_unit_test(test_sockaddr_roundtrip),
      cmocka_unit_test(test_classes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
