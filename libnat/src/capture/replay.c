/* Replay: pair captured STUN requests and responses into observations
 * (nat/replay.h). Pure: no I/O, no clock. Tagging lives in replay_tag.c. */
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "nat/error.h"
#include "nat/replay.h"
#include "nat/txn.h"
#include "replay_rec.h"
#include "replay_tag.h"

#define NIL             UINT32_MAX
#define DEFAULT_TIMEOUT (20 * NAT_SECONDS)
#define DEFAULT_PENDING 4096
#define DEFAULT_MAX_OBS 100000
#define SOCK_CACHE      1024 /* direct-mapped: mapped address -> socket */
#define SRV_CACHE       256  /* direct-mapped: primary -> alternate */

enum { E_FREE = 0, E_PENDING = 1, E_DONE = 2 };

typedef struct rp_entry {
  uint8_t key[16]; /* message bytes 4..19: cookie + 96-bit ID, or the
                      whole 128-bit classic ID */
  uint8_t state;
  bool classic;
  bool hairpin;
  bool arrived; /* seen again from another source to another destination */
  uint16_t response_port;
  uint8_t ttl; /* of the first transmission, 0: not said */
  uint32_t change_flags;
  unsigned transmissions;
  nat_addr src, dst;
  nat_addr arr_from; /* where it arrived from, if arrived */
  nat_tstamp sent_at, last_tx, arr_at;
  uint32_t prev, next; /* activity list, oldest first */
  uint32_t hnext;      /* hash chain */
} rp_entry;

typedef struct sock_slot {
  bool used;
  nat_addr local, mapped;
} sock_slot;

typedef struct srv_slot {
  bool used;
  nat_addr primary, alt;
} srv_slot;

/* What the capture says about where one requesting IP's requests were
 * seen (nat_replay_diag.clients[] order). */
typedef struct rp_cstat {
  uint32_t ttl[256];       /* first transmissions per TTL (0: not said) */
  uint64_t out, in;        /* requests seen OUTGOING / IN (cooked) */
  uint64_t seg_start, seg; /* its records after finish (no --client) */
  bool real;               /* a client, not only hairpin traffic */
} rp_cstat;

struct nat_replay {
  nat_replay_config cfg;
  rp_entry *e;
  uint32_t *bucket;
  uint32_t nbucket; /* power of two */
  uint32_t head, tail, freelist;
  nat__rp_rec *recs;
  size_t nrecs, caprecs;
  uint32_t seq;
  sock_slot sock[SOCK_CACHE];
  srv_slot srv[SRV_CACHE];
  nat_tstamp t0;
  bool have_t0, finished;
  size_t main_ci;       /* the main client's clients[] index, SIZE_MAX: none */
  uint64_t dropped_pre; /* obs_dropped before tagging */
  uint64_t others_pre;  /* records of requesters beyond the clients cap */
  nat_replay_diag pre;  /* the counters before the main client's tagging */
  rp_cstat cst[NAT_REPLAY_MAX_CLIENTS];
  nat_replay_diag d;
};

static uint32_t addr_hash(const nat_addr *a) {
  uint32_t h = 2166136261u ^ a->family;
  size_t i, n = a->family == NAT_AF_INET ? 4 : 16;
  for (i = 0; i < n; i++)
    h = (h ^ a->ip[i]) * 16777619u;
  return (h ^ a->port) * 16777619u;
}

static uint32_t key_hash(const nat_replay *r, const uint8_t key[16]) {
  uint64_t a = nat__get64(key), b = nat__get64(key + 8);
  uint64_t h = a * 0x9E3779B97F4A7C15ull ^ b * 0xC2B2AE3D27D4EB4Full;
  return (uint32_t)(h >> 32) & (r->nbucket - 1);
}

