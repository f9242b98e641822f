/* libFuzzer target for the STUN server (nat/stunsrv.h): what `punch serve`
 * (the rendezvous server's on_stun), netcheck's hairpin target and the
 * test servers answer, for any datagram from any source address.
 *
 * Input: byte 0 picks the server's configuration (bit 0 an RFC 5780
 * alternate address, bit 1 the local address known, bit 2 a short-term
 * key, bit 3 SOFTWARE, bit 4 an IPv6 source, bit 5 the alternate address
 * on the same IP (only its port differs), bit 6 nat_stunsrv_respond_msg()
 * instead of nat_stunsrv_respond(), bit 7 structured mode); bytes 1..18
 * the source (port, then 16 IP bytes). The rest is the datagram, or in
 * structured mode a request the harness builds with the project's encoder
 * from those bytes (classic RFC 3489 or not, CHANGE-REQUEST, RESPONSE-PORT,
 * an unknown comprehension-required attribute, MESSAGE-INTEGRITY(-SHA256)
 * with the right or a wrong key, FINGERPRINT, a USERNAME), so that the
 * fuzzer gets past integrity and into the RFC 5780 paths.
 *
 * Invariants (abort() when broken):
 * - a response only to a Binding request (class request, method Binding),
 *   and with a key only to one whose integrity checks with that key; the
 *   return codes are the documented ones and match what
 *   nat_stun_decode() says of the datagram;
 * - the response decodes with nat_stun_decode() as a Binding success or
 *   error response (error exactly when where->error), classic exactly
 *   when the request was, with the request's 128 bits of cookie + ID,
 *   FINGERPRINT when the request had one (not classic), and
 *   MESSAGE-INTEGRITY that checks with the key when one is set;
 * - a success carries (XOR-)MAPPED-ADDRESS equal to the source, and with
 *   RFC 5780 service RESPONSE-ORIGIN (SOURCE-ADDRESS) equal to the reply's
 *   source and OTHER-ADDRESS (CHANGED-ADDRESS) equal to the alternate; an
 *   error is a 420 listing what the server does not understand, and is
 *   sent only when the request had an unknown comprehension-required
 *   attribute or RFC 5780 attributes the server does not serve;
 * - the reply goes to the source's own IP, always; to its port unless
 *   RFC 5780 service is on, the answer is a success and RESPONSE-PORT
 *   asked for another (then that port); it leaves from the server's own
 *   address, or with CHANGE-REQUEST from exactly the alternate IP and/or
 *   port asked for, never an address taken from the packet;
 * - amplification: the code implements no PADDING (RFC 5780 7.6), so a
 *   success response's size is fixed by the configuration and the
 *   source's family alone (20 + the address attributes + SOFTWARE +
 *   MESSAGE-INTEGRITY + FINGERPRINT: 124 bytes + SOFTWARE at most,
 *   whatever the request); the harness computes it exactly and asserts
 *   it. A 420 grows only with the listed types, at most
 *   NAT_STUN_MAX_UNKNOWN + 2 of them, and the request had to carry each
 *   (4 bytes at least): it stays within 20 + 28 + 40 + SOFTWARE + 32.
 *
 * Run locally (clang, ASan+UBSan, libnat coverage-instrumented), 2026-12-08,
 * through the shared fuzz slot (2 cores shared by five helpers and a
 * benchmark):
 *   CC=clang cmake -S . -B build-fuzz -DNAT_WERROR=ON -DNAT_FUZZ=ON \
 *     -DNAT_SANITIZE=address,undefined && \
 *     cmake --build build-fuzz --target fuzz_stunsrv
 *   build-fuzz/tests/fuzz/fuzz_stunsrv -max_total_time=600 \
 *     -print_final_stats=1 CORPUS_COPY   (a copy of corpus/stunsrv)
 * Result: 29,916,103 runs in 601 s, 49,777 execs/s on average, 605 new
 * units over the 25 seeds; the final corpus (215 units once reloaded)
 * covers 400 edges / 913 features; peak RSS 507 MB; no crash, no
 * invariant broken, no sanitizer report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/stunsrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "stunsrv-fuzz-pwd";
#define KEYLEN (sizeof key - 1)
static const uint8_t wrong_key[] = "stunsrv-wrong";
static const char software[] = "libnat fuzz";

#define F_OTHER  0x01u
#define F_LOCAL  0x02u
#define F_KEY    0x04u
#define F_SOFT   0x08u
#define F_V6     0x10u
#define F_SAMEIP 0x20u
#define F_MSG    0x40u
#define F_STRUCT 0x80u

/* structured request flags */
#define R_CLASSIC 0x01u
#define R_CHANGE  0x02u
#define R_RPORT   0x04u
#define R_UNKNOWN 0x08u
#define R_MI      0x10u
#define R_WRONG   0x20u
#define R_FP      0x40u
#define R_MI256   0x80u

