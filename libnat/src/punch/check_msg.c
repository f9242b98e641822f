/* libnat -- connectivity checks (nat/check.h): the STUN messages. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check_internal.h"
#include "nat/error.h"
#include "nat/ticket.h"

ssize_t nat__check_build_request(nat_check *c, const nat__check_pair *p,
                                 bool nominate, const uint8_t *tid,
                                 uint8_t *buf, size_t cap) {
  nat_stun_builder b;
  char user[2 * NAT_CHECK_CRED_MAX + 2];
  uint16_t lpref = (uint16_t)(p->base.priority >> 8);
  size_t ul = strlen(c->rufrag);
  memcpy(user, c->rufrag, ul);
  user[ul] = ':';
  memcpy(user + ul + 1, c->lufrag, strlen(c->lufrag) + 1);
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_REQUEST, tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, user);
  nat_stun_add_u32(&b, NAT_ATTR_PRIORITY,
                   nat_cand_priority(NAT_CAND_PREF_PRFLX, lpref, 1));
  nat_stun_add_u64(
      &b, c->controlling ? NAT_ATTR_ICE_CONTROLLING : NAT_ATTR_ICE_CONTROLLED,
      c->cfg.tie_breaker);
  if (nominate)
    nat_stun_add_attr(&b, NAT_ATTR_USE_CANDIDATE, "", 0);
  nat_stun_add_integrity(&b, (const uint8_t *)c->rpwd, strlen(c->rpwd));
  return nat_stun_builder_finish(&b, true);
}

static const char *reason_for(int code) {
  switch (code) {
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 487:
    return "Role Conflict";
  default:
    return "Error";
  }
}

/* Queue an answer to @p req: success (code 0) with XOR-MAPPED-ADDRESS, or
 * an error; signed with our password when @p sign. Dropped when the queue
 * is full (the peer retransmits). */
void nat__check_queue_response(nat_check *c, const nat_stun_msg *req,
                               const nat_addr *to, int code, bool sign) {
  nat__check_out *o;
  nat_stun_builder b;
  ssize_t n;
  if (c->nout >= NAT__CHECK_OUTQ)
    return;
  o = &c->outq[(c->outhead + c->nout) % NAT__CHECK_OUTQ];
  nat_stun_builder_init(&b, o->buf, sizeof o->buf, NAT_STUN_BINDING,
                        code == 0 ? NAT_STUN_SUCCESS : NAT_STUN_ERROR,
                        req->tid);
  if (code == 0)
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, to);
  else
    nat_stun_add_error(&b, code, reason_for(code));
  if (sign)
    nat_stun_add_integrity(&b, (const uint8_t *)c->lpwd, strlen(c->lpwd));
  n = nat_stun_builder_finish(&b, true);
  if (n <= 0)
    return;
  o->len = (size_t)n;
  o->dst = *to;
  o->at = c->now;
  c->nout++;
}

/* Check an incoming request's USERNAME and MESSAGE-INTEGRITY.
 * @return 0, 400 (attribute missing) or 401 (wrong user or integrity). */
int nat__check_auth_request(const nat_check *c, const nat_stun_msg *m) {
  const nat_stun_attr *u = nat_stun_msg_find(m, NAT_ATTR_USERNAME);
  size_t ll = strlen(c->lufrag);
  if (u == NULL || m->mi_idx < 0)
    return 400;
  if (u->len <= ll || memcmp(u->value, c->lufrag, ll) != 0 ||
      u->value[ll] != ':')
    return 401;
  if (nat_stun_msg_check_integrity(m, (const uint8_t *)c->lpwd,
                                   strlen(c->lpwd)) != 0)
    return 401;
  return 0;
}

/* ---------------------------------------------------------- reporting */

const char *nat_pair_fail_str(int fail) {
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

const char *nat_check_hint_str(int hint) {
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
                   : nat_pair_fail_str(q->fail));
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
    off = append(buf, len, off, "%s\n", nat_check_hint_str(c->hint));
  return off;
}

int nat_check_config_from_tickets(nat_check_config *cfg,
                                  const struct nat_ticket *local,
                                  const struct nat_ticket *remote) {
  if (cfg == NULL || local == NULL || remote == NULL)
    return NAT_EINVAL;
  cfg->local_ufrag = local->ufrag;
  cfg->local_pwd = local->pwd;
  cfg->remote_ufrag = remote->ufrag;
  cfg->remote_pwd = remote->pwd;
  cfg->tie_breaker = local->tie_breaker;
  cfg->controlling =
      nat_check_role_for(local->tie_breaker, remote->tie_breaker);
  return 0;
}
