/* The PCP codec and the epoch rule (portmap/pcp.c): encodings compared byte
 * for byte with vectors written by hand from RFC 6887 7.1 and 11.1 (every
 * field at its offset), decoding of valid ANNOUNCE and MAP answers, every
 * malformed case the header names (each NAT_EPMPARSE), a NAT-PMP-only
 * server's version-0 UNSUPP_VERSION answer (RFC 6887 9), the options walk,
 * the epoch rule of RFC 6887 8.5 (restart, clock skew inside and outside
 * the tolerance, the 32-bit edge), the names, the gateway table parser and
 * the answer check (nat__pcp_check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nat/error.h"
#include "nat/portmap.h"
#include "portmap/portmap_internal.h"

static void hex(const char *h, uint8_t *out, size_t n) {
  size_t i = 0;
  for (; *h && i < n; h++) {
    unsigned v;
    if (*h == ' ')
      continue;
    assert_int_equal(sscanf(h, "%2x", &v), 1);
    out[i++] = (uint8_t)v;
    h++;
  }
  assert_int_equal(i, n);
}

static nat_addr v4(const char *s, uint16_t port) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, port), 0);
  return a;
}

/* ------------------------------------------------------------- encode */

static void test_encode_announce(void **state) {
  /* 7.1: version 2, R=0 opcode 0, reserved 16 bits, lifetime 0,
   * client 192.168.1.2 as ::ffff:192.168.1.2 */
  uint8_t want[24], got[64];
  nat_pcp_request rq;
  (void)state;
  hex("02 00 0000 00000000"
      "00000000 00000000 0000ffff c0a80102",
      want, sizeof want);
  memset(&rq, 0, sizeof rq);
  rq.opcode = NAT_PCP_OP_ANNOUNCE;
  rq.client = v4("192.168.1.2", 0);
  memset(got, 0xAA, sizeof got);
  assert_int_equal(nat_pcp_encode(&rq, got, sizeof got), 24);
  assert_memory_equal(got, want, 24);
  assert_int_equal(got[24], 0xAA); /* nothing written past the end */
  assert_int_equal(nat_pcp_encode(&rq, got, 23), NAT_ENOBUFS);
}

static void test_encode_map(void **state) {
  /* 7.1 header + 11.1 body: lifetime 7200 (0x1c20), nonce 01..0c, UDP
   * (17), 3 reserved, internal 7000 (0x1b58), suggested port 42000
   * (0xa410), suggested 198.51.100.2 IPv4-mapped */
  uint8_t want[60], got[60];
  nat_pcp_request rq;
  (void)state;
  hex("02 01 0000 00001c20"
      "00000000 00000000 0000ffff c0a80102"
      "0102030405060708090a0b0c"
      "11 000000 1b58 a410"
      "00000000 00000000 0000ffff c6336402",
      want, sizeof want);
  memset(&rq, 0, sizeof rq);
  rq.opcode = NAT_PCP_OP_MAP;
  rq.lifetime = 7200;
  rq.client = v4("192.168.1.2", 0);
  for (int i = 0; i < NAT_PCP_NONCE_LEN; i++)
    rq.nonce[i] = (uint8_t)(i + 1);
  rq.protocol = NAT_PCP_PROTO_UDP;
  rq.internal_port = 7000;
  rq.suggested = v4("198.51.100.2", 42000);
  assert_int_equal(nat_pcp_encode(&rq, got, sizeof got), 60);
  assert_memory_equal(got, want, 60);
  assert_int_equal(nat_pcp_encode(&rq, got, 59), NAT_ENOBUFS);
}

