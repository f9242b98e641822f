/* STUN message encoding: a builder writing into the caller's buffer with
 * sticky errors (RFC 8489 sections 5, 14; RFC 3489 classic messages). */
#include <string.h>

#include "base/bytes.h"
#include "nat/error.h"
#include "stun_internal.h"

#define PAD4(n) (((size_t)(n) + 3) & ~(size_t)3)

uint16_t nat__stun_type(uint16_t method, uint8_t cls) {
  /* RFC 8489 section 5: M11..M7 C1 M6..M4 C0 M3..M0 */
  return (uint16_t)((method & 0x000Fu) | ((method & 0x0070u) << 1) |
                    ((method & 0x0F80u) << 2) | ((cls & 1u) << 4) |
                    ((cls & 2u) << 7));
}

/* Record @p err unless an error is already recorded; return the first. */
static int fail(nat_stun_builder *b, int err) {
  if (b->err == 0) {
    b->err = err;
  }
  return b->err;
}

static int init_common(nat_stun_builder *b, uint8_t *buf, size_t cap,
                       uint16_t method, uint8_t cls, const uint8_t *id,
                       bool classic) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  memset(b, 0, sizeof *b);
  b->buf = buf;
  b->cap = cap > NAT_STUN_MAX_MSG ? NAT_STUN_MAX_MSG : cap;
  b->classic = classic;
  if (buf == NULL || id == NULL || method > 0xFFF || cls > 3) {
    return fail(b, NAT_EINVAL);
  }
  /* A classic ID starting with the magic cookie would decode as RFC 5389. */
  if (classic && nat__get32(id) == NAT_STUN_MAGIC_COOKIE) {
    return fail(b, NAT_EINVAL);
  }
  if (b->cap < NAT_STUN_HEADER_LEN) {
    return fail(b, NAT_ENOBUFS);
  }
  nat__put16(buf, nat__stun_type(method, cls));
  nat__put16(buf + 2, 0);
  if (classic) {
    memcpy(buf + 4, id, 16);
  } else {
    nat__put32(buf + 4, NAT_STUN_MAGIC_COOKIE);
    memcpy(buf + 8, id, NAT_STUN_TID_LEN);
  }
  b->len = NAT_STUN_HEADER_LEN;
  return 0;
}

int nat_stun_builder_init(nat_stun_builder *b, uint8_t *buf, size_t cap,
                          uint16_t method, uint8_t cls,
                          const uint8_t tid[NAT_STUN_TID_LEN]) {
  return init_common(b, buf, cap, method, cls, tid, false);
}

int nat_stun_builder_init_classic(nat_stun_builder *b, uint8_t *buf, size_t cap,
                                  uint16_t method, uint8_t cls,
                                  const uint8_t tid16[16]) {
  return init_common(b, buf, cap, method, cls, tid16, true);
}

/* In a classic message FINGERPRINT is an ordinary attribute, as the
 * decoder sees it. */
static bool is_seal_type(const nat_stun_builder *b, uint16_t type) {
  return type == NAT_ATTR_MESSAGE_INTEGRITY ||
         type == NAT_ATTR_MESSAGE_INTEGRITY_SHA256 ||
         (type == NAT_ATTR_FINGERPRINT && !b->classic);
}

/* RFC 8489 sections 14.5-14.7: after MESSAGE-INTEGRITY only
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, after MESSAGE-INTEGRITY-SHA256
 * only FINGERPRINT, after FINGERPRINT nothing. */
static bool order_ok(const nat_stun_builder *b, uint16_t type) {
  bool has_mi256 = false, has_fp = false;
  if (!b->sealed) {
    return true;
  }
  for (size_t off = NAT_STUN_HEADER_LEN; off + 4 <= b->len;) {
    uint16_t t = nat__get16(b->buf + off);
    has_mi256 |= t == NAT_ATTR_MESSAGE_INTEGRITY_SHA256;
    has_fp |= t == NAT_ATTR_FINGERPRINT && !b->classic;
    off += 4 + PAD4(nat__get16(b->buf + off + 2));
  }
  if (has_fp) {
    return false;
  }
  return (type == NAT_ATTR_FINGERPRINT && !b->classic) ||
         (type == NAT_ATTR_MESSAGE_INTEGRITY_SHA256 && !has_mi256);
}

