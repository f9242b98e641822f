/* nat_capture_decode(): frames built here for every link type and IP
 * version, VLAN tags, IPv4 options, IPv6 extension headers, fragments,
 * truncations and bad lengths, with the exact result or reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/capture.h"
#include "nat/error.h"

static const uint8_t payload[] = "\x00\x01\x00\x00\x21\x12\xa4\x42"
                                 "0123456789ab"; /* a Binding request */
#define PLEN (sizeof payload - 1)

static const uint8_t v6src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0, 0, 0, 1};
static const uint8_t v6dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0, 0, 0, 2};

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* UDP header + payload at @p p; returns its length. */
static size_t put_udp(uint8_t *p, unsigned ulen) {
  put16(p, 40000);
  put16(p + 2, 3478);
  put16(p + 4, ulen);
  put16(p + 6, 0);
  memcpy(p + 8, payload, PLEN);
  return 8 + PLEN;
}

/* IPv4 packet with @p optwords 32-bit option words and fragment field
 * @p frag; returns its length. */
static size_t put_v4(uint8_t *p, unsigned optwords, unsigned frag,
                     unsigned proto) {
  size_t ihl = 20 + optwords * 4;
  memset(p, 0, ihl);
  p[0] = (uint8_t)(0x40 | (5 + optwords));
  put16(p + 6, frag);
  p[8] = 64;
  p[9] = (uint8_t)proto;
  p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 10;
  p[16] = 203, p[17] = 0, p[18] = 113, p[19] = 1;
  memset(p + 20, 1, optwords * 4); /* NOP options */
  size_t n = ihl + put_udp(p + ihl, (unsigned)(8 + PLEN));
  put16(p + 2, (unsigned)n);
  return n;
}

/* IPv6 packet with the extension headers @p ext (next-header values, each
 * 8 bytes long); returns its length. */
static size_t put_v6(uint8_t *p, const uint8_t *ext, size_t next) {
  size_t off = 40, i;
  memset(p, 0, 40);
  p[0] = 0x60;
  p[6] = next ? ext[0] : 17;
  p[7] = 64;
  memcpy(p + 8, v6src, 16);
  memcpy(p + 24, v6dst, 16);
  for (i = 0; i < next; i++) {
    memset(p + off, 0, 8);
    p[off] = i + 1 < next ? ext[i + 1] : 17;
    p[off + 1] = 0; /* 8 bytes */
    off += 8;
  }
  off += put_udp(p + off, (unsigned)(8 + PLEN));
  put16(p + 4, (unsigned)(off - 40));
  return off;
}

static void expect_ok(uint32_t lt, const uint8_t *f, size_t n, int ver,
                      size_t payload_off) {
  nat_capture_frame out;
  char a[NAT_ADDR_STRLEN], b[NAT_ADDR_STRLEN];
  assert_int_equal(nat_capture_decode(lt, f, n, &out), 0);
  assert_int_equal(out.reason, NAT_CAPR_OK);
  assert_int_equal(out.ip_version, ver);
  assert_ptr_equal(out.payload, f + payload_off);
  assert_int_equal(out.len, PLEN);
  assert_memory_equal(out.payload, payload, PLEN);
  nat_addr_format(&out.src, a, sizeof a);
  nat_addr_format(&out.dst, b, sizeof b);
  if (ver == 4) {
    assert_string_equal(a, "192.0.2.10:40000");
    assert_string_equal(b, "203.0.113.1:3478");
  } else {
    assert_string_equal(a, "[2001:db8::1]:40000");
    assert_string_equal(b, "[2001:db8::2]:3478");
  }
}

static void expect_fail(uint32_t lt, const uint8_t *f, size_t n, int rv,
                        uint8_t reason) {
  nat_capture_frame out;
  assert_int_equal(nat_capture_decode(lt, f, n, &out), rv);
  assert_int_equal(out.reason, reason);
  assert_null(out.payload);
}

