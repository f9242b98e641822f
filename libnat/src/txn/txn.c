/* libnat -- STUN client transactions, sans I/O (RFC 8489 section 6.2.1,
 * 6.3; RTO estimation as in RFC 6298 with Karn's rule).
 *
 * Structures: transactions live in a slot array of max_txns entries (free
 * list of indices). A linear-probing hash table (backward-shift deletion,
 * no tombstones) maps the 96-bit transaction ID to a slot. Every live
 * transaction sits in exactly one of two binary min-heaps ordered by
 * (deadline, start sequence): the send heap (next transmission due) or the
 * timeout heap (all Rc transmissions done, final wait running). A small ring
 * remembers the IDs of recently ended transactions so that late responses
 * are counted as duplicates rather than unmatched.
 *
 * Re-entrancy: a transaction is unlinked from every structure and its slot
 * freed before its callback runs, with everything the callback needs copied
 * into the result; the callback may therefore start or cancel others.
 */
#include "nat/txn.h"

#include <stdlib.h>
#include <string.h>

#include "nat/error.h"

#define TXN_NONE UINT32_MAX
/** Recently ended transaction IDs remembered for duplicate detection. */
#define TXN_RECENT 128
/** Largest max_txns accepted (keeps indices and the hash table sane). */
#define TXN_MAX_SLOTS ((size_t)1 << 24)
/** RTT samples are clamped to this (~18 min) so SRTT arithmetic can't
 * overflow. */
#define TXN_MAX_SAMPLE ((nat_tstamp)1 << 40)

enum { HEAP_SEND = 0, HEAP_TIMEOUT = 1 };

typedef struct txn {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t cookie[4]; /* bytes 4..7: magic cookie or classic ID prefix */
  bool live;
  bool any_source;
  uint8_t heap; /* HEAP_SEND or HEAP_TIMEOUT */
  uint32_t hash;
  uint32_t hpos;      /* position in its heap */
  uint32_t next_free; /* free-list link while not live */
  nat_addr dst;
  nat_addr expect;
  uint8_t *req;
  size_t len;
  void *user;
  nat_tstamp rto;      /* initial RTO of this transaction */
  nat_tstamp interval; /* wait after the next transmission */
  nat_tstamp deadline; /* next send, or final timeout */
  nat_tstamp first_sent;
  nat_tstamp last_sent;
  unsigned rc;
  unsigned sent;
  uint64_t seq;
} txn;

typedef struct txn_heap {
  uint32_t *v;
  size_t n;
} txn_heap;

struct nat_txn_mgr {
  nat_txn_config cfg;
  nat_txn_cb cb;
  void *cb_arg;

  txn *slots;
  size_t nslots;
  uint32_t free_head;
  size_t live;
  uint64_t next_seq;

  uint32_t *ht; /* slot index or TXN_NONE */
  size_t ht_mask;

  txn_heap heaps[2];

  uint8_t recent[TXN_RECENT][NAT_STUN_TID_LEN];
  size_t recent_n;
  size_t recent_head;

  bool have_srtt;
  nat_tstamp srtt;
  nat_tstamp rttvar;
  nat_tstamp cur_rto;

  nat_txn_stats stats;
};

/* ------------------------------------------------------------ helpers */

static nat_tstamp sat_add(nat_tstamp a, nat_tstamp b) {
  return a > NAT_TSTAMP_MAX - b ? NAT_TSTAMP_MAX : a + b;
}

static nat_tstamp sat_mul(nat_tstamp a, nat_tstamp b) {
  if (a != 0 && b > NAT_TSTAMP_MAX / a) {
    return NAT_TSTAMP_MAX;
  }
  return a * b;
}

static nat_tstamp tmin(nat_tstamp a, nat_tstamp b) {
  return a < b ? a : b;
}

static nat_tstamp since(nat_tstamp now, nat_tstamp then) {
  return now > then ? now - then : 0;
}

/* Same comparison as nat_addr_equal(): family, IP (4 or 16 bytes), port. */
static bool addr_equal(const nat_addr *a, const nat_addr *b) {
  size_t iplen;

  if (a->family != b->family || a->port != b->port) {
    return false;
  }
  iplen = a->family == NAT_AF_INET6 ? 16 : (a->family == NAT_AF_INET ? 4 : 0);
  return memcmp(a->ip, b->ip, iplen) == 0;
}

