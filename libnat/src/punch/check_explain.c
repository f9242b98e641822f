/* libnat -- connectivity checks (nat/check.h): the report, names of pair
 * states and failures, the hint text, nat_check_explain(). Reads the
 * agent's state; nothing below it calls here. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check_internal.h"
#include "nat/addr.h"
#include "nat/cand.h"

const char *nat_pair_fail_strerror(int fail) {
  switch (fail) {
  case NAT_PAIR_FAIL_NONE:
    return "ok";
  case NAT_PAIR_FAIL_NO_RESPONSE:
    return "no response";
  case NAT_PAIR_FAIL_INTEGRITY:
    return "integrity failure";
  case NAT_PAIR_FAIL_ROLE_CONFLICT:
    return "role conflict";
  case NAT_PAIR_FAIL_ERROR:
    return "error response";
  case NAT_PAIR_FAIL_NOT_TRIED:
    return "not tried";
  case NAT_PAIR_FAIL_NOT_NOMINATED:
    return "succeeded but not nominated";
  default:
    return "unknown";
  }
}

const char *nat_pair_state_name(int state) {
  static const char *const names[] = {"waiting", "in-progress", "succeeded",
                                      "failed"};
  return state >= 0 && state < 4 ? names[state] : "unknown";
}

const char *nat_check_hint_strerror(int hint) {
  switch (hint) {
  case NAT_CHECK_HINT_NONE:
    return "";
  case NAT_CHECK_HINT_BIRTHDAY:
    return "a NAT maps per destination, so the addresses STUN saw are not "
           "the ones the peer must reach: use port prediction or birthday";
  case NAT_CHECK_HINT_NO_RESPONSE:
    return "no check was answered: a NAT or firewall filters them, or the "
           "peer is not running or UDP is blocked";
  case NAT_CHECK_HINT_CREDENTIALS:
    return "integrity failures: the tickets' credentials do not match "
           "(stale or mistyped ticket); exchange fresh tickets";
  case NAT_CHECK_HINT_NOT_NOMINATED:
    return "checks succeeded but the controlling peer never nominated a "
           "pair (it gave up or failed)";
  case NAT_CHECK_HINT_NO_PAIRS:
    return "no pairs: the peer offered no candidate of our address family";
  default:
    return "unknown";
  }
}

const char *nat_check_hint_name(int hint) {
  switch (hint) {
  case NAT_CHECK_HINT_NONE:
    return "none";
  case NAT_CHECK_HINT_BIRTHDAY:
    return "birthday";
  case NAT_CHECK_HINT_NO_RESPONSE:
    return "no-response";
  case NAT_CHECK_HINT_CREDENTIALS:
    return "credentials";
  case NAT_CHECK_HINT_NOT_NOMINATED:
    return "not-nominated";
  case NAT_CHECK_HINT_NO_PAIRS:
    return "no-pairs";
  default:
    return "unknown";
  }
}

static size_t append(char *buf, size_t len, size_t off, const char *fmt, ...) {
  va_list ap;
  int n;
  if (off >= len)
    return off;
  va_start(ap, fmt);
  n = vsnprintf(buf + off, len - off, fmt, ap);
  va_end(ap);
  if (n < 0)
    return off;
  return off + (size_t)n < len ? off + (size_t)n : len - 1;
}

static size_t explain_pair(const nat__check_pair *p, char *buf, size_t len,
                           size_t off) {
  char l[NAT_ADDR_STRLEN + 16], r[NAT_ADDR_STRLEN + 16];
  const nat_check_pair *q = &p->pub;
  off = append(buf, len, off, "  %s -> %s: %s",
               nat_cand_format(&q->local, l, sizeof l),
               nat_cand_format(&q->remote, r, sizeof r),
               q->state == NAT_PAIR_SUCCEEDED && q->fail == NAT_PAIR_FAIL_NONE
                   ? "succeeded"
                   : nat_pair_fail_strerror(q->fail));
  off = append(buf, len, off, " (%u request%s sent, %u answered", q->sent,
               q->sent == 1 ? "" : "s", q->answered);
  if (q->integrity_failures)
    off =
        append(buf, len, off, ", %u integrity failures", q->integrity_failures);
  if (q->role_conflicts)
    off = append(buf, len, off, ", %u role conflicts", q->role_conflicts);
  if (q->error_code)
    off = append(buf, len, off, ", last error %d", q->error_code);
  return append(buf, len, off, ")\n");
}

size_t nat_check_explain(const nat_check *c, char *buf, size_t len) {
  size_t off = 0, i;
  if (c == NULL || buf == NULL || len == 0)
    return 0;
  buf[0] = '\0';
  if (c->status == NAT_CHECK_SELECTED) {
    char l[NAT_ADDR_STRLEN + 16], r[NAT_ADDR_STRLEN + 16];
    const nat_check_pair *q = &c->pairs[c->selected].pub;
    off = append(buf, len, off, "selected %s -> %s (%s)\n",
                 nat_cand_format(&q->local, l, sizeof l),
                 nat_cand_format(&q->remote, r, sizeof r),
                 c->controlling ? "controlling, QUIC client"
                                : "controlled, QUIC server");
  } else
    off = append(buf, len, off, "%s after %zu pair%s\n",
                 c->status == NAT_CHECK_FAILED ? "no path" : "checking",
                 c->npairs, c->npairs == 1 ? "" : "s");
  for (i = 0; i < c->npairs; i++)
    off = explain_pair(&c->pairs[i], buf, len, off);
  if (c->stray_integrity)
    off = append(buf, len, off,
                 "  %u checks from unknown sources failed "
                 "integrity\n",
                 c->stray_integrity);
  if (c->status == NAT_CHECK_FAILED)
    off = append(buf, len, off, "%s\n", nat_check_hint_strerror(c->hint));
  return off;
}
