/* libFuzzer target for natbox's packet path (nat/natbox.h): a NAT
 * configured from the first 8 input bytes (mapping and filtering EI, AD or
 * APD; preserving, sequential (negative delta, per host, interleaved) or
 * random allocation; 1-4 public addresses, paired or arbitrary pooling;
 * port ranges from 1 port to the default 64,512; port blocks; hairpinning;
 * overloading; inbound refresh; 1-256 s timeouts; 1-32 or 65,536
 * mappings), then a sequence of operations, each 3 bytes (+ data):
 *   byte 0  bits 0-2: the operation; bits 3-7: clock advance (x 37 ms)
 *   0, 1    outbound UDP from one of 4 internal hosts and 8 ports to one
 *           of 5 remotes or the NAT's own addresses (hairpin), checksum
 *           valid, zero or wrong, 0-28 bytes of payload
 *   2, 3    inbound UDP from one of 8 sources to a public address, the
 *           port an external port seen leaving or from the input
 *   4       inbound ICMP (destination unreachable, time exceeded, echo
 *           reply, redirect) quoting a datagram from an external endpoint
 *           seen to a remote, whole or truncated, quoted header with
 *           options, checksum right or wrong
 *   5       raw input bytes either way, optionally with version, length
 *           and header checksum fixed up so they pass the first checks
 *   6       a UDP datagram either way damaged one way: IP options (valid,
 *           translated), total length past the buffer or below the
 *           header, MF or a fragment offset, TCP or GRE, UDP length too
 *           long or too short, wrong header checksum, version 6
 *   7       the clock jumps 0-255 s
 * Invariants that abort() when broken, checked against a log of what the
 * NAT forwarded:
 * - a verdict is one of nat_box_verdict;
 * - a forwarded packet (to the WAN or the LAN) has the length it came
 *   with, a correct IPv4 header checksum, a UDP checksum that is still
 *   right if it was (and still 0 if it was 0), an ICMP checksum that is
 *   right, and no byte changed but the translated addresses, ports and
 *   checksums;
 * - an outbound packet leaves from one of the NAT's public addresses with
 *   a port inside the range and, with port blocks, inside a whole block;
 *   its destination is untouched; while the same mapping key sent less
 *   than a timeout ago (the mapping is alive), it gets the same external
 *   endpoint and cannot be dropped for want of ports; while an internal
 *   host sent less than a timeout ago it keeps its port block and (paired
 *   pooling) its public address;
 * - a packet is delivered to the LAN (inbound, hairpinned or an ICMP
 *   error) only to an internal endpoint that sent through that external
 *   endpoint less than a timeout ago, and only from a source the filter
 *   admits (address-dependent: the endpoint sent to that address less
 *   than a timeout ago; address-and-port-dependent, or any filtering with
 *   overloading: to that address and port); with endpoint-independent
 *   filtering and no overloading, a UDP datagram to an external endpoint
 *   used less than a timeout ago is delivered, to that internal endpoint;
 * - the table never holds more than max_mappings live mappings, and
 *   live = created - expired.
 *
 * Per-input setup is a nat_box_new() (its port table is 4 bytes per
 * port and public address: small ranges are drawn more often than wide
 * ones) and a few memsets; the checks' loops are kept out of coverage.
 *
 * Run (clang, -DNAT_FUZZ=ON -DNAT_SANITIZE=address,undefined), 2026-12-08:
 *   build-fuzz/tests/fuzz/fuzz_natbox -max_total_time=600 \
 *     -print_final_stats=1 COPY_OF_corpus/natbox
 *   2,350,625 runs in 601 s, 3,911 exec/s on average by the wall clock,
 *   on 2 cores shared with four other helpers' fuzzers and builds (load
 *   average about 9), peak RSS 223 MB, 1,166 corpus units (371 KB: some
 *   80 packets an input on average) from the 14 seeds, cov 591, ft 3,973:
 *   no crash, no leak, no invariant broken, nothing to fix. Per CPU second
 *   (-seed=7 -runs=200000 over that corpus, user + sys time): 6,450
 *   inputs, about half a million packets through the NAT; the time is the
 *   NAT's own packet path under coverage tracing and libFuzzer's feature
 *   bookkeeping, not setup.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/natbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_util.h"

#define MAXEV  1024
#define NSEEN  8
#define PKTMAX 600
#define MS     (NAT_SECONDS / 1000)

/* One use of a mapping: ext <-> int, with remote the peer (outbound: the
 * destination; inbound with refresh: the source). */
