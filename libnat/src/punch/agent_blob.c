/* libnat -- the punch agent's blob: our ticket's text (nat/ticket.h), then
 * fields " KEY=VALUE": map= (our mapping behaviour, nat_beh or -1) and,
 * when known, rtt= (our HELLO -> SEEN time at the rendezvous in ms,
 * rounded up: the peer's check hold, agent_core.c). The wire format is the
 * one punch has always sent: an older peer reads map= and ignores rtt=,
 * and fields this version does not know are skipped. The birthday spray
 * (nat/birthday.h) adds alloc=, seq=, range= and bd= (bday_field()):
 * what the plan both peers make needs from each. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "nat/verdict.h"
#include "punch/agent_core.h"

/* Append printf-style text at *@p k. @return 0 or -1 (no room). */
static int put(char *buf, size_t cap, size_t *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *buf, size_t cap, size_t *k, const char *fmt, ...) {
  va_list ap;
  int m;
  va_start(ap, fmt);
  m = vsnprintf(buf + *k, cap - *k, fmt, ap);
  va_end(ap);
  if (m < 0 || (size_t)m >= cap - *k)
    return -1;
  *k += (size_t)m;
  return 0;
}

/* The birthday fields (agent_core.h) after the others. */
static int bday_encode(const nat_bday_side *bd, char *buf, size_t cap,
                       size_t *k) {
  char flags[5], *f = flags;
  if (bd->alloc > 0 && put(buf, cap, k, " alloc=%d", bd->alloc) != 0)
    return -1;
  if (bd->alloc == NAT_PA_SEQUENTIAL && bd->last != 0 && bd->delta != 0 &&
      put(buf, cap, k, " seq=%d/%u", (int)bd->delta, (unsigned)bd->last) != 0)
    return -1;
  if (bd->lo != 0 && bd->hi >= bd->lo &&
      put(buf, cap, k, " range=%u-%u", (unsigned)bd->lo, (unsigned)bd->hi) != 0)
    return -1;
  if (!bd->enabled)
    *f++ = 'n';
  if (bd->allow_both_hard)
    *f++ = 'b';
  if (bd->force_acceptor)
    *f++ = 'a';
  if (bd->force_dialer)
    *f++ = 'd';
  if (f == flags)
    *f++ = '-';
  *f = '\0';
  return put(buf, cap, k, " bd=%u/%u/%u/%s", (unsigned)bd->sockets,
             (unsigned)bd->probes, (unsigned)bd->rate, flags);
}

