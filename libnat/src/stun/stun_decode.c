/* STUN message decoding: a strict, zero-copy view (RFC 8489 sections 5,
 * 6, 14; RFC 5780 section 7; RFC 8445 section 16; RFC 3489 classic
 * messages) and the typed getters over it. */
#include <string.h>

#include "base/bytes.h"
#include "nat/error.h"
#include "stun_internal.h"

/* Where the attribute walk is, for RFC 8489 sections 14.5-14.7 ordering. */
enum { ST_OPEN, ST_AFTER_MI, ST_AFTER_MI256, ST_AFTER_FP };

bool nat__stun_attr_known(uint16_t type) {
  switch (type) {
  case NAT_ATTR_MAPPED_ADDRESS:
  case NAT_ATTR_RESPONSE_ADDRESS:
  case NAT_ATTR_CHANGE_REQUEST:
  case NAT_ATTR_SOURCE_ADDRESS:
  case NAT_ATTR_CHANGED_ADDRESS:
  case NAT_ATTR_USERNAME:
  case NAT_ATTR_PASSWORD:
  case NAT_ATTR_MESSAGE_INTEGRITY:
  case NAT_ATTR_ERROR_CODE:
  case NAT_ATTR_UNKNOWN_ATTRIBUTES:
  case NAT_ATTR_REFLECTED_FROM:
  case NAT_ATTR_REALM:
  case NAT_ATTR_NONCE:
  case NAT_ATTR_MESSAGE_INTEGRITY_SHA256:
  case NAT_ATTR_PASSWORD_ALGORITHM:
  case NAT_ATTR_USERHASH:
  case NAT_ATTR_XOR_MAPPED_ADDRESS:
  case NAT_ATTR_PADDING:
  case NAT_ATTR_RESPONSE_PORT:
  case NAT_ATTR_PRIORITY:
  case NAT_ATTR_USE_CANDIDATE:
  case NAT_ATTR_PASSWORD_ALGORITHMS:
  case NAT_ATTR_ALTERNATE_DOMAIN:
  case NAT_ATTR_SOFTWARE:
  case NAT_ATTR_ALTERNATE_SERVER:
  case NAT_ATTR_FINGERPRINT:
  case NAT_ATTR_ICE_CONTROLLED:
  case NAT_ATTR_ICE_CONTROLLING:
  case NAT_ATTR_RESPONSE_ORIGIN:
  case NAT_ATTR_OTHER_ADDRESS:
    return true;
  default:
    return false;
  }
}

bool nat__stun_is_xor_type(uint16_t type) {
  /* XOR-MAPPED-ADDRESS, and TURN's XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS
   * (RFC 8656 sections 18.3, 18.5), which share its encoding. */
  return type == NAT_ATTR_XOR_MAPPED_ADDRESS || type == 0x0012 ||
         type == 0x0016;
}

static int check_addr(const uint8_t *v, size_t len) {
  if (len < 4) {
    return NAT_EBADATTR;
  }
  switch (v[1]) {
  case NAT_AF_INET:
    return len == 8 ? 0 : NAT_EBADATTR;
  case NAT_AF_INET6:
    return len == 20 ? 0 : NAT_EBADATTR;
  default:
    return NAT_EBADFAMILY;
  }
}

/* ERROR-CODE (RFC 8489 section 14.8): 21 reserved bits, class 3..6,
 * number 0..99, then a reason of at most 763 bytes. */
static int check_error(const uint8_t *v, size_t len) {
  if (len < 4 || len > 4 + NAT__STUN_MAX_TEXT) {
    return NAT_EBADATTR;
  }
  unsigned cls = v[2] & 7u;
  if (cls < 3 || cls > 6 || v[3] >= 100) {
    return NAT_EBADATTR;
  }
  return 0;
}

/* PASSWORD-ALGORITHM(S) (RFC 8489 sections 14.11, 14.12): entries of
 * algorithm (16 bits), parameters length (16 bits), parameters padded to
 * 32 bits. @p list allows several entries. */
static int check_pwalgs(const uint8_t *v, size_t len, bool list) {
  size_t off = 0;
  if (len < 4) {
    return NAT_EBADATTR;
  }
  while (off < len) {
    if (len - off < 4) {
      return NAT_EBADATTR;
    }
    size_t plen = nat__get16(v + off + 2);
    if (plen > len - off - 4) {
      return NAT_EBADATTR;
    }
    off += 4 + ((plen + 3) & ~(size_t)3);
    if (!list && off < len) {
      return NAT_EBADATTR;
    }
  }
  return 0;
}

