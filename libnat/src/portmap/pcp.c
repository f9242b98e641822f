/* The PCP codec (RFC 6887) and the epoch rule: pure functions, no I/O, no
 * clock. Also the names of the result codes and of the three protocols,
 * and the rule that says whether a datagram answers the request we sent
 * (nat__pcp_check, portmap_internal.h), so that the driver stays thin. */
#include <string.h>

#include "base/addr_internal.h"
#include "base/bytes.h"
#include "nat/error.h"
#include "portmap/portmap_internal.h"

/* Offsets in the common header (RFC 6887 7.1 request, 7.2 response). */
#define PCP_OFF_VERSION  0
#define PCP_OFF_OPCODE   1
#define PCP_OFF_RESULT   3 /* response */
#define PCP_OFF_LIFETIME 4
#define PCP_OFF_CLIENT   8 /* request: 16 bytes */
#define PCP_OFF_EPOCH    8 /* response */
#define PCP_R_BIT        0x80u
/* MAP body (11.1), from the end of the header. */
#define MAP_OFF_NONCE  0
#define MAP_OFF_PROTO  12
#define MAP_OFF_IPORT  16
#define MAP_OFF_EPORT  18
#define MAP_OFF_EADDR  20
#define PCP_PEER_LEN   56 /* PEER body (12.1): skipped, never asked */
#define PCP_OPTION_HDR 4  /* code, reserved, length (7.3) */

static const char *const result_names[] = {
    "SUCCESS",           "UNSUPP_VERSION",        "NOT_AUTHORIZED",
    "MALFORMED_REQUEST", "UNSUPP_OPCODE",         "UNSUPP_OPTION",
    "MALFORMED_OPTION",  "NETWORK_FAILURE",       "NO_RESOURCES",
    "UNSUPP_PROTOCOL",   "USER_EX_QUOTA",         "CANNOT_PROVIDE_EXTERNAL",
    "ADDRESS_MISMATCH",  "EXCESSIVE_REMOTE_PEERS"};

const char *nat_pcp_result_name(unsigned result) {
  if (result < sizeof result_names / sizeof result_names[0])
    return result_names[result];
  return "unknown";
}

const char *nat_pm_proto_name(nat_pm_proto p) {
  switch (p) {
  case NAT_PM_PCP:
    return "pcp";
  case NAT_PM_NATPMP:
    return "nat-pmp";
  case NAT_PM_UPNP:
    return "upnp";
  }
  return "?";
}

/* Write @p a's IP as 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d (RFC
 * 6887 5). NAT_AF_NONE writes the all-zeros address of @p none_family
 * (:: or ::ffff:0.0.0.0). @return 0 or NAT_EINVAL. */
static int put_ip(uint8_t *p, const nat_addr *a, uint8_t none_family) {
  uint8_t fam = a->family == NAT_AF_NONE ? none_family : a->family;
  memset(p, 0, 16);
  if (fam == NAT_AF_INET) {
    p[10] = 0xff;
    p[11] = 0xff;
    if (a->family == NAT_AF_INET)
      memcpy(p + 12, a->ip, 4);
    return 0;
  }
  if (fam == NAT_AF_INET6) {
    if (a->family == NAT_AF_INET6)
      memcpy(p, a->ip, 16);
    return 0;
  }
  return NAT_EINVAL;
}

/* Read 16 bytes as an address: IPv4-mapped gives IPv4. */
static void get_ip(nat_addr *a, const uint8_t *p, uint16_t port) {
  static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
  memset(a, 0, sizeof *a);
  a->port = port;
  if (memcmp(p, v4mapped, sizeof v4mapped) == 0) {
    a->family = NAT_AF_INET;
    memcpy(a->ip, p + 12, 4);
  } else {
    a->family = NAT_AF_INET6;
    memcpy(a->ip, p, 16);
  }
}

