/* STUN codec: RFC 5769 vectors encoded and decoded byte for byte, a round
 * trip of every attribute type, XOR addresses, classic RFC 3489 messages,
 * the builder's sticky errors and the demultiplexing predicate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nat/error.h"
#include "nat/stun.h"

/* RFC 5769 section 2.1: sample request. USERNAME padding is 0x20. */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 section 2.2: IPv4 response. SOFTWARE padding is 0x20. */
static const uint8_t rfc5769_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 section 2.3: IPv6 response. SOFTWARE padding is 0x20. */
static const uint8_t rfc5769_resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const uint8_t rfc5769_tid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                        0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
static const char rfc5769_pw[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* 2001:db8:1234:5678:11:2233:4455:6677 */
static const uint8_t rfc5769_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34,
                                        0x56, 0x78, 0x00, 0x11, 0x22, 0x33,
                                        0x44, 0x55, 0x66, 0x77};

static nat_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  nat_addr x;
  memset(&x, 0, sizeof x);
  x.family = NAT_AF_INET;
  x.port = port;
  x.ip[0] = a;
  x.ip[1] = b;
  x.ip[2] = c;
  x.ip[3] = d;
  return x;
}

static nat_addr v6(const uint8_t ip[16], uint16_t port) {
  nat_addr x;
  memset(&x, 0, sizeof x);
  x.family = NAT_AF_INET6;
  x.port = port;
  memcpy(x.ip, ip, 16);
  return x;
}

static void assert_addr_eq(const nat_addr *a, const nat_addr *b) {
  assert_int_equal(a->family, b->family);
  assert_int_equal(a->port, b->port);
  assert_memory_equal(a->ip, b->ip, 16);
}

static void test_rfc5769_request_decode(void **state) {
  nat_stun_msg m;
  uint32_t prio = 0;
  uint64_t tie = 0;
  (void)state;
  assert_int_equal(nat_stun_decode(&m, rfc5769_req, sizeof rfc5769_req),
                   (ssize_t)sizeof rfc5769_req);
  assert_false(m.classic);
  assert_int_equal(m.method, NAT_STUN_BINDING);
  assert_int_equal(m.cls, NAT_STUN_REQUEST);
  assert_int_equal(m.cookie, NAT_STUN_MAGIC_COOKIE);
  assert_memory_equal(m.tid, rfc5769_tid, 12);
  assert_int_equal(m.nattrs, 6);
  assert_int_equal(m.mi_idx, 4);
  assert_int_equal(m.mi256_idx, -1);
  assert_int_equal(m.fp_idx, 5);
  assert_int_equal(m.nunknown, 0);
  const nat_stun_attr *sw = nat_stun_msg_find(&m, NAT_ATTR_SOFTWARE);
  assert_non_null(sw);
  assert_int_equal(sw->len, 16);
  assert_memory_equal(sw->value, "STUN test client", 16);
  const nat_stun_attr *user = nat_stun_msg_find(&m, NAT_ATTR_USERNAME);
  assert_non_null(user);
  assert_int_equal(user->len, 9); /* padding (0x20 here) excluded */
  assert_memory_equal(user->value, "evtj:h6vY", 9);
  assert_int_equal(nat_stun_msg_get_u32(&m, NAT_ATTR_PRIORITY, &prio), 0);
  assert_int_equal(prio, 0x6e0001ff);
  assert_int_equal(nat_stun_msg_get_u64(&m, NAT_ATTR_ICE_CONTROLLED, &tie), 0);
  assert_true(tie == 0x932ff9b151263b36ull);
  assert_int_equal(nat_stun_msg_check_integrity(&m, (const uint8_t *)rfc5769_pw,
                                                strlen(rfc5769_pw)),
                   0);
  assert_int_equal(nat_stun_msg_check_integrity(
                       &m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBT", 22),
                   NAT_EINTEGRITY);
  assert_true(nat_stun_is_stun(rfc5769_req, sizeof rfc5769_req));
}

/* Encode 2.1. Our encoder pads with zeros, the vector with 0x20: the
 * three USERNAME padding bytes are the only difference before
 * MESSAGE-INTEGRITY (checked first); then, with those bytes set to 0x20 in
 * the buffer before MESSAGE-INTEGRITY is computed, the whole message --
 * MESSAGE-INTEGRITY and FINGERPRINT included -- must be byte for byte. */
static void test_rfc5769_request_encode(void **state) {
  uint8_t buf[256];
  nat_stun_builder b;
  (void)state;
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_REQUEST, rfc5769_tid),
                   0);
  assert_int_equal(
      nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "STUN test client"), 0);
  assert_int_equal(nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 0x6e0001ff), 0);
  assert_int_equal(
      nat_stun_add_u64(&b, NAT_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull), 0);
  assert_int_equal(nat_stun_add_string(&b, NAT_ATTR_USERNAME, "evtj:h6vY"), 0);
  assert_int_equal(b.len, 76);
  assert_memory_equal(buf + 4, rfc5769_req + 4, 73 - 4);
  assert_memory_equal(buf + 73, "\0\0\0", 3);
  memset(buf + 73, 0x20, 3);
  assert_int_equal(nat_stun_add_integrity(&b, (const uint8_t *)rfc5769_pw,
                                          strlen(rfc5769_pw)),
                   0);
  assert_int_equal(nat_stun_builder_finish(&b, true),
                   (ssize_t)sizeof rfc5769_req);
  assert_memory_equal(buf, rfc5769_req, sizeof rfc5769_req);
}

