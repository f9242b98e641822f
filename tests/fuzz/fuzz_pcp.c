/* libFuzzer target for the PCP codec (nat/portmap.h): nat_pcp_decode() on
 * any bytes, an encode -> decode round trip of a request built from the
 * input, the epoch rule on values from the input, and the SSDP answer
 * parser of the UPnP probe (portmap/ssdp.c: an accepted LOCATION names the
 * gateway). Invariants that must hold abort() when broken:
 * - a decode that succeeds read a length the codec allows (4..1100, a
 *   multiple of 4, the R bit set, version 0 or 2);
 * - an encoded request does not decode as a response (no R bit);
 * - with the R bit set, it decodes, and a MAP gives back its nonce,
 *   protocol, internal port, suggested port and suggested address (the
 *   "none" address as the all-zeros address of the client's family).
 *
 * Run locally (clang, ASan+UBSan, libnat coverage-instrumented), 2026-12-07:
 *   CC=clang cmake -S . -B build-fuzz -DNAT_FUZZ=ON \
 *     -DNAT_SANITIZE=address,undefined && cmake --build build-fuzz
 *   build-fuzz/tests/fuzz/fuzz_pcp -max_total_time=660 \
 *     -print_final_stats=1 build-fuzz/tests/fuzz/corpus/pcp
 * Result (11 min, 2 cores shared): 239,293,839 runs in 661 s, 362,017
 * execs/s on average, 147 new units over the 19 seeds, coverage flat at
 * 88 edges / 116 features from the first seconds (no new edge
 * beyond what the seeds reach), peak RSS 465 MB, no crash, no invariant broken,
 * no sanitizer report. */
/* nat/portmap.h includes uv.h, which needs the POSIX thread types. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/portmap.h"
#include "portmap/portmap_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void check_decode(const uint8_t *data, size_t size) {
  nat_pcp_response rs;
  int rc = nat_pcp_decode(data, size, &rs);
  if (rc == 0) {
    if (size < 4 || size > NAT_PCP_MAX_LEN || size % 4 != 0 ||
        !(data[1] & 0x80) || (rs.version != 0 && rs.version != 2) ||
        (rs.version == 2 && size < NAT_PCP_HEADER_LEN))
      abort();
    if (rs.has_map && size < NAT_PCP_HEADER_LEN + NAT_PCP_MAP_LEN)
      abort();
    sink += rs.result + rs.lifetime + rs.epoch + rs.external.port;
    sink += (unsigned)nat_pcp_result_name(rs.result)[0];
  } else if (rc != NAT_EPMPARSE) {
    abort();
  }
}

static void check_roundtrip(const uint8_t *d, size_t size) {
  nat_pcp_request rq;
  nat_pcp_response rs;
  uint8_t buf[NAT_PCP_HEADER_LEN + NAT_PCP_MAP_LEN];
  ssize_t n;
  if (size < 48)
    return;
  memset(&rq, 0, sizeof rq);
  rq.opcode = d[0] & 1 ? NAT_PCP_OP_MAP : NAT_PCP_OP_ANNOUNCE;
  rq.lifetime = (uint32_t)d[1] << 8 | d[2];
  rq.client.family = d[3] & 1 ? NAT_AF_INET6 : NAT_AF_INET;
  memcpy(rq.client.ip, d + 4, rq.client.family == NAT_AF_INET ? 4 : 16);
  memcpy(rq.nonce, d + 20, NAT_PCP_NONCE_LEN);
  rq.protocol = d[32];
  rq.internal_port = (uint16_t)(d[33] << 8 | d[34]);
  rq.suggested.family = d[35] % 3; /* NONE, INET, INET6 */
  rq.suggested.port =
      (uint16_t)(rq.suggested.family ? (d[36] << 8 | d[37]) : 0);
  if (rq.suggested.family)
    memcpy(rq.suggested.ip, d + 38,
           rq.suggested.family == NAT_AF_INET ? 4 : 10);
  n = nat_pcp_encode(&rq, buf, sizeof buf);
  if (n < 0) {
    if (n != NAT_EINVAL)
      abort();
    return;
  }
  if (nat_pcp_decode(buf, (size_t)n, &rs) != NAT_EPMPARSE)
    abort(); /* a request is not a response */
  buf[1] |= 0x80;
  if (nat_pcp_decode(buf, (size_t)n, &rs) != 0 || rs.version != 2 ||
      rs.opcode != rq.opcode || rs.lifetime != rq.lifetime)
    abort();
  if (rq.opcode == NAT_PCP_OP_MAP) {
    nat_addr want = rq.suggested;
    if (want.family == NAT_AF_NONE)
      want.family = rq.client.family; /* the all-zeros address */
    /* an IPv6 suggestion inside ::ffff:0:0/96 reads back as IPv4 */
    if (want.family == NAT_AF_INET6 && rs.external.family == NAT_AF_INET) {
      static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
      if (memcmp(want.ip, mapped, 12) != 0)
        abort();
      memmove(want.ip, want.ip + 12, 4);
      memset(want.ip + 4, 0, 12);
      want.family = NAT_AF_INET;
    }
    if (!rs.has_map || memcmp(rs.nonce, rq.nonce, NAT_PCP_NONCE_LEN) != 0 ||
        rs.protocol != rq.protocol || rs.internal_port != rq.internal_port ||
        !nat_addr_equal(&rs.external, &want))
      abort();
  }
}

static void check_epoch(const uint8_t *d, size_t size) {
  uint32_t a, b;
  uint64_t t1, t2;
  if (size < 24)
    return;
  memcpy(&a, d, 4);
  memcpy(&b, d + 4, 4);
  memcpy(&t1, d + 8, 8);
  memcpy(&t2, d + 16, 8);
  t1 >>= 2; /* nat_tstamp values a clock can reach (< 2^62 ns) */
  t2 >>= 2;
  if (nat_pm_epoch_lost(a, t1, a, t1))
    abort(); /* the same answer again is never a restart */
  sink += nat_pm_epoch_lost(a, t1, b, t2);
}

/* The SSDP answer parser (portmap/ssdp.c): what it accepts names the
 * gateway and fits the buffer with its NUL. */
static void check_ssdp(const uint8_t *data, size_t size) {
  static const char host[] = "192.168.1.1";
  char out[96];
  if (nat__ssdp_location((const char *)data, size, host, out, sizeof out) != 0)
    return;
  if (strnlen(out, sizeof out) >= sizeof out ||
      strncmp(out, "http://192.168.1.1", 18) != 0 ||
      (out[18] != '\0' && out[18] != ':' && out[18] != '/'))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_ssdp(data, size);
  check_decode(data, size);
  check_roundtrip(data, size);
  check_epoch(data, size);
  return 0;
}
