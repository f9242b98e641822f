/* nat_box: the NAT behaviour model (RFC 4787) -- packet bytes and
 * checksums after rewriting, then mapping, filtering, allocation,
 * port blocks, overloading, hairpinning, timeouts, pooling, exhaustion
 * and drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/natbox.h"

#define IP4(a, b, c, d)                                                        \
  ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 |            \
   (uint32_t)(d))

#define PUB1 IP4(203, 0, 113, 1)
#define PUB2 IP4(203, 0, 113, 2)
#define H1   IP4(192, 168, 1, 10)
#define H2   IP4(192, 168, 1, 11)
#define R1   IP4(198, 51, 100, 1)
#define R2   IP4(198, 51, 100, 2)
#define SEC  NAT_SECONDS

/* ---- packet building and checking, independent of the library ------- */

static uint16_t g16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t g32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void p16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void p32(uint8_t *p, uint32_t v) {
  p16(p, v >> 16);
  p16(p + 2, v & 0xffff);
}

/* RFC 1071 sum, folded (not complemented). */
static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2)
    acc += g16(p + i);
  if (n & 1)
    acc += (uint32_t)p[n - 1] << 8;
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}

static size_t ihl_of(const uint8_t *p) {
  return (size_t)(p[0] & 0x0f) * 4;
}

/* UDP sum over pseudo header + UDP header + data. */
static uint32_t udp_sum(const uint8_t *p) {
  size_t ihl = ihl_of(p);
  uint16_t ulen = g16(p + ihl + 4);
  uint32_t acc = sum16(0, p + 12, 8);
  acc += 17 + (uint32_t)ulen;
  return sum16(acc, p + ihl, ulen);
}

static int ip_csum_ok(const uint8_t *p) {
  return sum16(0, p, ihl_of(p)) == 0xffff;
}

static int udp_csum_ok(const uint8_t *p) {
  uint16_t field = g16(p + ihl_of(p) + 6);
  return field != 0 && udp_sum(p) == 0xffff;
}

/* An IPv4/UDP packet with valid checksums (UDP checksum 0 if !csum);
 * @p opt adds 4 bytes of IP options (NOPs). Returns its length. */
static size_t build_ex(uint8_t *b, uint32_t sip, uint16_t sport, uint32_t dip,
                       uint16_t dport, const char *data, int csum, int opt) {
  size_t ihl = opt ? 24 : 20, dl = strlen(data);
  size_t tot = ihl + 8 + dl;
  memset(b, 0, tot);
  b[0] = (uint8_t)(0x40 | ihl / 4);
  p16(b + 2, (uint32_t)tot);
  p16(b + 4, 0x1234);
  p16(b + 6, 0x4000); /* DF */
  b[8] = 64;
  b[9] = 17;
  p32(b + 12, sip);
  p32(b + 16, dip);
  if (opt)
    memset(b + 20, 1, 4);
  p16(b + 10, ~sum16(0, b, ihl) & 0xffff);
  p16(b + ihl, sport);
  p16(b + ihl + 2, dport);
  p16(b + ihl + 4, (uint32_t)(8 + dl));
  memcpy(b + ihl + 8, data, dl);
  if (csum) {
    uint32_t c = ~udp_sum(b) & 0xffff;
    p16(b + ihl + 6, c ? c : 0xffff);
  }
  return tot;
}

static size_t build(uint8_t *b, uint32_t sip, uint16_t sport, uint32_t dip,
                    uint16_t dport) {
  return build_ex(b, sip, sport, dip, dport, "payload", 1, 0);
}

static uint32_t src_ip(const uint8_t *p) {
  return g32(p + 12);
}
static uint32_t dst_ip(const uint8_t *p) {
  return g32(p + 16);
}
static uint16_t src_port(const uint8_t *p) {
  return g16(p + ihl_of(p));
}
static uint16_t dst_port(const uint8_t *p) {
  return g16(p + ihl_of(p) + 2);
}

/* The packet goes sip:sport -> dip:dport and both checksums verify. */
#define assert_flow(p, sip, sport, dip, dport)                                 \
  check_flow(p, sip, sport, dip, dport, __LINE__)
static void check_flow(const uint8_t *p, uint32_t sip, uint16_t sport,
                       uint32_t dip, uint16_t dport, int line) {
  if (src_ip(p) != sip || src_port(p) != sport || dst_ip(p) != dip ||
      dst_port(p) != dport || !ip_csum_ok(p) || !udp_csum_ok(p))
    fail_msg("line %d: %08x:%u -> %08x:%u, checksums ip %d udp %d", line,
             src_ip(p), src_port(p), dst_ip(p), dst_port(p), ip_csum_ok(p),
             udp_csum_ok(p));
}

/* ---- driving a box ------------------------------------------------- */

static nat_box_config base_cfg(void) {
  nat_box_config c;
  memset(&c, 0, sizeof c);
  c.public_ip[0] = PUB1;
  c.seed = 42;
  return c;
}

static nat_box *mk(const nat_box_config *c) {
  nat_box *b = NULL;
  assert_int_equal(nat_box_new(&b, c), 0);
  assert_non_null(b);
  return b;
}

/* Outbound sip:sport -> dip:dport must go to the WAN; returns the external
 * port (and IP in *eip), after checking both checksums and the dst. */
static uint16_t out_ext(nat_box *b, nat_tstamp t, uint32_t sip, uint16_t sport,
                        uint32_t dip, uint16_t dport, uint32_t *eip) {
  uint8_t pkt[128];
  size_t n = build(pkt, sip, sport, dip, dport);
  int v = nat_box_outbound(b, t, pkt, n);
  if (v != NAT_BOX_TO_WAN)
    fail_msg("outbound verdict %s", nat_box_verdict_name(v));
  assert_true(ip_csum_ok(pkt));
  assert_true(udp_csum_ok(pkt));
  assert_int_equal(dst_ip(pkt), dip);
  assert_int_equal(dst_port(pkt), dport);
  if (eip)
    *eip = src_ip(pkt);
  return src_port(pkt);
}

/* Outbound from src to dst; returns the verdict, *pkt left rewritten. */
static uint8_t scratch[128];

static int out_v(nat_box *b, nat_tstamp t, uint8_t *pkt, uint32_t sip,
                 uint16_t sport, uint32_t dip, uint16_t dport) {
  size_t n = build(pkt, sip, sport, dip, dport);
  return nat_box_outbound(b, t, pkt, n);
}

/* Inbound rip:rport -> pub:pport; returns the verdict and, for TO_LAN,
 * checks checksums/src and reports the internal endpoint. */
static int in_v(nat_box *b, nat_tstamp t, uint32_t rip, uint16_t rport,
                uint32_t pub, uint16_t pport, uint32_t *iip, uint16_t *iport) {
  uint8_t pkt[128];
  size_t n = build(pkt, rip, rport, pub, pport);
  int v = nat_box_inbound(b, t, pkt, n);
  if (v == NAT_BOX_TO_LAN) {
    assert_true(ip_csum_ok(pkt));
    assert_true(udp_csum_ok(pkt));
    assert_int_equal(src_ip(pkt), rip);
    assert_int_equal(src_port(pkt), rport);
    if (iip)
      *iip = dst_ip(pkt);
    if (iport)
      *iport = dst_port(pkt);
  }
  return v;
}

/* Inbound rip:rport -> PUB1:pport must give verdict @p want. */
#define expect_in(b, t, rip, rport, pport, want)                               \
  check_v(in_v(b, t, rip, rport, PUB1, pport, NULL, NULL), want, __LINE__)
static void check_v(int got, int want, int line) {
  if (got != want)
    fail_msg("line %d: %s, want %s", line, nat_box_verdict_name(got),
             nat_box_verdict_name(want));
}