static void check_response(const uint8_t *vec, size_t len,
                           const nat_addr *want) {
  nat_stun_msg m;
  nat_addr got;
  assert_int_equal(nat_stun_decode(&m, vec, len), (ssize_t)len);
  assert_int_equal(m.cls, NAT_STUN_SUCCESS);
  assert_int_equal(m.method, NAT_STUN_BINDING);
  assert_int_equal(m.nattrs, 4);
  const nat_stun_attr *sw = nat_stun_msg_find(&m, NAT_ATTR_SOFTWARE);
  assert_non_null(sw);
  assert_int_equal(sw->len, 11);
  assert_memory_equal(sw->value, "test vector", 11);
  assert_int_equal(nat_stun_msg_get_mapped(&m, &got), 0);
  assert_addr_eq(&got, want);
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_XOR_MAPPED_ADDRESS, &got),
                   0);
  assert_addr_eq(&got, want);
  assert_int_equal(nat_stun_msg_check_integrity(&m, (const uint8_t *)rfc5769_pw,
                                                strlen(rfc5769_pw)),
                   0);
  assert_true(nat_stun_is_stun(vec, len));
}

/* Encode a 2.2/2.3 response; SOFTWARE's one padding byte is set to the
 * vector's 0x20 before MESSAGE-INTEGRITY (see the request test). */
static void encode_response(const uint8_t *vec, size_t len,
                            const nat_addr *mapped) {
  uint8_t buf[256];
  nat_stun_builder b;
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_SUCCESS, rfc5769_tid),
                   0);
  assert_int_equal(nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "test vector"),
                   0);
  assert_int_equal(buf[35], 0);
  buf[35] = 0x20;
  assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, mapped),
                   0);
  assert_int_equal(nat_stun_add_integrity(&b, (const uint8_t *)rfc5769_pw,
                                          strlen(rfc5769_pw)),
                   0);
  assert_int_equal(nat_stun_builder_finish(&b, true), (ssize_t)len);
  assert_memory_equal(buf, vec, len);
}

static void test_rfc5769_ipv4_response(void **state) {
  nat_addr want = v4(192, 0, 2, 1, 32853);
  (void)state;
  check_response(rfc5769_resp4, sizeof rfc5769_resp4, &want);
  encode_response(rfc5769_resp4, sizeof rfc5769_resp4, &want);
}

