/* Unit tests: nat_stunsrv_respond (nat/stunsrv.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/stunsrv.h"

static const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static nat_addr addr(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* A Binding request with optional CHANGE-REQUEST, RESPONSE-PORT, an extra
 * attribute type, and FINGERPRINT. */
static size_t request(uint8_t *buf, size_t cap, uint32_t change, uint16_t rport,
                      uint16_t extra, bool fp) {
  nat_stun_builder b;
  ssize_t n;
  assert_int_equal(nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING,
                                         NAT_STUN_REQUEST, tid),
                   0);
  if (change)
    nat_stun_add_change_request(&b, change);
  if (rport) {
    uint8_t v[4] = {(uint8_t)(rport >> 8), (uint8_t)rport, 0, 0};
    nat_stun_add_attr(&b, NAT_ATTR_RESPONSE_PORT, v, 4);
  }
  if (extra)
    nat_stun_add_attr(&b, extra, "abcd", 4);
  n = nat_stun_builder_finish(&b, fp);
  assert_true(n > 0);
  return (size_t)n;
}

static void decode(nat_stun_msg *m, const uint8_t *buf, ssize_t n) {
  assert_true(n > 0);
  assert_int_equal(nat_stun_decode(m, buf, (size_t)n), n);
}

static void test_plain_success(void **state) {
  uint8_t req[128], out[600];
  nat_addr from = addr("198.51.100.7:40001"), local = addr("10.0.0.2:5000");
  nat_addr got;
  nat_stunsrv_opts o = {.software = "test", .local = &local};
  nat_stunsrv_reply w;
  nat_stun_msg m;
  size_t len = request(req, sizeof req, 0, 0, 0, true);
  ssize_t n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  (void)state;
  decode(&m, out, n);
  assert_int_equal(m.cls, NAT_STUN_SUCCESS);
  assert_int_equal(m.method, NAT_STUN_BINDING);
  assert_memory_equal(m.tid, tid, 12);
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_XOR_MAPPED_ADDRESS, &got),
                   0);
  assert_true(nat_addr_equal(&got, &from));
  assert_true(m.fp_idx >= 0);
  assert_non_null(nat_stun_msg_find(&m, NAT_ATTR_SOFTWARE));
  /* no RFC 5780 service: no OTHER-ADDRESS, no RESPONSE-ORIGIN */
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_OTHER_ADDRESS));
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_RESPONSE_ORIGIN));
  assert_true(nat_addr_equal(&w.dst, &from));
  assert_true(nat_addr_equal(&w.src, &local));
  assert_false(w.error);

  /* without FINGERPRINT in the request, none in the response */
  len = request(req, sizeof req, 0, 0, 0, false);
  n = nat_stunsrv_respond(NULL, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_int_equal(m.fp_idx, -1);
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_SOFTWARE));
  assert_int_equal(w.src.family, NAT_AF_NONE);
}

static void test_ipv6(void **state) {
  uint8_t req[128], out[600];
  nat_addr from = addr("[2001:db8::7]:40001"), got;
  nat_stunsrv_reply w;
  nat_stun_msg m;
  size_t len = request(req, sizeof req, 0, 0, 0, true);
  ssize_t n = nat_stunsrv_respond(NULL, &from, req, len, out, sizeof out, &w);
  (void)state;
  decode(&m, out, n);
  assert_int_equal(nat_stun_msg_get_mapped(&m, &got), 0);
  assert_true(nat_addr_equal(&got, &from));
}