static nat_box_stats stats(const nat_box *b) {
  nat_box_stats st;
  nat_box_stats_get(b, &st);
  return st;
}

/* Outbound sip:sport -> dip:dport must give verdict @p want. */
#define expect_out(b, t, sip, sport, dip, dport, want)                         \
  check_v(out_v(b, t, scratch, sip, sport, dip, dport), want, __LINE__)

/* ---- bytes and checksums ------------------------------------------- */

static void test_rewrite_bytes(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  nat_box *b = mk(&c);
  uint8_t pkt[128], orig[128];
  size_t n = build_ex(pkt, H1, 5000, R1, 3478, "hello, nat", 1, 0);
  memcpy(orig, pkt, n);
  assert_int_equal(nat_box_outbound(b, 0, pkt, n), NAT_BOX_TO_WAN);
  /* preserved port on the public IP; only src and checksums changed */
  assert_flow(pkt, PUB1, 5000, R1, 3478);
  for (size_t i = 0; i < n; i++) {
    int changed = (i >= 10 && i < 16) || i == 26 || i == 27;
    if (!changed && pkt[i] != orig[i])
      fail_msg("byte %zu changed", i);
  }
  assert_int_equal(pkt[8], 64); /* TTL untouched */
  assert_memory_equal(pkt + 28, "hello, nat", 10);

  /* the reply goes back to the internal endpoint */
  n = build_ex(pkt, R1, 3478, PUB1, 5000, "reply", 1, 0);
  memcpy(orig, pkt, n);
  assert_int_equal(nat_box_inbound(b, SEC, pkt, n), NAT_BOX_TO_LAN);
  assert_flow(pkt, R1, 3478, H1, 5000);
  assert_memory_equal(pkt + 28, "reply", 5);

  /* UDP checksum 0 means none and stays 0 */
  n = build_ex(pkt, H1, 5000, R1, 3478, "x", 0, 0);
  assert_int_equal(nat_box_outbound(b, 2 * SEC, pkt, n), NAT_BOX_TO_WAN);
  assert_int_equal(g16(pkt + 26), 0);
  assert_true(ip_csum_ok(pkt));
  n = build_ex(pkt, R1, 3478, PUB1, 5000, "y", 0, 0);
  assert_int_equal(nat_box_inbound(b, 3 * SEC, pkt, n), NAT_BOX_TO_LAN);
  assert_int_equal(g16(pkt + 26), 0);
  assert_int_equal(dst_ip(pkt), H1);

  /* IP options: the UDP header is found after them */
  n = build_ex(pkt, H1, 5000, R1, 3478, "opts", 1, 1);
  assert_int_equal(nat_box_outbound(b, 4 * SEC, pkt, n), NAT_BOX_TO_WAN);
  assert_flow(pkt, PUB1, 5000, R1, 3478);
  nat_box_free(b);
}

/* A rewrite whose UDP checksum comes out as 0 must send 0xffff (RFC 768:
 * 0 would mean "no checksum"). The payload word is chosen so that the
 * translated datagram sums to exactly 0xffff. */
static void test_udp_csum_zero_result(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  nat_box *b = mk(&c);
  uint8_t pkt[64], t[64];
  size_t n = build_ex(pkt, H1, 5000, R1, 3478, "ab", 1, 0);
  memcpy(t, pkt, n); /* what the NAT will send, payload and checksum 0 */
  p32(t + 12, PUB1);
  memset(t + 26, 0, 4);
  uint32_t x = ~udp_sum(t) & 0xffff;
  p16(pkt + 28, x);
  p16(pkt + 26, 0);
  uint32_t cs = ~udp_sum(pkt) & 0xffff;
  p16(pkt + 26, cs ? cs : 0xffff);
  assert_true(udp_csum_ok(pkt));
  assert_int_equal(nat_box_outbound(b, 0, pkt, n), NAT_BOX_TO_WAN);
  assert_int_equal(g16(pkt + 26), 0xffff);
  assert_flow(pkt, PUB1, 5000, R1, 3478);
  nat_box_free(b);
}

