/* libnat -- connectivity checks (nat/check.h): the STUN messages. Pure. */
#include <string.h>

#include "check_internal.h"
#include "punch/check_msg.h"
#include "nat/error.h"

ssize_t nat__check_msg_request(uint8_t *buf, size_t cap, const uint8_t *tid,
                               const char *rufrag, const char *lufrag,
                               const char *rpwd, uint32_t priority,
                               bool controlling, uint64_t tie_breaker,
                               bool nominate) {
  nat_stun_builder b;
  char user[2 * NAT_CHECK_CRED_MAX + 2];
  size_t ul = strlen(rufrag), ll = strlen(lufrag);
  if (ul + ll + 2 > sizeof user)
    return NAT_EINVAL;
  memcpy(user, rufrag, ul);
  user[ul] = ':';
  memcpy(user + ul + 1, lufrag, ll + 1);
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_REQUEST, tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, user);
  nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, priority);
  nat_stun_add_u64(
      &b, controlling ? NAT_ATTR_ICE_CONTROLLING : NAT_ATTR_ICE_CONTROLLED,
      tie_breaker);
  if (nominate)
    nat_stun_add_attr(&b, NAT_ATTR_USE_CANDIDATE, "", 0);
  nat_stun_add_integrity(&b, (const uint8_t *)rpwd, strlen(rpwd));
  return nat_stun_builder_finish(&b, true);
}

ssize_t nat__check_build_request(nat_check *c, const nat__check_pair *p,
                                 bool nominate, const uint8_t *tid,
                                 uint8_t *buf, size_t cap) {
  uint16_t lpref = (uint16_t)(p->base.priority >> 8);
  return nat__check_msg_request(
      buf, cap, tid, c->rufrag, c->lufrag, c->rpwd,
      nat_cand_priority(NAT_CAND_PREF_PRFLX, lpref, 1), c->controlling,
      c->cfg.tie_breaker, nominate);
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

ssize_t nat__check_msg_response(uint8_t *buf, size_t cap, const uint8_t *tid,
                                const nat_addr *to, int code,
                                const char *software, const char *lpwd) {
  nat_stun_builder b;
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING,
                        code == 0 ? NAT_STUN_SUCCESS : NAT_STUN_ERROR, tid);
  if (code == 0)
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, to);
  else
    nat_stun_add_error(&b, code, reason_for(code));
  if (software != NULL)
    nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, software);
  if (lpwd != NULL)
    nat_stun_add_integrity(&b, (const uint8_t *)lpwd, strlen(lpwd));
  return nat_stun_builder_finish(&b, true);
}

/* Queue an answer to @p req: success (code 0) with XOR-MAPPED-ADDRESS, or
 * an error; signed with our password when @p sign. Dropped when the queue
 * is full (the peer retransmits). */
void nat__check_queue_response(nat_check *c, const nat_stun_msg *req,
                               const nat_addr *to, int code, bool sign) {
  nat__check_out *o;
  ssize_t n;
  if (c->nout >= NAT__CHECK_OUTQ)
    return;
  o = &c->outq[(c->outhead + c->nout) % NAT__CHECK_OUTQ];
  n = nat__check_msg_response(o->buf, sizeof o->buf, req->tid, to, code, NULL,
                              sign ? c->lpwd : NULL);
  if (n <= 0)
    return;
  o->len = (size_t)n;
  o->dst = *to;
  o->at = c->now;
  c->nout++;
}

int nat__check_msg_auth(const nat_stun_msg *m, const char *lufrag,
                        const char *lpwd) {
  const nat_stun_attr *u = nat_stun_msg_find(m, NAT_ATTR_USERNAME);
  size_t ll = strlen(lufrag);
  if (u == NULL || m->mi_idx < 0)
    return 400;
  if (u->len <= ll || memcmp(u->value, lufrag, ll) != 0 || u->value[ll] != ':')
    return 401;
  if (nat_stun_msg_check_integrity(m, (const uint8_t *)lpwd, strlen(lpwd)) != 0)
    return 401;
  return 0;
}

/* Check an incoming request's USERNAME and MESSAGE-INTEGRITY.
 * @return 0, 400 (attribute missing) or 401 (wrong user or integrity). */
int nat__check_auth_request(const nat_check *c, const nat_stun_msg *m) {
  return nat__check_msg_auth(m, c->lufrag, c->lpwd);
}
