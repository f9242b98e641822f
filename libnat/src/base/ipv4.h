/* libnat -- private IPv4/UDP header helpers: field access and the Internet
 * checksum (RFC 1071), with incremental updates per RFC 1624 equation 3.
 *
 * Named nat__ip_* so this header can sit next to bytes.h in one file. */
#ifndef NAT_IPV4_H
#define NAT_IPV4_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nat/addr.h"

#define NAT__IP_HDR_MIN   20u
#define NAT__UDP_HDR      8u
#define NAT__IP_PROTO_UDP 17u
#define NAT__IP_OFF_CSUM  10u
#define NAT__IP_OFF_SRC   12u
#define NAT__IP_OFF_DST   16u
#define NAT__IP_FRAG_MASK 0x3fffu /* MF flag + fragment offset */

static inline uint16_t nat__ip_rd16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t nat__ip_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static inline void nat__ip_wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void nat__ip_wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/** Add @p len bytes (big-endian 16-bit words, an odd last byte padded
 * with zero) to the ones' complement accumulator @p acc (unfolded). */
static inline uint64_t nat__ip_sum(uint64_t acc, const uint8_t *p, size_t len) {
  while (len > 1) {
    acc += nat__ip_rd16(p);
    p += 2;
    len -= 2;
  }
  if (len)
    acc += (uint64_t)p[0] << 8;
  return acc;
}

/** Fold an accumulator to 16 bits (end-around carry). */
static inline uint16_t nat__ip_fold(uint64_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffffu) + (acc >> 16);
  return (uint16_t)acc;
}

/** The Internet checksum of @p len bytes. Over a header that includes
 * its own valid checksum the result is 0. */
static inline uint16_t nat__ip_checksum(const uint8_t *p, size_t len) {
  return (uint16_t)~nat__ip_fold(nat__ip_sum(0, p, len));
}

/** RFC 1624 eqn 3: HC' = ~(~HC + ~m + m') for a 16-bit field m -> m'. */
static inline uint16_t nat__ip_csum_upd16(uint16_t hc, uint16_t old,
                                          uint16_t nw) {
  uint64_t acc = (uint16_t)~hc;
  acc += (uint16_t)~old;
  acc += nw;
  return (uint16_t)~nat__ip_fold(acc);
}

/** RFC 1624 eqn 3 for a 32-bit field (an IPv4 address). */
static inline uint16_t nat__ip_csum_upd32(uint16_t hc, uint32_t old,
                                          uint32_t nw) {
  uint64_t acc = (uint16_t)~hc;
  acc += (uint16_t) ~(old >> 16);
  acc += (uint16_t)~old;
  acc += nw >> 16;
  acc += nw & 0xffffu;
  return (uint16_t)~nat__ip_fold(acc);
}

/** Build an IPv4/UDP datagram (TTL 64, no options, both checksums) from
 * IPv4 @p src to @p dst carrying @p len bytes; @p pkt holds 28 + len.
 * Returns its length. For in-memory networks (tests, simulations). */
static inline size_t nat__ip_udp4_build(uint8_t *pkt, const nat_addr *src,
                                        const nat_addr *dst,
                                        const uint8_t *data, size_t len) {
  size_t tot = NAT__IP_HDR_MIN + NAT__UDP_HDR + len;
  uint64_t acc;
  memset(pkt, 0, NAT__IP_HDR_MIN + NAT__UDP_HDR);
  pkt[0] = 0x45;
  nat__ip_wr16(pkt + 2, (uint16_t)tot);
  pkt[8] = 64;
  pkt[9] = NAT__IP_PROTO_UDP;
  memcpy(pkt + NAT__IP_OFF_SRC, src->ip, 4);
  memcpy(pkt + NAT__IP_OFF_DST, dst->ip, 4);
  nat__ip_wr16(pkt + NAT__IP_OFF_CSUM, nat__ip_checksum(pkt, NAT__IP_HDR_MIN));
  nat__ip_wr16(pkt + 20, src->port);
  nat__ip_wr16(pkt + 22, dst->port);
  nat__ip_wr16(pkt + 24, (uint16_t)(NAT__UDP_HDR + len));
  memcpy(pkt + 28, data, len);
  acc = nat__ip_sum(0, pkt + NAT__IP_OFF_SRC, 8);
  acc += NAT__IP_PROTO_UDP + NAT__UDP_HDR + len;
  acc = nat__ip_sum(acc, pkt + 20, NAT__UDP_HDR + len);
  nat__ip_wr16(pkt + 26, (uint16_t)~nat__ip_fold(acc));
  return tot;
}

/** The addresses of a datagram built by nat__ip_udp4_build() (an IPv4
 * header without options). */
static inline void nat__ip_udp4_addrs(const uint8_t *pkt, nat_addr *src,
                                      nat_addr *dst) {
  nat_addr_set_v4(src, nat__ip_rd32(pkt + NAT__IP_OFF_SRC),
                  nat__ip_rd16(pkt + 20));
  nat_addr_set_v4(dst, nat__ip_rd32(pkt + NAT__IP_OFF_DST),
                  nat__ip_rd16(pkt + 22));
}

#endif
