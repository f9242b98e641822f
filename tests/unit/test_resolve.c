/* nat_hostport_split and nat_resolve: literal addresses, /etc/hosts names
 * and a name that fails inside the resolver without any network traffic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/error.h"
#include "nat/resolve.h"

/* ------------------------------------------------------------- split */

typedef struct split_case {
  const char *in;
  int rv;
  const char *host;
  uint16_t port;
} split_case;

static void test_split_table(void **state) {
  static const split_case cases[] = {
      {"stun.example.org", 0, "stun.example.org", 3478},
      {"stun.example.org:19302", 0, "stun.example.org", 19302},
      {"localhost:65535", 0, "localhost", 65535},
      {"1.2.3.4", 0, "1.2.3.4", 3478},
      {"1.2.3.4:5", 0, "1.2.3.4", 5},
      {"[::1]:5349", 0, "::1", 5349},
      {"[::1]", 0, "::1", 3478},
      {"::1", 0, "::1", 3478},
      {"2001:db8::1", 0, "2001:db8::1", 3478},
      {"fe80::1:2", 0, "fe80::1:2", 3478}, /* bare v6: no port */
      {"[2001:db8::1]:1", 0, "2001:db8::1", 1},
      {"", NAT_EBADADDR, NULL, 0},
      {":3478", NAT_EBADADDR, NULL, 0},
      {"[]:1", NAT_EBADADDR, NULL, 0},
      {"[::1", NAT_EBADADDR, NULL, 0},
      {"[::1]x", NAT_EBADADDR, NULL, 0},
      {"[::1]:", NAT_EBADADDR, NULL, 0},
      {"[1.2.3.4]:5", NAT_EBADADDR, NULL, 0}, /* brackets are for IPv6 */
      {"[host]:5", NAT_EBADADDR, NULL, 0},
      {"host:", NAT_EBADADDR, NULL, 0},
      {"host:0", NAT_EBADADDR, NULL, 0},
      {"host:65536", NAT_EBADADDR, NULL, 0},
      {"host:123456", NAT_EBADADDR, NULL, 0},
      {"host:12a", NAT_EBADADDR, NULL, 0},
      {"host:-1", NAT_EBADADDR, NULL, 0},
      {"host:+1", NAT_EBADADDR, NULL, 0},
      {"host: 1", NAT_EBADADDR, NULL, 0},
      {"ho st", NAT_EBADADDR, NULL, 0},
      {"a/b:1", NAT_EBADADDR, NULL, 0},
      {"host\t", NAT_EBADADDR, NULL, 0},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char host[64];
    uint16_t port = 1;
    int rv = nat_hostport_split(cases[i].in, host, sizeof host, &port, 3478);
    if (rv != cases[i].rv)
      fail_msg("split(\"%s\") = %d (%s), want %d", cases[i].in, rv,
               nat_err_name(rv), cases[i].rv);
    if (rv == 0) {
      assert_string_equal(host, cases[i].host);
      assert_int_equal(port, cases[i].port);
    }
  }
}

static void test_split_buffers(void **state) {
  char host[4];
  uint16_t port = 0;
  (void)state;
  assert_int_equal(nat_hostport_split("abc:7", host, sizeof host, &port, 1), 0);
  assert_string_equal(host, "abc");
  assert_int_equal(port, 7);
  assert_int_equal(nat_hostport_split("abcd", host, sizeof host, &port, 1),
                   NAT_ENOBUFS);
  assert_int_equal(nat_hostport_split("[::1]", host, sizeof host, &port, 1), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 1);
  assert_int_equal(nat_hostport_split(NULL, host, sizeof host, &port, 1),
                   NAT_EINVAL);
  assert_int_equal(nat_hostport_split("a", NULL, 4, &port, 1), NAT_EINVAL);
  assert_int_equal(nat_hostport_split("a", host, sizeof host, NULL, 1),
                   NAT_EINVAL);
}