typedef struct ev {
  uint32_t eip, iip, rip;
  uint16_t eport, iport, rport;
  bool out;
  nat_tstamp t;
} ev;

typedef struct host_st {
  nat_tstamp last; /* last outbound that made or refreshed a mapping */
  bool seen;
  uint32_t block, eip;
} host_st;

typedef struct fz {
  nat_box_config c;
  nat_box *b;
  nat_tstamp now;
  ev evs[MAXEV];
  size_t nev;
  uint32_t seen_ip[NSEEN];
  uint16_t seen_port[NSEEN];
  unsigned nseen;
  host_st hosts[4];
  const uint8_t *d;
  size_t n, pos;
} fz;

static const uint32_t pub_ips[NAT_BOX_MAX_PUBLIC] = {0xCB007101, 0xCB007102,
                                                     0xCB007103, 0xCB007104};
static const uint32_t int_ips[4] = {0x0A000001, 0x0A000002, 0x0A000003,
                                    0xC0A80105};
static const uint32_t rem_ips[8] = {0xC6336401, 0xC6336402, 0xC0000209,
                                    0x08080808, 0x01010101, 0x0A000001,
                                    0x00000000, 0xFFFFFFFF};
/* Range sizes (0: the default 1024-65535), small ones more often: the
 * NAT allocates 4 bytes per port and public address per input. */
static const uint16_t spans[32] = {
    1,    1,    2,    2,    3,    4,    7,     8,     16,    16,   31,
    32,   64,   64,   100,  128,  256,  256,   500,   512,   1000, 1024,
    1024, 2000, 2048, 4096, 8192, 9999, 16384, 32768, 64511, 0};
static const uint32_t blocks[4] = {1, 2, 4, 8};

static uint16_t rd16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}
static void wr16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
  wr16(p, v >> 16);
  wr16(p + 2, v & 0xffff);
}

/* Ones' complement sum (folded) of @p n bytes, added to @p acc. */
ORACLE static uint32_t sum(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2)
    acc += rd16(p + i);
  if (n & 1)
    acc += (uint32_t)p[n - 1] << 8;
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}

ORACLE static uint16_t csum(const uint8_t *p, size_t n) {
  return (uint16_t)~sum(0, p, n);
}

/* The UDP datagram at @p u (@p ulen bytes) of IPv4 header @p ip: its
 * checksum over the pseudo-header is right (0: none). */
ORACLE static uint32_t udp_sum(const uint8_t *ip, const uint8_t *u,
                               size_t ulen) {
  uint32_t acc = sum(0, ip + 12, 8);
  acc = sum(acc + 17 + (uint32_t)ulen, u, ulen);
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}
ORACLE static bool udp_ok(const uint8_t *ip, const uint8_t *u, size_t ulen) {
  return udp_sum(ip, u, ulen) == 0xffff;
}

/* The header length of @p p if it is a whole IPv4/UDP datagram the NAT
 * translates (as natbox.c's parse() reads it), else 0. */
ORACLE static size_t udp_ihl(const uint8_t *p, size_t len) {
  size_t ihl, tot, ulen;
  if (len < 20 || p[0] >> 4 != 4)
    return 0;
  ihl = (size_t)(p[0] & 15) * 4;
  tot = rd16(p + 2);
  if (ihl < 20 || tot < ihl || tot > len || csum(p, ihl) != 0 ||
      (rd16(p + 6) & 0x3fff) != 0 || p[9] != 17 || tot - ihl < 8)
    return 0;
  ulen = rd16(p + ihl + 4);
  return ulen >= 8 && ulen <= tot - ihl ? ihl : 0;
}

static uint8_t byte(fz *z) {
  return z->pos < z->n ? z->d[z->pos++] : 0;
}

ORACLE static bool live(const fz *z, nat_tstamp t) {
  return z->now - t < z->c.timeout;
}

