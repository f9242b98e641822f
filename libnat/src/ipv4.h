/* libnat -- private IPv4/UDP header helpers: field access and the Internet
 * checksum (RFC 1071), with incremental updates per RFC 1624 equation 3.
 *
 * Named nat__ip_* so this header can sit next to bytes.h in one file. */
#ifndef NAT_IPV4_H
#define NAT_IPV4_H

#include <stddef.h>
#include <stdint.h>

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

#endif