/* ----------------------------------------------------------- resolve */

typedef struct resolve_out {
  int calls;
  nat_resolve_result r;
  char name[128];
} resolve_out;

static void on_resolved(void *arg, const nat_resolve_result *r) {
  resolve_out *o = arg;
  o->calls++;
  o->r = *r;
  snprintf(o->name, sizeof o->name, "%s", r->name ? r->name : "(null)");
  o->r.name = NULL; /* only valid during the callback */
}

/* Resolve @p name and run the loop until the answer; checks that the
 * callback did not run inside nat_resolve() and ran exactly once. */
static void resolve_sync(const char *name, uint16_t def, uint8_t family,
                         resolve_out *o) {
  uv_loop_t loop;
  memset(o, 0, sizeof *o);
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(nat_resolve(&loop, name, def, family, on_resolved, o), 0);
  assert_int_equal(o->calls, 0); /* never synchronous */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(o->calls, 1);
  assert_string_equal(o->name, name);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void expect_addr(const nat_addr *a, const char *want) {
  char buf[NAT_ADDR_STRLEN];
  assert_string_equal(nat_addr_format(a, buf, sizeof buf), want);
}

static void test_resolve_literal_v4(void **state) {
  resolve_out o;
  (void)state;
  resolve_sync("127.0.0.1:3478", 1, NAT_AF_NONE, &o);
  assert_int_equal(o.r.status, 0);
  assert_int_equal(o.r.naddrs, 1);
  expect_addr(&o.r.addrs[0], "127.0.0.1:3478");

  resolve_sync("192.0.2.7", 3479, NAT_AF_INET, &o);
  assert_int_equal(o.r.status, 0);
  assert_int_equal(o.r.naddrs, 1);
  expect_addr(&o.r.addrs[0], "192.0.2.7:3479");
}

static void test_resolve_literal_v6(void **state) {
  resolve_out o;
  (void)state;
  resolve_sync("[::1]:5349", 1, NAT_AF_NONE, &o);
  assert_int_equal(o.r.status, 0);
  assert_int_equal(o.r.naddrs, 1);
  assert_int_equal(o.r.addrs[0].family, NAT_AF_INET6);
  expect_addr(&o.r.addrs[0], "[::1]:5349");

  resolve_sync("2001:db8::1", 3478, NAT_AF_INET6, &o);
  assert_int_equal(o.r.status, 0);
  expect_addr(&o.r.addrs[0], "[2001:db8::1]:3478");
}

static void test_resolve_literal_wrong_family(void **state) {
  resolve_out o;
  (void)state;
  resolve_sync("::1", 3478, NAT_AF_INET, &o);
  assert_int_equal(o.r.status, NAT_ERESOLVE);
  assert_int_equal(o.r.uv_status, UV_EAI_ADDRFAMILY);
  assert_int_equal(o.r.naddrs, 0);
}

static void test_resolve_localhost(void **state) {
  resolve_out o;
  bool seen_v4 = false, seen_v6 = false;
  nat_addr want;
  (void)state;
  assert_int_equal(nat_addr_parse(&want, "127.0.0.1:3478", 0), 0);
  resolve_sync("localhost", 3478, NAT_AF_NONE, &o);
  assert_int_equal(o.r.status, 0);
  assert_in_range(o.r.naddrs, 1, NAT_RESOLVE_MAX);
  for (size_t i = 0; i < o.r.naddrs; i++) {
    const nat_addr *a = &o.r.addrs[i];
    if (nat_addr_equal(a, &want))
      seen_v4 = true;
    if (a->family == NAT_AF_INET6)
      seen_v6 = true;
    else
      assert_false(seen_v6); /* IPv4 first, then IPv6 */
    assert_int_equal(a->port, 3478);
    for (size_t j = 0; j < i; j++) /* deduplicated */
      assert_false(nat_addr_equal(a, &o.r.addrs[j]));
  }
  assert_true(seen_v4);

  resolve_sync("localhost:9", 3478, NAT_AF_INET, &o);
  assert_int_equal(o.r.status, 0);
  for (size_t i = 0; i < o.r.naddrs; i++) {
    assert_int_equal(o.r.addrs[i].family, NAT_AF_INET);
    assert_int_equal(o.r.addrs[i].port, 9);
  }
}

/* A 64-character label is not a valid DNS name: glibc refuses it before
 * building a query (checked with strace: no packet is sent), so this fails
 * the same way, quickly, with or without a network. A plain
 * "nonexistent.invalid" would be sent to the configured DNS server. */
#define LONG_LABEL                                                             \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_resolve_failure(void **state) {
  resolve_out o;
  (void)state;
  assert_int_equal(strlen(LONG_LABEL), 64);
  resolve_sync(LONG_LABEL ".invalid:3478", 1, NAT_AF_NONE, &o);
  assert_int_equal(o.r.status, NAT_ERESOLVE);
  assert_true(o.r.uv_status < 0);
  assert_true(strncmp(nat_err_name(o.r.uv_status), "EAI_", 4) == 0 ||
              strncmp(nat_err_name(o.r.uv_status), "UV_EAI_", 7) == 0);
  assert_int_equal(o.r.naddrs, 0);
}