static bool addr_valid(const nat_addr *a) {
  return a->family == NAT_AF_INET || a->family == NAT_AF_INET6;
}

/* FNV-1a over the 12-byte ID. */
static uint32_t tid_hash(const uint8_t *tid) {
  uint32_t h = 2166136261u;
  size_t i;

  for (i = 0; i < NAT_STUN_TID_LEN; i++) {
    h ^= tid[i];
    h *= 16777619u;
  }
  return h;
}

/* --------------------------------------------------------- hash table */

static uint32_t ht_find(const nat_txn_mgr *m, const uint8_t *tid) {
  size_t i = tid_hash(tid) & m->ht_mask;

  while (m->ht[i] != TXN_NONE) {
    const txn *t = &m->slots[m->ht[i]];
    if (memcmp(t->tid, tid, NAT_STUN_TID_LEN) == 0) {
      return m->ht[i];
    }
    i = (i + 1) & m->ht_mask;
  }
  return TXN_NONE;
}

static void ht_insert(nat_txn_mgr *m, uint32_t idx) {
  size_t i = m->slots[idx].hash & m->ht_mask;

  while (m->ht[i] != TXN_NONE) {
    i = (i + 1) & m->ht_mask;
  }
  m->ht[i] = idx;
}

/* Backward-shift deletion for linear probing: later entries of the probe
 * run move into the hole when that keeps them reachable. */
static void ht_remove(nat_txn_mgr *m, uint32_t idx) {
  size_t i = m->slots[idx].hash & m->ht_mask;
  size_t j;

  while (m->ht[i] != idx) {
    i = (i + 1) & m->ht_mask;
  }
  j = i;
  for (;;) {
    size_t home;
    j = (j + 1) & m->ht_mask;
    if (m->ht[j] == TXN_NONE) {
      break;
    }
    home = m->slots[m->ht[j]].hash & m->ht_mask;
    if (((j - home) & m->ht_mask) >= ((j - i) & m->ht_mask)) {
      m->ht[i] = m->ht[j];
      i = j;
    }
  }
  m->ht[i] = TXN_NONE;
}

/* -------------------------------------------------------------- heaps */

static bool heap_less(const nat_txn_mgr *m, uint32_t a, uint32_t b) {
  const txn *ta = &m->slots[a];
  const txn *tb = &m->slots[b];

  if (ta->deadline != tb->deadline) {
    return ta->deadline < tb->deadline;
  }
  return ta->seq < tb->seq;
}

static void heap_set(nat_txn_mgr *m, txn_heap *h, size_t pos, uint32_t idx) {
  h->v[pos] = idx;
  m->slots[idx].hpos = (uint32_t)pos;
}

static void heap_up(nat_txn_mgr *m, txn_heap *h, size_t pos) {
  uint32_t idx = h->v[pos];

  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!heap_less(m, idx, h->v[parent])) {
      break;
    }
    heap_set(m, h, pos, h->v[parent]);
    pos = parent;
  }
  heap_set(m, h, pos, idx);
}

static void heap_down(nat_txn_mgr *m, txn_heap *h, size_t pos) {
  uint32_t idx = h->v[pos];

  for (;;) {
    size_t c = 2 * pos + 1;
    if (c >= h->n) {
      break;
    }
    if (c + 1 < h->n && heap_less(m, h->v[c + 1], h->v[c])) {
      c++;
    }
    if (!heap_less(m, h->v[c], idx)) {
      break;
    }
    heap_set(m, h, pos, h->v[c]);
    pos = c;
  }
  heap_set(m, h, pos, idx);
}

static void heap_push(nat_txn_mgr *m, uint8_t which, uint32_t idx) {
  txn_heap *h = &m->heaps[which];

  m->slots[idx].heap = which;
  h->v[h->n] = idx;
  h->n++;
  heap_up(m, h, h->n - 1);
}

static void heap_remove(nat_txn_mgr *m, uint32_t idx) {
  txn_heap *h = &m->heaps[m->slots[idx].heap];
  size_t pos = m->slots[idx].hpos;
  uint32_t last;

  h->n--;
  if (pos == h->n) {
    return;
  }
  last = h->v[h->n];
  heap_set(m, h, pos, last);
  if (pos > 0 && heap_less(m, last, h->v[(pos - 1) / 2])) {
    heap_up(m, h, pos);
  } else {
    heap_down(m, h, pos);
  }
}