ORACLE static void note(fz *z, uint32_t eip, uint16_t eport, uint32_t iip,
                        uint16_t iport, uint32_t rip, uint16_t rport,
                        bool out) {
  ev *e;
  if (z->nev == MAXEV)
    return;
  e = &z->evs[z->nev++];
  e->eip = eip, e->eport = eport, e->iip = iip, e->iport = iport;
  e->rip = rip, e->rport = rport, e->out = out, e->t = z->now;
}

ORACLE static bool is_public(const fz *z, uint32_t ip) {
  for (unsigned i = 0; i < z->c.npublic; i++)
    if (z->c.public_ip[i] == ip)
      return true;
  return false;
}

/* An outbound packet's mapping key matches event @p e? */
ORACLE static bool same_key(const fz *z, const ev *e, uint32_t iip,
                            uint16_t iport, uint32_t dip, uint16_t dport) {
  if (!e->out || e->iip != iip || e->iport != iport)
    return false;
  if (z->c.mapping != NAT_BEH_EI && e->rip != dip)
    return false;
  return z->c.mapping != NAT_BEH_APD || e->rport == dport;
}

/* The live mapping an outbound packet must reuse, or NULL. */
ORACLE static const ev *live_key(const fz *z, uint32_t iip, uint16_t iport,
                                 uint32_t dip, uint16_t dport) {
  for (size_t i = z->nev; i-- > 0;)
    if (same_key(z, &z->evs[i], iip, iport, dip, dport))
      return live(z, z->evs[i].t) ? &z->evs[i] : NULL;
  return NULL;
}

/* A delivery to the LAN through external endpoint eip:eport to internal
 * endpoint iip:iport from remote rip:rport: some use of that mapping is
 * live, and one the filter needs is. */
ORACLE static void check_delivery(const fz *z, uint32_t eip, uint16_t eport,
                                  uint32_t iip, uint16_t iport, uint32_t rip,
                                  uint16_t rport) {
  uint8_t f = z->c.overload && z->c.mapping == NAT_BEH_APD ? NAT_BEH_APD
                                                           : z->c.filtering;
  bool mapped = false, admitted = f == NAT_BEH_EI;
  for (size_t i = 0; i < z->nev; i++) {
    const ev *e = &z->evs[i];
    if (e->eip != eip || e->eport != eport || e->iip != iip ||
        e->iport != iport || !live(z, e->t))
      continue;
    mapped = true;
    if (e->rip == rip && (f == NAT_BEH_AD || e->rport == rport))
      admitted = true;
  }
  if (!mapped || !admitted)
    abort();
}

/* With EI filtering and no overloading: the internal endpoint a datagram
 * to eip:eport must reach (true, *ev set) if that endpoint is in use. */
ORACLE static const ev *must_deliver(const fz *z, uint32_t eip,
                                     uint16_t eport) {
  if (z->c.filtering != NAT_BEH_EI ||
      (z->c.overload && z->c.mapping == NAT_BEH_APD))
    return NULL;
  for (size_t i = z->nev; i-- > 0;)
    if (z->evs[i].eip == eip && z->evs[i].eport == eport &&
        live(z, z->evs[i].t))
      return &z->evs[i];
  return NULL;
}

/* Bytes of @p a and @p b (@p n each) differ only where @p mask says. */
ORACLE static void only_changed(const uint8_t *a, const uint8_t *b, size_t n,
                                const uint8_t *mask) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i] && !mask[i])
      abort();
}

/* A forwarded UDP packet: @p orig as it went in, @p p as it came out. */
ORACLE static void check_udp_out(const uint8_t *orig, const uint8_t *p,
                                 size_t len) {
  uint8_t mask[PKTMAX];
  size_t ihl = (size_t)(p[0] & 0x0f) * 4, tot = rd16(p + 2), ulen;
  if (p[0] >> 4 != 4 || ihl < 20 || tot < ihl + 8 || tot > len || p[9] != 17 ||
      csum(p, ihl) != 0 || (rd16(p + 6) & 0x3fff) != 0)
    abort();
  ulen = rd16(p + ihl + 4);
  if (ulen < 8 || ulen > tot - ihl)
    abort();
  if (rd16(orig + ihl + 6) == 0) {
    if (rd16(p + ihl + 6) != 0)
      abort();
  } else if (udp_ok(orig, orig + ihl, ulen) && !udp_ok(p, p + ihl, ulen)) {
    abort();
  }
  memset(mask, 0, len);
  memset(mask + 10, 1, 10); /* header checksum, addresses */
  memset(mask + ihl, 1, 4); /* ports */
  memset(mask + ihl + 6, 1, 2);
  only_changed(orig, p, len, mask);
}

