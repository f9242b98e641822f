/* libnat -- punch tickets (nat/ticket.h): TLV body, CRC-32, base64url. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "nat/error.h"
#include "nat/stun.h"
#include "nat/ticket.h"

enum { T_PIN = 1, T_UFRAG = 2, T_PWD = 3, T_TIEBREAKER = 4, T_CAND = 5 };

#define BODY_MAX ((NAT_TICKET_TEXT_MAX / 4) * 3)

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int fail(nat_ticket_diag *d, int status, const char *fmt, ...) {
  va_list ap;
  if (d != NULL) {
    int n;
    d->status = status;
    n = snprintf(d->msg, sizeof d->msg, "ticket: ");
    va_start(ap, fmt);
    vsnprintf(d->msg + n, sizeof d->msg - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return NAT_ETICKET;
}

static bool ice_char(int ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '-' ||
         ch == '_';
}

static bool ice_string_ok(const char *s, size_t min, size_t max) {
  size_t n = strlen(s), i;
  if (n < min || n > max)
    return false;
  for (i = 0; i < n; i++)
    if (!ice_char((unsigned char)s[i]))
      return false;
  return true;
}

int nat_ticket_init_random(nat_ticket *t, nat_rand_fn rand, void *rand_ctx) {
  uint8_t r[NAT_TICKET_UFRAG_GEN + NAT_TICKET_PWD_GEN + 8];
  size_t i;
  if (t == NULL || rand == NULL)
    return NAT_EINVAL;
  memset(t, 0, sizeof *t);
  t->version = NAT_TICKET_VERSION;
  rand(rand_ctx, r, sizeof r);
  for (i = 0; i < NAT_TICKET_UFRAG_GEN; i++)
    t->ufrag[i] = b64url[r[i] & 63];
  for (i = 0; i < NAT_TICKET_PWD_GEN; i++)
    t->pwd[i] = b64url[r[NAT_TICKET_UFRAG_GEN + i] & 63];
  t->tie_breaker = nat__get64(r + NAT_TICKET_UFRAG_GEN + NAT_TICKET_PWD_GEN);
  return 0;
}

static bool cand_ok(const nat_cand *c) {
  if (c->type != NAT_CAND_HOST && c->type != NAT_CAND_SRFLX &&
      c->type != NAT_CAND_PREDICTED && c->type != NAT_CAND_MAPPED)
    return false;
  if (c->addr.family != NAT_AF_INET && c->addr.family != NAT_AF_INET6)
    return false;
  return c->addr.port != 0;
}

int nat_ticket_add_cand(nat_ticket *t, const nat_cand *c) {
  if (t == NULL || c == NULL || !cand_ok(c))
    return NAT_EINVAL;
  if (t->ncands >= NAT_TICKET_MAX_CANDS)
    return NAT_ENOBUFS;
  t->cands[t->ncands++] = *c;
  return 0;
}

/* ------------------------------------------------------------ encode */

static size_t put_tlv(uint8_t *p, uint8_t type, const void *v, size_t len) {
  p[0] = type;
  p[1] = (uint8_t)len;
  memcpy(p + 2, v, len);
  return 2 + len;
}

static size_t put_cand(uint8_t *p, const nat_cand *c) {
  uint8_t v[19];
  size_t iplen = c->addr.family == NAT_AF_INET6 ? 16 : 4;
  v[0] = c->type;
  memcpy(v + 1, c->addr.ip, iplen);
  nat__put16(v + 1 + iplen, c->addr.port);
  return put_tlv(p, T_CAND, v, 3 + iplen);
}

/* Body + CRC into @p body (BODY_MAX bytes). @return length or NAT_EINVAL. */
static ssize_t encode_body(const nat_ticket *t, uint8_t *body) {
  uint8_t tb[8];
  size_t n = 0, i;
  if (!ice_string_ok(t->ufrag, NAT_TICKET_UFRAG_MIN, NAT_TICKET_UFRAG_MAX) ||
      !ice_string_ok(t->pwd, NAT_TICKET_PWD_MIN, NAT_TICKET_PWD_MAX) ||
      t->ncands > NAT_TICKET_MAX_CANDS)
    return NAT_EINVAL;
  body[n++] = NAT_TICKET_VERSION;
  n += put_tlv(body + n, T_PIN, t->pin, NAT_TICKET_PIN_LEN);
  n += put_tlv(body + n, T_UFRAG, t->ufrag, strlen(t->ufrag));
  n += put_tlv(body + n, T_PWD, t->pwd, strlen(t->pwd));
  nat__put64(tb, t->tie_breaker);
  n += put_tlv(body + n, T_TIEBREAKER, tb, 8);
  for (i = 0; i < t->ncands; i++) {
    if (!cand_ok(&t->cands[i]))
      return NAT_EINVAL;
    n += put_cand(body + n, &t->cands[i]);
  }
  nat__put32(body + n, nat_crc32(0, body, n));
  return (ssize_t)(n + 4);
}