static void test_rfc5769_ipv6_response(void **state) {
  nat_addr want = v6(rfc5769_ip6, 32853);
  (void)state;
  check_response(rfc5769_resp6, sizeof rfc5769_resp6, &want);
  encode_response(rfc5769_resp6, sizeof rfc5769_resp6, &want);
}

/* The XOR is real: the raw IPv6 bytes are address XOR cookie || tid. */
static void test_xor_ipv6_bytes(void **state) {
  uint8_t buf[128];
  nat_stun_builder b;
  nat_addr a = v6(rfc5769_ip6, 0x1234), got;
  nat_stun_msg m;
  (void)state;
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        rfc5769_tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &a);
  nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &a);
  ssize_t n = nat_stun_builder_finish(&b, false);
  assert_int_equal(n, 20 + 24 + 24);
  assert_int_equal(buf[22], 0);
  assert_int_equal(buf[23], 20);
  assert_int_equal(buf[25], NAT_AF_INET6);
  assert_int_equal(buf[26], 0x12 ^ 0x21);
  assert_int_equal(buf[27], 0x34 ^ 0x12);
  for (size_t i = 0; i < 16; i++) {
    assert_int_equal(buf[28 + i], rfc5769_ip6[i] ^ buf[4 + i]);
    assert_int_equal(buf[52 + i], rfc5769_ip6[i]); /* plain one */
  }
  assert_int_equal(nat_stun_decode(&m, buf, (size_t)n), n);
  assert_int_equal(nat_stun_msg_get_mapped(&m, &got), 0);
  assert_addr_eq(&got, &a);
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_MAPPED_ADDRESS, &got), 0);
  assert_addr_eq(&got, &a);
}

/* Every attribute type of stun.h: encode with the builder, decode, read
 * back with the getters. */
static const uint16_t rt_unk[] = {0x7f01, 0x0012, 0x0033};
static const uint8_t rt_pwalg[] = {0x00, 0x02, 0x00, 0x00};
static const uint8_t rt_pwalgs[] = {0x00, 0x01, 0x00, 0x00,
                                    0x00, 0x02, 0x00, 0x00};
static const uint8_t rt_rport[] = {0xbe, 0xef, 0x00, 0x00};
static const uint8_t rt_key[] = "secret";
static uint8_t rt_userhash[32], rt_pad[37];
static nat_addr rt_a4, rt_a6;

static const struct {
  uint16_t type;
  const nat_addr *a;
} rt_addrs[] = {
    {NAT_ATTR_MAPPED_ADDRESS, &rt_a4},   {NAT_ATTR_RESPONSE_ADDRESS, &rt_a6},
    {NAT_ATTR_SOURCE_ADDRESS, &rt_a4},   {NAT_ATTR_CHANGED_ADDRESS, &rt_a6},
    {NAT_ATTR_REFLECTED_FROM, &rt_a4},   {NAT_ATTR_XOR_MAPPED_ADDRESS, &rt_a6},
    {NAT_ATTR_ALTERNATE_SERVER, &rt_a6}, {NAT_ATTR_RESPONSE_ORIGIN, &rt_a4},
    {NAT_ATTR_OTHER_ADDRESS, &rt_a6}};

static const struct {
  uint16_t type;
  const void *v;
  size_t len;
} rt_raw[] = {{NAT_ATTR_USERNAME, "alice", 5},
              {NAT_ATTR_PASSWORD, "pw", 2},
              {NAT_ATTR_REALM, "example.org", 11},
              {NAT_ATTR_NONCE, "obMatJos2AAACf//499k954d6OL34oL9", 32},
              {NAT_ATTR_PASSWORD_ALGORITHM, rt_pwalg, 4},
              {NAT_ATTR_USERHASH, rt_userhash, 32},
              {NAT_ATTR_PADDING, rt_pad, 37},
              {NAT_ATTR_USE_CANDIDATE, "", 0},
              {NAT_ATTR_PASSWORD_ALGORITHMS, rt_pwalgs, 8},
              {NAT_ATTR_ALTERNATE_DOMAIN, "stun.example.net", 16},
              {NAT_ATTR_SOFTWARE, "libnat test", 11}};