/* Reserve an attribute of @p type and @p len value bytes (padding zeroed);
 * return where its value goes, or NULL with the sticky error set. */
static uint8_t *append(nat_stun_builder *b, uint16_t type, size_t len) {
  if (b->err != 0) {
    return NULL;
  }
  if (len > 0xFFFF || !order_ok(b, type)) {
    fail(b, NAT_EINVAL);
    return NULL;
  }
  size_t padded = PAD4(len);
  if (b->cap - b->len < 4 + padded) {
    fail(b, NAT_ENOBUFS);
    return NULL;
  }
  uint8_t *p = b->buf + b->len;
  nat__put16(p, type);
  nat__put16(p + 2, (uint16_t)len);
  memset(p + 4 + len, 0, padded - len);
  b->len += 4 + padded;
  if (is_seal_type(b, type)) {
    b->sealed = true;
  }
  return p + 4;
}

int nat_stun_add_attr(nat_stun_builder *b, uint16_t type, const void *value,
                      size_t len) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  if (b->err != 0) {
    return b->err;
  }
  if ((value == NULL && len > 0) ||
      (type == NAT_ATTR_USERNAME && len > NAT__STUN_MAX_USERNAME_SEND) ||
      (len <= 0xFFFF && nat__stun_check_value(type, value, len) != 0)) {
    return fail(b, NAT_EINVAL);
  }
  uint8_t *v = append(b, type, len);
  if (v == NULL) {
    return b->err;
  }
  if (len > 0) {
    memcpy(v, value, len);
  }
  return 0;
}

int nat_stun_add_addr(nat_stun_builder *b, uint16_t type, const nat_addr *a) {
  uint8_t v[20] = {0};
  size_t iplen;
  if (b == NULL) {
    return NAT_EINVAL;
  }
  if (b->err != 0) {
    return b->err;
  }
  if (a == NULL) {
    return fail(b, NAT_EINVAL);
  }
  if (a->family == NAT_AF_INET) {
    iplen = 4;
  } else if (a->family == NAT_AF_INET6) {
    iplen = 16;
  } else {
    return fail(b, NAT_EBADFAMILY);
  }
  v[1] = a->family;
  nat__put16(v + 2, a->port);
  memcpy(v + 4, a->ip, iplen);
  if (nat__stun_is_xor_type(type)) {
    /* RFC 8489 section 14.2; a classic message XORs with its ID. */
    v[2] ^= b->buf[4];
    v[3] ^= b->buf[5];
    for (size_t i = 0; i < iplen; i++) {
      v[4 + i] ^= b->buf[4 + i];
    }
  }
  return nat_stun_add_attr(b, type, v, 4 + iplen);
}

int nat_stun_add_u32(nat_stun_builder *b, uint16_t type, uint32_t v) {
  uint8_t raw[4];
  nat__put32(raw, v);
  return nat_stun_add_attr(b, type, raw, sizeof raw);
}

int nat_stun_add_u64(nat_stun_builder *b, uint16_t type, uint64_t v) {
  uint8_t raw[8];
  nat__put64(raw, v);
  return nat_stun_add_attr(b, type, raw, sizeof raw);
}

int nat_stun_add_string(nat_stun_builder *b, uint16_t type, const char *s) {
  if (b != NULL && b->err == 0 && s == NULL) {
    return fail(b, NAT_EINVAL);
  }
  return nat_stun_add_attr(b, type, s, s != NULL ? strlen(s) : 0);
}

int nat_stun_add_error(nat_stun_builder *b, int code, const char *reason) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  size_t rlen = reason != NULL ? strlen(reason) : 0;
  if (b->err == 0 && (code < 300 || code > 699 || rlen > NAT__STUN_MAX_TEXT)) {
    return fail(b, NAT_EINVAL);
  }
  uint8_t *v = append(b, NAT_ATTR_ERROR_CODE, 4 + rlen);
  if (v == NULL) {
    return b->err;
  }
  v[0] = v[1] = 0;
  v[2] = (uint8_t)(code / 100);
  v[3] = (uint8_t)(code % 100);
  if (rlen > 0) {
    memcpy(v + 4, reason, rlen);
  }
  return 0;
}