int nat_replay_new(nat_replay **out, const nat_replay_config *cfg) {
  nat_replay *r;
  uint32_t i;
  if (out == NULL)
    return NAT_EINVAL;
  *out = NULL;
  if (cfg != NULL && cfg->client.family != NAT_AF_NONE &&
      cfg->client.family != NAT_AF_INET && cfg->client.family != NAT_AF_INET6)
    return NAT_EINVAL;
  r = calloc(1, sizeof *r);
  if (r == NULL)
    return NAT_ENOMEM;
  if (cfg != NULL)
    r->cfg = *cfg;
  if (r->cfg.timeout == 0)
    r->cfg.timeout = DEFAULT_TIMEOUT;
  if (r->cfg.max_pending == 0 || r->cfg.max_pending > (1u << 24))
    r->cfg.max_pending = DEFAULT_PENDING;
  if (r->cfg.max_obs == 0)
    r->cfg.max_obs = DEFAULT_MAX_OBS;
  for (r->nbucket = 16; r->nbucket < 2 * r->cfg.max_pending;)
    r->nbucket *= 2;
  r->e = calloc(r->cfg.max_pending, sizeof *r->e);
  r->bucket = malloc(r->nbucket * sizeof *r->bucket);
  if (r->e == NULL || r->bucket == NULL) {
    nat_replay_free(r);
    return NAT_ENOMEM;
  }
  for (i = 0; i < r->nbucket; i++)
    r->bucket[i] = NIL;
  for (i = 0; i < r->cfg.max_pending; i++)
    r->e[i].next = i + 1 < r->cfg.max_pending ? i + 1 : NIL;
  r->freelist = 0;
  r->head = r->tail = NIL;
  *out = r;
  return 0;
}

void nat_replay_free(nat_replay *r) {
  if (r == NULL)
    return;
  free(r->e);
  free(r->bucket);
  free(r->recs);
  free(r);
}

/* ---------------------------------------------------------- the table */

static rp_entry *lookup(nat_replay *r, const uint8_t key[16]) {
  uint32_t i = r->bucket[key_hash(r, key)];
  for (; i != NIL; i = r->e[i].hnext)
    if (memcmp(r->e[i].key, key, 16) == 0)
      return &r->e[i];
  return NULL;
}

static void list_unlink(nat_replay *r, uint32_t i) {
  rp_entry *e = &r->e[i];
  if (e->prev != NIL)
    r->e[e->prev].next = e->next;
  else
    r->head = e->next;
  if (e->next != NIL)
    r->e[e->next].prev = e->prev;
  else
    r->tail = e->prev;
}

static void list_append(nat_replay *r, uint32_t i) {
  rp_entry *e = &r->e[i];
  e->prev = r->tail;
  e->next = NIL;
  if (r->tail != NIL)
    r->e[r->tail].next = i;
  else
    r->head = i;
  r->tail = i;
}

/* The entry becomes the most recently active one. */
static void touch(nat_replay *r, rp_entry *e, nat_tstamp ts) {
  uint32_t i = (uint32_t)(e - r->e);
  e->last_tx = ts;
  list_unlink(r, i);
  list_append(r, i);
}

static void entry_free(nat_replay *r, uint32_t i) {
  uint32_t *pp = &r->bucket[key_hash(r, r->e[i].key)];
  while (*pp != i)
    pp = &r->e[*pp].hnext;
  *pp = r->e[i].hnext;
  list_unlink(r, i);
  r->e[i].state = E_FREE;
  r->e[i].next = r->freelist;
  r->freelist = i;
}

/* ------------------------------------------------------- observations */

static nat__rp_rec *new_rec(nat_replay *r) {
  if (r->nrecs >= r->cfg.max_obs) {
    r->d.obs_dropped++;
    return NULL;
  }
  if (r->nrecs == r->caprecs) {
    size_t cap = r->caprecs ? r->caprecs * 2 : 64;
    nat__rp_rec *v;
    if (cap > r->cfg.max_obs)
      cap = r->cfg.max_obs;
    v = realloc(r->recs, cap * sizeof *v);
    if (v == NULL) {
      r->d.obs_dropped++;
      return NULL;
    }
    r->recs = v;
    r->caprecs = cap;
  }
  return &r->recs[r->nrecs++];
}

/* Record how transaction @p e ended: a response @p m from @p from at
 * @p now, or a timeout (@p m NULL, @p status NAT_ETIMEDOUT), or a hairpin
 * arrival (@p m NULL, status 0). @return the record, NULL if not kept. */
