/* libnat -- the birthday spray's sans-I/O engine (spray.h). Pure: no I/O,
 * no clock. Transaction IDs are our random salt (8 bytes) followed by a
 * 4-byte index: the dialer's probe number, or the acceptor's socket with
 * the top bit set, so an answer names what it answers without a table. */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "punch/check_msg.h"
#include "punch/spray.h"

#define KA_BIT 0x80000000u

static void put_tid(const nat__spray *s, uint32_t idx, uint8_t *tid) {
  memcpy(tid, s->salt, sizeof s->salt);
  tid[8] = (uint8_t)(idx >> 24);
  tid[9] = (uint8_t)(idx >> 16);
  tid[10] = (uint8_t)(idx >> 8);
  tid[11] = (uint8_t)idx;
}

/* @return true and the index when @p tid is one of ours */
static bool our_tid(const nat__spray *s, const uint8_t *tid, uint32_t *idx) {
  if (memcmp(tid, s->salt, sizeof s->salt) != 0)
    return false;
  *idx = (uint32_t)tid[8] << 24 | (uint32_t)tid[9] << 16 |
         (uint32_t)tid[10] << 8 | tid[11];
  return true;
}

static bool from_peer(const nat__spray *s, const nat_addr *from) {
  for (size_t i = 0; i < s->npeer; i++)
    if (nat_addr_equal(&s->peer_pub[i], from))
      return true;
  return false;
}

static bool from_peer_ip(const nat__spray *s, const nat_addr *from) {
  for (size_t i = 0; i < s->npeer; i++)
    if (nat_addr_equal_ip(&s->peer_pub[i], from))
      return true;
  return false;
}

/* The peer's public addresses: its candidates of @p type and @p family.
 * A host candidate counts only when it is public or loopback: a peer
 * without a server-reflexive candidate has no NAT (its srflx would equal
 * its host address and is not listed twice), and a private address of
 * another network is never sprayed. */
static void add_public(nat__spray *s, const nat_ticket *peer, uint8_t family,
                       uint8_t type) {
  for (size_t i = 0; i < peer->ncands && s->npeer < 4; i++) {
    const nat_cand *c = &peer->cands[i];
    bool dup = false;
    if (c->type != type || c->addr.family != family)
      continue;
    if (type == NAT_CAND_HOST && !nat_addr_is_loopback(&c->addr) &&
        (nat_addr_is_private(&c->addr) || nat_addr_is_shared(&c->addr) ||
         nat_addr_is_link_local(&c->addr)))
      continue;
    for (size_t j = 0; j < s->npeer; j++)
      dup = dup || nat_addr_equal(&s->peer_pub[j], &c->addr);
    if (!dup)
      s->peer_pub[s->npeer++] = c->addr;
  }
}