static void test_resolve_bad_input(void **state) {
  uv_loop_t loop;
  resolve_out o;
  (void)state;
  memset(&o, 0, sizeof o);
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(nat_resolve(&loop, "[foo]:1", 1, 0, on_resolved, &o),
                   NAT_EBADADDR);
  assert_int_equal(nat_resolve(&loop, "fe80::zz", 1, 0, on_resolved, &o),
                   NAT_EBADADDR);
  assert_int_equal(nat_resolve(&loop, "1.2.3.4:99999", 1, 0, on_resolved, &o),
                   NAT_EBADADDR);
  assert_int_equal(nat_resolve(&loop, "", 1, 0, on_resolved, &o), NAT_EBADADDR);
  assert_int_equal(nat_resolve(&loop, "localhost", 1, 0, NULL, &o), NAT_EINVAL);
  assert_int_equal(nat_resolve(&loop, NULL, 1, 0, on_resolved, &o), NAT_EINVAL);
  assert_int_equal(nat_resolve(&loop, "localhost", 1, 7, on_resolved, &o),
                   NAT_EINVAL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(o.calls, 0); /* failed at once: never called */
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Several resolutions in flight on one loop each answer once. */
static void test_resolve_many(void **state) {
  static const char *names[] = {"127.0.0.1", "[::1]:1", "localhost",
                                "10.0.0.1:2", LONG_LABEL ".invalid"};
  resolve_out o[5];
  uv_loop_t loop;
  (void)state;
  memset(o, 0, sizeof o);
  assert_int_equal(uv_loop_init(&loop), 0);
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(
        nat_resolve(&loop, names[i], 3478, NAT_AF_NONE, on_resolved, &o[i]), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(o[i].calls, 1);
    assert_string_equal(o[i].name, names[i]);
  }
  assert_int_equal(o[0].r.status, 0);
  assert_int_equal(o[1].r.status, 0);
  assert_int_equal(o[2].r.status, 0);
  assert_int_equal(o[3].r.status, 0);
  expect_addr(&o[3].r.addrs[0], "10.0.0.1:2");
  assert_int_equal(o[4].r.status, NAT_ERESOLVE);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_table),
      cmocka_unit_test(test_split_buffers),
      cmocka_unit_test(test_resolve_literal_v4),
      cmocka_unit_test(test_resolve_literal_v6),
      cmocka_unit_test(test_resolve_literal_wrong_family),
      cmocka_unit_test(test_resolve_localhost),
      cmocka_unit_test(test_resolve_failure),
      cmocka_unit_test(test_resolve_bad_input),
      cmocka_unit_test(test_resolve_many),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