static void test_raw_v4_v6(void **state) {
  uint8_t f[256];
  size_t n;
  (void)state;
  n = put_v4(f, 0, 0, 17);
  expect_ok(NAT_LINK_RAW, f, n, 4, 28);
  expect_ok(NAT_LINK_RAW_DLT, f, n, 4, 28);
  expect_ok(NAT_LINK_IPV4, f, n, 4, 28);
  expect_fail(NAT_LINK_IPV6, f, n, NAT_EFRAME, NAT_CAPR_BAD_IP);
  n = put_v6(f, NULL, 0);
  expect_ok(NAT_LINK_RAW, f, n, 6, 48);
  expect_ok(NAT_LINK_IPV6, f, n, 6, 48);
  expect_fail(NAT_LINK_IPV4, f, n, NAT_EFRAME, NAT_CAPR_BAD_IP);
  f[0] = 0x50; /* version 5 */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_IP);
}

static void test_ethernet_and_vlans(void **state) {
  uint8_t f[256];
  size_t n;
  (void)state;
  memset(f, 0xAA, 12);
  put16(f + 12, 0x0800);
  n = 14 + put_v4(f + 14, 0, 0, 17);
  expect_ok(NAT_LINK_ETHERNET, f, n, 4, 14 + 28);
  /* Ethernet padding after the IP packet is ignored */
  memset(f + n, 0, 16);
  expect_ok(NAT_LINK_ETHERNET, f, n + 16, 4, 14 + 28);
  /* one 802.1Q tag, IPv6 */
  put16(f + 12, 0x8100);
  put16(f + 14, 0x0064);
  put16(f + 16, 0x86DD);
  n = 18 + put_v6(f + 18, NULL, 0);
  expect_ok(NAT_LINK_ETHERNET, f, n, 6, 18 + 48);
  /* QinQ: 802.1ad outer, 802.1Q inner, IPv4 */
  put16(f + 12, 0x88A8);
  put16(f + 14, 0x0001);
  put16(f + 16, 0x8100);
  put16(f + 18, 0x0002);
  put16(f + 20, 0x0800);
  n = 22 + put_v4(f + 22, 0, 0, 17);
  expect_ok(NAT_LINK_ETHERNET, f, n, 4, 22 + 28);
  /* ARP */
  put16(f + 12, 0x0806);
  expect_fail(NAT_LINK_ETHERNET, f, 60, NAT_EFRAME, NAT_CAPR_NOT_IP);
  /* too short for the header, and for a tag */
  expect_fail(NAT_LINK_ETHERNET, f, 13, NAT_EFRAME, NAT_CAPR_TRUNC_LINK);
  put16(f + 12, 0x8100);
  expect_fail(NAT_LINK_ETHERNET, f, 17, NAT_EFRAME, NAT_CAPR_TRUNC_LINK);
  /* five tags: refused */
  for (n = 0; n < 5; n++)
    put16(f + 12 + 4 * n, 0x8100);
  expect_fail(NAT_LINK_ETHERNET, f, 60, NAT_EFRAME, NAT_CAPR_NOT_IP);
}

static void test_linux_cooked(void **state) {
  uint8_t f[256];
  size_t n;
  (void)state;
  /* v1: 16 bytes, protocol at 14 */
  memset(f, 0, 16);
  put16(f + 2, 772); /* ARPHRD_LOOPBACK */
  put16(f + 14, 0x0800);
  n = 16 + put_v4(f + 16, 0, 0, 17);
  expect_ok(NAT_LINK_LINUX_SLL, f, n, 4, 16 + 28);
  put16(f + 14, 0x86DD);
  n = 16 + put_v6(f + 16, NULL, 0);
  expect_ok(NAT_LINK_LINUX_SLL, f, n, 6, 16 + 48);
  expect_fail(NAT_LINK_LINUX_SLL, f, 15, NAT_EFRAME, NAT_CAPR_TRUNC_LINK);
  /* v2: 20 bytes, protocol first */
  memset(f, 0, 20);
  put16(f, 0x86DD);
  n = 20 + put_v6(f + 20, NULL, 0);
  expect_ok(NAT_LINK_LINUX_SLL2, f, n, 6, 20 + 48);
  put16(f, 0x0800);
  n = 20 + put_v4(f + 20, 0, 0, 17);
  expect_ok(NAT_LINK_LINUX_SLL2, f, n, 4, 20 + 28);
  put16(f, 0x0806);
  expect_fail(NAT_LINK_LINUX_SLL2, f, n, NAT_EFRAME, NAT_CAPR_NOT_IP);
  expect_fail(NAT_LINK_LINUX_SLL2, f, 19, NAT_EFRAME, NAT_CAPR_TRUNC_LINK);
}