static uint32_t heap_top(const nat_txn_mgr *m, uint8_t which) {
  const txn_heap *h = &m->heaps[which];
  return h->n > 0 ? h->v[0] : TXN_NONE;
}

/* ----------------------------------------------------- recent endings */

static void recent_add(nat_txn_mgr *m, const uint8_t *tid) {
  memcpy(m->recent[m->recent_head], tid, NAT_STUN_TID_LEN);
  m->recent_head = (m->recent_head + 1) % TXN_RECENT;
  if (m->recent_n < TXN_RECENT) {
    m->recent_n++;
  }
}

static bool recent_has(const nat_txn_mgr *m, const uint8_t *tid) {
  size_t i;

  for (i = 0; i < m->recent_n; i++) {
    if (memcmp(m->recent[i], tid, NAT_STUN_TID_LEN) == 0) {
      return true;
    }
  }
  return false;
}

/* -------------------------------------------------------- RTO (6298) */

static void rtt_sample(nat_txn_mgr *m, nat_tstamp r) {
  nat_tstamp rto;

  r = tmin(r, TXN_MAX_SAMPLE);
  if (!m->have_srtt) {
    /* RFC 6298 (2.2): SRTT <- R, RTTVAR <- R/2 */
    m->srtt = r;
    m->rttvar = r / 2;
    m->have_srtt = true;
  } else {
    /* (2.3): beta = 1/4, alpha = 1/8; RTTVAR first, with the old SRTT */
    nat_tstamp diff = m->srtt > r ? m->srtt - r : r - m->srtt;
    m->rttvar = (3 * m->rttvar + diff) / 4;
    m->srtt = (7 * m->srtt + r) / 8;
  }
  rto = m->srtt + 4 * m->rttvar;
  if (rto < m->cfg.rto_min) {
    rto = m->cfg.rto_min;
  }
  if (rto > m->cfg.rto_max) {
    rto = m->cfg.rto_max;
  }
  m->cur_rto = rto;
}

/* ------------------------------------------------------ slots / ending */

static void slot_release(nat_txn_mgr *m, uint32_t idx) {
  txn *t = &m->slots[idx];

  free(t->req);
  t->req = NULL;
  t->live = false;
  t->next_free = m->free_head;
  m->free_head = idx;
  m->live--;
}

/* Unlink transaction @p idx, remember its ID, free it, then call back. */
static void txn_end(nat_txn_mgr *m, uint32_t idx, nat_tstamp now, int status,
                    const nat_stun_msg *resp, const nat_addr *from) {
  txn *t = &m->slots[idx];
  nat_txn_result r;

  memset(&r, 0, sizeof(r));
  r.user = t->user;
  r.status = status;
  r.response = resp;
  if (from != NULL) {
    r.from = *from;
  }
  r.dst = t->dst;
  memcpy(r.tid, t->tid, NAT_STUN_TID_LEN);
  if (t->sent > 0 && status != NAT_ECANCELED) {
    r.rtt = since(now, t->first_sent);
    r.rtt_last = since(now, t->last_sent);
  }
  r.transmissions = t->sent;

  heap_remove(m, idx);
  ht_remove(m, idx);
  recent_add(m, t->tid);
  slot_release(m, idx);

  m->cb(m->cb_arg, &r);
}

/* ------------------------------------------------------------ public */

static int config_fill(nat_txn_config *c, const nat_txn_config *in) {
  if (in != NULL) {
    *c = *in;
  } else {
    memset(c, 0, sizeof(*c));
  }
  if (c->rto == 0) {
    c->rto = 500 * NAT_MILLISECONDS;
  }
  if (c->rto_min == 0) {
    c->rto_min = 50 * NAT_MILLISECONDS;
  }
  if (c->rto_max == 0) {
    c->rto_max = 60 * NAT_SECONDS;
  }
  if (c->rc == 0) {
    c->rc = 7;
  }
  if (c->rm == 0) {
    c->rm = 16;
  }
  if (c->max_txns == 0) {
    c->max_txns = 1024;
  }
  if (c->rto_min > c->rto_max || c->max_txns > TXN_MAX_SLOTS) {
    return NAT_EINVAL;
  }
  return 0;
}