static nat__rp_rec *record(nat_replay *r, const rp_entry *e, int status,
                           const nat_stun_msg *m, const nat_addr *from,
                           nat_tstamp now) {
  nat_txn_result res;
  nat__rp_rec *rec = new_rec(r);
  if (rec == NULL)
    return NULL;
  memset(rec, 0, sizeof *rec);
  memset(&res, 0, sizeof res);
  res.status = status;
  res.response = m;
  if (from != NULL)
    res.from = *from;
  res.dst = e->dst;
  memcpy(res.tid, e->key + 4, NAT_STUN_TID_LEN);
  res.rtt = now - e->sent_at;
  res.rtt_last = now - e->last_tx;
  res.transmissions = e->transmissions;
  nat_obs_from_result(&rec->o, &res, &e->src);
  if (status == 0 && m == NULL) { /* hairpin arrival: no message back */
    rec->o.status = 0;
    rec->o.rtt = res.rtt;
    rec->o.from = res.from;
  }
  rec->o.classic = e->classic;
  rec->o.change_flags = e->change_flags;
  rec->o.response_port = e->response_port;
  rec->o.sent_at = e->sent_at - r->t0;
  rec->seq = r->seq++;
  rec->flags = e->hairpin ? NAT__REC_HAIRPIN : 0;
  if (e->ttl != 0 && e->ttl <= NAT__HOP_MAX_TTL)
    rec->flags |= NAT__REC_LOWTTL;
  if (e->arrived) {
    /* a hairpin request not known as one when it was sent (a capture
     * that starts mid-run): the tagger may recognize it */
    rec->flags |= NAT__REC_ARRIVED;
    if (status == NAT_ETIMEDOUT)
      rec->o.from = e->arr_from;
    rec->u.arr_rtt = e->arr_at - e->sent_at;
  }
  return rec;
}

/* A pending entry that will not be answered. */
static void close_timeout(nat_replay *r, uint32_t i) {
  rp_entry *e = &r->e[i];
  if (e->state == E_PENDING) {
    r->d.timeouts++;
    record(r, e, NAT_ETIMEDOUT, NULL, NULL, e->last_tx + r->cfg.timeout);
  }
  entry_free(r, i);
}

static void expire(nat_replay *r, nat_tstamp now) {
  while (r->head != NIL && r->e[r->head].last_tx + r->cfg.timeout < now)
    close_timeout(r, r->head);
}

/* ------------------------------------------------------------ caches */

static void learn_socket(nat_replay *r, const nat_addr *local,
                         const nat_addr *mapped) {
  sock_slot *s = &r->sock[addr_hash(mapped) % SOCK_CACHE];
  s->used = true;
  s->local = *local;
  s->mapped = *mapped;
}

/* Is @p dst the mapped address of a client socket? Another socket's
 * (RFC 5780 section 4.5) or the sender's own (the classic `stun` client's
 * hairpin test), as long as that is not the sender as seen (a capture
 * outside the NAT, where local == mapped). */
static bool is_hairpin(const nat_replay *r, const nat_addr *src,
                       const nat_addr *dst) {
  const sock_slot *s = &r->sock[addr_hash(dst) % SOCK_CACHE];
  return s->used && nat_addr_equal(&s->mapped, dst) &&
         !nat_addr_equal(src, dst);
}

/* Is a response to @p dst, not request @p e's source, the answer that
 * e's RESPONSE-PORT (RFC 5780 section 7.5) asked for? The server sends it
 * to the request's mapped IP at that port: it must reach another socket
 * of the same client IP -- the port itself when there is no translation
 * (a host with a public address, or a capture outside the NAT), else the
 * socket whose mapping has that port, as an earlier answer showed (the
 * socket cache: mapped address -> local socket). */
static bool rport_delivery(const nat_replay *r, const rp_entry *e,
                           const nat_addr *dst, const nat_stun_msg *m) {
  nat_addr mapped;
  const sock_slot *s;
  if (e->response_port == 0 || dst->family != e->src.family ||
      !nat_addr_equal_ip(dst, &e->src) || dst->port == e->src.port)
    return false;
  if (dst->port == e->response_port)
    return true;
  if (nat_stun_msg_get_mapped(m, &mapped) != 0)
    return false;
  mapped.port = e->response_port; /* the socket the server sent it to */
  s = &r->sock[addr_hash(&mapped) % SOCK_CACHE];
  return s->used && nat_addr_equal(&s->mapped, &mapped) &&
         nat_addr_equal(&s->local, dst);
}