static void test_bsd_loopback(void **state) {
  uint8_t f[256];
  size_t n;
  static const uint8_t le_inet[4] = {2, 0, 0, 0}, be_inet[4] = {0, 0, 0, 2};
  static const uint8_t le_v6[][4] = {
      {24, 0, 0, 0}, {28, 0, 0, 0}, {30, 0, 0, 0}, {10, 0, 0, 0}};
  static const uint8_t be_v6[4] = {0, 0, 0, 30};
  size_t i;
  (void)state;
  n = 4 + put_v4(f + 4, 0, 0, 17);
  memcpy(f, le_inet, 4);
  expect_ok(NAT_LINK_NULL, f, n, 4, 4 + 28);
  expect_ok(NAT_LINK_LOOP, f, n, 4, 4 + 28);
  memcpy(f, be_inet, 4);
  expect_ok(NAT_LINK_NULL, f, n, 4, 4 + 28);
  expect_ok(NAT_LINK_LOOP, f, n, 4, 4 + 28);
  n = 4 + put_v6(f + 4, NULL, 0);
  for (i = 0; i < 4; i++) {
    memcpy(f, le_v6[i], 4);
    expect_ok(NAT_LINK_NULL, f, n, 6, 4 + 48);
  }
  memcpy(f, be_v6, 4);
  expect_ok(NAT_LINK_LOOP, f, n, 6, 4 + 48);
  f[3] = 99;
  expect_fail(NAT_LINK_LOOP, f, n, NAT_EFRAME, NAT_CAPR_NOT_IP);
  expect_fail(NAT_LINK_NULL, f, 3, NAT_EFRAME, NAT_CAPR_TRUNC_LINK);
}

static void test_ipv4_options_fragments_protocols(void **state) {
  uint8_t f[256];
  size_t n;
  (void)state;
  n = put_v4(f, 3, 0, 17); /* IHL 8: 12 bytes of options */
  expect_ok(NAT_LINK_RAW, f, n, 4, 32 + 8);
  n = put_v4(f, 0, 0x4000, 17); /* DF alone is fine */
  expect_ok(NAT_LINK_RAW, f, n, 4, 28);
  n = put_v4(f, 0, 0x2000, 17); /* MF */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_FRAGMENT);
  n = put_v4(f, 0, 0x00B9, 17); /* a later fragment */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_FRAGMENT);
  n = put_v4(f, 0, 0, 6); /* TCP */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_NOT_UDP);
  n = put_v4(f, 0, 0, 1); /* ICMP */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_NOT_UDP);
}

static void test_ipv6_extension_headers(void **state) {
  uint8_t f[256];
  size_t n;
  static const uint8_t chain[] = {0, 60, 43}; /* HBH, dest opts, routing */
  static const uint8_t frag[] = {0, 44};
  static const uint8_t esp[] = {60, 50};
  (void)state;
  n = put_v6(f, chain, 3);
  expect_ok(NAT_LINK_RAW, f, n, 6, 40 + 24 + 8);
  n = put_v6(f, frag, 2);
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_FRAGMENT);
  n = put_v6(f, esp, 1);
  f[40] = 50; /* dest opts -> ESP */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_NOT_UDP);
  /* an extension header longer than the payload */
  n = put_v6(f, chain, 1);
  f[41] = 200;
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_EXTHDR);
  /* nine extension headers: too long a chain */
  {
    uint8_t nine[9];
    memset(nine, 60, sizeof nine);
    n = put_v6(f, nine, 9);
    expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_EXTHDR);
  }
  /* payload length 0 (jumbogram) */
  n = put_v6(f, NULL, 0);
  put16(f + 4, 0);
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_IP);
}