static void test_encode_map_none_and_v6(void **state) {
  /* "none": IPv4 client -> ::ffff:0.0.0.0 and port 0 (11.1, 5) */
  uint8_t got[60], want16[16];
  nat_pcp_request rq;
  (void)state;
  memset(&rq, 0, sizeof rq);
  rq.opcode = NAT_PCP_OP_MAP;
  rq.lifetime = 0; /* delete */
  rq.client = v4("10.0.0.5", 0);
  rq.protocol = NAT_PCP_PROTO_UDP;
  rq.internal_port = 5000;
  assert_int_equal(nat_pcp_encode(&rq, got, sizeof got), 60);
  hex("00000000 00000000 0000ffff 00000000", want16, 16);
  assert_memory_equal(got + 44, want16, 16);
  assert_int_equal(got[42], 0);
  assert_int_equal(got[43], 0);
  /* IPv6 client: :: for none; the client address as is */
  assert_int_equal(nat_addr_parse(&rq.client, "2001:db8::7", 0), 0);
  assert_int_equal(nat_pcp_encode(&rq, got, sizeof got), 60);
  hex("20010db8 00000000 00000000 00000007", want16, 16);
  assert_memory_equal(got + 8, want16, 16);
  memset(want16, 0, 16);
  assert_memory_equal(got + 44, want16, 16);
  /* protocol 0 (all) only deletes */
  rq.protocol = 0;
  assert_int_equal(nat_pcp_encode(&rq, got, sizeof got), 60);
}

static void test_encode_refuses(void **state) {
  uint8_t buf[60];
  nat_pcp_request rq;
  (void)state;
  memset(&rq, 0, sizeof rq);
  rq.opcode = NAT_PCP_OP_MAP;
  rq.client = v4("10.0.0.5", 0);
  rq.protocol = NAT_PCP_PROTO_UDP;
  rq.lifetime = 60;
  assert_int_equal(nat_pcp_encode(&rq, buf, sizeof buf), NAT_EINVAL); /*p0*/
  rq.internal_port = 1;
  rq.protocol = 0;
  assert_int_equal(nat_pcp_encode(&rq, buf, sizeof buf), NAT_EINVAL);
  rq.protocol = NAT_PCP_PROTO_UDP;
  rq.suggested.family = 7;
  assert_int_equal(nat_pcp_encode(&rq, buf, sizeof buf), NAT_EINVAL);
  rq.suggested.family = NAT_AF_NONE;
  rq.client.family = NAT_AF_NONE;
  assert_int_equal(nat_pcp_encode(&rq, buf, sizeof buf), NAT_EINVAL);
  rq.client = v4("10.0.0.5", 0);
  rq.opcode = NAT_PCP_OP_PEER;
  assert_int_equal(nat_pcp_encode(&rq, buf, sizeof buf), NAT_EINVAL);
  assert_int_equal(nat_pcp_encode(NULL, buf, sizeof buf), NAT_EINVAL);
  assert_int_equal(nat_pcp_encode(&rq, NULL, 0), NAT_EINVAL);
}

/* ------------------------------------------------------------- decode */

/* A MAP answer: result, lifetime 3600, epoch 1000, nonce 01..0c, UDP,
 * 7000 -> 198.51.100.2:42000 */
static size_t map_answer(uint8_t *b, uint8_t result) {
  hex("02 81 00 00 00000e10 000003e8 000000000000000000000000"
      "0102030405060708090a0b0c"
      "11 000000 1b58 a410"
      "00000000 00000000 0000ffff c6336402",
      b, 60);
  b[3] = result;
  return 60;
}

static void test_decode_announce(void **state) {
  uint8_t b[24];
  nat_pcp_response rs;
  (void)state;
  hex("02 80 00 00 00000000 00012345 000000000000000000000000", b, 24);
  assert_int_equal(nat_pcp_decode(b, 24, &rs), 0);
  assert_int_equal(rs.version, 2);
  assert_int_equal(rs.opcode, NAT_PCP_OP_ANNOUNCE);
  assert_int_equal(rs.result, NAT_PCP_SUCCESS);
  assert_int_equal(rs.epoch, 0x12345);
  assert_false(rs.has_map);
}

