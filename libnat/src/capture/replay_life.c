/* Replay: the rules for requests with RESPONSE-PORT (RFC 5780 section
 * 7.5), whose answers go to another socket of the client: lifetime probes
 * (nat/replay.h, LIFETIME) and change requests answered or lost
 * elsewhere (FILTERING). Pure: no I/O, no clock. */
#include "nat/error.h"
#include "nat/replay.h"
#include "replay_tagger.h"

/* RESPONSE-PORT requests examined as lifetime probes at most. */
#define MAX_LIFETIME_PROBES 256

/* The records of local socket @p local: by_sock[*a, *b), empty if none.
 * Binary search: by_sock is sorted by local address. */
static void sock_run(const tagger *t, const nat_addr *local, size_t *a,
                     size_t *b) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (nat__addr_cmp(&t->by_sock[mid]->o.local, local) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *a = lo;
  for (hi = lo;
       hi < t->n && nat__addr_cmp(&t->by_sock[hi]->o.local, local) == 0; hi++)
    ;
  *b = hi;
}

/* Did socket @p x send anything to the IP of @p ip? Scans x's records. */
static bool sent_to_ip(const tagger *t, const nat_addr *x, const nat_addr *ip) {
  size_t a, b;
  sock_run(t, x, &a, &b);
  for (; a < b; a++)
    if (nat_addr_equal_ip(&t->by_sock[a]->o.server, ip))
      return true;
  return false;
}

/* A change request whose answer was asked (RESPONSE-PORT) to go to
 * another port than the requesting socket's own (@p mport: its mapped
 * port, 0 if not known) tests the filter of that other mapping, not the
 * requesting socket's. Never answered: the answer was sent towards
 * another mapping (turnutils_stunclient asks for port + 1, where behind a
 * NAT no mapping exists), its loss says nothing. Answered at another
 * socket X (NAT__REC_RPORT): kept only as the proof of an
 * endpoint-independent filter -- a change-IP answer from an IP that X
 * never sent to (the analyzer checks the requesting socket's own IPs);
 * else it proves nothing the analyzer could read right. Such requests are
 * left out of the log (the counters keep them). The X scans are bounded
 * by MAX_LIFETIME_PROBES per client (beyond: left out). */
bool nat__rp_answer_elsewhere_unproven(tagger *t, const nat__rp_rec *r,
                                       uint16_t mport) {
  const nat_obs *o = &r->o;
  const nat_addr *src;
  nat_addr x;
  if (!nat__rp_changes(o->change_flags) || o->response_port == 0 ||
      o->response_port == o->local.port || o->response_port == mport)
    return false;
  if (!(r->flags & NAT__REC_RPORT) || o->status != 0 ||
      !(o->change_flags & NAT_STUN_CHANGE_IP) ||
      (src = resp_source(o)) == NULL || t->rport_checks >= MAX_LIFETIME_PROBES)
    return true;
  t->rport_checks++;
  x = o->local;
  x.port = r->u.to_port;
  return sent_to_ip(t, &x, src);
}

/* The socket a plain request @p y with RESPONSE-PORT asked its answer to
 * go to (X): where the answer was delivered (NAT__REC_RPORT), else the
 * client socket of y's IP that has that port itself (no translation) or
 * whose mapping has it (the first answer mapped to @p pub_ip at that
 * port). @return false if none is in the capture. */
static bool rport_target(const tagger *t, const nat__rp_rec *y,
                         const nat_addr *pub_ip, nat_addr *x) {
  nat_addr m;
  uint32_t id;
  size_t a, b;
  *x = y->o.local;
  if (y->flags & NAT__REC_RPORT) {
    x->port = y->u.to_port;
    return true;
  }
  x->port = y->o.response_port;
  sock_run(t, x, &a, &b);
  if (a < b)
    return true;
  if (pub_ip == NULL || pub_ip->family != y->o.local.family)
    return false;
  m = *pub_ip;
  m.port = y->o.response_port;
  id = nat__rp_index_find(&t->ix, &m);
  if (id == NONE || t->ix.first_map[id] == NONE)
    return false;
  *x = t->recs[t->ix.first_map[id]].o.local;
  return nat_addr_equal_ip(x, &y->o.local) && x->port != y->o.local.port;
}

/* How long socket @p x had been idle when @p at came: from its last
 * datagram before @p at (a request's first transmission, or its answer's
 * arrival) -- 0 if x had no answered request before @p at (no mapping
 * known to have been made). */
static nat_tstamp idle_since(const tagger *t, const nat_addr *x,
                             nat_tstamp at) {
  size_t a, b, i;
  nat_tstamp last = 0;
  bool mapped = false;
  sock_run(t, x, &a, &b);
  for (i = a; i < b; i++) {
    const nat_obs *o = &t->by_sock[i]->o;
    if (o->sent_at >= at)
      continue;
    if (o->sent_at > last)
      last = o->sent_at;
    if (answered(o) && o->sent_at + o->rtt < at) {
      mapped = true;
      if (o->sent_at + o->rtt > last)
        last = o->sent_at + o->rtt;
    }
  }
  return mapped ? at - last : 0;
}

/* Lifetime probes (turnutils_natdiscovery -t, netcheck --lifetime): a
 * plain request from socket Y with RESPONSE-PORT asks the server to
 * answer to another socket X of the client, which had been idle: the
 * answer arriving at X shows X's mapping alive after that idle time
 * (status 0), its absence shows it gone (NAT_ETIMEDOUT). o.idle gets X's
 * idle time (Y's first transmission minus X's last datagram). An answer
 * that came back to Y itself (a server that ignores RESPONSE-PORT), and
 * a request whose X is not in the capture or was never answered before,
 * are no probe. Each candidate scans X's records: at most
 * MAX_LIFETIME_PROBES candidates are examined (a live run's ladder has a
 * handful, natdiscovery -t one), so that a hostile capture cannot make
 * this quadratic. Needs the index and by_sock. */
void nat__rp_lifetime_probes(tagger *t) {
  const nat_addr *pub = NULL;
  size_t i, examined = 0;
  for (i = 0; i < t->n && pub == NULL; i++)
    if (answered(&t->recs[i].o) && !(t->recs[i].flags & NAT__REC_HAIRPIN))
      pub = &t->recs[i].o.mapped;
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *y = &t->recs[i];
    nat_addr x;
    nat_tstamp idle;
    if (y->o.response_port == 0 || !plain(y) ||
        (y->o.status == 0 && !(y->flags & NAT__REC_RPORT)) ||
        (y->o.status != 0 && y->o.status != NAT_ETIMEDOUT))
      continue;
    if (examined >= MAX_LIFETIME_PROBES || !rport_target(t, y, pub, &x))
      continue;
    examined++;
    idle = idle_since(t, &x, y->o.sent_at);
    if (idle <= 0)
      continue;
    y->o.idle = idle;
    y->flags |= NAT__REC_LIFE;
    t->lifetime++;
  }
}