ORACLE static void check_table(const fz *z) {
  nat_box_stats st;
  nat_box_stats_get(z->b, &st);
  if (st.mappings_live > z->c.max_mappings ||
      st.mappings_live != st.mappings_created - st.mappings_expired)
    abort();
}

ORACLE static bool verdict_ok(int v) {
  return v >= -NAT_BOX_DROP_REASONS && v <= NAT_BOX_TO_LAN;
}

/* Build an IPv4/UDP datagram (ihl 5) with @p plen payload bytes from the
 * input; csum_mode 0, 3: right; 1: none; 2: wrong. */
static size_t build_udp(fz *z, uint8_t *p, uint32_t sip, uint16_t sport,
                        uint32_t dip, uint16_t dport, size_t plen,
                        unsigned csum_mode) {
  size_t tot = 28 + plen;
  memset(p, 0, 28);
  p[0] = 0x45;
  wr16(p + 2, (unsigned)tot);
  wr16(p + 4, z->pos & 0xffff); /* identification */
  p[8] = 64;
  p[9] = 17;
  wr32(p + 12, sip);
  wr32(p + 16, dip);
  wr16(p + 10, csum(p, 20));
  wr16(p + 20, sport);
  wr16(p + 22, dport);
  wr16(p + 24, (unsigned)(8 + plen));
  for (size_t i = 0; i < plen; i++)
    p[28 + i] = byte(z);
  if (csum_mode != 1) {
    uint16_t c = (uint16_t)~udp_sum(p, p + 20, 8 + plen);
    if (c == 0)
      c = 0xffff;
    if (csum_mode == 2)
      c ^= 0x0101;
    wr16(p + 26, c);
  }
  return tot;
}

ORACLE static int port_block(const fz *z, uint16_t port) {
  return (int)((port - z->c.port_min) / z->c.block_size);
}