int nat__stun_check_value(uint16_t type, const uint8_t *v, size_t len) {
  switch (type) {
  case NAT_ATTR_MAPPED_ADDRESS:
  case NAT_ATTR_RESPONSE_ADDRESS:
  case NAT_ATTR_SOURCE_ADDRESS:
  case NAT_ATTR_CHANGED_ADDRESS:
  case NAT_ATTR_REFLECTED_FROM:
  case NAT_ATTR_XOR_MAPPED_ADDRESS:
  case NAT_ATTR_ALTERNATE_SERVER:
  case NAT_ATTR_RESPONSE_ORIGIN:
  case NAT_ATTR_OTHER_ADDRESS:
    return check_addr(v, len);
  case NAT_ATTR_CHANGE_REQUEST:
  case NAT_ATTR_PRIORITY:
  case NAT_ATTR_FINGERPRINT:
  case NAT_ATTR_RESPONSE_PORT:
    return len == 4 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_ICE_CONTROLLED:
  case NAT_ATTR_ICE_CONTROLLING:
    return len == 8 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_MESSAGE_INTEGRITY:
    return len == 20 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_MESSAGE_INTEGRITY_SHA256:
    return (len >= 16 && len <= 32 && len % 4 == 0) ? 0 : NAT_EBADATTR;
  case NAT_ATTR_USERHASH:
    return len == 32 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_USE_CANDIDATE:
    return len == 0 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_USERNAME:
    return len <= NAT__STUN_MAX_USERNAME ? 0 : NAT_EBADATTR;
  case NAT_ATTR_REALM:
  case NAT_ATTR_NONCE:
  case NAT_ATTR_SOFTWARE:
    return len <= NAT__STUN_MAX_TEXT ? 0 : NAT_EBADATTR;
  case NAT_ATTR_ALTERNATE_DOMAIN:
    return len <= 255 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_ERROR_CODE:
    return check_error(v, len);
  case NAT_ATTR_UNKNOWN_ATTRIBUTES:
    return len % 2 == 0 ? 0 : NAT_EBADATTR;
  case NAT_ATTR_PASSWORD_ALGORITHM:
    return check_pwalgs(v, len, false);
  case NAT_ATTR_PASSWORD_ALGORITHMS:
    return check_pwalgs(v, len, true);
  default:
    return 0;
  }
}

bool nat_stun_is_stun(const uint8_t *buf, size_t len) {
  /* len - 20 == length field and a multiple of 4 <=> len % 4 == 0. */
  return buf != NULL && len >= NAT_STUN_HEADER_LEN && (len & 3) == 0 &&
         (buf[0] & 0xC0) == 0 && nat__get32(buf + 4) == NAT_STUN_MAGIC_COOKIE &&
         (size_t)nat__get16(buf + 2) + NAT_STUN_HEADER_LEN == len;
}

static void reset_view(nat_stun_msg *m) {
  m->nattrs = 0;
  m->nunknown = 0;
  m->mi_idx = m->mi256_idx = m->fp_idx = -1;
}

/* Why a length field that is not a multiple of 4 is wrong: the last
 * attribute's padding is missing (NAT_EPADDING), or not (NAT_EBADLEN). */
static int misaligned(const uint8_t *buf, size_t len) {
  size_t off = NAT_STUN_HEADER_LEN;
  while (off < len && len - off >= 4) {
    size_t alen = nat__get16(buf + off + 2), room = len - off - 4;
    if (alen > room) {
      return NAT_EBADLEN;
    }
    if (((alen + 3) & ~(size_t)3) > room) {
      return NAT_EPADDING;
    }
    off += 4 + ((alen + 3) & ~(size_t)3);
  }
  return NAT_EBADLEN;
}

/* Header checks, in this order: a first byte with either top bit set ->
 * ENOTSTUN; under 20 bytes -> ETRUNC; datagram shorter than 20 + length
 * field -> ETRUNC; longer -> EBADLEN; over NAT_STUN_MAX_MSG -> EBADLEN;
 * length field not a multiple of 4 -> EPADDING if the last attribute
 * lacks its padding, else EBADLEN. */