static uint64_t xs(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Many random packets and mappings: checksums always verify from scratch
 * (covers odd lengths and the 0 -> 0xffff UDP case statistically). */
static void test_checksums_random(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_RANDOM;
  c.mapping = NAT_BEH_APD;
  nat_box *b = mk(&c);
  uint64_t s = 0x1234567;
  char data[40];
  for (int i = 0; i < 3000; i++) {
    uint8_t pkt[128];
    size_t dl = (size_t)(xs(&s) % 39);
    for (size_t j = 0; j < dl; j++)
      data[j] = (char)(1 + xs(&s) % 255);
    data[dl] = 0;
    uint32_t sip = (uint32_t)xs(&s) | 1, dip = (uint32_t)xs(&s) | 1;
    uint16_t sp = (uint16_t)xs(&s), dp = (uint16_t)xs(&s);
    if (dip == PUB1)
      continue;
    size_t n = build_ex(pkt, sip, sp, dip, dp, data, 1, (int)(i & 1));
    assert_int_equal(nat_box_outbound(b, 0, pkt, n), NAT_BOX_TO_WAN);
    uint16_t ep = src_port(pkt);
    assert_flow(pkt, PUB1, ep, dip, dp);
    n = build_ex(pkt, dip, dp, PUB1, ep, data, 1, (int)(i & 1));
    assert_int_equal(nat_box_inbound(b, 0, pkt, n), NAT_BOX_TO_LAN);
    assert_flow(pkt, dip, dp, sip, sp);
  }
  nat_box_free(b);
}

/* ---- mapping and filtering behaviour -------------------------------- */

static void test_mapping_table(void **state) {
  (void)state;
  /* destinations D1=(R1,p1) D2=(R1,p2) D3=(R2,p1) */
  static const struct {
    uint8_t mapping;
    int same12, same13, same23;
    uint64_t created;
  } cases[] = {
      {NAT_BEH_EI, 1, 1, 1, 1},
      {NAT_BEH_AD, 1, 0, 0, 2},
      {NAT_BEH_APD, 0, 0, 0, 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nat_box_config c = base_cfg();
    c.mapping = cases[i].mapping;
    nat_box *b = mk(&c);
    uint32_t e1, e2, e3;
    uint16_t a = out_ext(b, 0, H1, 5000, R1, 3478, &e1);
    uint16_t d = out_ext(b, 0, H1, 5000, R1, 3479, &e2);
    uint16_t f = out_ext(b, 0, H1, 5000, R2, 3478, &e3);
    assert_int_equal(e1, PUB1);
    assert_int_equal(e2, PUB1);
    assert_int_equal(e3, PUB1);
    assert_int_equal(a, 5000); /* the first one is preserved */
    if ((a == d) != cases[i].same12 || (a == f) != cases[i].same13 ||
        (d == f) != cases[i].same23)
      fail_msg("mapping %d: ports %u %u %u", cases[i].mapping, a, d, f);
    /* repeating a destination reuses its mapping */
    assert_int_equal(out_ext(b, SEC, H1, 5000, R1, 3479, NULL), d);
    nat_box_stats st = stats(b);
    assert_int_equal(st.mappings_created, cases[i].created);
    nat_box_free(b);
  }
}

static void test_filtering_table(void **state) {
  (void)state;
  /* After H1:5000 sent to R1:3478: inbound from R1:3478, R1:9999, R2:3478.
   * The verdicts depend only on filtering, whatever the mapping. */
  static const int want[3][3] = {
      {NAT_BOX_TO_LAN, NAT_BOX_TO_LAN, NAT_BOX_TO_LAN},
      {NAT_BOX_TO_LAN, NAT_BOX_TO_LAN, NAT_BOX_DROP_FILTERED},
      {NAT_BOX_TO_LAN, NAT_BOX_DROP_FILTERED, NAT_BOX_DROP_FILTERED},
  };
  for (uint8_t m = NAT_BEH_EI; m <= NAT_BEH_APD; m++) {
    for (uint8_t f = NAT_BEH_EI; f <= NAT_BEH_APD; f++) {
      nat_box_config c = base_cfg();
      c.mapping = m;
      c.filtering = f;
      nat_box *b = mk(&c);
      uint16_t ep = out_ext(b, 0, H1, 5000, R1, 3478, NULL);
      const uint32_t rip[3] = {R1, R1, R2};
      const uint16_t rport[3] = {3478, 9999, 3478};
      for (int k = 0; k < 3; k++) {
        uint32_t iip = 0;
        uint16_t ipt = 0;
        int v = in_v(b, SEC, rip[k], rport[k], PUB1, ep, &iip, &ipt);
        if (v != want[f - NAT_BEH_EI][k])
          fail_msg("mapping %u filtering %u remote %d: %s", m, f, k,
                   nat_box_verdict_name(v));
        if (v == NAT_BOX_TO_LAN) {
          assert_int_equal(iip, H1);
          assert_int_equal(ipt, 5000);
        }
      }
      nat_box_stats st = stats(b);
      assert_int_equal(st.drops[-NAT_BOX_DROP_FILTERED - 1], f - NAT_BEH_EI);
      nat_box_free(b);
    }
  }
}

/* Filtering remembers every remote sent to through the mapping, each with
 * its own timer, and only through that mapping. */
static void test_filter_permits(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.filtering = NAT_BEH_APD;
  c.timeout = 10 * SEC;
  nat_box *b = mk(&c);
  uint16_t ep = out_ext(b, 0, H1, 5000, R1, 1000, NULL);
  assert_int_equal(out_ext(b, 0, H1, 5000, R2, 2000, NULL), ep);
  uint16_t ep2 = out_ext(b, 0, H2, 6000, R1, 1000, NULL);
  assert_int_not_equal(ep, ep2);
  expect_in(b, SEC, R1, 1000, ep, NAT_BOX_TO_LAN);
  expect_in(b, SEC, R2, 2000, ep, NAT_BOX_TO_LAN);
  expect_in(b, SEC, R1, 2000, ep, NAT_BOX_DROP_FILTERED);
  expect_in(b, SEC, R2, 2000, ep2, NAT_BOX_DROP_FILTERED);
  /* keep talking to R2 only: the mapping lives, R1's permission ends */
  out_ext(b, 8 * SEC, H1, 5000, R2, 2000, NULL);
  expect_in(b, 12 * SEC, R1, 1000, ep, NAT_BOX_DROP_FILTERED);
  expect_in(b, 12 * SEC, R2, 2000, ep, NAT_BOX_TO_LAN);
  nat_box_free(b);

  /* bounded: max_mappings 1 allows 4 permits; the oldest is evicted */
  c.max_mappings = 1;
  b = mk(&c);
  for (uint16_t i = 0; i < 5; i++)
    assert_int_equal(out_ext(b, i, H1, 5000, R1, (uint16_t)(100 + i), NULL),
                     5000);
  expect_in(b, 10, R1, 100, 5000, NAT_BOX_DROP_FILTERED);
  for (uint16_t i = 1; i < 5; i++)
    assert_int_equal(
        in_v(b, 10, R1, (uint16_t)(100 + i), PUB1, 5000, NULL, NULL),
        NAT_BOX_TO_LAN);
  nat_box_free(b);
}

/* ---- allocation ---------------------------------------------------- */

static void test_alloc_preserve(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  nat_box *b = mk(&c);
  assert_int_equal(out_ext(b, 0, H1, 5000, R1, 1, NULL), 5000);
  assert_int_equal(out_ext(b, 0, H2, 5000, R1, 1, NULL), 5001);
  assert_int_equal(out_ext(b, 0, H1, 5001, R1, 1, NULL), 5002);
  assert_int_equal(out_ext(b, 0, H2, 7777, R1, 1, NULL), 7777);
  /* below the range: the search starts at port_min */
  assert_int_equal(out_ext(b, 0, H1, 53, R1, 1, NULL), 1024);
  expect_in(b, 0, R1, 1, 5001, NAT_BOX_TO_LAN);
  nat_box_free(b);

  /* the upward search wraps within the range */
  c.port_min = 6000;
  c.port_max = 6002;
  b = mk(&c);
  assert_int_equal(out_ext(b, 0, H1, 6002, R1, 1, NULL), 6002);
  assert_int_equal(out_ext(b, 0, H2, 6002, R1, 1, NULL), 6000);
  assert_int_equal(out_ext(b, 0, H1, 6000, R1, 1, NULL), 6001);
  nat_box_free(b);
}

/* @p n sequential allocations from distinct internal ports of @p host. */
static void seq_ports(nat_box *b, uint32_t host, int n, uint16_t *out) {
  for (int i = 0; i < n; i++)
    out[i] = out_ext(b, 0, host, (uint16_t)(10000 + i), R1, 1, NULL);
}

/* Step from a to b within [lo, hi], as a signed distance in (-r/2, r/2]. */
static int step(uint16_t a, uint16_t b, int lo, int hi) {
  int r = hi - lo + 1, d = ((int)b - (int)a) % r;
  if (d < 0)
    d += r;
  return d > r / 2 ? d - r : d;
}

static void test_alloc_sequential(void **state) {
  (void)state;
  static const int32_t deltas[] = {1, 2, -1, 7};
  for (size_t i = 0; i < 4; i++) {
    nat_box_config c = base_cfg();
    c.alloc = NAT_ALLOC_SEQUENTIAL;
    c.delta = deltas[i];
    nat_box *b = mk(&c);
    uint16_t p[20];
    seq_ports(b, H1, 20, p);
    for (int k = 1; k < 20; k++)
      if (step(p[k - 1], p[k], 1024, 65535) != deltas[i])
        fail_msg("delta %d: %u -> %u", deltas[i], p[k - 1], p[k]);
    nat_box_free(b);
  }
  /* the start is seed-derived, not port_min; same seed, same start */
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_SEQUENTIAL;
  uint16_t first[4];
  for (int s = 0; s < 4; s++) {
    c.seed = (uint64_t)s / 2;
    nat_box *b = mk(&c);
    seq_ports(b, H1, 1, &first[s]);
    nat_box_free(b);
  }
  assert_int_equal(first[0], first[1]);
  assert_int_equal(first[2], first[3]);
  assert_int_not_equal(first[0], first[2]);
  assert_int_not_equal(first[0], 1024);
}

static void test_alloc_per_host(void **state) {
  (void)state;
  for (int per_host = 0; per_host < 2; per_host++) {
    nat_box_config c = base_cfg();
    c.alloc = NAT_ALLOC_SEQUENTIAL;
    c.per_host = per_host;
    nat_box *b = mk(&c);
    uint16_t a[6], h[6];
    for (int i = 0; i < 6; i++) {
      a[i] = out_ext(b, 0, H1, (uint16_t)(10000 + i), R1, 1, NULL);
      h[i] = out_ext(b, 0, H2, (uint16_t)(10000 + i), R1, 1, NULL);
    }
    for (int i = 1; i < 6; i++) {
      if (per_host) { /* each host has its own +1 counter */
        assert_int_equal(step(a[i - 1], a[i], 1024, 65535), 1);
        assert_int_equal(step(h[i - 1], h[i], 1024, 65535), 1);
      } else { /* one counter, the hosts alternate on it */
        assert_int_equal(step(a[i - 1], h[i - 1], 1024, 65535), 1);
        assert_int_equal(step(h[i - 1], a[i], 1024, 65535), 1);
      }
    }
    if (per_host) /* two random starts, far apart */
      assert_true(abs(step(a[0], h[0], 1024, 65535)) > 6);
    nat_box_free(b);
  }
}

/* 300 allocations with interleaving; returns the steps seen. */
static void interleave_run(uint64_t seed, int *steps) {
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_SEQUENTIAL;
  c.delta = 2;
  c.interleave = 0.3;
  c.interleave_max = 3;
  c.seed = seed;
  nat_box *b = mk(&c);
  uint16_t p[301];
  seq_ports(b, H1, 301, p);
  for (int i = 0; i < 300; i++)
    steps[i] = step(p[i], p[i + 1], 1024, 65535);
  nat_box_free(b);
}

static void test_alloc_interleave(void **state) {
  (void)state;
  int s1[300], s2[300], s3[300], hist[9] = {0};
  interleave_run(7, s1);
  interleave_run(7, s2);
  interleave_run(8, s3);
  for (int i = 0; i < 300; i++) {
    if (s1[i] < 2 || s1[i] > 8 || s1[i] % 2 != 0)
      fail_msg("step %d is not delta * 1..4", s1[i]);
    hist[s1[i]]++;
  }
  /* about 70% plain delta, the rest 2, 3 or 4 deltas (about 10% each) */
  assert_in_range(hist[2], 180, 240);
  assert_in_range(hist[4], 10, 50);
  assert_in_range(hist[6], 10, 50);
  assert_in_range(hist[8], 10, 50);
  assert_memory_equal(s1, s2, sizeof s1);
  assert_memory_not_equal(s1, s3, sizeof s1);
}

static void test_alloc_wrap_and_skip(void **state) {
  (void)state;
  /* 6 ports: the full cycle from a random start, +1 and wrapping */
  for (int32_t delta = -1; delta <= 1; delta += 2) {
    nat_box_config c = base_cfg();
    c.alloc = NAT_ALLOC_SEQUENTIAL;
    c.delta = delta;
    c.port_min = 65530;
    c.port_max = 65535;
    c.timeout = 30 * SEC;
    uint16_t p[6];
    nat_box *b = NULL;
    for (c.seed = 1;; c.seed++) { /* a start that makes the cycle wrap */
      b = mk(&c);
      seq_ports(b, H1, 6, p);
      if (p[0] != (delta > 0 ? 65530 : 65535))
        break;
      nat_box_free(b);
    }
    int wrapped = 0;
    for (int k = 1; k < 6; k++) {
      assert_int_equal(step(p[k - 1], p[k], 65530, 65535), delta);
      wrapped |= delta > 0 ? p[k] == 65530 && p[k - 1] == 65535
                           : p[k] == 65535 && p[k - 1] == 65530;
    }
    assert_true(wrapped);
    /* full: exhausted */
    expect_out(b, 0, H2, 1, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
    /* refresh all but the third; it expires; the next allocation skips
     * the ports in use and lands on the freed one */
    for (int k = 0; k < 6; k++)
      if (k != 2)
        out_ext(b, 20 * SEC, H1, (uint16_t)(10000 + k), R1, 1, NULL);
    assert_int_equal(out_ext(b, 40 * SEC, H2, 1, R1, 1, NULL), p[2]);
    nat_box_free(b);
  }
}

static void test_alloc_random(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_RANDOM;
  c.port_min = 40000;
  c.port_max = 40999;
  c.timeout = SEC;
  uint16_t p[3][200];
  for (int r = 0; r < 3; r++) {
    c.seed = r < 2 ? 99 : 100;
    nat_box *b = mk(&c);
    /* a second apart: each mapping has expired before the next */
    for (int i = 0; i < 200; i++)
      p[r][i] = out_ext(b, (nat_tstamp)i * SEC, H1, (uint16_t)(2000 + i), R1, 1,
                        NULL);
    nat_box_stats st = stats(b);
    assert_int_equal(st.mappings_live, 1);
    assert_int_equal(st.mappings_expired, 199);
    nat_box_free(b);
  }
  static uint8_t seen[1000];
  memset(seen, 0, sizeof seen);
  int distinct = 0, lo = 0, hi = 0;
  for (int i = 0; i < 200; i++) {
    assert_in_range(p[0][i], 40000, 40999);
    distinct += !seen[p[0][i] - 40000]++;
    lo += p[0][i] < 40500;
    hi += p[0][i] >= 40500;
  }
  assert_true(distinct >= 150);
  assert_in_range(lo, 60, 140);
  assert_in_range(hi, 60, 140);
  assert_memory_equal(p[0], p[1], sizeof p[0]);
  assert_memory_not_equal(p[0], p[2], sizeof p[0]);
}

/* ---- carrier-grade NAT port blocks --------------------------------- */

/* The block (aligned on @p size from @p lo) that holds @p port. */
static uint32_t block_of(uint16_t port, uint32_t lo, uint32_t size) {
  return ((uint32_t)port - lo) / size;
}

/* Two internal IPs get disjoint aligned blocks; every mapping of one IP,
 * whatever the allocation, stays in its block. */
static void test_port_blocks(void **state) {
  (void)state;
  for (uint8_t alloc = NAT_ALLOC_PRESERVE; alloc <= NAT_ALLOC_RANDOM; alloc++) {
    nat_box_config c = base_cfg();
    c.alloc = alloc;
    c.block_size = 256;
    c.delta = 3;
    nat_box *b = mk(&c);
    uint32_t blk[2] = {0, 0};
    uint16_t seen[2][100];
    for (int i = 0; i < 100; i++) {
      for (int h = 0; h < 2; h++) {
        uint16_t p =
            out_ext(b, 0, h ? H2 : H1, (uint16_t)(5000 + i), R1, 1, NULL);
        assert_in_range(p, 1024, 1024 + 252 * 256 - 1);
        if (i == 0)
          blk[h] = block_of(p, 1024, 256);
        if (block_of(p, 1024, 256) != blk[h])
          fail_msg("alloc %u host %d: port %u outside block %u", alloc, h, p,
                   blk[h]);
        seen[h][i] = p;
      }
    }
    assert_int_not_equal(blk[0], blk[1]);
    /* 100 distinct ports each; sequential steps by delta in the block */
    for (int h = 0; h < 2; h++)
      for (int i = 1; i < 100; i++) {
        for (int j = 0; j < i; j++)
          assert_int_not_equal(seen[h][i], seen[h][j]);
        if (alloc == NAT_ALLOC_SEQUENTIAL) {
          uint32_t lo = 1024 + blk[h] * 256;
          assert_int_equal(
              step(seen[h][i - 1], seen[h][i], (int)lo, (int)lo + 255), 3);
        }
      }
    /* inbound reaches them through the block's ports */
    expect_in(b, 0, R1, 1, seen[1][7], NAT_BOX_TO_LAN);
    nat_box_free(b);
  }
  /* the blocks are random: another seed, other blocks */
  uint32_t first[3];
  for (uint64_t seed = 0; seed < 3; seed++) {
    nat_box_config c = base_cfg();
    c.alloc = NAT_ALLOC_RANDOM;
    c.block_size = 512;
    c.seed = 100 + seed;
    nat_box *b = mk(&c);
    first[seed] = block_of(out_ext(b, 0, H1, 1, R1, 1, NULL), 1024, 512);
    nat_box_free(b);
  }
  assert_true(first[0] != first[1] || first[1] != first[2]);
}

/* A full block drops as a full range does; so does a host for which no
 * block is left; a block comes back when its host's last mapping
 * expires. */
static void test_port_block_full(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_RANDOM;
  c.port_min = 60000;
  c.port_max = 60009; /* two blocks of 4, two ports left over */
  c.block_size = 4;
  c.timeout = 10 * SEC;
  nat_box *b = mk(&c);
  uint16_t p1[4];
  for (int i = 0; i < 4; i++) {
    p1[i] = out_ext(b, 0, H1, (uint16_t)(100 + i), R1, 1, NULL);
    assert_int_equal(block_of(p1[i], 60000, 4), block_of(p1[0], 60000, 4));
  }
  expect_out(b, 0, H1, 104, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  /* the other host has the other block */
  uint16_t p2 = out_ext(b, SEC, H2, 100, R1, 1, NULL);
  assert_int_not_equal(block_of(p2, 60000, 4), block_of(p1[0], 60000, 4));
  assert_true(p2 < 60008);
  /* a third host: no block left */
  uint32_t h3 = IP4(192, 168, 1, 12);
  expect_out(b, SEC, h3, 100, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  nat_box_stats st = stats(b);
  assert_int_equal(st.drops[-NAT_BOX_DROP_PORTS_EXHAUSTED - 1], 2);
  assert_int_equal(st.mappings_live, 5);
  /* H1's mappings expire at 10 s: its block goes to the third host */
  uint16_t p3 = out_ext(b, 10 * SEC, h3, 100, R1, 1, NULL);
  assert_int_equal(block_of(p3, 60000, 4), block_of(p1[0], 60000, 4));
  /* and H1 now has none left */
  expect_out(b, 10 * SEC, H1, 100, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  nat_box_free(b);

  /* a block the size of the range: one host only */
  c.block_size = 10;
  b = mk(&c);
  out_ext(b, 0, H1, 1, R1, 1, NULL);
  expect_out(b, 0, H2, 1, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  nat_box_free(b);
  /* larger than the range: refused */
  c.block_size = 11;
  assert_int_equal(nat_box_new(&b, &c), NAT_EINVAL);
  assert_null(b);
}

/* ---- overloading, hairpinning -------------------------------------- */

static void test_overload(void **state) {
  (void)state;
  for (int ov = 0; ov < 2; ov++) {
    nat_box_config c = base_cfg();
    c.mapping = NAT_BEH_APD;
    c.filtering = NAT_BEH_APD;
    c.overload = ov;
    nat_box *b = mk(&c);
    assert_int_equal(out_ext(b, 0, H1, 5000, R1, 3478, NULL), 5000);
    uint16_t h2r2 = out_ext(b, 0, H2, 5000, R2, 3478, NULL);
    uint16_t h2r1 = out_ext(b, 0, H2, 5000, R1, 3478, NULL);
    assert_int_equal(h2r2, ov ? 5000 : 5001);
    assert_int_equal(h2r1, ov ? 5001 : 5002);
    uint32_t ip;
    uint16_t port;
    assert_int_equal(in_v(b, 0, R1, 3478, PUB1, 5000, &ip, &port),
                     NAT_BOX_TO_LAN);
    assert_int_equal(ip, H1);
    assert_int_equal(port, 5000);
    assert_int_equal(in_v(b, 0, R2, 3478, PUB1, 5000, &ip, &port),
                     ov ? NAT_BOX_TO_LAN : NAT_BOX_DROP_FILTERED);
    if (ov)
      assert_int_equal(ip, H2);
    assert_int_equal(in_v(b, 0, R1, 3478, PUB1, h2r1, &ip, &port),
                     NAT_BOX_TO_LAN);
    assert_int_equal(ip, H2);
    expect_in(b, 0, R2, 9999, 5000, NAT_BOX_DROP_FILTERED);
    expect_in(b, 0, R1, 3478, 5003, NAT_BOX_DROP_NO_MAPPING);
    nat_box_free(b);
  }
  /* overloading applies to APD mapping only */
  nat_box_config c = base_cfg();
  c.overload = true;
  nat_box *b = mk(&c);
  assert_int_equal(out_ext(b, 0, H1, 5000, R1, 3478, NULL), 5000);
  assert_int_equal(out_ext(b, 0, H2, 5000, R2, 3478, NULL), 5001);
  nat_box_free(b);
}

static void test_hairpin(void **state) {
  (void)state;
  uint8_t pkt[128];
  nat_box_config c = base_cfg();
  c.hairpin = true;
  c.filtering = NAT_BEH_APD;
  nat_box *b = mk(&c);
  assert_int_equal(out_ext(b, 0, H2, 6000, R1, 3478, NULL), 6000);
  /* A -> B's public endpoint: B never sent to A's external: filtered */
  expect_out(b, 0, H1, 5000, PUB1, 6000, NAT_BOX_DROP_FILTERED);
  /* B -> A's external endpoint (A's mapping exists now, and A sent to
   * B's external endpoint): delivered, source = B's external endpoint */
  assert_int_equal(out_v(b, 0, pkt, H2, 6000, PUB1, 5000), NAT_BOX_TO_LAN);
  assert_flow(pkt, PUB1, 6000, H1, 5000);
  /* and now A -> B passes B's filter */
  assert_int_equal(out_v(b, 0, pkt, H1, 5000, PUB1, 6000), NAT_BOX_TO_LAN);
  assert_flow(pkt, PUB1, 5000, H2, 6000);
  /* to a public port nobody holds */
  expect_out(b, 0, H1, 5000, PUB1, 7000, NAT_BOX_DROP_NO_MAPPING);
  nat_box_stats st = stats(b);
  assert_int_equal(st.hairpinned, 2);
  assert_int_equal(st.drops[-NAT_BOX_DROP_FILTERED - 1], 1);
  assert_int_equal(st.drops[-NAT_BOX_DROP_NO_MAPPING - 1], 1);
  nat_box_free(b);

  /* EI filtering: delivered at once */
  c.filtering = NAT_BEH_EI;
  b = mk(&c);
  out_ext(b, 0, H2, 6000, R1, 3478, NULL);
  assert_int_equal(out_v(b, 0, pkt, H1, 5000, PUB1, 6000), NAT_BOX_TO_LAN);
  assert_flow(pkt, PUB1, 5000, H2, 6000);
  nat_box_free(b);

  /* hairpin off */
  c.hairpin = false;
  b = mk(&c);
  out_ext(b, 0, H2, 6000, R1, 3478, NULL);
  expect_out(b, 0, H1, 5000, PUB1, 6000, NAT_BOX_DROP_HAIRPIN);
  st = stats(b);
  assert_int_equal(st.drops[-NAT_BOX_DROP_HAIRPIN - 1], 1);
  assert_int_equal(st.hairpinned, 0);
  assert_int_equal(st.mappings_created, 1);
  nat_box_free(b);
}

/* ---- timeouts, pooling, exhaustion --------------------------------- */

static void test_timeout(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_SEQUENTIAL;
  c.timeout = 10 * SEC;
  nat_box *b = mk(&c);
  uint16_t p = out_ext(b, 0, H1, 5000, R1, 1, NULL);
  expect_in(b, 10 * SEC - 1, R1, 1, p, NAT_BOX_TO_LAN);
  expect_in(b, 10 * SEC, R1, 1, p, NAT_BOX_DROP_NO_MAPPING);
  nat_box_stats st = stats(b);
  assert_int_equal(st.mappings_expired, 1);
  assert_int_equal(st.mappings_live, 0);
  uint16_t q = out_ext(b, 11 * SEC, H1, 5000, R1, 1, NULL);
  assert_int_equal(step(p, q, 1024, 65535), 1);
  nat_box_free(b);

  /* outbound refreshes */
  b = mk(&c);
  p = out_ext(b, 0, H1, 5000, R1, 1, NULL);
  out_ext(b, 8 * SEC, H1, 5000, R1, 1, NULL);
  out_ext(b, 16 * SEC, H1, 5000, R1, 1, NULL);
  expect_in(b, 25 * SEC, R1, 1, p, NAT_BOX_TO_LAN);
  nat_box_expire(b, 26 * SEC);
  st = stats(b);
  assert_int_equal(st.mappings_live, 0);
  assert_int_equal(st.mappings_expired, 1);
  nat_box_free(b);

  /* inbound refreshes only with inbound_refresh */
  for (int ir = 0; ir < 2; ir++) {
    c.inbound_refresh = ir;
    b = mk(&c);
    p = out_ext(b, 0, H1, 5000, R1, 1, NULL);
    expect_in(b, 8 * SEC, R1, 1, p, NAT_BOX_TO_LAN);
    expect_in(b, 16 * SEC, R1, 1, p,
              ir ? NAT_BOX_TO_LAN : NAT_BOX_DROP_NO_MAPPING);
    expect_in(b, 25 * SEC, R1, 1, p,
              ir ? NAT_BOX_TO_LAN : NAT_BOX_DROP_NO_MAPPING);
    nat_box_free(b);
  }
  /* a clock that runs back is taken as standing still */
  c.inbound_refresh = false;
  b = mk(&c);
  p = out_ext(b, 20 * SEC, H1, 5000, R1, 1, NULL);
  expect_in(b, 5 * SEC, R1, 1, p, NAT_BOX_TO_LAN);
  expect_in(b, 30 * SEC, R1, 1, p, NAT_BOX_DROP_NO_MAPPING);
  nat_box_free(b);
}

static void test_pooling(void **state) {
  (void)state;
  for (int arb = 0; arb < 2; arb++) {
    nat_box_config c = base_cfg();
    c.public_ip[1] = PUB2;
    c.npublic = 2;
    c.pooling_arbitrary = arb;
    c.mapping = NAT_BEH_APD;
    c.filtering = NAT_BEH_APD;
    nat_box *b = mk(&c);
    int hosts_on[2] = {0, 0};
    for (uint32_t h = 0; h < 16; h++) {
      int on[2] = {0, 0};
      for (uint16_t d = 0; d < 16; d++) {
        uint32_t eip;
        uint16_t ep =
            out_ext(b, 0, H1 + h, 5000, R1, (uint16_t)(100 + d), &eip);
        assert_true(eip == PUB1 || eip == PUB2);
        on[eip == PUB2]++;
        uint32_t iip;
        assert_int_equal(
            in_v(b, 0, R1, (uint16_t)(100 + d), eip, ep, &iip, NULL),
            NAT_BOX_TO_LAN);
        assert_int_equal(iip, H1 + h);
        /* the other public IP knows nothing of this mapping (it may hold
         * the same port for another mapping, to another remote) */
        int v = in_v(b, 0, R1, (uint16_t)(100 + d), eip == PUB1 ? PUB2 : PUB1,
                     ep, &iip, NULL);
        assert_true(v != NAT_BOX_TO_LAN || iip != H1 + h);
      }
      if (!arb) /* paired: one external IP per internal host */
        assert_true(on[0] == 16 || on[1] == 16);
      else /* arbitrary: both, per mapping */
        assert_true(on[0] > 0 && on[1] > 0);
      hosts_on[on[1] > on[0]]++;
    }
    assert_true(hosts_on[0] > 0 && hosts_on[1] > 0);
    assert_int_equal(in_v(b, 0, R1, 1, IP4(203, 0, 113, 3), 5000, NULL, NULL),
                     NAT_BOX_DROP_NOT_OURS);
    nat_box_free(b);
  }
}

static void test_exhaustion(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.port_min = 60000;
  c.port_max = 60001;
  c.timeout = 10 * SEC;
  nat_box *b = mk(&c);
  assert_int_equal(out_ext(b, 0, H1, 1, R1, 1, NULL), 60000);
  assert_int_equal(out_ext(b, 0, H1, 2, R1, 1, NULL), 60001);
  expect_out(b, 0, H1, 3, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  expect_out(b, SEC, H2, 3, R2, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  /* existing mappings still work */
  assert_int_equal(out_ext(b, 2 * SEC, H1, 1, R2, 7, NULL), 60000);
  nat_box_stats st = stats(b);
  assert_int_equal(st.drops[-NAT_BOX_DROP_PORTS_EXHAUSTED - 1], 2);
  assert_int_equal(st.mappings_live, 2);
  /* after the idle one expires, its port is free again */
  assert_int_equal(out_ext(b, 10 * SEC, H1, 3, R1, 1, NULL), 60001);
  nat_box_free(b);

  /* max_mappings caps the table */
  c = base_cfg();
  c.max_mappings = 2;
  b = mk(&c);
  out_ext(b, 0, H1, 1, R1, 1, NULL);
  out_ext(b, 0, H1, 2, R1, 1, NULL);
  expect_out(b, 0, H1, 3, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  nat_box_free(b);
}

/* More internal hosts over time than max_mappings (the bound of the host
 * table): hosts without mappings are forgotten to make room. */
static void test_host_table_bounded(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.max_mappings = 2;
  c.alloc = NAT_ALLOC_SEQUENTIAL;
  c.per_host = true;
  c.timeout = 100 * SEC;
  nat_box *b = mk(&c);
  uint16_t p[12];
  for (uint32_t i = 0; i < 11; i++) /* each expired before the next */
    p[i] = out_ext(b, i * 200 * SEC, H1 + i, 1, R1, 1, NULL);
  assert_int_equal(stats(b).mappings_live, 1);
  p[11] = out_ext(b, 2001 * SEC, H1, 2, R1, 1, NULL);
  expect_out(b, 2002 * SEC, H1, 3, R1, 1, NAT_BOX_DROP_PORTS_EXHAUSTED);
  uint32_t ip;
  assert_int_equal(in_v(b, 2003 * SEC, R1, 1, PUB1, p[10], &ip, NULL),
                   NAT_BOX_TO_LAN);
  assert_int_equal(ip, H1 + 10);
  assert_int_equal(in_v(b, 2003 * SEC, R1, 1, PUB1, p[11], &ip, NULL),
                   NAT_BOX_TO_LAN);
  assert_int_equal(ip, H1);
  assert_int_equal(stats(b).mappings_created, 12);
  nat_box_free(b);
}

/* Many mappings (the tables grow and rehash): every one still maps back. */
static void test_many_mappings(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_RANDOM;
  c.mapping = NAT_BEH_APD;
  c.filtering = NAT_BEH_APD;
  nat_box *b = mk(&c);
  static uint16_t ep[20000];
  for (uint32_t i = 0; i < 20000; i++)
    ep[i] = out_ext(b, 0, H1 + i % 50, (uint16_t)(1000 + i / 50), R1 + i % 7,
                    (uint16_t)(80 + i % 3), NULL);
  for (uint32_t i = 0; i < 20000; i++) {
    uint32_t iip;
    uint16_t ip;
    assert_int_equal(
        in_v(b, 0, R1 + i % 7, (uint16_t)(80 + i % 3), PUB1, ep[i], &iip, &ip),
        NAT_BOX_TO_LAN);
    assert_int_equal(iip, H1 + i % 50);
    assert_int_equal(ip, 1000 + i / 50);
  }
  nat_box_stats st = stats(b);
  assert_int_equal(st.mappings_live, 20000);
  nat_box_expire(b, 30 * SEC);
  st = stats(b);
  assert_int_equal(st.mappings_live, 0);
  assert_int_equal(st.mappings_expired, 20000);
  nat_box_free(b);
}

/* ---- drops, stats, names, configuration ---------------------------- */

/* A packet (35 bytes, "payload") with one field broken: bytes [off, off +
 * w) set to val, the length passed changed to n (if not 0), and the IP
 * header re-signed (if resign) so that only the field under test is
 * wrong. */
typedef struct drop_case {
  const char *what;
  size_t off, w;
  uint32_t val;
  size_t n;
  int resign, want;
} drop_case;

static const drop_case drop_cases[] = {
    {"short", 0, 1, 0x45, 10, 0, NAT_BOX_DROP_MALFORMED},
    {"version 6", 0, 1, 0x65, 0, 1, NAT_BOX_DROP_MALFORMED},
    {"IHL 4", 0, 1, 0x44, 0, 0, NAT_BOX_DROP_MALFORMED},
    {"IHL past the end", 0, 1, 0x4f, 40, 0, NAT_BOX_DROP_MALFORMED},
    {"total length > buffer", 2, 2, 36, 0, 1, NAT_BOX_DROP_MALFORMED},
    {"total length < IHL", 2, 2, 16, 0, 1, NAT_BOX_DROP_MALFORMED},
    {"no room for UDP header", 2, 2, 26, 0, 1, NAT_BOX_DROP_MALFORMED},
    {"bad IP checksum", 10, 1, 0x00, 0, 0, NAT_BOX_DROP_MALFORMED},
    {"UDP length > payload", 24, 2, 16, 0, 0, NAT_BOX_DROP_MALFORMED},
    {"UDP length < 8", 24, 2, 7, 0, 0, NAT_BOX_DROP_MALFORMED},
    {"MF", 6, 2, 0x2000, 0, 1, NAT_BOX_DROP_FRAGMENT},
    {"offset", 6, 2, 0x0010, 0, 1, NAT_BOX_DROP_FRAGMENT},
    {"TCP", 9, 1, 6, 0, 1, NAT_BOX_DROP_PROTOCOL},
    {"ICMP", 9, 1, 1, 0, 1, NAT_BOX_DROP_PROTOCOL},
};

static void test_drops(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  nat_box *b = mk(&c);
  uint64_t counts[NAT_BOX_DROP_REASONS] = {0};
  for (int dir = 0; dir < 2; dir++) {
    for (size_t i = 0; i < sizeof drop_cases / sizeof drop_cases[0]; i++) {
      const drop_case *d = &drop_cases[i];
      uint8_t p[128];
      size_t n = dir ? build(p, R1, 1, PUB1, 5000) : build(p, H1, 5000, R1, 1);
      assert_int_equal(n, 35);
      if (d->w == 1)
        p[d->off] = d->off == 10 ? (uint8_t)(p[10] ^ 1) : (uint8_t)d->val;
      else
        p16(p + d->off, d->val);
      if (d->resign) {
        p16(p + 10, 0);
        p16(p + 10, ~sum16(0, p, 20) & 0xffff);
      }
      n = d->n ? d->n : n;
      int v = dir ? nat_box_inbound(b, 0, p, n) : nat_box_outbound(b, 0, p, n);
      if (v != d->want)
        fail_msg("%s %s: %s", dir ? "inbound" : "outbound", d->what,
                 nat_box_verdict_name(v));
      counts[-v - 1]++;
    }
  }
  assert_int_equal(nat_box_outbound(b, 0, NULL, 0), NAT_BOX_DROP_MALFORMED);
  counts[0]++;
  nat_box_stats st = stats(b);
  assert_memory_equal(st.drops, counts, sizeof counts);
  assert_int_equal(st.packets_out + st.packets_in + st.mappings_created, 0);
  nat_box_free(b);
}

static void test_stats(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.filtering = NAT_BEH_AD;
  c.hairpin = true;
  c.timeout = 10 * SEC;
  nat_box *b = mk(&c);
  uint8_t p[128];
  uint64_t calls = 0;
  out_ext(b, 0, H1, 5000, R1, 1, NULL);
  out_ext(b, 0, H1, 5000, R2, 1, NULL);
  out_ext(b, 0, H2, 6000, R1, 1, NULL);
  calls += 3;
  expect_in(b, 0, R1, 9, 5000, NAT_BOX_TO_LAN);
  expect_in(b, 0, R2, 9, 6000, NAT_BOX_DROP_FILTERED);
  expect_in(b, 0, R2, 9, 7000, NAT_BOX_DROP_NO_MAPPING);
  assert_int_equal(in_v(b, 0, R2, 9, R1, 7000, NULL, NULL),
                   NAT_BOX_DROP_NOT_OURS);
  calls += 4;
  expect_out(b, 0, H2, 6000, PUB1, 5000, NAT_BOX_DROP_FILTERED);
  assert_int_equal(out_v(b, 0, p, H1, 5000, PUB1, 6000), NAT_BOX_TO_LAN);
  calls += 2;
  nat_box_stats st = stats(b);
  assert_int_equal(st.packets_out, 3);
  assert_int_equal(st.packets_in, 1);
  assert_int_equal(st.hairpinned, 1);
  assert_int_equal(st.mappings_created, 2);
  assert_int_equal(st.mappings_live, 2);
  assert_int_equal(st.mappings_expired, 0);
  assert_int_equal(st.drops[-NAT_BOX_DROP_FILTERED - 1], 2);
  assert_int_equal(st.drops[-NAT_BOX_DROP_NO_MAPPING - 1], 1);
  assert_int_equal(st.drops[-NAT_BOX_DROP_NOT_OURS - 1], 1);
  uint64_t total = st.packets_out + st.packets_in + st.hairpinned;
  for (int i = 0; i < NAT_BOX_DROP_REASONS; i++)
    total += st.drops[i];
  assert_int_equal(total, calls);
  nat_box_expire(b, 10 * SEC);
  st = stats(b);
  assert_int_equal(st.mappings_live, 0);
  assert_int_equal(st.mappings_expired, 2);
  nat_box_free(b);
}

static void test_names(void **state) {
  (void)state;
  static const char *const names[] = {
      "fragment", "not-ours",   "hairpin-off", "ports-exhausted",
      "filtered", "no-mapping", "protocol",    "malformed",
      "to-wan",   "to-lan"}; /* -8 .. 1 */
  for (int v = -8; v <= 1; v++)
    assert_string_equal(nat_box_verdict_name(v), names[v + 8]);
  assert_string_equal(nat_box_verdict_name(2), "unknown");
  assert_string_equal(nat_box_verdict_name(-9), "unknown");
}

static void test_config(void **state) {
  (void)state;
  static const nat_box_config bad[] = {
      {.public_ip = {0}},
      {.public_ip = {PUB1}, .npublic = 5},
      {.public_ip = {PUB1}, .npublic = 2}, /* public_ip[1] is 0 */
      {.public_ip = {PUB1}, .mapping = NAT_BEH_APD + 1},
      {.public_ip = {PUB1}, .filtering = NAT_BEH_APD + 1},
      {.public_ip = {PUB1}, .alloc = 3},
      {.public_ip = {PUB1}, .port_min = 3000, .port_max = 2000},
      {.public_ip = {PUB1}, .port_max = 1000}, /* < default port_min */
      {.public_ip = {PUB1}, .interleave = -0.1},
      {.public_ip = {PUB1}, .interleave = 1.5},
      {.public_ip = {PUB1}, .block_size = 64513}, /* > 1024-65535 */
  };
  nat_box *b = (nat_box *)1;
  nat_box_config c = base_cfg();
  assert_int_equal(nat_box_new(NULL, &c), NAT_EINVAL);
  assert_int_equal(nat_box_new(&b, NULL), NAT_EINVAL);
  assert_null(b);
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    if (nat_box_new(&b, &bad[k]) != NAT_EINVAL)
      fail_msg("config case %zu accepted", k);
  c.interleave = NAN;
  assert_int_equal(nat_box_new(&b, &c), NAT_EINVAL);
  /* defaults: range 1024-65535, 30 s timeout */
  c = base_cfg();
  c.alloc = NAT_ALLOC_RANDOM;
  b = mk(&c);
  for (int i = 0; i < 100; i++)
    assert_in_range(out_ext(b, 0, H1, (uint16_t)i, R1, 1, NULL), 1024, 65535);
  nat_box_expire(b, 30 * SEC - 1);
  nat_box_stats st = stats(b);
  assert_int_equal(st.mappings_live, 100);
  nat_box_expire(b, 30 * SEC);
  st = stats(b);
  assert_int_equal(st.mappings_live, 0);
  nat_box_free(b);
  nat_box_free(NULL);
}

/* An ICMP error from router @p from to @p to quoting the datagram
 * q[0..qn) (type 11 code 0: time exceeded), checksums valid. */
static size_t build_icmp(uint8_t *b, uint32_t from, uint32_t to, uint8_t type,
                         const uint8_t *q, size_t qn) {
  size_t tot = 20 + 8 + qn;
  memset(b, 0, 28);
  b[0] = 0x45;
  p16(b + 2, (uint32_t)tot);
  b[8] = 64;
  b[9] = 1;
  p32(b + 12, from);
  p32(b + 16, to);
  p16(b + 10, ~sum16(0, b, 20) & 0xffff);
  b[20] = type;
  memcpy(b + 28, q, qn);
  p16(b + 22, ~sum16(0, b + 20, 8 + qn) & 0xffff);
  return tot;
}

/* RFC 5508: an ICMP error about a mapping's datagram reaches the internal
 * host with the quoted datagram translated back; an error about a remote
 * the filter does not admit, about no mapping, not about our address,
 * truncated or with a bad checksum is dropped, as is ICMP that is no
 * error; the error refreshes no mapping. */
static void test_icmp_errors(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.filtering = NAT_BEH_APD;
  c.timeout = 10 * SEC;
  nat_box *b = mk(&c);
  uint8_t sent[128], sent0[128], pkt[256];
  size_t sn = build(sent, H1, 5000, R1, 3478);
  assert_int_equal(nat_box_outbound(b, 0, sent, sn), NAT_BOX_TO_WAN);
  uint16_t e = src_port(sent);
  /* the same flow, UDP checksum 0 (none), last sent at 1 s */
  size_t sn0 = build_ex(sent0, H1, 5000, R1, 3478, "x", 0, 0);
  assert_int_equal(nat_box_outbound(b, 1 * SEC, sent0, sn0), NAT_BOX_TO_WAN);
  size_t n = build_icmp(pkt, R2, PUB1, 11, sent, sn);
  assert_int_equal(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_TO_LAN);
  assert_int_equal(dst_ip(pkt), H1);
  assert_int_equal(src_ip(pkt), R2);
  assert_true(ip_csum_ok(pkt));
  assert_int_equal(sum16(0, pkt + 20, n - 20), 0xffff); /* ICMP checksum */
  assert_flow(pkt + 28, H1, 5000, R1, 3478);            /* quoted, whole */
  assert_memory_equal(pkt + 28 + 28, "payload", 7);
  /* a 3/3 port unreachable likewise; a quoted UDP checksum 0 stays 0 */
  n = build_icmp(pkt, R1, PUB1, 3, sent0, sn0);
  assert_int_equal(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_TO_LAN);
  assert_int_equal(g16(pkt + 28 + 26), 0);
  assert_int_equal(src_port(pkt + 28), 5000);
  /* drops */
  uint8_t q[128];
  size_t qn = build(q, PUB1, e, R2, 1); /* a remote never sent to */
  n = build_icmp(pkt, R2, PUB1, 11, q, qn);
  check_v(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_DROP_FILTERED, __LINE__);
  qn = build(q, PUB1, (uint16_t)(e + 1), R1, 3478); /* no mapping */
  n = build_icmp(pkt, R2, PUB1, 11, q, qn);
  check_v(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_DROP_NO_MAPPING,
          __LINE__);
  qn = build(q, PUB2, e, R1, 3478); /* not from our address */
  n = build_icmp(pkt, R2, PUB1, 11, q, qn);
  check_v(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_DROP_NOT_OURS, __LINE__);
  qn = build(q, PUB1, e, R1, 3478);
  n = build_icmp(pkt, R2, PUB1, 0, q, qn); /* echo reply: not an error */
  check_v(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_DROP_PROTOCOL, __LINE__);
  n = build_icmp(pkt, R2, PUB1, 11, q, 24); /* quote ends in the UDP hdr */
  check_v(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_DROP_MALFORMED,
          __LINE__);
  n = build_icmp(pkt, R2, PUB1, 11, q, 0); /* no quote at all */
  uint8_t *exact = malloc(n); /* ASan: nothing read past the packet */
  assert_non_null(exact);
  memcpy(exact, pkt, n);
  check_v(nat_box_inbound(b, 9 * SEC, exact, n), NAT_BOX_DROP_MALFORMED,
          __LINE__);
  free(exact);
  n = build_icmp(pkt, R2, PUB1, 11, q, qn);
  pkt[22] ^= 1; /* ICMP checksum */
  check_v(nat_box_inbound(b, 9 * SEC, pkt, n), NAT_BOX_DROP_MALFORMED,
          __LINE__);
  nat_box_stats st = stats(b);
  assert_int_equal(st.icmp_errors_in, 2);
  assert_int_equal(st.packets_in, 0);
  /* last sent at 1 s: the errors at 9 s refreshed nothing, so the
   * mapping ends at 11 s (an error refreshing it would keep it to 19 s) */
  expect_in(b, 10 * SEC, R1, 3478, e, NAT_BOX_TO_LAN);
  expect_in(b, 12 * SEC, R1, 3478, e, NAT_BOX_DROP_NO_MAPPING);
  nat_box_free(b);
}

/* Same seed, same traffic: byte-identical output. */
static void test_deterministic(void **state) {
  (void)state;
  nat_box_config c = base_cfg();
  c.alloc = NAT_ALLOC_SEQUENTIAL;
  c.interleave = 0.5;
  c.mapping = NAT_BEH_APD;
  c.public_ip[1] = PUB2;
  c.npublic = 2;
  c.pooling_arbitrary = true;
  nat_box *x = mk(&c), *y = mk(&c);
  for (uint16_t i = 0; i < 500; i++) {
    uint8_t p1[128], p2[128];
    size_t n = build(p1, H1 + i % 3, (uint16_t)(4000 + i % 17), R1 + i % 5,
                     (uint16_t)(80 + i % 2));
    memcpy(p2, p1, n);
    assert_int_equal(nat_box_outbound(x, i * SEC / 10, p1, n),
                     nat_box_outbound(y, i * SEC / 10, p2, n));
    assert_memory_equal(p1, p2, n);
  }
  nat_box_free(x);
  nat_box_free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rewrite_bytes),
      cmocka_unit_test(test_udp_csum_zero_result),
      cmocka_unit_test(test_checksums_random),
      cmocka_unit_test(test_mapping_table),
      cmocka_unit_test(test_filtering_table),
      cmocka_unit_test(test_filter_permits),
      cmocka_unit_test(test_alloc_preserve),
      cmocka_unit_test(test_alloc_sequential),
      cmocka_unit_test(test_alloc_per_host),
      cmocka_unit_test(test_alloc_interleave),
      cmocka_unit_test(test_alloc_wrap_and_skip),
      cmocka_unit_test(test_alloc_random),
      cmocka_unit_test(test_port_blocks),
      cmocka_unit_test(test_port_block_full),
      cmocka_unit_test(test_overload),
      cmocka_unit_test(test_hairpin),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_pooling),
      cmocka_unit_test(test_exhaustion),
      cmocka_unit_test(test_host_table_bounded),
      cmocka_unit_test(test_many_mappings),
      cmocka_unit_test(test_drops),
      cmocka_unit_test(test_stats),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_icmp_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