static ssize_t build_every_attr(uint8_t *buf, size_t cap) {
  uint8_t tid[12];
  nat_stun_builder b;
  memset(rt_userhash, 0xab, sizeof rt_userhash);
  memset(tid, 0x5a, sizeof tid);
  rt_a4 = v4(198, 51, 100, 7, 3478);
  rt_a6 = v6(rfc5769_ip6, 65535);
  assert_int_equal(
      nat_stun_builder_init(&b, buf, cap, 0xABC, NAT_STUN_ERROR, tid), 0);
  for (size_t i = 0; i < sizeof rt_addrs / sizeof rt_addrs[0]; i++) {
    assert_int_equal(nat_stun_add_addr(&b, rt_addrs[i].type, rt_addrs[i].a), 0);
  }
  assert_int_equal(nat_stun_add_change_request(&b, NAT_STUN_CHANGE_IP |
                                                       NAT_STUN_CHANGE_PORT),
                   0);
  assert_int_equal(nat_stun_add_error(&b, 438, "Stale Nonce"), 0);
  assert_int_equal(nat_stun_add_unknown_attrs(&b, rt_unk, 3), 0);
  for (size_t i = 0; i < sizeof rt_raw / sizeof rt_raw[0]; i++) {
    if (rt_raw[i].type == NAT_ATTR_USERNAME ||
        rt_raw[i].type == NAT_ATTR_SOFTWARE) {
      assert_int_equal(nat_stun_add_string(&b, rt_raw[i].type, rt_raw[i].v), 0);
    } else {
      assert_int_equal(
          nat_stun_add_attr(&b, rt_raw[i].type, rt_raw[i].v, rt_raw[i].len), 0);
    }
  }
  nat_stun_add_attr(&b, NAT_ATTR_RESPONSE_PORT, rt_rport, sizeof rt_rport);
  nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 0x7e7f00ff);
  nat_stun_add_u64(&b, NAT_ATTR_ICE_CONTROLLED, 0x0102030405060708ull);
  nat_stun_add_u64(&b, NAT_ATTR_ICE_CONTROLLING, 0xf1f2f3f4f5f6f7f8ull);
  assert_int_equal(nat_stun_add_integrity(&b, rt_key, 6), 0);
  assert_int_equal(nat_stun_add_integrity_sha256(&b, rt_key, 6, 32), 0);
  return nat_stun_builder_finish(&b, true);
}

static void check_typed_getters(const nat_stun_msg *m) {
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  uint16_t port = 0, types[2];
  int code = 0;
  const char *reason = NULL;
  size_t rlen = 0, nt = 0;
  assert_int_equal(nat_stun_msg_get_u32(m, NAT_ATTR_CHANGE_REQUEST, &u32), 0);
  assert_int_equal(u32, 6);
  assert_int_equal(nat_stun_msg_get_u32(m, NAT_ATTR_PRIORITY, &u32), 0);
  assert_int_equal(u32, 0x7e7f00ff);
  assert_int_equal(nat_stun_msg_get_u64(m, NAT_ATTR_ICE_CONTROLLED, &u64), 0);
  assert_true(u64 == 0x0102030405060708ull);
  assert_int_equal(nat_stun_msg_get_u64(m, NAT_ATTR_ICE_CONTROLLING, &u64), 0);
  assert_true(u64 == 0xf1f2f3f4f5f6f7f8ull);
  assert_int_equal(nat_stun_msg_get_response_port(m, &port), 0);
  assert_int_equal(port, 0xbeef);
  assert_int_equal(nat_stun_msg_get_error(m, &code, &reason, &rlen), 0);
  assert_int_equal(code, 438);
  assert_int_equal(rlen, 11);
  assert_memory_equal(reason, "Stale Nonce", 11);
  assert_int_equal(nat_stun_msg_get_unknown_attrs(m, types, 2, &nt), 0);
  assert_int_equal(nt, 3);
  assert_int_equal(types[0], 0x7f01);
  assert_int_equal(types[1], 0x0012);
  assert_int_equal(nat_stun_msg_get_u32(m, NAT_ATTR_FINGERPRINT, &u32), 0);
}