static void test_decode_map(void **state) {
  uint8_t b[60];
  nat_pcp_response rs;
  char s[NAT_ADDR_STRLEN];
  (void)state;
  assert_int_equal(nat_pcp_decode(b, map_answer(b, 0), &rs), 0);
  assert_int_equal(rs.opcode, NAT_PCP_OP_MAP);
  assert_int_equal(rs.lifetime, 3600);
  assert_int_equal(rs.epoch, 1000);
  assert_true(rs.has_map);
  assert_int_equal(rs.nonce[0], 1);
  assert_int_equal(rs.nonce[11], 12);
  assert_int_equal(rs.protocol, 17);
  assert_int_equal(rs.internal_port, 7000);
  assert_string_equal(nat_addr_format(&rs.external, s, sizeof s),
                      "198.51.100.2:42000");
  /* an IPv6 external address stays IPv6 */
  hex("20010db8 00000000 00000000 00000001", b + 44, 16);
  assert_int_equal(nat_pcp_decode(b, 60, &rs), 0);
  assert_string_equal(nat_addr_format(&rs.external, s, sizeof s),
                      "[2001:db8::1]:42000");
  /* an error answer with its body, and one with the header alone */
  assert_int_equal(nat_pcp_decode(b, map_answer(b, 2), &rs), 0);
  assert_int_equal(rs.result, NAT_PCP_NOT_AUTHORIZED);
  assert_true(rs.has_map);
  assert_int_equal(nat_pcp_decode(b, 24, &rs), 0);
  assert_int_equal(rs.result, NAT_PCP_NOT_AUTHORIZED);
  assert_false(rs.has_map);
}

static void test_decode_options(void **state) {
  uint8_t b[NAT_PCP_MAX_LEN + 8];
  nat_pcp_response rs;
  (void)state;
  map_answer(b, 0);
  /* THIRD_PARTY-like option, 16 bytes; then one of 3 bytes padded to 4;
   * then one of length 0 */
  hex("01 00 0010", b + 60, 4);
  memset(b + 64, 0, 16);
  hex("80 00 0003 61626300 02000000", b + 80, 12);
  assert_int_equal(nat_pcp_decode(b, 92, &rs), 0);
  assert_true(rs.has_map);
  assert_int_equal(rs.internal_port, 7000);
  /* an option running past the end */
  hex("01 00 0014", b + 60, 4);
  assert_int_equal(nat_pcp_decode(b, 80, &rs), NAT_EPMPARSE);
  /* a padded length running past the end (5 -> 8 > 4 left) */
  hex("01 00 0005", b + 60, 4);
  assert_int_equal(nat_pcp_decode(b, 68, &rs), NAT_EPMPARSE);
  /* an option header cut short cannot happen with len % 4 == 0, but the
   * largest message with a large option still decodes */
  memset(b + 60, 0, sizeof b - 60);
  b[60] = 1;
  b[62] = (uint8_t)((NAT_PCP_MAX_LEN - 64) >> 8);
  b[63] = (uint8_t)(NAT_PCP_MAX_LEN - 64);
  assert_int_equal(nat_pcp_decode(b, NAT_PCP_MAX_LEN, &rs), 0);
}

static void test_decode_malformed(void **state) {
  uint8_t b[NAT_PCP_MAX_LEN + 8];
  nat_pcp_response rs;
  (void)state;
  memset(b, 0, sizeof b);
  map_answer(b, 0);
  /* shorter than a header (version 2) */
  assert_int_equal(nat_pcp_decode(b, 20, &rs), NAT_EPMPARSE);
  assert_int_equal(nat_pcp_decode(b, 0, &rs), NAT_EPMPARSE);
  assert_int_equal(nat_pcp_decode(b, 3, &rs), NAT_EPMPARSE);
  /* the MAP body truncated */
  assert_int_equal(nat_pcp_decode(b, 56, &rs), NAT_EPMPARSE);
  assert_int_equal(nat_pcp_decode(b, 28, &rs), NAT_EPMPARSE);
  /* not a multiple of 4 */
  assert_int_equal(nat_pcp_decode(b, 61, &rs), NAT_EPMPARSE);
  assert_int_equal(nat_pcp_decode(b, 62, &rs), NAT_EPMPARSE);
  /* longer than 1100 */
  assert_int_equal(nat_pcp_decode(b, NAT_PCP_MAX_LEN + 4, &rs), NAT_EPMPARSE);
  /* no R bit */
  b[1] = NAT_PCP_OP_MAP;
  assert_int_equal(nat_pcp_decode(b, 60, &rs), NAT_EPMPARSE);
  b[1] = 0x81;
  /* versions other than 2 and 0 */
  b[0] = 1;
  assert_int_equal(nat_pcp_decode(b, 60, &rs), NAT_EPMPARSE);
  b[0] = 3;
  assert_int_equal(nat_pcp_decode(b, 60, &rs), NAT_EPMPARSE);
  b[0] = 2;
  assert_int_equal(nat_pcp_decode(b, 60, &rs), 0);
  assert_int_equal(nat_pcp_decode(NULL, 60, &rs), NAT_EINVAL);
  assert_int_equal(nat_pcp_decode(b, 60, NULL), NAT_EINVAL);
}