/* Remember the alternate address a response from @p primary advertised
 * (OTHER-ADDRESS, else CHANGED-ADDRESS). */
static void learn_server(nat_replay *r, const nat_addr *primary,
                         const nat_stun_msg *m) {
  srv_slot *s = &r->srv[addr_hash(primary) % SRV_CACHE];
  nat_addr alt;
  if (nat_stun_msg_get_addr(m, NAT_ATTR_OTHER_ADDRESS, &alt) != 0 &&
      nat_stun_msg_get_addr(m, NAT_ATTR_CHANGED_ADDRESS, &alt) != 0)
    return;
  s->used = true;
  s->primary = *primary;
  s->alt = alt;
}

/* Whether a response from @p from may answer request @p e. */
static bool source_ok(const nat_replay *r, const rp_entry *e,
                      const nat_addr *from) {
  const srv_slot *s = &r->srv[addr_hash(&e->dst) % SRV_CACHE];
  bool cip = (e->change_flags & NAT_STUN_CHANGE_IP) != 0;
  bool cport = (e->change_flags & NAT_STUN_CHANGE_PORT) != 0;
  nat_addr want;
  if (nat_addr_equal(from, &e->dst))
    return true; /* also a server that ignored CHANGE-REQUEST */
  if (!cip && !cport)
    return false;
  if (s->used && nat_addr_equal(&s->primary, &e->dst) &&
      s->alt.family == e->dst.family) {
    want = e->dst;
    if (cip)
      memcpy(want.ip, s->alt.ip, sizeof want.ip);
    if (cport)
      want.port = s->alt.port;
    return nat_addr_equal(from, &want);
  }
  /* alternate unknown: it must differ the way the flags ask */
  return from->family == e->dst.family &&
         nat_addr_equal_ip(from, &e->dst) != cip &&
         (from->port != e->dst.port) == cport;
}

/* ------------------------------------------------------------ feeding */

/* The clients[] index of @p src's IP, SIZE_MAX if not there. */
static size_t find_client(const nat_replay *r, const nat_addr *src) {
  size_t i;
  for (i = 0; i < r->d.nclients; i++)
    if (nat_addr_equal_ip(&r->d.clients[i], src))
      return i;
  return SIZE_MAX;
}

/* One more first transmission from @p src, with TTL @p ttl. */
static void count_client(nat_replay *r, const nat_addr *src, uint8_t ttl) {
  size_t i = find_client(r, src);
  if (i == SIZE_MAX) {
    if (r->d.nclients >= NAT_REPLAY_MAX_CLIENTS)
      return;
    i = r->d.nclients++;
    r->d.clients[i] = *src;
    r->d.clients[i].port = 0;
    r->d.client_requests[i] = 0;
  }
  r->d.client_requests[i]++;
  if (ttl != 0)
    r->cst[i].ttl[ttl]++;
}

/* Any transmission of a request from @p src, with its direction. */
static void count_dir(nat_replay *r, const nat_addr *src, uint8_t dir) {
  size_t i;
  if (dir == NAT_CAPDIR_UNKNOWN || (i = find_client(r, src)) == SIZE_MAX)
    return;
  if (dir == NAT_CAPDIR_OUTGOING)
    r->cst[i].out++;
  else if (dir == NAT_CAPDIR_IN)
    r->cst[i].in++;
}

/* A request whose ID is already in the table. */
static void request_again(nat_replay *r, rp_entry *e, nat_tstamp ts,
                          const nat_addr *src, const nat_addr *dst) {
  if (nat_addr_equal(src, &e->src) && nat_addr_equal(dst, &e->dst)) {
    r->d.retransmissions++;
    if (e->state == E_PENDING) {
      e->transmissions++;
      touch(r, e, ts);
    }
    return;
  }
  if (e->state == E_PENDING && e->hairpin && !nat_addr_equal(dst, &e->dst)) {
    /* the hairpin request came back in through the NAT */
    nat__rp_rec *rec;
    r->d.hairpin_arrivals++;
    r->d.responses++;
    rec = record(r, e, 0, NULL, src, ts);
    if (rec != NULL)
      rec->flags |= NAT__REC_HPARRIVAL;
    e->state = E_DONE;
    touch(r, e, ts);
    return;
  }
  if (e->state == E_PENDING && !e->arrived && !nat_addr_equal(src, &e->src) &&
      !nat_addr_equal(dst, &e->dst)) {
    e->arrived = true; /* a hairpin request not known as one (yet)? */
    e->arr_from = *src;
    e->arr_at = ts;
  }
  r->d.copies++;
}