static int mgr_alloc(nat_txn_mgr *m) {
  size_t n = m->cfg.max_txns;
  size_t htcap = 16;
  size_t i;

  while (htcap < 2 * n) {
    htcap *= 2;
  }
  m->slots = calloc(n, sizeof(*m->slots));
  m->ht = malloc(htcap * sizeof(*m->ht));
  m->heaps[0].v = malloc(n * sizeof(uint32_t));
  m->heaps[1].v = malloc(n * sizeof(uint32_t));
  if (m->slots == NULL || m->ht == NULL || m->heaps[0].v == NULL ||
      m->heaps[1].v == NULL) {
    return NAT_ENOMEM;
  }
  m->nslots = n;
  m->ht_mask = htcap - 1;
  for (i = 0; i < htcap; i++) {
    m->ht[i] = TXN_NONE;
  }
  /* free list in index order: slot 0 first */
  m->free_head = TXN_NONE;
  for (i = n; i > 0; i--) {
    m->slots[i - 1].next_free = m->free_head;
    m->free_head = (uint32_t)(i - 1);
  }
  return 0;
}

/** Create a transaction manager; see nat/txn.h. */
int nat_txn_mgr_new(nat_txn_mgr **out, const nat_txn_config *cfg, nat_txn_cb cb,
                    void *cb_arg) {
  nat_txn_mgr *m;
  int rc;

  if (out == NULL) {
    return NAT_EINVAL;
  }
  *out = NULL;
  if (cb == NULL) {
    return NAT_EINVAL;
  }
  m = calloc(1, sizeof(*m));
  if (m == NULL) {
    return NAT_ENOMEM;
  }
  rc = config_fill(&m->cfg, cfg);
  if (rc == 0) {
    rc = mgr_alloc(m);
  }
  if (rc != 0) {
    nat_txn_mgr_free(m);
    return rc;
  }
  m->cb = cb;
  m->cb_arg = cb_arg;
  m->cur_rto = m->cfg.rto;
  *out = m;
  return 0;
}

/** Free the manager and every live transaction without callbacks. */
void nat_txn_mgr_free(nat_txn_mgr *m) {
  size_t i;

  if (m == NULL) {
    return;
  }
  if (m->slots != NULL) {
    for (i = 0; i < m->nslots; i++) {
      free(m->slots[i].req);
    }
  }
  free(m->slots);
  free(m->ht);
  free(m->heaps[0].v);
  free(m->heaps[1].v);
  free(m);
}

/* Validate @p req as a STUN request; copy its ID and cookie bytes. */
static int check_request(const uint8_t *req, size_t len,
                         uint8_t tid[NAT_STUN_TID_LEN], uint8_t cookie[4]) {
  nat_stun_msg msg;

  if (len > NAT_STUN_MAX_MSG || nat_stun_decode(&msg, req, len) < 0 ||
      msg.cls != NAT_STUN_REQUEST) {
    return NAT_EINVAL;
  }
  memcpy(tid, req + 8, NAT_STUN_TID_LEN);
  memcpy(cookie, req + 4, 4);
  return 0;
}

/** Start a transaction; see nat/txn.h. */
int nat_txn_start(nat_txn_mgr *m, nat_tstamp now, const nat_addr *dst,
                  const uint8_t *req, size_t len, const nat_txn_opts *opts,
                  void *user) {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t cookie[4];
  uint8_t *copy;
  uint32_t idx;
  txn *t;

  if (m == NULL || dst == NULL || req == NULL || !addr_valid(dst) ||
      (opts != NULL && opts->expect_from != NULL &&
       !addr_valid(opts->expect_from))) {
    return NAT_EINVAL;
  }
  if (check_request(req, len, tid, cookie) != 0) {
    return NAT_EINVAL;
  }
  if (ht_find(m, tid) != TXN_NONE) {
    return NAT_EEXIST;
  }
  if (m->live >= m->nslots) {
    return NAT_EBUSY;
  }
  copy = malloc(len);
  if (copy == NULL) {
    return NAT_ENOMEM;
  }
  memcpy(copy, req, len);

  idx = m->free_head;
  t = &m->slots[idx];
  m->free_head = t->next_free;
  memset(t, 0, sizeof(*t));
  memcpy(t->tid, tid, NAT_STUN_TID_LEN);
  memcpy(t->cookie, cookie, 4);
  t->live = true;
  t->hash = tid_hash(tid);
  t->dst = *dst;
  t->expect =
      (opts != NULL && opts->expect_from != NULL) ? *opts->expect_from : *dst;
  t->any_source = opts != NULL && opts->any_source;
  t->req = copy;
  t->len = len;
  t->user = user;
  t->rto = (opts != NULL && opts->rto != 0) ? opts->rto : m->cur_rto;
  t->interval = tmin(t->rto, m->cfg.rto_max);
  t->rc = (opts != NULL && opts->rc != 0) ? opts->rc : m->cfg.rc;
  t->deadline = now;
  t->seq = m->next_seq++;
  m->live++;
  ht_insert(m, idx);
  heap_push(m, HEAP_SEND, idx);
  return 0;
}