ssize_t nat_ticket_encode(const nat_ticket *t, char *buf, size_t cap) {
  uint8_t body[BODY_MAX];
  ssize_t blen;
  size_t need, i, o;
  uint32_t acc = 0;
  int bits = 0;
  if (t == NULL || buf == NULL)
    return NAT_EINVAL;
  blen = encode_body(t, body);
  if (blen < 0)
    return blen;
  need = 6 + ((size_t)blen * 8 + 5) / 6;
  if (need + 1 > cap)
    return NAT_ENOBUFS;
  o = (size_t)snprintf(buf, cap, "natp%u.", (unsigned)NAT_TICKET_VERSION);
  for (i = 0; i < (size_t)blen; i++) {
    acc = acc << 8 | body[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      buf[o++] = b64url[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    buf[o++] = b64url[(acc << (6 - bits)) & 63];
  buf[o] = '\0';
  return (ssize_t)o;
}

/* ------------------------------------------------------------ decode */

static int b64val(int ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  return -1;
}

static bool is_space(int ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' ||
         ch == '\f';
}

/* Parse "natp<digits>." at the start of @p s. @return chars consumed. */
static int parse_prefix(const char *s, size_t n, unsigned *ver, size_t *used,
                        nat_ticket_diag *d) {
  size_t i = 4;
  unsigned v = 0;
  if (n < 4 || memcmp(s, "natp", 4) != 0)
    return fail(d, NAT_TICKET_BAD_PREFIX,
                "does not start with \"natp%u.\": not a punch ticket",
                (unsigned)NAT_TICKET_VERSION);
  while (i < n && s[i] >= '0' && s[i] <= '9' && v < 100000)
    v = v * 10 + (unsigned)(s[i++] - '0');
  if (i == 4 || i >= n || s[i] != '.')
    return fail(d, NAT_TICKET_BAD_PREFIX,
                "prefix must be \"natp<version>.\" (\"natp%u.\")",
                (unsigned)NAT_TICKET_VERSION);
  if (v != NAT_TICKET_VERSION)
    return fail(d, NAT_TICKET_BAD_VERSION,
                "version %u is unknown (this build reads version %u): "
                "update punch on one side",
                v, (unsigned)NAT_TICKET_VERSION);
  *ver = v;
  *used = i + 1;
  return 0;
}

static int b64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen,
                      nat_ticket_diag *d) {
  uint32_t acc = 0;
  int bits = 0;
  size_t i, o = 0, chars = 0;
  while (n > 0 && s[n - 1] == '=') /* tolerate padding */
    n--;
  for (i = 0; i < n; i++) {
    int v = b64val((unsigned char)s[i]);
    if (v < 0)
      return fail(d, NAT_TICKET_BAD_BASE64,
                  "character %zu (0x%02x) is not base64url "
                  "(A-Z a-z 0-9 - _)",
                  i + 1, (unsigned)(unsigned char)s[i]);
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    chars++;
    if (bits >= 8) {
      bits -= 8;
      if (o >= BODY_MAX)
        return fail(d, NAT_TICKET_TOO_LONG, "too long");
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  if (chars % 4 == 1)
    return fail(d, NAT_TICKET_BAD_BASE64,
                "base64url length %zu is impossible (a character is "
                "missing or extra)",
                chars);
  *outlen = o;
  return 0;
}

static int parse_cand(nat_ticket *t, const uint8_t *v, size_t len,
                      nat_ticket_diag *d) {
  nat_addr a;
  size_t iplen = len == 7 ? 4 : len == 19 ? 16 : 0;
  size_t idx = t->ncands;
  if (idx >= NAT_TICKET_MAX_CANDS)
    return fail(d, NAT_TICKET_TOO_MANY_CANDS,
                "more than %d candidates (a ticket carries at most %d)",
                NAT_TICKET_MAX_CANDS, NAT_TICKET_MAX_CANDS);
  if (iplen == 0)
    return fail(d, NAT_TICKET_BAD_CANDIDATE,
                "candidate %zu has length %zu (7 for IPv4, 19 for IPv6)",
                idx + 1, len);
  if (v[0] != NAT_CAND_HOST && v[0] != NAT_CAND_SRFLX &&
      v[0] != NAT_CAND_PREDICTED && v[0] != NAT_CAND_MAPPED)
    return fail(d, NAT_TICKET_BAD_CANDIDATE,
                "candidate %zu has type %u (%s); a ticket carries host, "
                "srflx, mapped or predicted",
                idx + 1, (unsigned)v[0], nat_cand_type_name(v[0]));
  memset(&a, 0, sizeof a);
  a.family = iplen == 4 ? NAT_AF_INET : NAT_AF_INET6;
  memcpy(a.ip, v + 1, iplen);
  a.port = nat__get16(v + 1 + iplen);
  if (a.port == 0)
    return fail(d, NAT_TICKET_BAD_CANDIDATE, "candidate %zu has port 0",
                idx + 1);
  nat_cand_make(&t->cands[idx], v[0], &a, NULL, NULL, (uint16_t)(65535u - idx));
  t->ncands++;
  return 0;
}

static int parse_string(char *dst, const uint8_t *v, size_t len, size_t min,
                        size_t max, const char *what, nat_ticket_diag *d) {
  size_t i;
  if (len < min || len > max)
    return fail(d, NAT_TICKET_BAD_FIELD,
                "%s has %zu characters (%zu..%zu expected)", what, len, min,
                max);
  for (i = 0; i < len; i++)
    if (!ice_char(v[i]))
      return fail(d, NAT_TICKET_BAD_FIELD,
                  "%s has a character outside A-Z a-z 0-9 + / - _", what);
  memcpy(dst, v, len);
  dst[len] = '\0';
  return 0;
}

static int parse_tlv(nat_ticket *t, uint8_t type, const uint8_t *v, size_t len,
                     unsigned *seen, nat_ticket_diag *d) {
  static const char *const names[] = {"", "pin", "ufrag", "password",
                                      "tie-breaker"};
  if (type >= T_PIN && type <= T_TIEBREAKER) {
    if (*seen & (1u << type))
      return fail(d, NAT_TICKET_BAD_FIELD, "%s appears twice", names[type]);
    *seen |= 1u << type;
  }
  switch (type) {
  case T_PIN:
    if (len != NAT_TICKET_PIN_LEN)
      return fail(d, NAT_TICKET_BAD_FIELD, "pin has %zu bytes (32 expected)",
                  len);
    memcpy(t->pin, v, len);
    return 0;
  case T_UFRAG:
    return parse_string(t->ufrag, v, len, NAT_TICKET_UFRAG_MIN,
                        NAT_TICKET_UFRAG_MAX, "ufrag", d);
  case T_PWD:
    return parse_string(t->pwd, v, len, NAT_TICKET_PWD_MIN, NAT_TICKET_PWD_MAX,
                        "password", d);
  case T_TIEBREAKER:
    if (len != 8)
      return fail(d, NAT_TICKET_BAD_FIELD,
                  "tie-breaker has %zu bytes (8 expected)", len);
    t->tie_breaker = nat__get64(v);
    return 0;
  case T_CAND:
    return parse_cand(t, v, len, d);
  default:
    if (type >= 0x80)
      return 0;
    return fail(d, NAT_TICKET_BAD_FIELD,
                "unknown required field type %u (a newer punch made it?)",
                (unsigned)type);
  }
}

static int parse_body(nat_ticket *t, const uint8_t *b, size_t n, unsigned ver,
                      nat_ticket_diag *d) {
  size_t off = 1;
  unsigned seen = 0;
  if (b[0] != ver)
    return fail(d, NAT_TICKET_BAD_VERSION,
                "body says version %u but the prefix says %u", (unsigned)b[0],
                ver);
  t->version = b[0];
  while (off < n) {
    size_t len;
    int rc;
    if (n - off < 2)
      return fail(d, NAT_TICKET_TRUNCATED,
                  "ends inside a field header at byte %zu", off);
    len = b[off + 1];
    if (n - off - 2 < len)
      return fail(d, NAT_TICKET_TRUNCATED,
                  "field type %u at byte %zu needs %zu bytes, %zu left",
                  (unsigned)b[off], off, len, n - off - 2);
    rc = parse_tlv(t, b[off], b + off + 2, len, &seen, d);
    if (rc != 0)
      return rc;
    off += 2 + len;
  }
  if ((seen & 0x1e) != 0x1e)
    return fail(d, NAT_TICKET_MISSING_FIELD, "the %s field is missing",
                !(seen & 2u)   ? "pin"
                : !(seen & 4u) ? "ufrag"
                : !(seen & 8u) ? "password"
                               : "tie-breaker");
  return 0;
}

int nat_ticket_decode(nat_ticket *out, const char *text, size_t len,
                      nat_ticket_diag *diag) {
  char clean[NAT_TICKET_TEXT_MAX];
  uint8_t body[BODY_MAX];
  size_t n = 0, i, used = 0, blen = 0;
  unsigned ver = 0;
  int rc;
  if (diag != NULL) {
    diag->status = NAT_TICKET_OK;
    diag->msg[0] = '\0';
  }
  if (out == NULL || text == NULL)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  for (i = 0; i < len; i++) {
    if (is_space((unsigned char)text[i]))
      continue;
    if (n >= sizeof clean)
      return fail(diag, NAT_TICKET_TOO_LONG,
                  "longer than %d characters: not a punch ticket",
                  NAT_TICKET_TEXT_MAX - 1);
    clean[n++] = text[i];
  }
  if ((rc = parse_prefix(clean, n, &ver, &used, diag)) != 0 ||
      (rc = b64_decode(clean + used, n - used, body, &blen, diag)) != 0)
    return rc;
  if (blen < 5)
    return fail(diag, NAT_TICKET_TRUNCATED,
                "only %zu bytes after the prefix (copied whole?)", blen);
  if (nat__get32(body + blen - 4) != nat_crc32(0, body, blen - 4))
    return fail(diag, NAT_TICKET_CHECKSUM,
                "checksum mismatch: the ticket was cut or changed in "
                "copying; paste it again whole");
  rc = parse_body(out, body, blen - 4, ver, diag);
  if (rc != 0)
    memset(out, 0, sizeof *out);
  return rc;
}

int nat_ticket_validate(nat_ticket *t, const nat_cand_policy *pol,
                        bool drop_refused, nat_ticket_diag *diag) {
  size_t i, o = 0;
  bool refused = false;
  if (diag != NULL) {
    diag->status = NAT_TICKET_OK;
    diag->msg[0] = '\0';
  }
  if (t == NULL)
    return NAT_EINVAL;
  for (i = 0; i < t->ncands; i++) {
    int r = nat_cand_validate_remote(&t->cands[i].addr, pol);
    if (r != NAT_CAND_OK) {
      char a[NAT_ADDR_STRLEN + 16];
      if (!refused)
        fail(diag, NAT_TICKET_REFUSED_CANDIDATE, "candidate %zu (%s): %s",
             i + 1, nat_cand_format(&t->cands[i], a, sizeof a),
             nat_cand_reject_strerror(r));
      refused = true;
      if (drop_refused)
        continue;
    }
    t->cands[o++] = t->cands[i];
  }
  t->ncands = o;
  if (o == 0)
    return refused ? NAT_ETICKET
                   : fail(diag, NAT_TICKET_NO_CANDIDATES,
                          "no candidates: the peer found no address to "
                          "offer");
  return refused && !drop_refused ? NAT_ETICKET : 0;
}

const char *nat_ticket_strerror(const nat_ticket_diag *diag) {
  if (diag == NULL || diag->status == NAT_TICKET_OK)
    return "ok";
  return diag->msg;
}

const char *nat_ticket_status_name(int status) {
  static const char *const names[] = {"ok",
                                      "bad-prefix",
                                      "bad-version",
                                      "bad-base64",
                                      "truncated",
                                      "checksum",
                                      "bad-candidate",
                                      "too-many-candidates",
                                      "bad-field",
                                      "missing-field",
                                      "too-long",
                                      "no-candidates",
                                      "refused-candidate"};
  if (status < 0 || (size_t)status >= sizeof names / sizeof names[0])
    return "unknown";
  return names[status];
}