/* The outbound path: @p p (@p len bytes) goes out; checks the result. */
static void outbound(fz *z, uint8_t *p, size_t len) {
  uint8_t orig[PKTMAX];
  size_t ihl = udp_ihl(p, len);
  bool udp = ihl != 0;
  uint32_t sip = 0, dip = 0;
  uint16_t sport = 0, dport = 0;
  const ev *k = NULL;
  memcpy(orig, p, len);
  if (udp) {
    sip = rd32(p + 12), dip = rd32(p + 16);
    sport = rd16(p + ihl), dport = rd16(p + ihl + 2);
    k = live_key(z, sip, sport, dip, dport);
  }
  int v = nat_box_outbound(z->b, z->now, p, len);
  if (!verdict_ok(v))
    abort();
  check_table(z);
  if (k != NULL && v != NAT_BOX_TO_WAN && v != NAT_BOX_TO_LAN &&
      v != NAT_BOX_DROP_HAIRPIN && v != NAT_BOX_DROP_FILTERED &&
      v != NAT_BOX_DROP_NO_MAPPING)
    abort(); /* a live mapping needs no port */
  bool mapped = v == NAT_BOX_TO_WAN || v == NAT_BOX_TO_LAN ||
                (is_public(z, dip) &&
                 (v == NAT_BOX_DROP_FILTERED || v == NAT_BOX_DROP_NO_MAPPING));
  if (!mapped)
    return;
  if (!udp)
    abort(); /* only a well-formed UDP datagram gets a mapping */
  uint32_t eip = rd32(p + 12);
  uint16_t eport = rd16(p + ihl);
  if (!is_public(z, eip) || eport < z->c.port_min || eport > z->c.port_max)
    abort();
  if (z->c.block_size != 0 &&
      (uint32_t)(port_block(z, eport) + 1) * z->c.block_size >
          (uint32_t)z->c.port_max - z->c.port_min + 1)
    abort(); /* in the tail after the last whole block */
  if (k != NULL && (k->eip != eip || k->eport != eport))
    abort(); /* a live mapping changed its external endpoint */
  for (unsigned h = 0; h < 4; h++) {
    host_st *hs = &z->hosts[h];
    if (int_ips[h] != sip)
      continue;
    if (hs->seen && live(z, hs->last)) {
      if (z->c.block_size != 0 && hs->block != (uint32_t)port_block(z, eport))
        abort(); /* a host with a live mapping changed port block */
      if (z->c.npublic > 1 && !z->c.pooling_arbitrary && hs->eip != eip)
        abort(); /* paired pooling changed address */
    }
    hs->seen = true;
    hs->last = z->now;
    hs->block = z->c.block_size != 0 ? (uint32_t)port_block(z, eport) : 0;
    hs->eip = eip;
  }
  note(z, eip, eport, sip, sport, dip, dport, true);
  if (v == NAT_BOX_TO_WAN) {
    if (rd32(p + 16) != dip || rd16(p + ihl + 2) != dport)
      abort();
    check_udp_out(orig, p, len);
    z->seen_ip[z->nseen % NSEEN] = eip;
    z->seen_port[z->nseen % NSEEN] = eport;
    z->nseen++;
    return;
  }
  /* hairpinned (delivered, or dropped by the target's filter) */
  const ev *must = must_deliver(z, dip, dport);
  if (v != NAT_BOX_TO_LAN) {
    if (must != NULL)
      abort();
    return;
  }
  uint32_t iip = rd32(p + 16);
  uint16_t iport = rd16(p + ihl + 2);
  if (must != NULL && (must->iip != iip || must->iport != iport))
    abort();
  check_udp_out(orig, p, len);
  check_delivery(z, dip, dport, iip, iport, eip, eport);
  if (z->c.inbound_refresh)
    note(z, dip, dport, iip, iport, eip, eport, false);
}

static void inbound_udp(fz *z, uint8_t *p, size_t len) {
  uint8_t orig[PKTMAX];
  size_t ihl = udp_ihl(p, len);
  bool udp = ihl != 0;
  const ev *must = NULL;
  memcpy(orig, p, len);
  if (udp)
    must = must_deliver(z, rd32(p + 16), rd16(p + ihl + 2));
  int v = nat_box_inbound(z->b, z->now, p, len);
  if (!verdict_ok(v) || v == NAT_BOX_TO_WAN)
    abort();
  check_table(z);
  if (v != NAT_BOX_TO_LAN) {
    if (must != NULL)
      abort(); /* EI filtering refused a live mapping's traffic */
    return;
  }
  if (p[9] == 1)
    abort(); /* ICMP goes through inbound_icmp() only */
  if (!udp)
    abort();
  uint32_t eip = rd32(orig + 16), iip = rd32(p + 16);
  uint16_t eport = rd16(orig + ihl + 2), iport = rd16(p + ihl + 2);
  uint32_t rip = rd32(p + 12);
  uint16_t rport = rd16(p + ihl);
  if (rip != rd32(orig + 12) || rport != rd16(orig + ihl))
    abort();
  if (must != NULL && (must->iip != iip || must->iport != iport))
    abort();
  check_udp_out(orig, p, len);
  check_delivery(z, eip, eport, iip, iport, rip, rport);
  if (z->c.inbound_refresh)
    note(z, eip, eport, iip, iport, rip, rport, false);
}