/** Cancel one transaction; see nat/txn.h. */
int nat_txn_cancel(nat_txn_mgr *m, const uint8_t tid[12]) {
  uint32_t idx;

  if (m == NULL || tid == NULL) {
    return NAT_ENOTFOUND;
  }
  idx = ht_find(m, tid);
  if (idx == TXN_NONE) {
    return NAT_ENOTFOUND;
  }
  txn_end(m, idx, 0, NAT_ECANCELED, NULL, NULL);
  return 0;
}

/** Cancel every transaction live when called; ones started from inside
 * the callbacks survive. */
void nat_txn_cancel_all(nat_txn_mgr *m) {
  uint64_t limit;
  size_t i;

  if (m == NULL) {
    return;
  }
  limit = m->next_seq;
  for (i = 0; i < m->nslots; i++) {
    if (m->slots[i].live && m->slots[i].seq < limit) {
      txn_end(m, (uint32_t)i, 0, NAT_ECANCELED, NULL, NULL);
    }
  }
}

/* Account one transmission of @p t at @p now and reschedule it. */
static void mark_sent(nat_txn_mgr *m, uint32_t idx, nat_tstamp now) {
  txn *t = &m->slots[idx];

  heap_remove(m, idx);
  if (t->sent == 0) {
    t->first_sent = now;
  } else {
    m->stats.retransmits++;
  }
  t->last_sent = now;
  t->sent++;
  m->stats.sent++;
  if (t->sent < t->rc) {
    t->deadline = sat_add(now, t->interval);
    t->interval = tmin(sat_mul(t->interval, 2), m->cfg.rto_max);
    heap_push(m, HEAP_SEND, idx);
  } else {
    /* RFC 8489 6.2.1: fail Rm times the RTO after the last request */
    t->deadline = sat_add(now, sat_mul(m->cfg.rm, t->rto));
    heap_push(m, HEAP_TIMEOUT, idx);
  }
}

/** Hand out the next due transmission; see nat/txn.h. */
ssize_t nat_txn_mgr_next_send(nat_txn_mgr *m, nat_tstamp now, uint8_t *buf,
                              size_t cap, nat_addr *dst) {
  uint32_t idx;
  txn *t;

  if (m == NULL) {
    return NAT_EINVAL;
  }
  idx = heap_top(m, HEAP_SEND);
  if (idx == TXN_NONE || m->slots[idx].deadline > now) {
    return 0;
  }
  t = &m->slots[idx];
  if (cap < t->len) {
    return NAT_ENOBUFS;
  }
  if (buf == NULL || dst == NULL) {
    return NAT_EINVAL;
  }
  memcpy(buf, t->req, t->len);
  *dst = t->dst;
  mark_sent(m, idx, now);
  return (ssize_t)t->len;
}

/** Earliest pending deadline; see nat/txn.h. */
nat_tstamp nat_txn_mgr_get_expiry(const nat_txn_mgr *m) {
  nat_tstamp e = NAT_TSTAMP_MAX;
  int which;

  if (m == NULL) {
    return e;
  }
  for (which = 0; which < 2; which++) {
    uint32_t idx = heap_top(m, (uint8_t)which);
    if (idx != TXN_NONE) {
      e = tmin(e, m->slots[idx].deadline);
    }
  }
  return e;
}