static int decode_header(nat_stun_msg *m, const uint8_t *buf, size_t len) {
  if (len > 0 && (buf[0] & 0xC0) != 0) {
    return NAT_ENOTSTUN;
  }
  if (len < NAT_STUN_HEADER_LEN) {
    return NAT_ETRUNC;
  }
  size_t mlen = nat__get16(buf + 2);
  if (len < NAT_STUN_HEADER_LEN + mlen) {
    return NAT_ETRUNC;
  }
  if (len > NAT_STUN_HEADER_LEN + mlen || len > NAT_STUN_MAX_MSG) {
    return NAT_EBADLEN;
  }
  if ((mlen & 3) != 0) {
    return misaligned(buf, len);
  }
  uint16_t type = nat__get16(buf);
  m->buf = buf;
  m->len = len;
  m->cls = (uint8_t)(((type >> 4) & 1u) | ((type >> 7) & 2u));
  m->method = (uint16_t)((type & 0x000Fu) | ((type >> 1) & 0x0070u) |
                         ((type >> 2) & 0x0F80u));
  m->cookie = nat__get32(buf + 4);
  m->classic = m->cookie != NAT_STUN_MAGIC_COOKIE;
  memcpy(m->tid, buf + 8, NAT_STUN_TID_LEN);
  return 0;
}

/* Validate and index one attribute whose framing is already checked. */
static int index_attr(nat_stun_msg *m, uint16_t type, uint16_t alen,
                      const uint8_t *v, int *st) {
  bool is_fp = type == NAT_ATTR_FINGERPRINT && !m->classic;
  if ((*st == ST_AFTER_MI256 && !is_fp) ||
      (*st == ST_AFTER_MI && !is_fp &&
       type != NAT_ATTR_MESSAGE_INTEGRITY_SHA256)) {
    return 0; /* RFC 8489 sections 14.5, 14.6: ignored */
  }
  int rc = nat__stun_check_value(type, v, alen);
  if (rc != 0) {
    return rc;
  }
  int16_t idx = (int16_t)m->nattrs;
  m->attrs[idx].type = type;
  m->attrs[idx].len = alen;
  m->attrs[idx].value = v;
  m->nattrs++;
  if (type < 0x8000 && !nat__stun_attr_known(type)) {
    if (m->nunknown < NAT_STUN_MAX_UNKNOWN) {
      m->unknown[m->nunknown] = type;
    }
    m->nunknown++;
  }
  if (is_fp) {
    m->fp_idx = idx;
    *st = ST_AFTER_FP;
  } else if (type == NAT_ATTR_MESSAGE_INTEGRITY_SHA256) {
    m->mi256_idx = idx;
    *st = ST_AFTER_MI256;
  } else if (type == NAT_ATTR_MESSAGE_INTEGRITY) {
    m->mi_idx = idx;
    *st = ST_AFTER_MI;
  }
  return 0;
}

static int decode_attrs(nat_stun_msg *m) {
  const uint8_t *buf = m->buf;
  size_t len = m->len, off = NAT_STUN_HEADER_LEN, count = 0;
  int st = ST_OPEN;
  while (off < len) {
    if (st == ST_AFTER_FP) {
      return NAT_EATTRORDER;
    }
    if (len - off < 4) {
      return NAT_EATTRLEN; /* unreachable: lengths are multiples of 4 */
    }
    uint16_t type = nat__get16(buf + off);
    uint16_t alen = nat__get16(buf + off + 2);
    size_t room = len - off - 4;
    if (alen > room) {
      return NAT_EATTRLEN;
    }
    size_t padded = ((size_t)alen + 3) & ~(size_t)3;
    if (padded > room) {
      return NAT_EPADDING;
    }
    if (++count > NAT_STUN_MAX_ATTRS) {
      return NAT_ETOOMANYATTRS;
    }
    int rc = index_attr(m, type, alen, buf + off + 4, &st);
    if (rc != 0) {
      return rc;
    }
    off += 4 + padded;
  }
  if (m->fp_idx >= 0) {
    const nat_stun_attr *fp = &m->attrs[m->fp_idx];
    size_t fpoff = (size_t)(fp->value - buf) - 4;
    uint32_t want = nat_crc32(0, buf, fpoff) ^ NAT__STUN_FP_XOR;
    if (nat__get32(fp->value) != want) {
      return NAT_EFINGERPRINT;
    }
  }
  return 0;
}

ssize_t nat_stun_decode(nat_stun_msg *m, const uint8_t *buf, size_t len) {
  if (m == NULL || (buf == NULL && len > 0)) {
    return NAT_EINVAL;
  }
  reset_view(m);
  int rc = decode_header(m, buf, len);
  if (rc == 0) {
    rc = decode_attrs(m);
  }
  if (rc != 0) {
    reset_view(m);
    return rc;
  }
  return (ssize_t)len;
}

const nat_stun_attr *nat_stun_msg_find(const nat_stun_msg *m, uint16_t type) {
  if (m == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < m->nattrs && i < NAT_STUN_MAX_ATTRS; i++) {
    if (m->attrs[i].type == type) {
      return &m->attrs[i];
    }
  }
  return NULL;
}