static size_t pad4(size_t n) {
  return (n + 3) & ~(size_t)3;
}

static size_t addr_attr(const nat_addr *a) {
  return a->family == NAT_AF_INET6 ? 24 : 12;
}

/* Build a request from @p s; @return its length or 0. */
static size_t build_request(const uint8_t *s, size_t n, uint8_t *buf,
                            size_t cap) {
  nat_stun_builder b;
  uint8_t tid[16] = {0};
  uint8_t f;
  uint32_t change;
  uint16_t rport, utype;
  char user[101];
  size_t ulen;
  ssize_t len;
  if (n < 25)
    return 0;
  f = s[0];
  change =
      (uint32_t)s[1] << 24 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 8 | s[4];
  rport = (uint16_t)(s[5] << 8 | s[6]);
  memcpy(tid, s + 7, 16);
  utype = (uint16_t)((s[23] << 8 | s[24]) & 0x7FFF);
  s += 25;
  n -= 25;
  ulen = n < 100 ? n : 100;
  memcpy(user, s, ulen);
  user[ulen] = 0;
  if (f & R_CLASSIC)
    nat_stun_builder_init_classic(&b, buf, cap, NAT_STUN_BINDING,
                                  NAT_STUN_REQUEST, tid);
  else
    nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                          tid);
  if (ulen > 0 && strlen(user) > 0)
    nat_stun_add_string(&b, NAT_ATTR_USERNAME, user);
  if (f & R_CHANGE)
    nat_stun_add_change_request(&b, change);
  if (f & R_RPORT)
    nat_stun_add_attr(
        &b, NAT_ATTR_RESPONSE_PORT,
        (const uint8_t[4]){(uint8_t)(rport >> 8), (uint8_t)rport, 0, 0}, 4);
  if (f & R_UNKNOWN)
    nat_stun_add_attr(&b, utype, "abcd", 4);
  if (f & R_MI)
    nat_stun_add_integrity(&b, (f & R_WRONG) ? wrong_key : key,
                           (f & R_WRONG) ? sizeof wrong_key - 1 : KEYLEN);
  if (f & R_MI256)
    nat_stun_add_integrity_sha256(&b, (f & R_WRONG) ? wrong_key : key,
                                  (f & R_WRONG) ? sizeof wrong_key - 1 : KEYLEN,
                                  32);
  len = nat_stun_builder_finish(&b, (f & R_FP) && !(f & R_CLASSIC));
  return len > 0 ? (size_t)len : 0;
}

static bool same_ip(const nat_addr *a, const nat_addr *b) {
  size_t l = a->family == NAT_AF_INET6 ? 16 : 4;
  return a->family == b->family && memcmp(a->ip, b->ip, l) == 0;
}