static void test_round_trip_every_attr(void **state) {
  static uint8_t buf[2048];
  nat_stun_msg m;
  nat_addr got;
  (void)state;
  ssize_t n = build_every_attr(buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(nat_stun_decode(&m, buf, (size_t)n), n);
  assert_int_equal(m.method, 0xABC);
  assert_int_equal(m.cls, NAT_STUN_ERROR);
  assert_int_equal(m.nattrs, 30);
  assert_int_equal(m.mi_idx, 27);
  assert_int_equal(m.mi256_idx, 28);
  assert_int_equal(m.fp_idx, 29);
  assert_int_equal(m.nunknown, 0);
  for (size_t i = 0; i < m.nattrs; i++) {
    assert_string_not_equal(nat_stun_attr_name(m.attrs[i].type), "UNKNOWN");
  }
  for (size_t i = 0; i < sizeof rt_addrs / sizeof rt_addrs[0]; i++) {
    assert_int_equal(nat_stun_msg_get_addr(&m, rt_addrs[i].type, &got), 0);
    assert_addr_eq(&got, rt_addrs[i].a);
  }
  check_typed_getters(&m);
  for (size_t i = 0; i < sizeof rt_raw / sizeof rt_raw[0]; i++) {
    const nat_stun_attr *at = nat_stun_msg_find(&m, rt_raw[i].type);
    assert_non_null(at);
    assert_int_equal(at->len, rt_raw[i].len);
    assert_memory_equal(at->value, rt_raw[i].v, rt_raw[i].len);
  }
  assert_int_equal(nat_stun_msg_check_integrity(&m, rt_key, 6), 0);
}

static void test_getter_errors(void **state) {
  nat_stun_msg m;
  uint32_t u32;
  uint64_t u64;
  uint16_t port;
  nat_addr a;
  int code;
  size_t n;
  (void)state;
  assert_int_equal(nat_stun_decode(&m, rfc5769_req, sizeof rfc5769_req),
                   (ssize_t)sizeof rfc5769_req);
  assert_int_equal(nat_stun_msg_get_u32(&m, NAT_ATTR_ICE_CONTROLLED, &u32),
                   NAT_EBADATTR);
  assert_int_equal(nat_stun_msg_get_u64(&m, NAT_ATTR_PRIORITY, &u64),
                   NAT_EBADATTR);
  assert_int_equal(nat_stun_msg_get_u32(&m, NAT_ATTR_CHANGE_REQUEST, &u32),
                   NAT_ENOTFOUND);
  assert_int_equal(nat_stun_msg_get_mapped(&m, &a), NAT_ENOTFOUND);
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_OTHER_ADDRESS, &a),
                   NAT_ENOTFOUND);
  assert_int_equal(nat_stun_msg_get_error(&m, &code, NULL, NULL),
                   NAT_ENOTFOUND);
  assert_int_equal(nat_stun_msg_get_response_port(&m, &port), NAT_ENOTFOUND);
  assert_int_equal(nat_stun_msg_get_unknown_attrs(&m, NULL, 0, &n),
                   NAT_ENOTFOUND);
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_REALM));
  /* a getter reading an address from a non-address attribute */
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_SOFTWARE, &a),
                   NAT_EBADFAMILY);
}

/* Classic RFC 3489: 16-byte ID, no cookie, plain addresses; the RFC 3489
 * MESSAGE-INTEGRITY zero-pads the text to a multiple of 64 bytes. */