/* Find @p type with a non-NULL @p out; NAT_ENOTFOUND or NAT_EINVAL. */
static int find_attr(const nat_stun_msg *m, uint16_t type, const void *out,
                     const nat_stun_attr **a) {
  if (m == NULL || out == NULL) {
    return NAT_EINVAL;
  }
  *a = nat_stun_msg_find(m, type);
  return *a != NULL ? 0 : NAT_ENOTFOUND;
}

int nat_stun_msg_get_addr(const nat_stun_msg *m, uint16_t type, nat_addr *out) {
  const nat_stun_attr *a;
  int rc = find_attr(m, type, out, &a);
  if (rc == 0) {
    rc = check_addr(a->value, a->len);
  }
  if (rc != 0) {
    return rc;
  }
  memset(out, 0, sizeof *out);
  out->family = a->value[1];
  out->port = nat__get16(a->value + 2);
  size_t iplen = out->family == NAT_AF_INET ? 4 : 16;
  memcpy(out->ip, a->value + 4, iplen);
  if (nat__stun_is_xor_type(type) && m->len >= NAT_STUN_HEADER_LEN) {
    /* RFC 8489 section 14.2: port XOR the cookie's top 16 bits, address
     * XOR cookie (IPv4) or cookie || transaction ID (IPv6). */
    out->port ^= nat__get16(m->buf + 4);
    for (size_t i = 0; i < iplen; i++) {
      out->ip[i] ^= m->buf[4 + i];
    }
  }
  return 0;
}

int nat_stun_msg_get_mapped(const nat_stun_msg *m, nat_addr *out) {
  int rc = nat_stun_msg_get_addr(m, NAT_ATTR_XOR_MAPPED_ADDRESS, out);
  if (rc == NAT_ENOTFOUND) {
    rc = nat_stun_msg_get_addr(m, NAT_ATTR_MAPPED_ADDRESS, out);
  }
  return rc;
}

int nat_stun_msg_get_error(const nat_stun_msg *m, int *code,
                           const char **reason, size_t *reason_len) {
  const nat_stun_attr *a;
  int rc = find_attr(m, NAT_ATTR_ERROR_CODE, code, &a);
  if (rc == 0) {
    rc = check_error(a->value, a->len);
  }
  if (rc != 0) {
    return rc;
  }
  *code = (int)(a->value[2] & 7u) * 100 + (int)a->value[3];
  if (reason != NULL) {
    *reason = (const char *)a->value + 4;
  }
  if (reason_len != NULL) {
    *reason_len = (size_t)a->len - 4;
  }
  return 0;
}

int nat_stun_msg_get_u32(const nat_stun_msg *m, uint16_t type, uint32_t *out) {
  const nat_stun_attr *a;
  int rc = find_attr(m, type, out, &a);
  if (rc != 0) {
    return rc;
  }
  if (a->len != 4) {
    return NAT_EBADATTR;
  }
  *out = nat__get32(a->value);
  return 0;
}

int nat_stun_msg_get_u64(const nat_stun_msg *m, uint16_t type, uint64_t *out) {
  const nat_stun_attr *a;
  int rc = find_attr(m, type, out, &a);
  if (rc != 0) {
    return rc;
  }
  if (a->len != 8) {
    return NAT_EBADATTR;
  }
  *out = nat__get64(a->value);
  return 0;
}

int nat_stun_msg_get_response_port(const nat_stun_msg *m, uint16_t *port) {
  const nat_stun_attr *a;
  int rc = find_attr(m, NAT_ATTR_RESPONSE_PORT, port, &a);
  if (rc != 0) {
    return rc;
  }
  if (a->len != 4) {
    return NAT_EBADATTR;
  }
  *port = nat__get16(a->value); /* then 16 bits of padding, ignored */
  return 0;
}

int nat_stun_msg_get_unknown_attrs(const nat_stun_msg *m, uint16_t *types,
                                   size_t max, size_t *n) {
  const nat_stun_attr *a;
  int rc = find_attr(m, NAT_ATTR_UNKNOWN_ATTRIBUTES, n, &a);
  if (rc != 0) {
    return rc;
  }
  if (a->len % 2 != 0 || (types == NULL && max > 0)) {
    return a->len % 2 != 0 ? NAT_EBADATTR : NAT_EINVAL;
  }
  *n = (size_t)a->len / 2;
  for (size_t i = 0; i < *n && i < max; i++) {
    types[i] = nat__get16(a->value + 2 * i);
  }
  return 0;
}