static void check(uint8_t cfg, const nat_addr *from, const uint8_t *req,
                  size_t len) {
  nat_addr local, other;
  nat_stunsrv_opts o;
  nat_stunsrv_reply w;
  nat_stun_msg m, r;
  uint8_t out[548];
  ssize_t n, dn;
  bool v6 = from->family == NAT_AF_INET6;
  bool rfc5780, want_err;
  uint32_t flags = 0;
  uint16_t rport = 0;
  size_t extra = 0, soft = 0, expect;
  nat_addr a;

  memset(&local, 0, sizeof local);
  local.family = from->family;
  local.port = 3478;
  other = local;
  other.port = 3479;
  if (v6) {
    local.ip[0] = 0x20, local.ip[1] = 0x01, local.ip[2] = 0x0d;
    local.ip[3] = 0xb8, local.ip[15] = 1;
    memcpy(other.ip, local.ip, 16);
    other.ip[15] = (cfg & F_SAMEIP) ? 1 : 2;
  } else {
    local.ip[0] = 192, local.ip[2] = 2, local.ip[3] = 1;
    memcpy(other.ip, local.ip, 4);
    other.ip[3] = (cfg & F_SAMEIP) ? 1 : 2;
  }
  memset(&o, 0, sizeof o);
  o.local = (cfg & F_LOCAL) ? &local : NULL;
  o.other = (cfg & F_OTHER) ? &other : NULL;
  if (cfg & F_KEY) {
    o.key = key;
    o.keylen = KEYLEN;
  }
  if (cfg & F_SOFT) {
    o.software = software;
    soft = 4 + pad4(strlen(software));
  }
  memset(&w, 0x5A, sizeof w);

  dn = nat_stun_decode(&m, req, len);
  if (cfg & F_MSG) {
    if (dn < 0)
      return; /* the _msg entry takes decoded messages only */
    n = nat_stunsrv_respond_msg(&o, from, &m, out, sizeof out, &w);
  } else {
    n = nat_stunsrv_respond(&o, from, req, len, out, sizeof out, &w);
  }

  if (dn < 0) { /* a malformed datagram is never answered */
    if (n != dn)
      abort();
    return;
  }
  if (m.cls != NAT_STUN_REQUEST || m.method != NAT_STUN_BINDING) {
    if (n != NAT_EBADCLASS)
      abort();
    return;
  }
  if (n < 0) {
    /* the documented refusals, each for its reason */
    if (n == NAT_EINTEGRITY || n == NAT_ENOINTEGRITY) {
      if (o.key == NULL ||
          nat_stun_msg_check_integrity(&m, o.key, o.keylen) == 0)
        abort();
    } else if (n == NAT_EINVAL) {
      /* CHANGE-REQUEST that the configuration cannot honour */
      if (o.other == NULL || o.local != NULL ||
          nat_stun_msg_get_u32(&m, NAT_ATTR_CHANGE_REQUEST, &flags) != 0 ||
          (flags & (NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT)) == 0)
        abort();
    } else {
      abort(); /* ENOBUFS cannot happen with 548 bytes and this SOFTWARE */
    }
    return;
  }
  if (o.key != NULL && nat_stun_msg_check_integrity(&m, o.key, o.keylen) != 0)
    abort(); /* answered without the right key */

  /* the response itself */
  if (nat_stun_decode(&r, out, (size_t)n) != n)
    abort();
  if (r.method != NAT_STUN_BINDING || r.classic != m.classic ||
      memcmp(out + 4, req + 4, 16) != 0)
    abort();
  if (r.cls != (w.error ? NAT_STUN_ERROR : NAT_STUN_SUCCESS))
    abort();
  if (!m.classic && (m.fp_idx >= 0) != (r.fp_idx >= 0))
    abort();
  if (o.key != NULL && nat_stun_msg_check_integrity(&r, o.key, o.keylen) != 0)
    abort();

  rfc5780 = o.other != NULL;
  if (!rfc5780) {
    if (nat_stun_msg_find(&m, NAT_ATTR_CHANGE_REQUEST) != NULL)
      extra++;
    if (nat_stun_msg_find(&m, NAT_ATTR_RESPONSE_PORT) != NULL)
      extra++;
  }
  want_err = m.nunknown > 0 || extra > 0;
  if (w.error != want_err)
    abort();

  /* where it goes: the source's IP, always */
  if (!same_ip(&w.dst, from))
    abort();
  if (rfc5780 && !w.error && nat_stun_msg_get_response_port(&m, &rport) == 0 &&
      rport != 0) {
    if (w.dst.port != rport)
      abort();
  } else if (w.dst.port != from->port) {
    abort();
  }
  /* where it leaves from: ours only */
  if (o.local == NULL) {
    if (w.src.family != NAT_AF_NONE)
      abort();
  } else {
    nat_addr want = local;
    if (rfc5780 && !w.error &&
        nat_stun_msg_get_u32(&m, NAT_ATTR_CHANGE_REQUEST, &flags) == 0) {
      if (flags & NAT_STUN_CHANGE_IP)
        memcpy(want.ip, other.ip, sizeof want.ip);
      if (flags & NAT_STUN_CHANGE_PORT)
        want.port = other.port;
    }
    if (!nat_addr_equal(&w.src, &want))
      abort();
  }

  if (w.error) {
    int code = 0;
    uint16_t types[NAT_STUN_MAX_UNKNOWN + 4];
    size_t nt = 0, k;
    size_t listed = (m.nunknown < NAT_STUN_MAX_UNKNOWN ? m.nunknown
                                                       : NAT_STUN_MAX_UNKNOWN) +
                    extra;
    if (nat_stun_msg_get_error(&r, &code, NULL, NULL) != 0 || code != 420)
      abort();
    if (nat_stun_msg_get_unknown_attrs(&r, types, NAT_STUN_MAX_UNKNOWN + 4,
                                       &nt) != 0 ||
        nt != listed)
      abort();
    for (k = 0; k < nt; k++) /* only types the request carried */
      if (nat_stun_msg_find(&m, types[k]) == NULL)
        abort();
    if (nat_stun_msg_find(&r, NAT_ATTR_XOR_MAPPED_ADDRESS) != NULL ||
        nat_stun_msg_find(&r, NAT_ATTR_MAPPED_ADDRESS) != NULL)
      abort();
    if ((size_t)n > 20 + 28 + 4 + pad4(2 * listed) + soft + 24 + 8)
      abort();
    return;
  }

  /* a success: the mapped address is the source */
  if (nat_stun_msg_get_addr(
          &r, m.classic ? NAT_ATTR_MAPPED_ADDRESS : NAT_ATTR_XOR_MAPPED_ADDRESS,
          &a) != 0 ||
      !nat_addr_equal(&a, from))
    abort();
  expect = 20 + addr_attr(from) + soft;
  if (rfc5780 && o.local != NULL) {
    if (nat_stun_msg_get_addr(
            &r, m.classic ? NAT_ATTR_SOURCE_ADDRESS : NAT_ATTR_RESPONSE_ORIGIN,
            &a) != 0 ||
        !nat_addr_equal(&a, &w.src))
      abort();
    if (nat_stun_msg_get_addr(
            &r, m.classic ? NAT_ATTR_CHANGED_ADDRESS : NAT_ATTR_OTHER_ADDRESS,
            &a) != 0 ||
        !nat_addr_equal(&a, &other))
      abort();
    expect += addr_attr(&w.src) + addr_attr(&other);
  }
  if (o.key != NULL)
    expect += 24;
  if (!m.classic && m.fp_idx >= 0)
    expect += 8;
  if ((size_t)n != expect) /* fixed by the configuration, not the request */
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nat_addr from;
  uint8_t req[1024];
  uint8_t cfg;
  if (size < 19)
    return 0;
  cfg = data[0];
  memset(&from, 0, sizeof from);
  from.family = (cfg & F_V6) ? NAT_AF_INET6 : NAT_AF_INET;
  from.port = (uint16_t)(data[1] << 8 | data[2]);
  memcpy(from.ip, data + 3, (cfg & F_V6) ? 16 : 4);
  data += 19;
  size -= 19;
  if (cfg & F_STRUCT) {
    size_t n = build_request(data, size, req, sizeof req);
    if (n == 0)
      return 0;
    check(cfg, &from, req, n);
  } else {
    check(cfg, &from, data, size);
  }
  return 0;
}