static void test_decode_natpmp_unsupp_version(void **state) {
  /* RFC 6887 9 / RFC 6886 3.5: version 0, opcode 128 + 0, result 1
   * (16 bits), seconds since start of epoch */
  uint8_t b[8];
  nat_pcp_response rs;
  (void)state;
  hex("00 80 0001 000004d2", b, 8);
  assert_int_equal(nat_pcp_decode(b, 8, &rs), 0);
  assert_int_equal(rs.version, 0);
  assert_int_equal(rs.result, NAT_PCP_UNSUPP_VERSION);
  assert_false(rs.has_map);
  assert_int_equal(nat_pcp_decode(b, 4, &rs), 0); /* 4 bytes are enough */
  assert_int_equal(rs.result, 1);
  b[1] = 0x00; /* a NAT-PMP request, not an answer */
  assert_int_equal(nat_pcp_decode(b, 8, &rs), NAT_EPMPARSE);
}

/* -------------------------------------------------------------- epoch */

#define S NAT_SECONDS

static void test_epoch_rule(void **state) {
  nat_tstamp t0 = 1000 * S;
  (void)state;
  /* in step with our clock */
  assert_false(nat_pm_epoch_lost(100, t0, 160, t0 + 60 * S));
  /* restart: the epoch went back by more than one second */
  assert_true(nat_pm_epoch_lost(100, t0, 5, t0 + 60 * S));
  assert_true(nat_pm_epoch_lost(100, t0, 98, t0));
  /* back by one second at most: tolerated */
  assert_false(nat_pm_epoch_lost(100, t0, 99, t0));
  /* skew inside the tolerance: 2 s + 1/16 */
  assert_false(nat_pm_epoch_lost(100, t0, 100 + 60 + 5, t0 + 60 * S));
  assert_false(nat_pm_epoch_lost(100, t0, 100 + 60 - 5, t0 + 60 * S));
  /* 60 s: server 66 > client 60 + 2 + 66/16 (4.125 -> 66.125)? no;
   * server 67: 60 + 2 = 62 < 67 - 67/16 = 62.8125: lost */
  assert_false(nat_pm_epoch_lost(100, t0, 166, t0 + 60 * S));
  assert_true(nat_pm_epoch_lost(100, t0, 167, t0 + 60 * S));
  /* the server's clock too slow: 160 s of ours, 100 of the server's:
   * 100 + 2 < 160 - 10 */
  assert_true(nat_pm_epoch_lost(100, t0, 200, t0 + 160 * S));
  /* a server that reboots and comes back to a matching time within 2 s
   * is not noticed (by design of the rule) */
  assert_false(nat_pm_epoch_lost(100, t0, 101, t0 + S));
  /* the same answer again (a duplicate) */
  assert_false(nat_pm_epoch_lost(100, t0, 100, t0));
  /* the 32-bit edge: no overflow in epoch + 1 or the deltas */
  assert_false(nat_pm_epoch_lost(UINT32_MAX, t0, UINT32_MAX, t0));
  assert_false(nat_pm_epoch_lost(UINT32_MAX - 10, t0, UINT32_MAX, t0 + 10 * S));
  /* wrapping past 2^32 - 1 reads as going back (RFC 6887 has no serial
   * arithmetic for the epoch): lost */
  assert_true(nat_pm_epoch_lost(UINT32_MAX - 1, t0, 3, t0 + 5 * S));
  /* our clock at 0 and a huge server time: lost, no overflow */
  assert_true(nat_pm_epoch_lost(0, 0, UINT32_MAX, 0));
}