ssize_t nat_pcp_encode(const nat_pcp_request *rq, uint8_t *buf, size_t cap) {
  size_t len;
  if (!rq || !buf)
    return NAT_EINVAL;
  if (rq->opcode == NAT_PCP_OP_ANNOUNCE)
    len = NAT_PCP_HEADER_LEN;
  else if (rq->opcode == NAT_PCP_OP_MAP)
    len = NAT_PCP_HEADER_LEN + NAT_PCP_MAP_LEN;
  else
    return NAT_EINVAL;
  if (rq->client.family != NAT_AF_INET && rq->client.family != NAT_AF_INET6)
    return NAT_EINVAL;
  if (rq->opcode == NAT_PCP_OP_MAP &&
      (rq->internal_port == 0 || (rq->protocol == 0 && rq->lifetime != 0) ||
       (rq->suggested.family != NAT_AF_NONE &&
        rq->suggested.family != NAT_AF_INET &&
        rq->suggested.family != NAT_AF_INET6)))
    return NAT_EINVAL;
  if (cap < len)
    return NAT_ENOBUFS;
  memset(buf, 0, len);
  buf[PCP_OFF_VERSION] = NAT_PCP_VERSION;
  buf[PCP_OFF_OPCODE] = rq->opcode; /* R bit 0: a request */
  nat__put32(buf + PCP_OFF_LIFETIME, rq->lifetime);
  (void)put_ip(buf + PCP_OFF_CLIENT, &rq->client, NAT_AF_NONE);
  if (rq->opcode == NAT_PCP_OP_MAP) {
    uint8_t *m = buf + NAT_PCP_HEADER_LEN;
    memcpy(m + MAP_OFF_NONCE, rq->nonce, NAT_PCP_NONCE_LEN);
    m[MAP_OFF_PROTO] = rq->protocol;
    nat__put16(m + MAP_OFF_IPORT, rq->internal_port);
    nat__put16(m + MAP_OFF_EPORT,
               rq->suggested.family == NAT_AF_NONE ? 0 : rq->suggested.port);
    /* "None": the all-zeros address of the client's family (11.1, 5) */
    (void)put_ip(m + MAP_OFF_EADDR, &rq->suggested, rq->client.family);
  }
  return (ssize_t)len;
}

/* Walk the options from @p off to @p len: each a 4-byte header and its
 * data padded to 4 (7.3). @return 0 or NAT_EPMPARSE. */
static int walk_options(const uint8_t *buf, size_t off, size_t len) {
  while (off < len) {
    size_t olen;
    if (len - off < PCP_OPTION_HDR)
      return NAT_EPMPARSE;
    olen = nat__get16(buf + off + 2);
    olen = (olen + 3u) & ~(size_t)3u;
    off += PCP_OPTION_HDR;
    if (olen > len - off)
      return NAT_EPMPARSE;
    off += olen;
  }
  return 0;
}

/* NAT-PMP's answer (RFC 6886 3.5): version 0, opcode 128+x, a 16-bit
 * result, then (8+ bytes) the seconds since start of epoch. */
static int decode_natpmp(const uint8_t *buf, size_t len,
                         nat_pcp_response *out) {
  unsigned result = nat__get16(buf + 2);
  out->result = (uint8_t)(result > 255 ? 255 : result);
  if (len >= 8)
    out->epoch = nat__get32(buf + 4);
  return 0;
}