static void test_truncations(void **state) {
  uint8_t f[256];
  size_t n;
  (void)state;
  n = put_v4(f, 0, 0, 17);
  expect_fail(NAT_LINK_RAW, f, 0, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  expect_fail(NAT_LINK_RAW, f, 19, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  expect_fail(NAT_LINK_RAW, f, 25, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  expect_fail(NAT_LINK_RAW, f, n - 1, NAT_EFRAME, NAT_CAPR_TRUNC_UDP);
  expect_fail(NAT_LINK_RAW, f, 29, NAT_EFRAME, NAT_CAPR_TRUNC_UDP);
  n = put_v4(f, 3, 0, 17);
  expect_fail(NAT_LINK_RAW, f, 24, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  n = put_v6(f, NULL, 0);
  expect_fail(NAT_LINK_RAW, f, 39, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  expect_fail(NAT_LINK_RAW, f, 47, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  expect_fail(NAT_LINK_RAW, f, n - 4, NAT_EFRAME, NAT_CAPR_TRUNC_UDP);
  {
    static const uint8_t hbh[] = {0};
    n = put_v6(f, hbh, 1);
    expect_fail(NAT_LINK_RAW, f, 44, NAT_EFRAME, NAT_CAPR_TRUNC_IP);
  }
}

static void test_bad_lengths(void **state) {
  uint8_t f[256];
  size_t n;
  (void)state;
  n = put_v4(f, 0, 0, 17);
  f[0] = 0x44; /* IHL 4 */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_IP);
  f[0] = 0x45;
  put16(f + 2, 19); /* total < IHL */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_IP);
  put16(f + 2, 24); /* no room for the UDP header */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_UDP);
  put16(f + 2, (unsigned)n);
  put16(f + 24, 7); /* UDP length under 8 */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_UDP);
  put16(f + 24, (unsigned)(n - 20 + 1)); /* beyond the IP payload */
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_UDP);
  put16(f + 24, 8); /* empty UDP payload: fine */
  {
    nat_capture_frame out;
    assert_int_equal(nat_capture_decode(NAT_LINK_RAW, f, n, &out), 0);
    assert_int_equal(out.len, 0);
  }
  n = put_v6(f, NULL, 0);
  put16(f + 44, 300);
  expect_fail(NAT_LINK_RAW, f, n, NAT_EFRAME, NAT_CAPR_BAD_UDP);
}

static void test_linktypes_and_names(void **state) {
  uint8_t f[64] = {0};
  nat_capture_frame out;
  (void)state;
  expect_fail(147, f, sizeof f, NAT_EUNSUPPORTED, NAT_CAPR_LINKTYPE);
  assert_false(nat_capture_linktype_supported(147));
  assert_true(nat_capture_linktype_supported(NAT_LINK_LINUX_SLL2));
  assert_true(nat_capture_linktype_supported(NAT_LINK_RAW_DLT));
  assert_int_equal(nat_capture_decode(NAT_LINK_RAW, f, 1, NULL), NAT_EINVAL);
  assert_int_equal(nat_capture_decode(NAT_LINK_RAW, NULL, 1, &out), NAT_EINVAL);
  assert_string_equal(nat_capture_reason_name(NAT_CAPR_FRAGMENT), "fragment");
  assert_string_equal(nat_capture_reason_name(NAT_CAPR_TRUNC_UDP),
                      "truncated-udp");
  assert_string_equal(nat_capture_reason_name(200), "unknown");
  assert_string_equal(nat_strerror(NAT_EFRAME),
                      "captured frame is not a whole UDP datagram");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_raw_v4_v6),
      cmocka_unit_test(test_ethernet_and_vlans),
      cmocka_unit_test(test_linux_cooked),
      cmocka_unit_test(test_bsd_loopback),
      cmocka_unit_test(test_ipv4_options_fragments_protocols),
      cmocka_unit_test(test_ipv6_extension_headers),
      cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_bad_lengths),
      cmocka_unit_test(test_linktypes_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