/* An ICMP packet inbound; a delivered error is checked. */
static void inbound_icmp(fz *z, uint8_t *p, size_t len) {
  uint8_t orig[PKTMAX], mask[PKTMAX];
  memcpy(orig, p, len);
  int v = nat_box_inbound(z->b, z->now, p, len);
  if (!verdict_ok(v) || v == NAT_BOX_TO_WAN)
    abort();
  check_table(z);
  if (v != NAT_BOX_TO_LAN)
    return;
  size_t ihl = (size_t)(p[0] & 0x0f) * 4, tot = rd16(p + 2);
  if (p[0] >> 4 != 4 || ihl < 20 || tot > len || tot < ihl + 8 + 20 + 8 ||
      csum(p, ihl) != 0 || p[9] != 1 || (p[ihl] != 3 && p[ihl] != 11) ||
      csum(p + ihl, tot - ihl) != 0)
    abort();
  const uint8_t *q = p + ihl + 8, *oq = orig + ihl + 8;
  size_t qhl = (size_t)(q[0] & 0x0f) * 4;
  if (q[0] >> 4 != 4 || qhl < 20 || tot < ihl + 8 + qhl + 8 || q[9] != 17)
    abort();
  uint32_t eip = rd32(oq + 12), iip = rd32(q + 12);
  uint16_t eport = rd16(oq + qhl), iport = rd16(q + qhl);
  if (rd32(p + 16) != iip || !is_public(z, rd32(orig + 16)) ||
      rd32(orig + 16) != eip)
    abort();
  /* the quoted header's checksum is kept as right (or wrong) as it was */
  if ((csum(oq, qhl) == 0) != (csum(q, qhl) == 0))
    abort();
  check_delivery(z, eip, eport, iip, iport, rd32(q + 16), rd16(q + qhl + 2));
  memset(mask, 0, len);
  memset(mask + 10, 1, 2);                /* outer header checksum */
  memset(mask + 16, 1, 4);                /* outer destination */
  memset(mask + ihl + 2, 1, 2);           /* ICMP checksum */
  memset(mask + ihl + 8 + 10, 1, 6);      /* quoted checksum, source */
  memset(mask + ihl + 8 + qhl, 1, 2);     /* quoted source port */
  memset(mask + ihl + 8 + qhl + 6, 1, 2); /* quoted UDP checksum */
  only_changed(orig, p, len, mask);
}

