/* libnat -- private big-endian (network order) read/write helpers.
 *
 * Unaligned-safe: every access goes through bytes, which compilers turn
 * into a single load/store plus a byte swap. Shared by every codec. */
#ifndef NAT_BYTES_H
#define NAT_BYTES_H

#include <stdint.h>

static inline uint16_t nat__get16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t nat__get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static inline uint64_t nat__get64(const uint8_t *p) {
  return (uint64_t)nat__get32(p) << 32 | (uint64_t)nat__get32(p + 4);
}

static inline void nat__put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void nat__put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline void nat__put64(uint8_t *p, uint64_t v) {
  nat__put32(p, (uint32_t)(v >> 32));
  nat__put32(p + 4, (uint32_t)v);
}

/** Little-endian loads: table-driven checksums, capture file headers. */
static inline uint16_t nat__get16le(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t nat__get32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

#endif