static void test_rfc5780(void **state) {
  uint8_t req[128], out[600];
  nat_addr from = addr("198.51.100.7:40001"), local = addr("203.0.113.1:3478");
  nat_addr other = addr("203.0.113.2:3479"), got;
  nat_stunsrv_opts o = {.local = &local, .other = &other};
  nat_stunsrv_reply w;
  nat_stun_msg m;
  size_t len;
  ssize_t n;
  (void)state;
  /* change IP and port: from the other address */
  len = request(req, sizeof req, NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT, 0,
                0, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_int_equal(m.cls, NAT_STUN_SUCCESS);
  assert_true(nat_addr_equal(&w.src, &other));
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_RESPONSE_ORIGIN, &got),
                   0);
  assert_true(nat_addr_equal(&got, &other));
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_OTHER_ADDRESS, &got), 0);
  assert_true(nat_addr_equal(&got, &other));
  /* change port only: primary IP, other port */
  len = request(req, sizeof req, NAT_STUN_CHANGE_PORT, 0, 0, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_true(nat_addr_equal(&w.src, &(nat_addr){.family = NAT_AF_INET,
                                                 .port = 3479,
                                                 .ip = {203, 0, 113, 1}}));
  /* change IP only */
  len = request(req, sizeof req, NAT_STUN_CHANGE_IP, 0, 0, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  assert_true(n > 0);
  assert_true(nat_addr_equal(&w.src, &(nat_addr){.family = NAT_AF_INET,
                                                 .port = 3478,
                                                 .ip = {203, 0, 113, 2}}));
  /* RESPONSE-PORT: same IP, that port; the mapped address is the source */
  len = request(req, sizeof req, 0, 41000, 0, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_int_equal(w.dst.port, 41000);
  assert_true(nat_addr_equal_ip(&w.dst, &from));
  assert_true(nat_addr_equal(&w.src, &local));
  assert_int_equal(nat_stun_msg_get_mapped(&m, &got), 0);
  assert_true(nat_addr_equal(&got, &from));
}

static void test_420(void **state) {
  uint8_t req[128], out[600];
  nat_addr from = addr("198.51.100.7:40001"), local = addr("10.0.0.2:5000");
  nat_stunsrv_opts o = {.local = &local};
  nat_stunsrv_reply w;
  nat_stun_msg m;
  uint16_t types[4];
  size_t len, nt;
  int code;
  const char *reason;
  size_t rlen;
  ssize_t n;
  (void)state;
  /* a plain server refuses CHANGE-REQUEST and RESPONSE-PORT with 420 */
  len = request(req, sizeof req, NAT_STUN_CHANGE_IP, 41000, 0, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_int_equal(m.cls, NAT_STUN_ERROR);
  assert_true(w.error);
  assert_true(nat_addr_equal(&w.dst, &from)); /* RESPONSE-PORT ignored */
  assert_int_equal(nat_stun_msg_get_error(&m, &code, &reason, &rlen), 0);
  assert_int_equal(code, 420);
  assert_int_equal(nat_stun_msg_get_unknown_attrs(&m, types, 4, &nt), 0);
  assert_int_equal(nt, 2);
  assert_int_equal(types[0], NAT_ATTR_CHANGE_REQUEST);
  assert_int_equal(types[1], NAT_ATTR_RESPONSE_PORT);
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_XOR_MAPPED_ADDRESS));
  /* an unknown comprehension-required attribute */
  len = request(req, sizeof req, 0, 0, 0x7F01, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_int_equal(nat_stun_msg_get_unknown_attrs(&m, types, 4, &nt), 0);
  assert_int_equal(nt, 1);
  assert_int_equal(types[0], 0x7F01);
  /* an unknown comprehension-optional one is ignored */
  len = request(req, sizeof req, 0, 0, 0xC001, true);
  n = nat_stunsrv_respond(&o, &from, req, len, out, sizeof out, &w);
  decode(&m, out, n);
  assert_int_equal(m.cls, NAT_STUN_SUCCESS);
}

static void test_refusals(void **state) {
  uint8_t req[128], out[600], resp[600];
  nat_addr from = addr("198.51.100.7:40001"), v6 = addr("[::1]:1");
  nat_addr local = addr("10.0.0.2:5000"), other = addr("10.0.0.3:5001");
  nat_stunsrv_opts o = {.local = &local};
  nat_stunsrv_reply w;
  size_t len = request(req, sizeof req, 0, 0, 0, true);
  ssize_t n;
  (void)state;
  assert_int_equal(nat_stunsrv_respond(NULL, NULL, req, len, out, 600, &w),
                   NAT_EINVAL);
  assert_int_equal(nat_stunsrv_respond(NULL, &from, NULL, len, out, 600, &w),
                   NAT_EINVAL);
  assert_int_equal(nat_stunsrv_respond(&o, &v6, req, len, out, 600, &w),
                   NAT_EINVAL);
  assert_int_equal(nat_stunsrv_respond(NULL, &from, req, len, out, 20, &w),
                   NAT_ENOBUFS);
  /* a response is never answered (no reflection loops) */
  n = nat_stunsrv_respond(NULL, &from, req, len, resp, sizeof resp, &w);
  assert_true(n > 0);
  assert_int_equal(
      nat_stunsrv_respond(NULL, &from, resp, (size_t)n, out, 600, &w),
      NAT_EBADCLASS);
  /* garbage and truncation */
  assert_int_equal(nat_stunsrv_respond(NULL, &from, req, 10, out, 600, &w),
                   NAT_ETRUNC);
  req[0] = 0xC0;
  assert_int_equal(nat_stunsrv_respond(NULL, &from, req, len, out, 600, &w),
                   NAT_ENOTSTUN);
  /* RFC 5780 service without the local address cannot honour a change */
  len = request(req, sizeof req, NAT_STUN_CHANGE_IP, 0, 0, true);
  o.local = NULL;
  o.other = &other;
  assert_int_equal(nat_stunsrv_respond(&o, &from, req, len, out, 600, &w),
                   NAT_EINVAL);
}

static void test_integrity(void **state) {
  uint8_t req[128], out[600];
  const uint8_t key[] = "secret";
  nat_addr from = addr("198.51.100.7:40001");
  nat_stunsrv_opts o = {.key = key, .keylen = 6};
  nat_stunsrv_reply w;
  nat_stun_builder b;
  nat_stun_msg m;
  size_t len = request(req, sizeof req, 0, 0, 0, true);
  ssize_t n;
  (void)state;
  assert_int_equal(nat_stunsrv_respond(&o, &from, req, len, out, 600, &w),
                   NAT_ENOINTEGRITY);
  nat_stun_builder_init(&b, req, sizeof req, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, "a:b");
  nat_stun_add_integrity(&b, (const uint8_t *)"wrong!", 6);
  n = nat_stun_builder_finish(&b, true);
  assert_int_equal(nat_stunsrv_respond(&o, &from, req, (size_t)n, out, 600, &w),
                   NAT_EINTEGRITY);
  nat_stun_builder_init(&b, req, sizeof req, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, "a:b");
  nat_stun_add_integrity(&b, key, 6);
  n = nat_stun_builder_finish(&b, true);
  n = nat_stunsrv_respond(&o, &from, req, (size_t)n, out, 600, &w);
  decode(&m, out, n);
  assert_int_equal(m.cls, NAT_STUN_SUCCESS);
  assert_int_equal(nat_stun_msg_check_integrity(&m, key, 6), 0);
}

static void test_classic(void **state) {
  uint8_t req[64], out[600], tid16[16];
  nat_addr from = addr("198.51.100.7:40001"), got;
  nat_stunsrv_reply w;
  nat_stun_builder b;
  nat_stun_msg m;
  ssize_t n;
  (void)state;
  memset(tid16, 0x5A, sizeof tid16);
  nat_stun_builder_init_classic(&b, req, sizeof req, NAT_STUN_BINDING,
                                NAT_STUN_REQUEST, tid16);
  n = nat_stun_builder_finish(&b, false);
  n = nat_stunsrv_respond(NULL, &from, req, (size_t)n, out, sizeof out, &w);
  decode(&m, out, n);
  assert_true(m.classic);
  assert_memory_equal(out + 4, tid16, 16);
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_MAPPED_ADDRESS, &got), 0);
  assert_true(nat_addr_equal(&got, &from));
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_XOR_MAPPED_ADDRESS));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_success), cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_rfc5780),       cmocka_unit_test(test_420),
      cmocka_unit_test(test_refusals),      cmocka_unit_test(test_integrity),
      cmocka_unit_test(test_classic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