static void config(fz *z) {
  uint8_t c0 = byte(z), c1 = byte(z), c2 = byte(z), c3 = byte(z);
  uint8_t c4 = byte(z), c5 = byte(z), c6 = byte(z), c7 = byte(z);
  nat_box_config *c = &z->c;
  memset(c, 0, sizeof *c);
  c->mapping = (uint8_t)(NAT_BEH_EI + c0 % 3);
  c->filtering = (uint8_t)(NAT_BEH_EI + (c0 / 3) % 3);
  c->alloc = (uint8_t)((c0 / 9) % 3);
  c->per_host = (c0 & 0x40) != 0;
  c->pooling_arbitrary = (c0 & 0x80) != 0;
  c->npublic = 1 + (c1 & 3);
  memcpy(c->public_ip, pub_ips, sizeof pub_ips);
  c->hairpin = (c1 & 4) != 0;
  c->overload = (c1 & 8) != 0;
  c->inbound_refresh = (c1 & 0x10) != 0;
  c->interleave = (c1 & 0x20) ? 0.5 : 0.0;
  c->interleave_max = c5 >> 5;
  c->delta = (int32_t)(1 + (c5 & 7)) * ((c1 & 0x80) ? -1 : 1);
  uint16_t span = spans[c4 & 31];
  if (span == 0) { /* the default range */
    c->port_min = c->port_max = 0;
  } else {
    c->port_min =
        (uint16_t)(1 + (rd16((const uint8_t[]){c2, c3}) % (65536u - span)));
    c->port_max = (uint16_t)(c->port_min + span - 1);
  }
  if (c1 & 0x40) {
    uint32_t range = span ? span : 64512;
    c->block_size = blocks[c4 >> 6] * (span == 0 || span >= 1024 ? 64 : 1);
    if (c->block_size > range)
      c->block_size = range;
  }
  c->timeout = (nat_tstamp)(1 + c6) * NAT_SECONDS;
  c->max_mappings = c7 < 224 ? (size_t)(1 + (c7 & 31)) : 0;
  c->seed = (uint64_t)c7 << 8 | c6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fz z;
  uint8_t p[PKTMAX];
  if (size < 8)
    return 0;
  memset(&z, 0, offsetof(fz, evs));
  z.nev = z.nseen = 0;
  memset(z.hosts, 0, sizeof z.hosts);
  z.d = data, z.n = size, z.pos = 0;
  config(&z);
  if (nat_box_new(&z.b, &z.c) != 0)
    abort(); /* every configuration built here is valid */
  if (z.c.port_min == 0)
    z.c.port_min = 1024, z.c.port_max = 65535;
  if (z.c.max_mappings == 0)
    z.c.max_mappings = 65536;
  z.now = 1000 * NAT_SECONDS;
  while (z.pos < z.n && z.nev < MAXEV) {
    uint8_t op = byte(&z), b1 = byte(&z), b2 = byte(&z);
    size_t len;
    z.now += (nat_tstamp)(op >> 3) * 37 * MS;
    switch (op & 7) {
    case 0:
    case 1: {
      static const uint16_t iports[8] = {5000,  5001, 40000, 1024,
                                         65535, 53,   3478,  0};
      static const uint16_t dports[8] = {3478,  3479, 80,    5000,
                                         40000, 1,    65535, 0};
      uint32_t dip =
          (b1 >> 5) < 5 ? rem_ips[b1 >> 5] : z.c.public_ip[(b1 >> 5) - 5];
      uint16_t dport = dports[b2 & 7];
      if ((b1 >> 5) >= 5 && z.nseen > 0) /* hairpin to a mapping */
        dport = z.seen_port[(b2 & 7) % (z.nseen < NSEEN ? z.nseen : NSEEN)];
      uint16_t iport = iports[(b1 >> 2) & 7];
      if (iport == 0)
        iport = z.c.port_min;
      len = build_udp(&z, p, int_ips[b1 & 3], iport, dip, dport,
                      (size_t)(b2 >> 5) * 4, (b2 >> 3) & 3);
      outbound(&z, p, len);
      break;
    }
    case 2:
    case 3: {
      static const uint16_t sports[8] = {3478,  3479, 80,    5000,
                                         40000, 1,    65535, 0};
      uint32_t dip = z.c.public_ip[(b1 >> 6) % z.c.npublic];
      uint16_t dport;
      if ((b2 & 1) && z.nseen > 0) {
        unsigned i = (b2 >> 1) % (z.nseen < NSEEN ? z.nseen : NSEEN);
        dip = z.seen_ip[i];
        dport = z.seen_port[i];
      } else {
        dport = (uint16_t)(byte(&z) << 8 | byte(&z));
      }
      len = build_udp(&z, p, rem_ips[b1 & 7], sports[(b1 >> 3) & 7], dip, dport,
                      (size_t)(b2 >> 5) * 4, (b2 >> 3) & 3);
      inbound_udp(&z, p, len);
      break;
    }
    case 4: {
      static const uint8_t types[4] = {3, 11, 0, 5};
      static const uint16_t qports[8] = {3478,  3479, 80,    5000,
                                         40000, 1,    65535, 0};
      uint32_t qsip = z.c.public_ip[0];
      uint16_t qsport = (uint16_t)(byte(&z) << 8 | byte(&z));
      if (z.nseen > 0) {
        unsigned i = (b1 >> 2) % (z.nseen < NSEEN ? z.nseen : NSEEN);
        qsip = z.seen_ip[i];
        qsport = z.seen_port[i];
      }
      uint8_t q[64];
      size_t qn = build_udp(&z, q, qsip, qsport, rem_ips[b1 >> 5],
                            qports[b2 & 7], 4, 0);
      if (b2 & 0x40) { /* quoted header with 4 option bytes */
        memmove(q + 24, q + 20, qn - 20);
        memset(q + 20, 1, 4); /* NOPs */
        q[0] = 0x46;
        qn += 4;
        wr16(q + 2, (unsigned)qn);
        wr16(q + 10, 0);
        wr16(q + 10, csum(q, 24));
      }
      switch ((b2 >> 3) & 3) {
      case 1:
        qn = (size_t)(q[0] & 15) * 4 + 8; /* header + UDP header */
        break;
      case 2:
        qn = (size_t)(q[0] & 15) * 4 + 4; /* truncated UDP header */
        break;
      default:
        break;
      }
      size_t tot = 20 + 8 + qn;
      memset(p, 0, 28);
      p[0] = 0x45;
      wr16(p + 2, (unsigned)tot);
      p[8] = 250;
      p[9] = 1;
      wr32(p + 12, rem_ips[(b2 >> 6) ? 1 : 2]);
      wr32(p + 16, qsip);
      wr16(p + 10, csum(p, 20));
      p[20] = types[b1 & 3];
      p[21] = b1 & 1;
      memcpy(p + 28, q, qn);
      wr16(p + 22, csum(p + 20, tot - 20) ^ ((b2 & 0x20) ? 0x0400 : 0));
      inbound_icmp(&z, p, tot);
      break;
    }
    case 5: {
      len = b1 < z.n - z.pos ? b1 : z.n - z.pos;
      memcpy(p, z.d + z.pos, len);
      z.pos += len;
      if ((b2 & 2) && len >= 20) {
        size_t ihl = 20 + (size_t)(b2 >> 5) * 4;
        if (ihl > len)
          ihl = 20;
        p[0] = (uint8_t)(0x40 | ihl / 4);
        wr16(p + 2, (unsigned)len);
        if (b2 & 4) {
          wr16(p + 10, 0);
          wr16(p + 10, csum(p, ihl));
        }
      }
      if (b2 & 1) {
        if (len >= 10 && p[9] == 1)
          inbound_icmp(&z, p, len);
        else
          inbound_udp(&z, p, len);
      } else {
        outbound(&z, p, len);
      }
      break;
    }
    case 6: {
      bool in = b1 & 1;
      uint32_t sip = in ? rem_ips[(b1 >> 1) & 3] : int_ips[(b1 >> 1) & 3];
      uint32_t dip = in ? z.c.public_ip[0] : rem_ips[(b1 >> 3) & 3];
      uint16_t dport = 3478;
      if (in && z.nseen > 0) {
        dip = z.seen_ip[(z.nseen - 1) % NSEEN];
        dport = z.seen_port[(z.nseen - 1) % NSEEN];
      }
      len = build_udp(&z, p, sip, 5000, dip, dport, (size_t)(b1 >> 5) * 4, 0);
      bool fix = true;
      switch (b2 & 15) {
      case 0: /* 8 option bytes: valid, translated */
        memmove(p + 28, p + 20, len - 20);
        memset(p + 20, 1, 8);
        p[0] = 0x47;
        len += 8;
        wr16(p + 2, (unsigned)len);
        break;
      case 1:
        wr16(p + 2, (unsigned)len + 1 + (b2 >> 4));
        break;
      case 2:
        wr16(p + 2, 19 - (b2 >> 4));
        break;
      case 3:
        wr16(p + 6, 0x2000); /* MF */
        break;
      case 4:
        wr16(p + 6, 1 + (b2 >> 4)); /* an offset */
        break;
      case 5:
        p[9] = 6; /* TCP */
        break;
      case 6:
        p[9] = 47; /* GRE */
        break;
      case 7:
        wr16(p + 24, (unsigned)(len - 20 + 1 + (b2 >> 4)));
        break;
      case 8:
        wr16(p + 24, 7 - (b2 >> 5));
        break;
      case 9:
        p[11] ^= 0x10; /* wrong header checksum */
        fix = false;
        break;
      case 10:
        p[0] = 0x65;
        break;
      case 11:
        p[0] = (uint8_t)(0x40 | (b2 >> 4)); /* IHL 0-15 */
        break;
      case 12: /* UDP length shorter than the IP payload: padding */
        wr16(p + 24, 8);
        wr16(p + 26, 0);
        break;
      default:
        break;
      }
      if (fix) {
        size_t ihl = (size_t)(p[0] & 15) * 4;
        if (ihl >= 20 && ihl <= len) {
          wr16(p + 10, 0);
          wr16(p + 10, csum(p, ihl));
        }
      }
      if (in)
        inbound_udp(&z, p, len);
      else
        outbound(&z, p, len);
      break;
    }
    default:
      z.now += (nat_tstamp)b1 * NAT_SECONDS + (nat_tstamp)b2 * 4 * MS;
      nat_box_expire(z.b, z.now);
      check_table(&z);
      break;
    }
  }
  nat_box_free(z.b);
  z.b = NULL;
  return 0;
}