static void test_classic_round_trip(void **state) {
  const uint8_t tid16[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                             5,    6,    7,    8,    9, 10, 11, 12};
  uint8_t buf[256], mac[20];
  unsigned int maclen = 0;
  nat_addr a = v4(203, 0, 113, 5, 40000), c = v4(203, 0, 113, 6, 3479), got;
  nat_stun_builder b;
  nat_stun_msg m;
  (void)state;
  assert_int_equal(nat_stun_builder_init_classic(&b, buf, sizeof buf,
                                                 NAT_STUN_BINDING,
                                                 NAT_STUN_SUCCESS, tid16),
                   0);
  nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &a);
  nat_stun_add_addr(&b, NAT_ATTR_CHANGED_ADDRESS, &c);
  nat_stun_add_addr(&b, NAT_ATTR_SOURCE_ADDRESS, &c);
  assert_int_equal(nat_stun_add_integrity(&b, (const uint8_t *)"k", 1), 0);
  ssize_t n = nat_stun_builder_finish(&b, false);
  assert_int_equal(n, 20 + 3 * 12 + 24);
  assert_memory_equal(buf + 4, tid16, 16);
  assert_false(nat_stun_is_stun(buf, (size_t)n));
  assert_int_equal(nat_stun_decode(&m, buf, (size_t)n), n);
  assert_true(m.classic);
  assert_int_equal(m.cookie, 0xdeadbeef);
  assert_memory_equal(m.tid, tid16 + 4, 12);
  assert_int_equal(m.cls, NAT_STUN_SUCCESS);
  assert_int_equal(nat_stun_msg_get_mapped(&m, &got), 0);
  assert_addr_eq(&got, &a);
  assert_int_equal(nat_stun_msg_get_addr(&m, NAT_ATTR_CHANGED_ADDRESS, &got),
                   0);
  assert_addr_eq(&got, &c);
  assert_int_equal(nat_stun_msg_check_integrity(&m, (const uint8_t *)"k", 1),
                   0);
  /* independent check: HMAC-SHA1 over the 56 bytes before MI + 8 zeros */
  uint8_t text[64] = {0};
  memcpy(text, buf, 56);
  HMAC(EVP_sha1(), "k", 1, text, sizeof text, mac, &maclen);
  assert_int_equal(maclen, 20);
  assert_memory_equal(buf + 60, mac, 20);
  /* FINGERPRINT has no meaning in RFC 3489 */
  nat_stun_builder_init_classic(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                NAT_STUN_REQUEST, tid16);
  assert_int_equal(nat_stun_builder_finish(&b, true), NAT_EINVAL);
  /* an ID starting with the magic cookie would not be classic */
  const uint8_t bad16[16] = {0x21, 0x12, 0xa4, 0x42};
  assert_int_equal(nat_stun_builder_init_classic(&b, buf, sizeof buf,
                                                 NAT_STUN_BINDING,
                                                 NAT_STUN_REQUEST, bad16),
                   NAT_EINVAL);
}

static void test_type_bits(void **state) {
  uint8_t buf[64], tid[12] = {0};
  nat_stun_builder b;
  nat_stun_msg m;
  const struct {
    uint16_t method;
    uint8_t cls;
    uint16_t type;
  } rows[] = {
      {0x001, NAT_STUN_REQUEST, 0x0001}, {0x001, NAT_STUN_INDICATION, 0x0011},
      {0x001, NAT_STUN_SUCCESS, 0x0101}, {0x001, NAT_STUN_ERROR, 0x0111},
      {0xFFF, NAT_STUN_ERROR, 0x3FFF},   {0xF80, NAT_STUN_REQUEST, 0x3E00},
      {0x070, NAT_STUN_REQUEST, 0x00E0}};
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    nat_stun_builder_init(&b, buf, sizeof buf, rows[i].method, rows[i].cls,
                          tid);
    assert_int_equal(nat_stun_builder_finish(&b, false), 20);
    assert_int_equal(buf[0] << 8 | buf[1], rows[i].type);
    assert_int_equal(nat_stun_decode(&m, buf, 20), 20);
    assert_int_equal(m.method, rows[i].method);
    assert_int_equal(m.cls, rows[i].cls);
  }
  assert_string_equal(nat_stun_class_name(NAT_STUN_REQUEST), "request");
  assert_string_equal(nat_stun_class_name(NAT_STUN_INDICATION), "indication");
  assert_string_equal(nat_stun_class_name(NAT_STUN_SUCCESS), "success");
  assert_string_equal(nat_stun_class_name(NAT_STUN_ERROR), "error");
  assert_string_equal(nat_stun_class_name(9), "unknown");
  assert_string_equal(nat_stun_attr_name(0x0020), "XOR-MAPPED-ADDRESS");
  assert_string_equal(nat_stun_attr_name(0x802C), "OTHER-ADDRESS");
  assert_string_equal(nat_stun_attr_name(0x7777), "UNKNOWN");
}