/* -------------------------------------------------------------- names */

static void test_names(void **state) {
  (void)state;
  assert_string_equal(nat_pcp_result_name(0), "SUCCESS");
  assert_string_equal(nat_pcp_result_name(2), "NOT_AUTHORIZED");
  assert_string_equal(nat_pcp_result_name(13), "EXCESSIVE_REMOTE_PEERS");
  assert_string_equal(nat_pcp_result_name(14), "unknown");
  assert_string_equal(nat_pcp_result_name(255), "unknown");
  assert_string_equal(nat_pm_proto_name(NAT_PM_PCP), "pcp");
  assert_string_equal(nat_pm_proto_name(NAT_PM_NATPMP), "nat-pmp");
  assert_string_equal(nat_pm_proto_name(NAT_PM_UPNP), "upnp");
  assert_string_equal(nat_pm_proto_name((nat_pm_proto)9), "?");
}

/* ------------------------------------------------- gateway and checks */

static void test_gateway_table(void **state) {
  char path[] = "/tmp/test_pcp_routeXXXXXX";
  int fd = mkstemp(path);
  FILE *f;
  nat_addr gw;
  char s[NAT_ADDR_STRLEN];
  (void)state;
  assert_true(fd >= 0);
  f = fdopen(fd, "w");
  fputs("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU"
        "\tWindow\tIRTT\n"
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
        "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
        f);
  fclose(f);
  assert_int_equal(nat__gateway_default(path, &gw), 0);
  /* lowest metric: 10.0.0.1 (bytes in the file in native order) */
  assert_string_equal(nat_addr_format_ip(&gw, s, sizeof s), "10.0.0.1");
  f = fopen(path, "w");
  fputs("Iface\tDestination\tGateway\n"
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
        f);
  fclose(f);
  assert_int_equal(nat__gateway_default(path, &gw), NAT_ENOTFOUND);
  unlink(path);
  assert_true(nat__gateway_default(path, &gw) < 0);
  /* private-address classes */
  gw = v4("192.168.1.1", 0);
  assert_true(nat__gateway_is_private(&gw));
  gw = v4("100.64.0.1", 0);
  assert_true(nat__gateway_is_private(&gw));
  gw = v4("169.254.1.1", 0);
  assert_true(nat__gateway_is_private(&gw));
  gw = v4("198.51.100.1", 0);
  assert_false(nat__gateway_is_private(&gw));
  assert_int_equal(nat_addr_parse(&gw, "fd00::1", 0), 0);
  assert_true(nat__gateway_is_private(&gw));
  assert_int_equal(nat_addr_parse(&gw, "fe80::1", 0), 0);
  assert_true(nat__gateway_is_private(&gw));
  /* the local address towards loopback: no packet needed */
  gw = v4("127.0.0.1", 5351);
  assert_int_equal(nat__gateway_local(&gw, &gw), 0);
  assert_string_equal(nat_addr_format(&gw, s, sizeof s), "127.0.0.1:0");
}

static void test_check(void **state) {
  uint8_t b[60];
  nat_pcp_response rs;
  nat__pcp_sent sent;
  nat_addr from = v4("192.168.1.1", 5351);
  (void)state;
  memset(&sent, 0, sizeof sent);
  sent.server = from;
  sent.opcode = NAT_PCP_OP_MAP;
  for (int i = 0; i < NAT_PCP_NONCE_LEN; i++)
    sent.nonce[i] = (uint8_t)(i + 1);
  sent.protocol = 17;
  sent.internal_port = 7000;
  assert_int_equal(nat_pcp_decode(b, map_answer(b, 0), &rs), 0);
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_OK);
  from.port = 5352;
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_WRONG_SOURCE);
  from = v4("192.168.1.9", 5351);
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_WRONG_SOURCE);
  from = sent.server;
  sent.nonce[5] ^= 1;
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_WRONG_NONCE);
  sent.nonce[5] ^= 1;
  sent.internal_port = 7001;
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_UNEXPECTED);
  sent.internal_port = 7000;
  sent.opcode = NAT_PCP_OP_ANNOUNCE;
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_UNEXPECTED);
  /* a header-only error answers a MAP (no nonce to compare) */
  sent.opcode = NAT_PCP_OP_MAP;
  assert_int_equal(nat_pcp_decode(b, (map_answer(b, 2), 24), &rs), 0);
  assert_int_equal(nat__pcp_check(&sent, &from, &rs), NAT__PCP_OK);
}