static void request_new(nat_replay *r, nat_tstamp ts, const nat_addr *src,
                        const nat_addr *dst, const nat_stun_msg *m,
                        const uint8_t key[16], uint8_t ttl) {
  uint32_t i, flags = 0;
  uint16_t rport = 0;
  rp_entry *e;
  if (r->freelist == NIL) { /* full: drop the oldest entry */
    if (r->e[r->head].state == E_PENDING)
      r->d.evicted++; /* a request closed early; an answered one's entry
                         (kept to tell duplicates) closes no request */
    close_timeout(r, r->head);
  }
  i = r->freelist;
  e = &r->e[i];
  r->freelist = e->next;
  memset(e, 0, sizeof *e);
  memcpy(e->key, key, 16);
  e->state = E_PENDING;
  e->classic = m->classic;
  if (nat_stun_msg_get_u32(m, NAT_ATTR_CHANGE_REQUEST, &flags) == 0)
    e->change_flags = flags;
  if (nat_stun_msg_get_response_port(m, &rport) == 0)
    e->response_port = rport;
  e->transmissions = 1;
  e->ttl = ttl;
  e->src = *src;
  e->dst = *dst;
  e->sent_at = e->last_tx = ts;
  e->hairpin = !nat__rp_changes(flags) && is_hairpin(r, src, dst);
  e->hnext = r->bucket[key_hash(r, key)];
  r->bucket[key_hash(r, key)] = i;
  list_append(r, i);
  r->d.requests++;
  r->d.change_requests += nat__rp_changes(flags);
  r->d.hairpin_requests += e->hairpin;
  count_client(r, src, ttl);
}

static void response(nat_replay *r, nat_tstamp ts, const nat_addr *src,
                     const nat_addr *dst, const nat_stun_msg *m, rp_entry *e) {
  nat_addr mapped;
  nat__rp_rec *rec;
  bool rport = false;
  if (e == NULL) {
    r->d.unmatched++;
    return;
  }
  if (e->state == E_DONE) {
    r->d.duplicates++;
    return;
  }
  if (!nat_addr_equal(dst, &e->src)) {
    if (!rport_delivery(r, e, dst, m)) {
      r->d.copies++; /* e.g. seen outside the NAT before translation */
      return;
    }
    rport = true;
  }
  if (!source_ok(r, e, src)) {
    r->d.spoofed++;
    return;
  }
  r->d.responses++;
  rec = record(r, e, 0, m, src, ts);
  if (rec != NULL && rport) {
    rec->flags |= NAT__REC_RPORT;
    rec->u.to_port = dst->port; /* answered: arr_rtt unused */
  }
  if (!e->hairpin && nat_stun_msg_get_mapped(m, &mapped) == 0)
    learn_socket(r, &e->src, &mapped);
  if (!nat__rp_changes(e->change_flags))
    learn_server(r, &e->dst, m);
  e->state = E_DONE;
  touch(r, e, ts);
}

static int feed(nat_replay *r, nat_tstamp ts, const nat_addr *src,
                const nat_addr *dst, const nat_stun_msg *m, uint8_t ttl,
                uint8_t dir) {
  rp_entry *e;
  r->d.datagrams++;
  if (!r->have_t0) {
    r->t0 = ts;
    r->have_t0 = true;
  }
  if (ts < r->t0)
    ts = r->t0; /* a reordered first packet: clamp */
  expire(r, ts);
  if (m->method != NAT_STUN_BINDING || m->cls == NAT_STUN_INDICATION) {
    r->d.ignored++;
    return 0;
  }
  e = lookup(r, m->buf + 4);
  if (m->cls == NAT_STUN_REQUEST) {
    if (e != NULL)
      request_again(r, e, ts, src, dst);
    else
      request_new(r, ts, src, dst, m, m->buf + 4, ttl);
    count_dir(r, src, dir);
    return 0;
  }
  response(r, ts, src, dst, m, e);
  return 0;
}