static void test_builder_sticky_errors(void **state) {
  uint8_t buf[64], tid[12] = {1};
  nat_stun_builder b;
  (void)state;
  /* too small: 28 bytes hold one 4-byte attribute, not two */
  assert_int_equal(nat_stun_builder_init(&b, buf, 28, 1, 0, tid), 0);
  assert_int_equal(nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 1), 0);
  assert_int_equal(nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "x"),
                   NAT_ENOBUFS);
  assert_int_equal(nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 1), NAT_ENOBUFS);
  assert_int_equal(nat_stun_add_error(&b, 999, NULL), NAT_ENOBUFS);
  assert_int_equal(nat_stun_builder_finish(&b, false), NAT_ENOBUFS);
  /* no room for FINGERPRINT */
  nat_stun_builder_init(&b, buf, 24, 1, 0, tid);
  assert_int_equal(nat_stun_builder_finish(&b, true), NAT_ENOBUFS);
  /* header does not fit */
  assert_int_equal(nat_stun_builder_init(&b, buf, 19, 1, 0, tid), NAT_ENOBUFS);
  assert_int_equal(nat_stun_builder_finish(&b, false), NAT_ENOBUFS);
  /* bad method / class */
  assert_int_equal(nat_stun_builder_init(&b, buf, 64, 0x1000, 0, tid),
                   NAT_EINVAL);
  assert_int_equal(nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 1), NAT_EINVAL);
  assert_int_equal(nat_stun_builder_init(&b, buf, 64, 1, 4, tid), NAT_EINVAL);
}

static void test_builder_order_and_values(void **state) {
  uint8_t buf[64], tid[12] = {1};
  const uint8_t key[4] = "abcd";
  nat_stun_builder b;
  nat_addr none;
  (void)state;
  memset(&none, 0, sizeof none);
  /* SOFTWARE after MESSAGE-INTEGRITY, and the error sticks */
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  assert_int_equal(nat_stun_add_integrity(&b, key, 4), 0);
  assert_true(b.sealed);
  assert_int_equal(nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "late"),
                   NAT_EINVAL);
  assert_int_equal(nat_stun_builder_finish(&b, true), NAT_EINVAL);
  /* MI -> MI-SHA256 -> FINGERPRINT is fine; MI after MI-SHA256 is not */
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  assert_int_equal(nat_stun_add_integrity_sha256(&b, key, 4, 16), 0);
  assert_int_equal(nat_stun_add_integrity(&b, key, 4), NAT_EINVAL);
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  nat_stun_add_integrity_sha256(&b, key, 4, 16);
  assert_int_equal(nat_stun_add_integrity_sha256(&b, key, 4, 16), NAT_EINVAL);
  /* raw FINGERPRINT then finish(true): two FINGERPRINTs refused */
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  nat_stun_add_u32(&b, NAT_ATTR_FINGERPRINT, 0);
  assert_int_equal(nat_stun_builder_finish(&b, true), NAT_EINVAL);
  /* invalid values */
  const struct {
    int rc;
  } bad[] = {
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_error(&b, 700, "x"))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_error(&b, 299, "x"))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_change_request(&b, 0x1))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_attr(&b, NAT_ATTR_PRIORITY, "abc", 3))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_attr(&b, NAT_ATTR_SOFTWARE, NULL, 3))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_attr(&b, 0x7000, buf, 70000))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_integrity_sha256(&b, key, 4, 18))},
      {(nat_stun_builder_init(&b, buf, 64, 1, 0, tid),
        nat_stun_add_string(&b, NAT_ATTR_REALM, NULL))},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(bad[i].rc, NAT_EINVAL);
  }
  /* USERNAME: sent "fewer than 509 bytes" (RFC 8489 section 14.3) */
  static uint8_t big[1024];
  static char name[510];
  memset(name, 'u', 509);
  nat_stun_builder_init(&b, big, sizeof big, 1, 0, tid);
  assert_int_equal(nat_stun_add_string(&b, NAT_ATTR_USERNAME, name),
                   NAT_EINVAL);
  name[508] = 0;
  nat_stun_builder_init(&b, big, sizeof big, 1, 0, tid);
  assert_int_equal(nat_stun_add_string(&b, NAT_ATTR_USERNAME, name), 0);
  nat_stun_builder_init(&b, buf, 64, 1, 0, tid);
  assert_int_equal(nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &none),
                   NAT_EBADFAMILY);
  assert_int_equal(nat_stun_builder_finish(&b, false), NAT_EBADFAMILY);
  assert_int_equal(nat_stun_add_u32(NULL, 1, 1), NAT_EINVAL);
  assert_int_equal(nat_stun_builder_finish(NULL, false), NAT_EINVAL);
}