int nat_pcp_decode(const uint8_t *buf, size_t len, nat_pcp_response *out) {
  size_t body;
  if (!buf || !out)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  if (len < 4 || len > NAT_PCP_MAX_LEN || len % 4 != 0)
    return NAT_EPMPARSE;
  if (!(buf[PCP_OFF_OPCODE] & PCP_R_BIT))
    return NAT_EPMPARSE;
  out->version = buf[PCP_OFF_VERSION];
  out->opcode = (uint8_t)(buf[PCP_OFF_OPCODE] & ~PCP_R_BIT);
  if (out->version == 0)
    return decode_natpmp(buf, len, out);
  if (out->version != NAT_PCP_VERSION || len < NAT_PCP_HEADER_LEN)
    return NAT_EPMPARSE;
  out->result = buf[PCP_OFF_RESULT];
  out->lifetime = nat__get32(buf + PCP_OFF_LIFETIME);
  out->epoch = nat__get32(buf + PCP_OFF_EPOCH);
  switch (out->opcode) {
  case NAT_PCP_OP_ANNOUNCE:
    body = 0;
    break;
  case NAT_PCP_OP_MAP:
    body = NAT_PCP_MAP_LEN;
    break;
  case NAT_PCP_OP_PEER:
    body = PCP_PEER_LEN;
    break;
  default:
    return 0; /* an opcode we never ask: its body is unknown, not read */
  }
  /* An error answer may come as the header alone (RFC 6887 8.3 lets a
   * server answer what it could not parse that way): no body to read. */
  if (len == NAT_PCP_HEADER_LEN && out->result != NAT_PCP_SUCCESS)
    return 0;
  if (len - NAT_PCP_HEADER_LEN < body)
    return NAT_EPMPARSE;
  if (walk_options(buf, NAT_PCP_HEADER_LEN + body, len) < 0)
    return NAT_EPMPARSE;
  if (out->opcode == NAT_PCP_OP_MAP) {
    const uint8_t *m = buf + NAT_PCP_HEADER_LEN;
    out->has_map = true;
    memcpy(out->nonce, m + MAP_OFF_NONCE, NAT_PCP_NONCE_LEN);
    out->protocol = m[MAP_OFF_PROTO];
    out->internal_port = nat__get16(m + MAP_OFF_IPORT);
    get_ip(&out->external, m + MAP_OFF_EADDR, nat__get16(m + MAP_OFF_EPORT));
  }
  return 0;
}

/* RFC 6887 8.5, in nanoseconds and signed 64-bit arithmetic so that
 * neither the epoch's 32 bits nor the 1/16 divisions round or wrap:
 *   the server's epoch went back by more than 1 s: lost; else
 *   client_delta + 2 s < server_delta - server_delta / 16, or
 *   server_delta + 2 s < client_delta - client_delta / 16: lost.
 * An epoch that wraps past 2^32 - 1 reads as one going back (the RFC
 * has no serial arithmetic for it; 136 years after a server's start). */
bool nat_pm_epoch_lost(uint32_t prev_epoch, nat_tstamp prev_now, uint32_t epoch,
                       nat_tstamp now) {
  const int64_t two = 2 * (int64_t)NAT_SECONDS;
  int64_t server_delta, client_delta;
  if ((uint64_t)epoch + 1 < (uint64_t)prev_epoch)
    return true;
  server_delta = ((int64_t)epoch - (int64_t)prev_epoch) * (int64_t)NAT_SECONDS;
  client_delta =
      now >= prev_now ? (int64_t)(now - prev_now) : -(int64_t)(prev_now - now);
  return client_delta + two < server_delta - server_delta / 16 ||
         server_delta + two < client_delta - client_delta / 16;
}

/* ------------------------------------------------- answer validation */

int nat__pcp_check(const nat__pcp_sent *sent, const nat_addr *from,
                   const nat_pcp_response *rs) {
  if (!nat_addr_equal(from, &sent->server))
    return NAT__PCP_WRONG_SOURCE;
  if (rs->version == 0)
    return NAT__PCP_OK; /* NAT-PMP only: UNSUPP_VERSION in its format */
  if (rs->opcode != sent->opcode)
    return NAT__PCP_UNEXPECTED;
  if (sent->opcode != NAT_PCP_OP_MAP)
    return NAT__PCP_OK;
  if (!rs->has_map)
    return rs->result != NAT_PCP_SUCCESS ? NAT__PCP_OK : NAT__PCP_UNEXPECTED;
  if (memcmp(rs->nonce, sent->nonce, NAT_PCP_NONCE_LEN) != 0)
    return NAT__PCP_WRONG_NONCE;
  if (rs->internal_port != sent->internal_port ||
      rs->protocol != sent->protocol)
    return NAT__PCP_UNEXPECTED;
  return NAT__PCP_OK;
}