int nat_replay_feed_msg(nat_replay *r, nat_tstamp ts, const nat_addr *src,
                        const nat_addr *dst, const nat_stun_msg *m) {
  if (r == NULL || src == NULL || dst == NULL || m == NULL || r->finished)
    return NAT_EINVAL;
  return feed(r, ts, src, dst, m, 0, NAT_CAPDIR_UNKNOWN);
}

int nat_replay_feed_pkt(nat_replay *r, const nat_capture_pkt *p) {
  if (r == NULL || p == NULL || p->msg == NULL || r->finished)
    return NAT_EINVAL;
  if (p->reassembled && p->msg->method == NAT_STUN_BINDING &&
      p->msg->cls == NAT_STUN_REQUEST)
    r->d.frag_requests++;
  return feed(r, p->ts, &p->src, &p->dst, p->msg, p->ttl, p->dir);
}

bool nat_replay_udp_unknown(const nat_replay_diag *d) {
  return d != NULL && d->responses == 0 && d->frag_requests > 0 &&
         d->frag_requests >= d->requests + d->retransmissions;
}

int nat_replay_feed(nat_replay *r, nat_tstamp ts, const nat_addr *src,
                    const nat_addr *dst, const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  if (r == NULL || src == NULL || dst == NULL || buf == NULL || r->finished)
    return NAT_EINVAL;
  if (nat_stun_decode(&m, buf, len) != (ssize_t)len) {
    r->d.datagrams++;
    r->d.malformed++;
    return 0;
  }
  return nat_replay_feed_msg(r, ts, src, dst, &m);
}

/* ------------------------------------------------------------- finish */

static bool is_client(const nat_addr *pick, const nat_addr *local) {
  if (!nat_addr_equal_ip(pick, local))
    return false;
  return pick->port == 0 || pick->port == local->port;
}

/* The TTL most first transmissions of client @p c carried (ties: the
 * lowest), 0 if the capture said none. */
static uint8_t mode_ttl(const rp_cstat *c) {
  unsigned t, best = 0;
  for (t = 1; t < 256; t++)
    if (c->ttl[t] > c->ttl[best])
      best = t;
  return (uint8_t)best;
}

/* Fill @p d's capture hints from client @p ci (SIZE_MAX: none known). */
static void hints(const nat_replay *r, size_t ci, nat_replay_diag *d) {
  d->request_ttl = 0;
  d->requests_outgoing = d->requests_in = 0;
  if (ci >= r->d.nclients)
    return;
  d->request_ttl = mode_ttl(&r->cst[ci]);
  d->requests_outgoing = r->cst[ci].out;
  d->requests_in = r->cst[ci].in;
}

/* --client: keep the records of that client only. */
static void keep_given(nat_replay *r) {
  size_t i, j;
  const nat_addr *pick = &r->cfg.client;
  r->d.client = *pick;
  r->d.client.port = 0;
  r->main_ci = find_client(r, pick);
  for (i = j = 0; i < r->nrecs; i++) {
    if (is_client(pick, &r->recs[i].o.local))
      r->recs[j++] = r->recs[i];
    else
      r->d.other_client_obs++;
  }
  r->nrecs = j;
  if (r->main_ci != SIZE_MAX) {
    r->cst[r->main_ci].seg_start = 0;
    r->cst[r->main_ci].seg = j;
  }
}

