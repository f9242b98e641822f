/* libnat -- the punch agent's blob: our ticket's text (nat/ticket.h), then
 * fields " KEY=VALUE": map= (our mapping behaviour, nat_beh or -1) and,
 * when known, rtt= (our HELLO -> SEEN time at the rendezvous in ms,
 * rounded up: the peer's check hold, agent_core.c). The wire format is the
 * one punch has always sent: an older peer reads map= and ignores rtt=,
 * and fields this version does not know are skipped. Pure. */
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "punch/agent_core.h"

ssize_t nat__punch_blob_encode(const nat_ticket *t, int mapping, nat_tstamp rtt,
                               char *buf, size_t cap) {
  ssize_t n = nat_ticket_encode(t, buf, cap);
  size_t k;
  int m;
  if (n < 0)
    return n;
  k = (size_t)n;
  m = snprintf(buf + k, cap - k, " map=%d", mapping);
  if (m < 0 || (size_t)m >= cap - k)
    return NAT_ENOBUFS;
  k += (size_t)m;
  if (rtt != 0) {
    m = snprintf(
        buf + k, cap - k, " rtt=%llu",
        (unsigned long long)((rtt + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS));
    if (m < 0 || (size_t)m >= cap - k)
      return NAT_ENOBUFS;
    k += (size_t)m;
  }
  return (ssize_t)k;
}

/* A decimal value of 1 to @p maxd digits, optionally negative when
 * @p neg. @return 0 or -1. */
static int field_num(const char *p, const char *end, size_t maxd, bool neg,
                     long *out) {
  long v = 0;
  bool minus = neg && p < end && *p == '-';
  if (minus)
    p++;
  if (p == end || (size_t)(end - p) > maxd)
    return -1;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    v = v * 10 + (*p - '0');
  }
  *out = minus ? -v : v;
  return 0;
}

static int bad(char *why, size_t whylen, const char *fmt, int flen,
               const char *f) {
  if (why != NULL && whylen > 0)
    snprintf(why, whylen, fmt, flen, f);
  return NAT_ETICKET;
}

/* One field "KEY=VALUE" (@p f to @p fe). */
static int blob_field(const char *f, const char *fe, int *mapping,
                      nat_tstamp *rtt, char *why, size_t whylen) {
  int fl = (int)(fe - f);
  long v;
  if (f == fe)
    return bad(why, whylen, "malformed peer blob: an empty field%.*s", 0, f);
  if (fl > 4 && memcmp(f, "map=", 4) == 0) {
    if (field_num(f + 4, fe, 1, true, &v) != 0 || v < -1 || v > 3)
      return bad(why, whylen,
                 "malformed peer blob: bad field '%.*s': expected map=-1..3",
                 fl, f);
    *mapping = (int)v;
  } else if (fl >= 4 && memcmp(f, "rtt=", 4) == 0) {
    if (field_num(f + 4, fe, 6, false, &v) != 0)
      return bad(why, whylen,
                 "malformed peer blob: bad field '%.*s': expected rtt= and "
                 "1 to 6 digits (ms)",
                 fl > 40 ? 40 : fl, f);
    *rtt = (nat_tstamp)v * NAT_MILLISECONDS;
  } else if (fl >= 4 && memcmp(f, "map=", 4) == 0) {
    return bad(why, whylen,
               "malformed peer blob: bad field '%.*s': expected map=-1..3", fl,
               f);
  }
  return 0; /* unknown: skipped */
}

int nat__punch_blob_parse(const char *text, size_t len, nat_ticket *out,
                          int *mapping, nat_tstamp *rtt, char *why,
                          size_t whylen) {
  nat_ticket_diag diag;
  const char *end = text + len, *sp;
  size_t tlen;
  *mapping = -1;
  *rtt = 0;
  if (len == 0)
    return bad(why, whylen, "the peer's blob is empty: no ticket%.*s", 0, "");
  if (len >= NAT__PUNCH_BLOB_MAX) {
    if (why != NULL && whylen > 0)
      snprintf(why, whylen,
               "malformed peer blob: %zu characters, at most %d expected", len,
               NAT__PUNCH_BLOB_MAX - 1);
    return NAT_ETICKET;
  }
  sp = memchr(text, ' ', len);
  tlen = sp != NULL ? (size_t)(sp - text) : len;
  if (nat_ticket_decode(out, text, tlen, &diag) != 0) {
    if (why != NULL && whylen > 0)
      snprintf(why, whylen, "%s", nat_ticket_strerror(&diag));
    return NAT_ETICKET;
  }
  for (const char *f = sp; f != NULL && f < end;) {
    const char *fe;
    f++;
    fe = memchr(f, ' ', (size_t)(end - f));
    if (fe == NULL)
      fe = end;
    if (blob_field(f, fe, mapping, rtt, why, whylen) != 0)
      return NAT_ETICKET;
    f = fe < end ? fe : NULL;
  }
  return 0;
}