/** Time out transactions whose final wait has ended. Due retransmissions
 * need nothing here: nat_txn_mgr_next_send() finds them by deadline. */
void nat_txn_mgr_handle_expiry(nat_txn_mgr *m, nat_tstamp now) {
  uint32_t idx;

  if (m == NULL) {
    return;
  }
  while ((idx = heap_top(m, HEAP_TIMEOUT)) != TXN_NONE &&
         m->slots[idx].deadline <= now) {
    m->stats.timeouts++;
    txn_end(m, idx, now, NAT_ETIMEDOUT, NULL, NULL);
  }
}

/* Count and classify a response whose ID matches no live transaction. */
static int refuse_unknown(nat_txn_mgr *m, const uint8_t *tid) {
  if (recent_has(m, tid)) {
    m->stats.duplicates++;
  } else {
    m->stats.unmatched++;
  }
  return NAT_ENOTFOUND;
}

/** Feed a received datagram; see nat/txn.h. */
int nat_txn_mgr_recv(nat_txn_mgr *m, nat_tstamp now, const nat_addr *from,
                     const uint8_t *buf, size_t len) {
  nat_stun_msg msg;

  if (m == NULL || from == NULL) {
    return NAT_EINVAL;
  }
  return nat_txn_mgr_recv_msg(m, now, from, &msg,
                              nat_stun_decode(&msg, buf, len));
}

/** Feed a datagram the caller has decoded; see nat/txn.h. */
int nat_txn_mgr_recv_msg(nat_txn_mgr *m, nat_tstamp now, const nat_addr *from,
                         const nat_stun_msg *msg, ssize_t decoded) {
  uint32_t idx;
  txn *t;

  if (m == NULL || from == NULL || msg == NULL) {
    return NAT_EINVAL;
  }
  if (decoded < 0) {
    m->stats.malformed++;
    return (int)decoded;
  }
  if (msg->cls != NAT_STUN_SUCCESS && msg->cls != NAT_STUN_ERROR) {
    m->stats.not_response++;
    return NAT_EINVAL;
  }
  idx = ht_find(m, msg->tid);
  /* A classic (RFC 3489) ID is 128 bits: bytes 4..7 must match too. A
   * transaction never sent cannot have a genuine response. */
  if (idx == TXN_NONE || memcmp(m->slots[idx].cookie, msg->buf + 4, 4) != 0 ||
      m->slots[idx].sent == 0) {
    return refuse_unknown(m, msg->tid);
  }
  t = &m->slots[idx];
  if (!t->any_source && !addr_equal(from, &t->expect)) {
    m->stats.spoofed++;
    return NAT_EBADADDR;
  }
  m->stats.responses++;
  if (t->sent == 1) {
    rtt_sample(m, since(now, t->first_sent)); /* Karn: only if unambiguous */
  }
  txn_end(m, idx, now, 0, msg, from);
  return 0;
}

/** Feed the RTO estimator an RTT measured elsewhere. */
void nat_txn_mgr_seed_rtt(nat_txn_mgr *m, nat_tstamp rtt) {
  if (m != NULL) {
    rtt_sample(m, rtt);
  }
}

/** The RTO new transactions will use. */
nat_tstamp nat_txn_mgr_rto(const nat_txn_mgr *m) {
  return m != NULL ? m->cur_rto : 0;
}

/** Number of live transactions. */
size_t nat_txn_mgr_count(const nat_txn_mgr *m) {
  return m != NULL ? m->live : 0;
}

/** Copy the counters. */
void nat_txn_mgr_stats(const nat_txn_mgr *m, nat_txn_stats *out) {
  if (out == NULL) {
    return;
  }
  if (m == NULL) {
    memset(out, 0, sizeof(*out));
    return;
  }
  *out = m->stats;
}

/** Fill @p tid with random bytes from @p rand. */
void nat_txn_new_tid(nat_rand_fn rand_fn, void *rand_ctx,
                     uint8_t tid[NAT_STUN_TID_LEN]) {
  if (tid == NULL) {
    return;
  }
  if (rand_fn == NULL) {
    memset(tid, 0, NAT_STUN_TID_LEN);
    return;
  }
  rand_fn(rand_ctx, tid, NAT_STUN_TID_LEN);
}
