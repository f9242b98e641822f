/* libFuzzer target for the STUN decoder: decode, run every getter on every
 * attribute, check integrity with a fixed key, re-encode what was decoded
 * and decode that again. Invariants that must hold abort() when broken:
 * - nat_stun_is_stun() true implies no header-level decode error;
 * - a decoded message re-encodes, and the re-encoding decodes to the same
 *   attributes and passes the integrity check with the key it was built
 *   with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[] = "libnat-fuzz-key";
#define FUZZ_KEYLEN (sizeof fuzz_key - 1)

static volatile unsigned sink; /* keeps reads from being optimised away */

static void touch(const uint8_t *p, size_t n) {
  unsigned acc = 0;
  for (size_t i = 0; i < n; i++) {
    acc += p[i];
  }
  sink += acc;
}

static void exercise_getters(const nat_stun_msg *m) {
  nat_addr a;
  uint32_t u32;
  uint64_t u64;
  uint16_t port, types[4];
  size_t n, rlen;
  int code;
  const char *reason;
  for (size_t i = 0; i < m->nattrs; i++) {
    const nat_stun_attr *at = &m->attrs[i];
    touch(at->value, at->len);
    sink += (unsigned)strlen(nat_stun_attr_name(at->type));
    if (nat_stun_msg_find(m, at->type) == NULL) {
      abort();
    }
    (void)nat_stun_msg_get_addr(m, at->type, &a);
    (void)nat_stun_msg_get_u32(m, at->type, &u32);
    (void)nat_stun_msg_get_u64(m, at->type, &u64);
  }
  (void)nat_stun_msg_get_mapped(m, &a);
  (void)nat_stun_msg_get_response_port(m, &port);
  if (nat_stun_msg_get_error(m, &code, &reason, &rlen) == 0) {
    touch((const uint8_t *)reason, rlen);
    if (code < 300 || code > 699) {
      abort();
    }
  }
  (void)nat_stun_msg_get_unknown_attrs(m, types, 4, &n);
  sink += (unsigned)strlen(nat_stun_class_name(m->cls));
  for (size_t i = 0; i < m->nunknown && i < NAT_STUN_MAX_UNKNOWN; i++) {
    sink += m->unknown[i];
  }
}

static bool is_mac_or_fp(const nat_stun_msg *m, uint16_t type) {
  return type == NAT_ATTR_MESSAGE_INTEGRITY ||
         type == NAT_ATTR_MESSAGE_INTEGRITY_SHA256 ||
         (type == NAT_ATTR_FINGERPRINT && !m->classic);
}

static ssize_t reencode(const nat_stun_msg *m, uint8_t *out, size_t cap) {
  nat_stun_builder b;
  if (m->classic) {
    nat_stun_builder_init_classic(&b, out, cap, m->method, m->cls, m->buf + 4);
  } else {
    nat_stun_builder_init(&b, out, cap, m->method, m->cls, m->tid);
  }
  for (size_t i = 0; i < m->nattrs; i++) {
    const nat_stun_attr *at = &m->attrs[i];
    if (!is_mac_or_fp(m, at->type)) {
      nat_stun_add_attr(&b, at->type, at->value, at->len);
    }
  }
  if (m->mi_idx >= 0) {
    nat_stun_add_integrity(&b, fuzz_key, FUZZ_KEYLEN);
  }
  if (m->mi256_idx >= 0) {
    nat_stun_add_integrity_sha256(&b, fuzz_key, FUZZ_KEYLEN,
                                  m->attrs[m->mi256_idx].len);
  }
  return nat_stun_builder_finish(&b, m->fp_idx >= 0);
}

static void check_same(const nat_stun_msg *a, const nat_stun_msg *b) {
  if (a->nattrs != b->nattrs || a->method != b->method || a->cls != b->cls ||
      a->classic != b->classic || a->mi_idx != b->mi_idx ||
      a->mi256_idx != b->mi256_idx || a->fp_idx != b->fp_idx ||
      a->nunknown != b->nunknown) {
    abort();
  }
  for (size_t i = 0; i < a->nattrs; i++) {
    const nat_stun_attr *x = &a->attrs[i], *y = &b->attrs[i];
    if (x->type != y->type || x->len != y->len) {
      abort();
    }
    if (!is_mac_or_fp(a, x->type) && memcmp(x->value, y->value, x->len) != 0) {
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[NAT_STUN_MAX_MSG];
  nat_stun_msg m, m2;
  bool demux = nat_stun_is_stun(data, size);
  sink += nat_crc32(0, data, size);
  ssize_t rc = nat_stun_decode(&m, data, size);
  if (demux && (rc == NAT_ETRUNC || rc == NAT_EBADLEN || rc == NAT_ENOTSTUN ||
                rc == NAT_EPADDING)) {
    abort();
  }
  if (rc < 0) {
    if (nat_strerror((int)rc) == NULL || m.nattrs != 0) {
      abort();
    }
    return 0;
  }
  if ((size_t)rc != size || m.nattrs > NAT_STUN_MAX_ATTRS) {
    abort();
  }
  exercise_getters(&m);
  (void)nat_stun_msg_check_integrity(&m, fuzz_key, FUZZ_KEYLEN);
  ssize_t n = reencode(&m, out, sizeof out);
  const nat_stun_attr *user = nat_stun_msg_find(&m, NAT_ATTR_USERNAME);
  if (user != NULL && user->len > 508) {
    /* parsed (RFC 8489 14.3 asks receivers for 763 bytes), but over the
     * sending limit of "fewer than 509 bytes": the builder refuses it */
    if (n != NAT_EINVAL) {
      abort();
    }
    return 0;
  }
  if (n < 0 || (size_t)n > size) {
    abort();
  }
  if (nat_stun_decode(&m2, out, (size_t)n) != n) {
    abort();
  }
  check_same(&m, &m2);
  if ((m2.mi_idx >= 0 || m2.mi256_idx >= 0) &&
      nat_stun_msg_check_integrity(&m2, fuzz_key, FUZZ_KEYLEN) != 0) {
    abort();
  }
  return 0;
}