/* SSDP answers (portmap/ssdp.c): the LOCATION of an "HTTP/1.1 200" answer,
 * only when it names the gateway itself. */
static void test_ssdp_location(void **state) {
  static const char ok[] =
      "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
      "ST: urn:schemas-upnp-org:device:"
      "InternetGatewayDevice:1\r\n"
      "location:  http://192.168.1.1:5000/rootDesc.xml \r\n"
      "\r\n";
  char out[64], s[256];
  (void)state;
  assert_int_equal(
      nat__ssdp_location(ok, sizeof ok - 1, "192.168.1.1", out, sizeof out), 0);
  assert_string_equal(out, "http://192.168.1.1:5000/rootDesc.xml");
  /* another host, a longer IP that starts the same, https, no LOCATION,
   * not a 200, too long for the buffer, a NUL inside: refused */
  assert_int_equal(
      nat__ssdp_location(ok, sizeof ok - 1, "192.168.1.2", out, sizeof out),
      -1);
  snprintf(s, sizeof s,
           "HTTP/1.1 200 OK\r\nLOCATION: http://192.168.1.10/x\r\n");
  assert_int_equal(
      nat__ssdp_location(s, strlen(s), "192.168.1.1", out, sizeof out), -1);
  snprintf(s, sizeof s, "HTTP/1.1 200 OK\r\nLOCATION: http://192.168.1.1\r\n");
  assert_int_equal(
      nat__ssdp_location(s, strlen(s), "192.168.1.1", out, sizeof out), 0);
  snprintf(s, sizeof s,
           "HTTP/1.1 200 OK\r\nLOCATION: https://192.168.1.1/\r\n");
  assert_int_equal(
      nat__ssdp_location(s, strlen(s), "192.168.1.1", out, sizeof out), -1);
  snprintf(s, sizeof s, "HTTP/1.1 200 OK\r\nST: x\r\n\r\n");
  assert_int_equal(
      nat__ssdp_location(s, strlen(s), "192.168.1.1", out, sizeof out), -1);
  snprintf(s, sizeof s,
           "HTTP/1.1 404 Not Found\r\nLOCATION: http://192.168.1.1/\r\n");
  assert_int_equal(
      nat__ssdp_location(s, strlen(s), "192.168.1.1", out, sizeof out), -1);
  assert_int_equal(
      nat__ssdp_location(ok, sizeof ok - 1, "192.168.1.1", out, 20), -1);
  memcpy(s, "HTTP/1.1 200 OK\r\nLOCATION: http://192.168.1.1/a\0b\r\n", 49);
  assert_int_equal(nat__ssdp_location(s, 49, "192.168.1.1", out, sizeof out),
                   -1);
  assert_int_equal(nat__ssdp_location(ok, 11, "192.168.1.1", out, sizeof out),
                   -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_announce),
      cmocka_unit_test(test_encode_map),
      cmocka_unit_test(test_encode_map_none_and_v6),
      cmocka_unit_test(test_encode_refuses),
      cmocka_unit_test(test_decode_announce),
      cmocka_unit_test(test_decode_map),
      cmocka_unit_test(test_decode_options),
      cmocka_unit_test(test_decode_malformed),
      cmocka_unit_test(test_decode_natpmp_unsupp_version),
      cmocka_unit_test(test_epoch_rule),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_gateway_table),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_ssdp_location),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
