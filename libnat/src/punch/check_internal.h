/* libnat -- private state of the connectivity-check agent (check*.c). */
#ifndef NAT_CHECK_INTERNAL_H
#define NAT_CHECK_INTERNAL_H

#include "nat/check.h"
#include "nat/stun.h"
#include "nat/txn.h"

#define NAT__CHECK_OUTQ     32
#define NAT__CHECK_MSG_MAX  256
#define NAT__CHECK_MAX_ROLE 4 /* 487s on one pair before it fails */
/* Live checks at once: per pair the ordinary and the nominating one, plus
 * ordinary ones left running when a 487 to a committed nomination sent
 * the pair back to waiting (at most NAT__CHECK_MAX_ROLE). The txn
 * manager's default (1024 slots, ~170 KB) is far more than that. */
#define NAT__CHECK_MAX_TXNS (8 * NAT_CHECK_MAX_PAIRS)

typedef struct nat__check_pair {
  nat_check_pair pub;
  nat_cand base;
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t nom_tid[NAT_STUN_TID_LEN];
  bool tid_live, nom_live;
  bool tid_ctl, nom_ctl; /* role the live checks were sent with */
  bool tid_nom;          /* the live ordinary check carries USE-CANDIDATE
                            (aggressive nomination) */
  bool nom_ok;           /* a nominating check of ours succeeded on it */
  bool queued;           /* in the triggered queue */
  bool peer_nominated;   /* USE-CANDIDATE received (controlled side) */
} nat__check_pair;

typedef struct nat__check_out {
  nat_addr dst;
  nat_tstamp at;
  size_t len;
  uint8_t buf[NAT__CHECK_MSG_MAX];
} nat__check_out;

struct nat_check {
  nat_check_config cfg;
  char lufrag[NAT_CHECK_CRED_MAX + 1], lpwd[NAT_CHECK_CRED_MAX + 1];
  char rufrag[NAT_CHECK_CRED_MAX + 1], rpwd[NAT_CHECK_CRED_MAX + 1];
  nat_iface subnets[8];
  nat_check_cb cb;
  void *cb_arg;
  nat_txn_mgr *txn;
  nat_cand local[NAT_CHECK_MAX_LOCAL];
  size_t nlocal;
  nat__check_pair pairs[NAT_CHECK_MAX_PAIRS];
  size_t npairs;
  size_t trig[NAT_CHECK_MAX_PAIRS];
  size_t ntrig;
  nat__check_out outq[NAT__CHECK_OUTQ];
  size_t outhead, nout;
  bool controlling, started;
  unsigned nominating; /* nominating checks in the nom slots */
  /* aggressive nomination, controlling: the pair committed to because the
   * peer's check came in on it (SIZE_MAX: none); at most one commit */
  size_t committed;
  bool commit_done;
  int status, hint;
  size_t selected;
  unsigned stray_integrity; /* failed checks from unknown sources */
  nat_tstamp now, deadline, next_check, first_success;
};

/* check_msg.c: building and reading the checks' STUN messages. */
ssize_t nat__check_build_request(nat_check *c, const nat__check_pair *p,
                                 bool nominate, const uint8_t *tid,
                                 uint8_t *buf, size_t cap);
void nat__check_queue_response(nat_check *c, const nat_stun_msg *req,
                               const nat_addr *to, int code, bool sign);
int nat__check_auth_request(const nat_check *c, const nat_stun_msg *m);

#endif