static int cmp_client(const void *pa, const void *pb) {
  const nat__rp_rec *a = pa, *b = pb;
  if (a->pad != b->pad)
    return a->pad < b->pad ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Without --client: group the records by requesting IP (clients[]
 * order), tell real clients from requesters that only sent hairpin
 * traffic to other clients' sockets, and pick the busiest real one. */
static void group_clients(nat_replay *r) {
  size_t i, j, ci, best = SIZE_MAX;
  for (i = j = 0; i < r->nrecs; i++) {
    nat__rp_rec *rec = &r->recs[i];
    ci = find_client(r, &rec->o.local);
    if (ci == SIZE_MAX) { /* beyond NAT_REPLAY_MAX_CLIENTS */
      r->d.other_client_obs++;
      continue;
    }
    rec->pad = (uint8_t)ci;
    if ((rec->o.status == 0 && rec->o.has_mapped &&
         !(rec->flags & NAT__REC_HAIRPIN)) ||
        find_client(r, &rec->o.server) == SIZE_MAX)
      r->cst[ci].real = true;
    r->recs[j++] = *rec;
  }
  r->nrecs = j;
  for (i = 1; i < j && r->recs[i - 1].pad <= r->recs[i].pad; i++)
    ;
  if (i < j) /* several clients, interleaved (one: already in order) */
    qsort(r->recs, j, sizeof *r->recs, cmp_client);
  for (i = 0; i < j; i++) {
    rp_cstat *c = &r->cst[r->recs[i].pad];
    if (c->seg == 0)
      c->seg_start = i;
    c->seg++;
  }
  for (ci = 0; ci < r->d.nclients; ci++)
    if (r->cst[ci].real && (best == SIZE_MAX || r->d.client_requests[ci] >
                                                    r->d.client_requests[best]))
      best = ci;
  for (ci = 0; best == SIZE_MAX && ci < r->d.nclients; ci++)
    if (r->cst[ci].seg > 0)
      best = ci; /* no real client: the first requester with records */
  r->main_ci = best;
  if (best != SIZE_MAX) {
    r->d.client = r->d.clients[best];
    r->d.other_client_obs += j - r->cst[best].seg;
  }
}

/* Tag the records of client @p ci into @p log, with @p d's
 * client-specific fields. */
static int tag_client(nat_replay *r, size_t ci, nat_replay_diag *d,
                      nat_obslog *log) {
  rp_cstat *c;
  size_t n;
  int rv;
  hints(r, ci, d);
  if (ci >= r->d.nclients)
    return nat__replay_tag(r->recs, &r->nrecs, r->cfg.capture_point, d, log);
  c = &r->cst[ci];
  n = (size_t)c->seg;
  rv =
      nat__replay_tag(r->recs + c->seg_start, &n, r->cfg.capture_point, d, log);
  c->seg = n; /* records beyond the server cap are gone */
  return rv;
}

int nat_replay_finish(nat_replay *r, nat_obslog *log) {
  if (r == NULL || log == NULL || r->finished)
    return NAT_EINVAL;
  r->finished = true;
  while (r->head != NIL)
    close_timeout(r, r->head);
  r->main_ci = SIZE_MAX;
  if (r->cfg.client.family != NAT_AF_NONE)
    keep_given(r);
  else
    group_clients(r);
  r->dropped_pre = r->d.obs_dropped;
  r->others_pre = r->d.other_client_obs;
  r->pre = r->d;
  if (r->main_ci == SIZE_MAX) { /* none, or a --client beyond the cap */
    hints(r, SIZE_MAX, &r->d);
    return nat__replay_tag(r->recs, &r->nrecs, r->cfg.capture_point, &r->d,
                           log);
  }
  r->others_pre -= r->nrecs - (size_t)r->cst[r->main_ci].seg;
  return tag_client(r, r->main_ci, &r->d, log);
}

int nat_replay_finish_client(nat_replay *r, size_t i, nat_obslog *log,
                             nat_replay_diag *out) {
  nat_replay_diag d;
  int rv;
  if (r == NULL || log == NULL || out == NULL || !r->finished ||
      r->cfg.client.family != NAT_AF_NONE || i >= r->d.nclients)
    return NAT_EINVAL;
  if (!r->cst[i].real)
    return NAT_ENOTFOUND;
  d = r->pre; /* the capture's counters, as paired */
  d.server_overflow = 0;
  d.obs_dropped = r->dropped_pre;
  d.client = r->d.clients[i];
  d.other_client_obs = r->others_pre + (r->nrecs - (size_t)r->cst[i].seg);
  rv = tag_client(r, i, &d, log);
  *out = d;
  return rv;
}

void nat_replay_get_diag(const nat_replay *r, nat_replay_diag *out) {
  if (out == NULL)
    return;
  if (r == NULL)
    memset(out, 0, sizeof *out);
  else
    *out = r->d;
}