int nat_stun_add_change_request(nat_stun_builder *b, uint32_t flags) {
  if (b != NULL && b->err == 0 &&
      (flags & ~(uint32_t)(NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT)) != 0) {
    return fail(b, NAT_EINVAL);
  }
  return nat_stun_add_u32(b, NAT_ATTR_CHANGE_REQUEST, flags);
}

int nat_stun_add_unknown_attrs(nat_stun_builder *b, const uint16_t *types,
                               size_t n) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  if (b->err == 0 && ((types == NULL && n > 0) || n > 0xFFFF / 2)) {
    return fail(b, NAT_EINVAL);
  }
  uint8_t *v = append(b, NAT_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
  if (v == NULL) {
    return b->err;
  }
  for (size_t i = 0; i < n; i++) {
    nat__put16(v + 2 * i, types[i]);
  }
  return 0;
}

/* Append an integrity attribute of @p maclen bytes computed with @p alg
 * over the message before it, the header length covering it. */
static int add_mac(nat_stun_builder *b, uint16_t type, nat__mac_alg alg,
                   const uint8_t *key, size_t keylen, size_t maclen) {
  uint8_t mac[32];
  size_t zpad = 0;
  uint8_t *v = append(b, type, maclen);
  if (v == NULL) {
    return b->err;
  }
  size_t off = b->len - 4 - maclen;
  nat__put16(b->buf + 2, (uint16_t)(b->len - NAT_STUN_HEADER_LEN));
  if (b->classic && alg == NAT__MAC_SHA1) {
    zpad = (64 - off % 64) % 64; /* RFC 3489 section 11.2.8 */
  }
  int rc = nat__stun_hmac(alg, key, keylen, b->buf, off, NULL, 0, zpad, mac);
  if (rc != 0) {
    return fail(b, rc);
  }
  memcpy(v, mac, maclen);
  return 0;
}

int nat_stun_add_integrity(nat_stun_builder *b, const uint8_t *key,
                           size_t keylen) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  if (b->err == 0 && key == NULL && keylen > 0) {
    return fail(b, NAT_EINVAL);
  }
  return add_mac(b, NAT_ATTR_MESSAGE_INTEGRITY, NAT__MAC_SHA1, key, keylen, 20);
}

int nat_stun_add_integrity_sha256(nat_stun_builder *b, const uint8_t *key,
                                  size_t keylen, size_t trunc) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  if (b->err == 0 && ((key == NULL && keylen > 0) || trunc < 16 || trunc > 32 ||
                      trunc % 4 != 0)) {
    return fail(b, NAT_EINVAL);
  }
  return add_mac(b, NAT_ATTR_MESSAGE_INTEGRITY_SHA256, NAT__MAC_SHA256, key,
                 keylen, trunc);
}

ssize_t nat_stun_builder_finish(nat_stun_builder *b, bool fingerprint) {
  if (b == NULL) {
    return NAT_EINVAL;
  }
  if (b->err != 0) {
    return b->err;
  }
  if (fingerprint) {
    /* RFC 3489 has no FINGERPRINT: a classic receiver could not check it. */
    if (b->classic) {
      return fail(b, NAT_EINVAL);
    }
    uint8_t *v = append(b, NAT_ATTR_FINGERPRINT, 4);
    if (v == NULL) {
      return b->err;
    }
    nat__put16(b->buf + 2, (uint16_t)(b->len - NAT_STUN_HEADER_LEN));
    nat__put32(v, nat_crc32(0, b->buf, b->len - 8) ^ NAT__STUN_FP_XOR);
  }
  nat__put16(b->buf + 2, (uint16_t)(b->len - NAT_STUN_HEADER_LEN));
  return (ssize_t)b->len;
}