static void copy_cred(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int nat__spray_start(nat__spray *s, int role, const nat_bday_plan *plan,
                     const nat_bday_side *acc, const nat_ticket *mine,
                     const nat_ticket *peer, uint8_t family, bool controlling,
                     uint32_t nsock, nat_tstamp now, nat_tstamp hold,
                     nat_rand_fn rand, void *rand_ctx) {
  nat_tstamp span;
  memset(s, 0, sizeof *s);
  if (plan == NULL || mine == NULL || peer == NULL || rand == NULL ||
      (role != NAT_BDAY_ACCEPTOR && role != NAT_BDAY_DIALER &&
       role != NAT_BDAY_BOTH) ||
      plan->probes == 0 || plan->rate == 0 || mine->ufrag[0] == '\0' ||
      mine->pwd[0] == '\0' || peer->ufrag[0] == '\0' || peer->pwd[0] == '\0')
    return NAT_EINVAL;
  if (role != NAT_BDAY_DIALER && (nsock == 0 || nsock > plan->sockets))
    return NAT_EINVAL;
  s->role = role;
  s->plan = *plan;
  copy_cred(s->lufrag, sizeof s->lufrag, mine->ufrag);
  copy_cred(s->lpwd, sizeof s->lpwd, mine->pwd);
  copy_cred(s->rufrag, sizeof s->rufrag, peer->ufrag);
  copy_cred(s->rpwd, sizeof s->rpwd, peer->pwd);
  s->tie_breaker = mine->tie_breaker;
  s->controlling = controlling;
  s->ttl = NAT__SPRAY_TTL;
  add_public(s, peer, family, NAT_CAND_SRFLX);
  if (s->npeer == 0) /* no NAT before the peer: its host address */
    add_public(s, peer, family, NAT_CAND_HOST);
  if (s->npeer == 0)
    return NAT_EINVAL;
  rand(rand_ctx, s->salt, sizeof s->salt);
  s->interval = NAT_SECONDS / plan->rate;
  s->start = now + hold;
  span = (nat_tstamp)plan->probes * s->interval;
  s->end = s->start + span + NAT__SPRAY_GRACE;
  s->hit_sock = NAT__SPRAY_MAIN;
  s->nsock = role == NAT_BDAY_DIALER ? 0 : nsock;
  if (role != NAT_BDAY_ACCEPTOR) {
    s->targets = malloc(sizeof *s->targets);
    s->probe_port = calloc(plan->probes, sizeof *s->probe_port);
    s->answered = calloc((plan->probes + 7) / 8, 1);
    if (s->targets == NULL || s->probe_port == NULL || s->answered == NULL) {
      nat__spray_free(s);
      return NAT_ENOMEM;
    }
    nat_bday_targets_init(s->targets, plan, acc, rand, rand_ctx);
    s->next_probe = s->start;
  } else {
    s->ka_next = malloc(nsock * sizeof *s->ka_next);
    if (s->ka_next == NULL)
      return NAT_ENOMEM;
    for (uint32_t i = 0; i < nsock; i++)
      s->ka_next[i] = now; /* the first checks make the mappings: now */
  }
  return 0;
}

void nat__spray_free(nat__spray *s) {
  free(s->targets);
  free(s->probe_port);
  free(s->answered);
  free(s->ka_next);
  s->targets = NULL;
  s->probe_port = NULL;
  s->answered = NULL;
  s->ka_next = NULL;
}

static bool running(const nat__spray *s) {
  return s->role != NAT_BDAY_NONE && !s->hit && !s->exhausted;
}

static ssize_t request(nat__spray *s, uint32_t idx, uint8_t *buf, size_t cap) {
  uint8_t tid[NAT_STUN_TID_LEN];
  put_tid(s, idx, tid);
  return nat__check_msg_request(
      buf, cap, tid, s->rufrag, s->lufrag, s->rpwd,
      nat_cand_priority(NAT_CAND_PREF_PRFLX, 65535, 1), s->controlling,
      s->tie_breaker, false);
}

ssize_t nat__spray_next_send(nat__spray *s, nat_tstamp now, uint8_t *buf,
                             size_t cap, uint32_t *sock, nat_addr *dst,
                             int *ttl) {
  ssize_t n;
  *ttl = 0;
  if (s->nout > 0) {
    nat__spray_out *o = &s->outq[s->outhead];
    if (o->len > cap)
      return NAT_ENOBUFS;
    memcpy(buf, o->buf, o->len);
    *sock = o->sock;
    *dst = o->dst;
    s->outhead = (s->outhead + 1) % NAT__SPRAY_OUTQ;
    s->nout--;
    return (ssize_t)o->len;
  }
  if (!running(s))
    return 0;
  if (s->role != NAT_BDAY_ACCEPTOR) {
    uint16_t port;
    if (s->st.probes_sent >= s->plan.probes || now < s->next_probe)
      return 0;
    port = nat_bday_targets_next(s->targets);
    if (s->role == NAT_BDAY_BOTH && (port < s->plan.lo || port > s->plan.hi)) {
      /* both hard: a port again from another socket is another pair (a
       * new mapping of ours): the peer's range once more, in a new order */
      nat_bday_targets_init(s->targets, &s->plan, NULL, s->targets->rand,
                            s->targets->rand_ctx);
      port = nat_bday_targets_next(s->targets);
    }
    if (port == 0) { /* every port was tried */
      s->next_probe = NAT_TSTAMP_MAX;
      return 0;
    }
    n = request(s, s->st.probes_sent, buf, cap);
    if (n < 0)
      return n;
    *dst = s->peer_pub[0];
    dst->port = port;
    /* both hard: from our sockets in turn, each a new mapping */
    *sock = s->role == NAT_BDAY_BOTH ? s->st.probes_sent % s->nsock
                                     : NAT__SPRAY_MAIN;
    s->probe_port[s->st.probes_sent++] = port;
    s->next_probe += s->interval;
    return n;
  }
  for (uint32_t i = 0; i < s->nsock; i++) {
    if (s->ka_next[i] > now)
      continue;
    n = request(s, KA_BIT | i, buf, cap);
    if (n < 0)
      return n;
    *dst = s->peer_pub[0];
    *sock = i;
    *ttl = s->ttl;
    s->ka_next[i] = now + NAT__SPRAY_KEEPALIVE;
    s->st.keepalives++;
    return n;
  }
  return 0;
}

nat_tstamp nat__spray_get_expiry(const nat__spray *s) {
  nat_tstamp e = NAT_TSTAMP_MAX;
  if (s->nout > 0)
    return 0;
  if (!running(s))
    return e;
  e = s->end;
  if (s->role != NAT_BDAY_ACCEPTOR) {
    if (s->st.probes_sent < s->plan.probes && s->next_probe < e)
      e = s->next_probe;
  } else {
    for (uint32_t i = 0; i < s->nsock; i++)
      if (s->ka_next[i] < e)
        e = s->ka_next[i];
  }
  return e;
}

void nat__spray_handle_expiry(nat__spray *s, nat_tstamp now) {
  if (running(s) && now >= s->end)
    s->exhausted = true;
}

static void queue_answer(nat__spray *s, uint32_t sock, const nat_addr *to,
                         const nat_stun_msg *req) {
  nat__spray_out *o;
  ssize_t n;
  if (s->nout >= NAT__SPRAY_OUTQ)
    return; /* the peer's next check gets one */
  o = &s->outq[(s->outhead + s->nout) % NAT__SPRAY_OUTQ];
  n = nat__check_msg_response(o->buf, sizeof o->buf, req->tid, to, 0,
                              NAT__SPRAY_SOFTWARE, s->lpwd);
  if (n <= 0)
    return;
  o->len = (size_t)n;
  o->sock = sock;
  o->dst = *to;
  s->nout++;
  s->st.answers_sent++;
}

static void hit(nat__spray *s, nat_tstamp now, uint32_t sock,
                const nat_addr *remote) {
  bool known = false;
  for (unsigned i = 0; i < s->nhits; i++)
    known = known || s->hits[i] == sock;
  if (!known && s->nhits < NAT__SPRAY_HITS)
    s->hits[s->nhits++] = sock;
  if (s->hit)
    return;
  s->hit = true;
  s->hit_sock = sock;
  s->hit_remote = *remote;
  s->t_hit = now;
}

static bool seen_before(nat__spray *s, const uint8_t *tid) {
  for (unsigned i = 0; i < s->nseen; i++)
    if (memcmp(s->seen[i], tid, NAT_STUN_TID_LEN) == 0)
      return true;
  memcpy(s->seen[s->seen_next], tid, NAT_STUN_TID_LEN);
  s->seen_next = (s->seen_next + 1) % NAT__SPRAY_SEEN;
  if (s->nseen < NAT__SPRAY_SEEN)
    s->nseen++;
  return false;
}

/* A check on one of our sockets: the peer's probe found a mapping (the
 * acceptor's: from the dialer's public address exactly; both hard: from
 * any port of the peer's IP, each probe of its a new mapping). */
static void acceptor_request(nat__spray *s, nat_tstamp now, uint32_t sock,
                             const nat_addr *from, const nat_stun_msg *m) {
  bool both = s->role == NAT_BDAY_BOTH;
  if (nat__check_msg_auth(m, s->lufrag, s->lpwd) != 0) {
    s->st.ignored++; /* not keyed for us: no answer, no amplification */
    return;
  }
  if (!(both ? from_peer_ip(s, from) : from_peer(s, from)) ||
      (!both && s->hit && sock != s->hit_sock)) {
    s->st.replays++; /* a keyed check from elsewhere, or late */
    return;
  }
  if (seen_before(s, m->tid))
    s->st.replays++;
  queue_answer(s, sock, from, m);
  hit(s, now, sock, from);
}

/* An answer to one of our checks. */
static void our_answer(nat__spray *s, nat_tstamp now, uint32_t sock,
                       const nat_addr *from, const nat_stun_msg *m,
                       uint32_t idx) {
  bool keyed = m->mi_idx >= 0 &&
               nat_stun_msg_check_integrity(m, (const uint8_t *)s->rpwd,
                                            strlen(s->rpwd)) == 0;
  if (!keyed || m->cls != NAT_STUN_SUCCESS) {
    s->st.ignored++;
    return;
  }
  if (s->role != NAT_BDAY_ACCEPTOR) {
    uint32_t want = s->role == NAT_BDAY_BOTH && s->nsock > 0 ? idx % s->nsock
                                                             : NAT__SPRAY_MAIN;
    if ((idx & KA_BIT) != 0 || idx >= s->st.probes_sent || sock != want ||
        !from_peer_ip(s, from) || from->port != s->probe_port[idx]) {
      s->st.ignored++;
      return;
    }
    if (s->answered[idx / 8] & (1u << (idx % 8))) {
      s->st.replays++;
      return;
    }
    s->answered[idx / 8] |= (uint8_t)(1u << (idx % 8));
    if (!s->hit)
      s->st.hit_probe = idx + 1;
    hit(s, now, sock, from);
    return;
  }
  if ((idx & KA_BIT) == 0 || (idx & ~KA_BIT) != sock || sock >= s->nsock ||
      !from_peer(s, from)) {
    s->st.ignored++;
    return;
  }
  if (s->hit) {
    if (sock != s->hit_sock)
      s->st.replays++;
    return;
  }
  hit(s, now, sock, from); /* the dialer answered our keepalive */
}

/* An answer to one of the agent's own checks from a spray socket of the
 * peer (keyed, with the spray's SOFTWARE): remember where it came from. */
static void note_via(nat__spray *s, nat_tstamp now, const nat_addr *from,
                     const nat_stun_msg *m) {
  static const char sw[] = NAT__SPRAY_SOFTWARE;
  const nat_stun_attr *a = nat_stun_msg_find(m, NAT_ATTR_SOFTWARE);
  if (a == NULL || a->len != sizeof sw - 1 ||
      memcmp(a->value, sw, sizeof sw - 1) != 0 || m->cls != NAT_STUN_SUCCESS ||
      m->mi_idx < 0 || !from_peer_ip(s, from) ||
      nat_stun_msg_check_integrity(m, (const uint8_t *)s->rpwd,
                                   strlen(s->rpwd)) != 0 ||
      nat__spray_via(s, from) || s->nvia >= NAT__SPRAY_HITS)
    return;
  s->via_at[s->nvia] = now;
  s->via[s->nvia++] = *from;
}

bool nat__spray_via(const nat__spray *s, const nat_addr *remote) {
  if (s->hit && nat_addr_equal(&s->hit_remote, remote))
    return true;
  for (unsigned i = 0; i < s->nvia; i++)
    if (nat_addr_equal(&s->via[i], remote))
      return true;
  return false;
}

nat_tstamp nat__spray_via_at(const nat__spray *s, const nat_addr *remote) {
  if (s->hit && nat_addr_equal(&s->hit_remote, remote))
    return s->t_hit;
  for (unsigned i = 0; i < s->nvia; i++)
    if (nat_addr_equal(&s->via[i], remote))
      return s->via_at[i];
  return 0;
}

bool nat__spray_recv(nat__spray *s, nat_tstamp now, uint32_t sock,
                     const nat_addr *from, const nat_stun_msg *msg) {
  uint32_t idx;
  bool main = sock == NAT__SPRAY_MAIN;
  if (s->role == NAT_BDAY_NONE)
    return false;
  if (msg == NULL || msg->method != NAT_STUN_BINDING) {
    if (!main)
      s->st.ignored++;
    return !main;
  }
  if (msg->cls == NAT_STUN_REQUEST) {
    /* a dialer's probe that found our own socket's mapping: keyed, from
     * the dialer's public address, without USE-CANDIDATE (its checks,
     * aggressive, all carry it): the path it opens is the spray's */
    if (main && s->role == NAT_BDAY_ACCEPTOR && from_peer(s, from) &&
        nat_stun_msg_find(msg, NAT_ATTR_USE_CANDIDATE) == NULL &&
        nat__check_msg_auth(msg, s->lufrag, s->lpwd) == 0 &&
        !nat__spray_via(s, from) && s->nvia < NAT__SPRAY_HITS) {
      s->via_at[s->nvia] = now;
      s->via[s->nvia++] = *from;
    }
    if (main)
      return false; /* the agent's checks answer the main socket's */
    if (s->role != NAT_BDAY_DIALER && sock < s->nsock)
      acceptor_request(s, now, sock, from, msg);
    else
      s->st.ignored++;
    return true;
  }
  if (msg->cls == NAT_STUN_INDICATION) {
    if (!main)
      s->st.ignored++;
    return !main;
  }
  if (!our_tid(s, msg->tid, &idx)) {
    if (!main)
      s->st.ignored++;
    else
      note_via(s, now, from, msg);
    return !main; /* the main socket's: the agent's checks take it */
  }
  our_answer(s, now, sock, from, msg, idx);
  return true;
}

double nat__spray_p_now(const nat__spray *s, nat_tstamp now) {
  uint32_t m;
  if (s->role == NAT_BDAY_BOTH)
    return nat_bday_odds_both(s->plan.n, s->st.probes_sent);
  if (s->role == NAT_BDAY_DIALER)
    m = s->st.probes_sent;
  else if (now <= s->start)
    m = 0;
  else {
    uint64_t d = (now - s->start) / s->interval;
    m = d > s->plan.probes ? s->plan.probes : (uint32_t)d;
  }
  return nat_bday_odds(s->plan.n, s->plan.sockets, m);
}