ssize_t nat__punch_blob_encode(const nat_ticket *t, int mapping, nat_tstamp rtt,
                               const nat_bday_side *bd, char *buf, size_t cap) {
  ssize_t n = nat_ticket_encode(t, buf, cap);
  size_t k;
  if (n < 0)
    return n;
  k = (size_t)n;
  if (put(buf, cap, &k, " map=%d", mapping) != 0)
    return NAT_ENOBUFS;
  if (rtt != 0 && put(buf, cap, &k, " rtt=%llu",
                      (unsigned long long)((rtt + NAT_MILLISECONDS - 1) /
                                           NAT_MILLISECONDS)) != 0)
    return NAT_ENOBUFS;
  if (bd != NULL && bday_encode(bd, buf, cap, &k) != 0)
    return NAT_ENOBUFS;
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

/* The reason, with the field quoted printable (a hostile blob's control
 * bytes never reach a terminal or break the one-line reason). */
static int bad(char *why, size_t whylen, const char *fmt, int flen,
               const char *f) {
  char clean[64];
  int n = flen < (int)sizeof clean - 1 ? flen : (int)sizeof clean - 1;
  for (int i = 0; i < n; i++)
    clean[i] = f[i] >= 0x20 && f[i] < 0x7f ? f[i] : '?';
  clean[n > 0 ? n : 0] = '\0';
  if (why != NULL && whylen > 0)
    snprintf(why, whylen, fmt, n, clean);
  return NAT_ETICKET;
}

/* "N/N/..." into @p v (at most @p max numbers of 1..@p maxd digits, the
 * first optionally negative when @p neg), each ended by @p sep or the
 * field's end. @return the count or -1. */
static int nums(const char *p, const char *end, char sep, size_t maxd, bool neg,
                long *v, int max) {
  int n = 0;
  while (n < max) {
    const char *e = p;
    while (e < end && *e != sep)
      e++;
    if (field_num(p, e, maxd, neg && n == 0, &v[n]) != 0)
      return -1;
    n++;
    if (e == end)
      return n;
    p = e + 1;
  }
  return -1;
}

/* The birthday fields: alloc=KIND, seq=DELTA/LAST, range=LO-HI,
 * bd=SOCKETS/PROBES/RATE/FLAGS (flags: n off, b both-hard allowed, a/d a
 * forced role, - none). A value past the hard limits of nat/birthday.h is
 * refused, not clamped: a peer asking for it is broken or hostile. */
static int bday_field(const char *f, const char *fe, nat_bday_side *bd,
                      char *why, size_t whylen) {
  int fl = (int)(fe - f);
  long v[4];
  if (fl >= 6 && memcmp(f, "alloc=", 6) == 0) {
    if (nums(f + 6, fe, '/', 1, false, v, 1) != 1 || v[0] > NAT_PA_RANDOM)
      return bad(why, whylen,
                 "malformed peer blob: bad field '%.*s': expected alloc=0..3",
                 fl > 40 ? 40 : fl, f);
    bd->alloc = (int)v[0];
  } else if (fl >= 4 && memcmp(f, "seq=", 4) == 0) {
    if (nums(f + 4, fe, '/', 5, true, v, 2) != 2 || v[0] == 0 ||
        v[0] < -32768 || v[0] > 32767 || v[1] < 1 || v[1] > 65535)
      return bad(why, whylen,
                 "malformed peer blob: bad field '%.*s': expected "
                 "seq=DELTA/LAST (a step of -32768..32767 but not 0, a port)",
                 fl > 40 ? 40 : fl, f);
    bd->delta = (int32_t)v[0];
    bd->last = (uint16_t)v[1];
  } else if (fl >= 6 && memcmp(f, "range=", 6) == 0) {
    if (nums(f + 6, fe, '-', 5, false, v, 2) != 2 || v[0] < 1 || v[1] > 65535 ||
        v[0] > v[1])
      return bad(why, whylen,
                 "malformed peer blob: bad field '%.*s': expected "
                 "range=LO-HI with 1 <= LO <= HI <= 65535",
                 fl > 40 ? 40 : fl, f);
    bd->lo = (uint16_t)v[0];
    bd->hi = (uint16_t)v[1];
  } else if (fl >= 3 && memcmp(f, "bd=", 3) == 0) {
    const char *fl3 = f + 3, *slash = fe;
    int seps = 0;
    for (const char *q = fl3; q < fe; q++)
      if (*q == '/' && ++seps == 3)
        slash = q;
    if (seps != 3 || nums(fl3, slash, '/', 6, false, v, 3) != 3 ||
        slash + 1 >= fe || fe - slash - 1 > 4)
      return bad(why, whylen,
                 "malformed peer blob: bad field '%.*s': expected "
                 "bd=SOCKETS/PROBES/RATE/FLAGS",
                 fl > 40 ? 40 : fl, f);
    if (v[0] > NAT_BDAY_SOCKETS_MAX || v[1] > NAT_BDAY_PROBES_MAX ||
        v[2] > NAT_BDAY_RATE_MAX)
      return bad(why, whylen,
                 "peer blob refused: '%.*s' asks for more than the hard "
                 "limits (1024 sockets, 16384 probes, 1000 probes/s)",
                 fl > 40 ? 40 : fl, f);
    bd->sockets = (uint32_t)v[0];
    bd->probes = (uint32_t)v[1];
    bd->rate = (uint32_t)v[2];
    for (const char *q = slash + 1; q < fe; q++) {
      switch (*q) {
      case 'n':
        bd->enabled = false;
        break;
      case 'b':
        bd->allow_both_hard = true;
        break;
      case 'a':
        bd->force_acceptor = true;
        break;
      case 'd':
        bd->force_dialer = true;
        break;
      case '-':
        break;
      default:
        return bad(why, whylen,
                   "malformed peer blob: bad field '%.*s': flags are n, b, a, "
                   "d or -",
                   fl > 40 ? 40 : fl, f);
      }
    }
  }
  return 0;
}

/* One field "KEY=VALUE" (@p f to @p fe). */
static int blob_field(const char *f, const char *fe, int *mapping,
                      nat_tstamp *rtt, nat_bday_side *bd, char *why,
                      size_t whylen) {
  int fl = (int)(fe - f);
  long v;
  if (f == fe)
    return bad(why, whylen, "malformed peer blob: an empty field%.*s", 0, f);
  if (bday_field(f, fe, bd, why, whylen) != 0)
    return NAT_ETICKET;
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
                          int *mapping, nat_tstamp *rtt, nat_bday_side *bd,
                          char *why, size_t whylen) {
  nat_ticket_diag diag;
  nat_bday_side scratch;
  const char *end = text + len, *sp;
  size_t tlen;
  *mapping = -1;
  *rtt = 0;
  if (bd == NULL)
    bd = &scratch;
  memset(bd, 0, sizeof *bd);
  bd->enabled = true; /* a peer that says nothing allows it */
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
    if (blob_field(f, fe, mapping, rtt, bd, why, whylen) != 0)
      return NAT_ETICKET;
    f = fe < end ? fe : NULL;
  }
  return 0;
}