static void test_is_stun_truth_table(void **state) {
  uint8_t ok[28], tid[12] = {9, 8, 7};
  nat_stun_builder b;
  (void)state;
  nat_stun_builder_init(&b, ok, sizeof ok, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  assert_int_equal(nat_stun_builder_finish(&b, true), 28);
  uint8_t top[28], cookie[28], lenf[28], quic[28], quic2[28];
  memcpy(top, ok, 28);
  top[0] |= 0x40;
  memcpy(cookie, ok, 28);
  cookie[7] ^= 1;
  memcpy(lenf, ok, 28);
  lenf[3] = 4;
  /* QUIC short header, first byte in 0x00-0x3F (fixed bit greased) */
  for (size_t i = 0; i < 28; i++) {
    quic[i] = (uint8_t)(0x9d * i + 0x31);
  }
  quic[0] = 0x3a;
  memcpy(quic2, quic, 28);
  quic2[2] = 0; /* even its length field matches: still no cookie */
  quic2[3] = 8;
  const struct {
    const char *name;
    const uint8_t *p;
    size_t len;
    bool want;
  } rows[] = {
      {"binding request", ok, 28, true},
      {"RFC 5769 request", rfc5769_req, sizeof rfc5769_req, true},
      {"RFC 5769 IPv6 response", rfc5769_resp6, sizeof rfc5769_resp6, true},
      {"header only", ok, 20, false}, /* length field says 8 */
      {"19 bytes", ok, 19, false},
      {"empty", ok, 0, false},
      {"NULL", NULL, 28, false},
      {"top bit set", top, 28, false},
      {"wrong cookie", cookie, 28, false},
      {"length field 4, datagram 28", lenf, 28, false},
      {"length field 4, datagram 24", lenf, 24, true},
      {"datagram 26 (not multiple of 4)", ok, 26, false},
      {"QUIC short header 0x3a", quic, 28, false},
      {"QUIC short header, length matches", quic2, 28, false},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (nat_stun_is_stun(rows[i].p, rows[i].len) != rows[i].want) {
      fail_msg("row '%s': expected %d", rows[i].name, rows[i].want);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc5769_request_decode),
      cmocka_unit_test(test_rfc5769_request_encode),
      cmocka_unit_test(test_rfc5769_ipv4_response),
      cmocka_unit_test(test_rfc5769_ipv6_response),
      cmocka_unit_test(test_xor_ipv6_bytes),
      cmocka_unit_test(test_round_trip_every_attr),
      cmocka_unit_test(test_getter_errors),
      cmocka_unit_test(test_classic_round_trip),
      cmocka_unit_test(test_type_bits),
      cmocka_unit_test(test_builder_sticky_errors),
      cmocka_unit_test(test_builder_order_and_values),
      cmocka_unit_test(test_is_stun_truth_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
