/* Replay, the end: which RFC 5780 test each transaction belonged to,
 * what the capture can measure, and the observation log (nat/replay.h).
 * Pure: no I/O, no clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "nat/replay.h"
#include "replay_rec.h"
#include "replay_tag.h"
#include "replay_tagger.h"

static int cmp_sent(const void *a, const void *b) {
  const nat__rp_rec *x = a, *y = b;
  if (x->o.sent_at != y->o.sent_at)
    return x->o.sent_at < y->o.sent_at ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* By local socket, then in sent order (the records are sorted already,
 * so their position is the tiebreak). */
static int cmp_sock(const void *a, const void *b) {
  const nat__rp_rec *x = *(nat__rp_rec *const *)a;
  const nat__rp_rec *y = *(nat__rp_rec *const *)b;
  int c = nat__addr_cmp(&x->o.local, &y->o.local);
  if (c != 0)
    return c;
  return x < y ? -1 : x > y;
}

static int cmp_ent(const void *pa, const void *pb) {
  const ix_ent *a = pa, *b = pb;
  int c = nat__addr_cmp(&a->a, &b->a);
  if (c != 0)
    return c;
  return a->ref < b->ref ? -1 : a->ref > b->ref;
}

static void index_free(addr_index *ix) {
  free(ix->u);
  free(ix->dst_id);
  free(ix->prim_of);
  free(ix->alt_of);
  free(ix->first_map);
  memset(ix, 0, sizeof *ix);
}

static uint32_t *nones(size_t n) {
  uint32_t *p = malloc((n ? n : 1) * sizeof *p);
  if (p != NULL)
    memset(p, 0xff, (n ? n : 1) * sizeof *p);
  return p;
}

/* Collect the addresses of the records (ref: record * 2, + 1 if mapped).
 * @return how many. */
static size_t index_collect(const tagger *t, ix_ent *e) {
  size_t i, m = 0;
  for (i = 0; i < t->n; i++) {
    const nat_obs *o = &t->recs[i].o;
    if (nat__addr_ip_len(&o->server) > 0) {
      e[m].a = o->server;
      e[m++].ref = (uint32_t)(2 * i);
    }
    if (answered(o) && nat__addr_ip_len(&o->mapped) > 0) {
      e[m].a = o->mapped;
      e[m++].ref = (uint32_t)(2 * i + 1);
    }
  }
  return m;
}

/* (Re)build t->ix over the records: O(n log n). @return 0 or NAT_ENOMEM. */
static int index_build(tagger *t) {
  addr_index *ix = &t->ix;
  size_t i, m, cap = 2 * t->n;
  index_free(ix);
  if (t->n >= UINT32_MAX / 2)
    return NAT_ENOMEM;
  ix->u = malloc((cap ? cap : 1) * sizeof *ix->u);
  ix->dst_id = nones(t->n);
  ix->prim_of = nones(cap);
  ix->alt_of = nones(cap);
  ix->first_map = nones(cap);
  if (ix->u == NULL || ix->dst_id == NULL || ix->prim_of == NULL ||
      ix->alt_of == NULL || ix->first_map == NULL)
    return NAT_ENOMEM;
  m = index_collect(t, ix->u);
  if (m > 0)
    qsort(ix->u, m, sizeof *ix->u, cmp_ent);
  for (i = 0; i < m; i++) { /* dedup in place, ids in sorted order */
    uint32_t ref = ix->u[i].ref, id;
    if (ix->nu == 0 || nat__addr_cmp(&ix->u[i].a, &ix->u[ix->nu - 1].a) != 0)
      ix->u[ix->nu++].a = ix->u[i].a;
    id = (uint32_t)(ix->nu - 1);
    if ((ref & 1) == 0)
      ix->dst_id[ref / 2] = id;
    else if (ix->first_map[id] == NONE) /* refs ascend within an address */
      ix->first_map[id] = ref / 2;
  }
  return 0;
}

/* The id of address @p a, or NONE if no record has it. */
uint32_t nat__rp_index_find(const addr_index *ix, const nat_addr *a) {
  size_t lo = 0, hi = ix->nu;
  if (nat__addr_ip_len(a) == 0)
    return NONE;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = nat__addr_cmp(a, &ix->u[mid].a);
    if (c == 0)
      return (uint32_t)mid;
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NONE;
}

/* Address @p a now leads to server @p s, unless a lower one has it. */
static void alt_note(tagger *t, const nat_addr *a, size_t s) {
  uint32_t id = nat__rp_index_find(&t->ix, a);
  if (id != NONE && (t->ix.alt_of[id] == NONE || s < t->ix.alt_of[id]))
    t->ix.alt_of[id] = (uint32_t)s;
}

/* Server @p s learns its alternate @p alt: from now on its IP2:P2,
 * IP2:P1 and IP1:P2 (of the primary's family) are its alternates. */
static void learn_alt(tagger *t, size_t s, const nat_addr *alt) {
  tag_srv *v = &t->srv[s];
  nat_addr a;
  v->has_alt = true;
  v->alt = *alt;
  if (alt->family == v->primary.family) {
    alt_note(t, alt, s);
    a = *alt;
    a.port = v->primary.port;
    alt_note(t, &a, s);
  }
  a = v->primary;
  a.port = alt->port;
  alt_note(t, &a, s);
}

/* The server and role of record @p i's destination: a server's primary
 * address, else the lowest-numbered server it is an alternate of, else a
 * new server -- SIZE_MAX when NAT_REPLAY_MAX_SERVERS are known already
 * (server_idx is 16 bits: it must not wrap). */
static size_t find_server(tagger *t, size_t i, uint8_t *role) {
  uint32_t id = t->ix.dst_id[i];
  tag_srv *v;
  if (id != NONE && t->ix.prim_of[id] != NONE) {
    *role = ROLE_PRIMARY;
    return t->ix.prim_of[id];
  }
  if (id != NONE && t->ix.alt_of[id] != NONE) {
    *role = ROLE_ALT;
    return t->ix.alt_of[id];
  }
  *role = ROLE_NONE;
  if (t->nsrv >= NAT_REPLAY_MAX_SERVERS)
    return SIZE_MAX;
  v = &t->srv[t->nsrv];
  memset(v, 0, sizeof *v);
  v->primary = t->recs[i].o.server;
  if (id != NONE)
    t->ix.prim_of[id] = (uint32_t)t->nsrv;
  *role = ROLE_PRIMARY;
  return t->nsrv++;
}

static void set_server(tagger *t, nat__rp_rec *r, size_t s) {
  if (s == SIZE_MAX) {
    r->flags |= NAT__REC_DROP;
    t->dropped++;
  } else {
    r->o.server_idx = (uint16_t)s;
  }
}

/* Per address id: does some answer's mapped address have this id's IP?
 * The index is sorted by family, IP, port: one pass over each IP's run.
 * @return the flags (t->ix.nu bytes), or NULL without memory. */
static uint8_t *mapped_ip_ids(const tagger *t) {
  const addr_index *ix = &t->ix;
  uint8_t *f = calloc(ix->nu ? ix->nu : 1, 1);
  size_t a, b, i;
  if (f == NULL)
    return NULL;
  for (a = 0; a < ix->nu; a = b) {
    bool any = false;
    for (b = a; b < ix->nu && ix->u[b].a.family == ix->u[a].a.family &&
                nat_addr_equal_ip(&ix->u[b].a, &ix->u[a].a);
         b++)
      any |= ix->first_map[b] != NONE;
    for (i = a; any && i < b; i++)
      f[i] = 1;
  }
  return f;
}

/* Leave out the @p gone records flagged NAT__REC_DROP (counted as
 * ignored) and rebuild the index. @return 0 or NAT_ENOMEM. */
static int drop_flagged(tagger *t, nat_replay_diag *d, size_t gone) {
  size_t i, j;
  if (gone == 0)
    return 0;
  for (i = j = 0; i < t->n; i++)
    if (!(t->recs[i].flags & NAT__REC_DROP))
      t->recs[j++] = t->recs[i];
  t->n = j;
  d->ignored += gone;
  return index_build(t);
}
/* Hairpin requests the pairing could not know as such: the mapped address
 * they went to was learned only from a later answer (a capture that
 * starts mid-run, after the target socket's first answer). A plain
 * request to an address some answered record of this client was mapped
 * to (not the sender's own address as seen) is a hairpin request, as
 * is_hairpin() would have said had the answer come first; if it was
 * seen arriving at a client socket, it is answered as a hairpin arrival
 * is. The diag's counters follow. @return 0 or NAT_ENOMEM. */
static int late_hairpins(tagger *t, nat_replay_diag *d) {
  size_t i, gone = 0;
  uint8_t *mip = mapped_ip_ids(t);
  if (mip == NULL)
    return NAT_ENOMEM;
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    uint32_t id = t->ix.dst_id[i];
    bool seen = (r->flags & NAT__REC_ARRIVED) != 0;
    bool arrived = seen && r->o.status == NAT_ETIMEDOUT; /* unanswered:
                            an error response is an answer too */
    nat_addr from = r->o.from;
    if (arrived)
      memset(&r->o.from, 0, sizeof r->o.from); /* unless a hairpin below */
    if (!plain(r) || id == NONE || nat_addr_equal(&r->o.server, &r->o.local))
      continue;
    if (t->ix.first_map[id] == NONE) {
      /* to the client's public IP at a port no answer in the capture
       * shows: seen arriving at a client socket, a hairpin request (no
       * server forwards a request to a client); else, unanswered, a
       * hairpin request whose target is not in the capture (it starts
       * mid-run): what it tested cannot be told, and its destination is
       * no server: left out, counted as ignored. An answered one not
       * seen arriving stays a server (a STUN server on the NAT's public
       * address answers so too). */
      if (!mip[id] || (!seen && r->o.status == 0))
        continue;
      if (!seen) {
        r->flags |= NAT__REC_DROP;
        gone++;
        continue;
      }
    }
    r->flags |= NAT__REC_HAIRPIN;
    d->hairpin_requests++;
    if (arrived) {
      r->flags |= NAT__REC_HPARRIVAL;
      r->o.status = 0;
      r->o.from = from;
      r->o.rtt = r->u.arr_rtt;
      d->timeouts--;
      d->responses++;
      d->hairpin_arrivals++;
      d->copies--;
    }
  }
  free(mip);
  return drop_flagged(t, d, gone);
}

/* A request to a mapped address that equals its socket's own local
 * address (no translation: a host with a public address) is not a
 * hairpin test: nothing was translated that could turn back, and the
 * request went straight to the socket. Such requests are left out of the
 * log and counted as ignored, the diag's counters follow (a live run
 * with no NAT makes no hairpin verdict either). @return 0 or
 * NAT_ENOMEM. */
static int untranslated_hairpins(tagger *t, nat_replay_diag *d) {
  size_t i, gone = 0;
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    uint32_t id = t->ix.dst_id[i], first;
    if (!(r->flags & NAT__REC_HAIRPIN) || id == NONE ||
        (first = t->ix.first_map[id]) == NONE ||
        !nat_addr_equal(&t->recs[first].o.local, &r->o.server))
      continue;
    r->flags |= NAT__REC_DROP;
    gone++;
    d->hairpin_requests--;
    if (r->o.status == NAT_ETIMEDOUT) {
      d->timeouts--;
    } else { /* seen arriving, or answered by a response (success or
                error: the target socket answers requests) */
      if (r->flags & NAT__REC_HPARRIVAL)
        d->hairpin_arrivals--;
      d->responses--;
    }
  }
  return drop_flagged(t, d, gone);
}

/* Number the servers, learn their alternates, give every record its
 * server_idx and role. Plain requests first, then change requests. */
static void assign_servers(tagger *t) {
  size_t i, s;
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    const nat_obs *o = &r->o;
    if (!plain(r))
      continue;
    s = find_server(t, i, &r->role);
    set_server(t, r, s);
    if (r->role == ROLE_PRIMARY && !t->srv[s].has_alt &&
        (o->has_other_address || o->has_changed_address))
      learn_alt(t, s,
                o->has_other_address ? &o->other_address : &o->changed_address);
  }
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    if (nat__rp_changes(r->o.change_flags))
      set_server(t, r, find_server(t, i, &r->role));
  }
}

/* Records whose server would be beyond NAT_REPLAY_MAX_SERVERS (a hostile
 * capture) are left out of the log, counted: a wrapped server_idx would
 * merge unrelated servers. The index is rebuilt for the records kept.
 * @return 0 or NAT_ENOMEM. */
static int drop_capped(tagger *t) {
  size_t i, j;
  if (t->dropped == 0)
    return 0;
  for (i = j = 0; i < t->n; i++)
    if (!(t->recs[i].flags & NAT__REC_DROP))
      t->recs[j++] = t->recs[i];
  t->n = j;
  return index_build(t);
}

/* A hairpin request belongs to the server that reported the mapped
 * address it was sent to: the server_idx, as it is now, of the first
 * answered record with that mapped address. */
static void assign_hairpin(tagger *t, nat__rp_rec *h) {
  uint32_t id = t->ix.dst_id[h - t->recs], first;
  h->tags |= TAG(NAT_OBS_HAIRPIN);
  if (id == NONE)
    return;
  first = t->ix.first_map[id];
  if (first != NONE)
    h->o.server_idx = t->recs[first].o.server_idx;
}

/* The shape of one socket's records (sorted in sent order) that the
 * allocation test looks at. Hairpin requests do not count: they go to a
 * client socket's mapping, not to a server (netcheck's hairpin socket B is
 * also its first fresh allocation socket). */
typedef struct sock_shape {
  const nat__rp_rec *first; /* first plain request */
  bool single;              /* plain requests to one destination only */
  bool multi;               /* netcheck's multi-destination one */
} sock_shape;

/* IP1:P2 of server @p s: its primary IP with the alternate port. */
static bool is_p1p2(const tag_srv *s, const nat_addr *d) {
  nat_addr a;
  if (!s->has_alt || s->alt.port == s->primary.port)
    return false;
  a = s->primary;
  a.port = s->alt.port;
  return nat_addr_equal(d, &a);
}

/* netcheck's multi-destination allocation socket (probe_plan.c,
 * alloc_multi): the last fresh allocation socket asks the primary first,
 * like the others, then the server's other addresses IP1:P2, IP2:P1,
 * IP2:P2 and the other servers, all recorded as NAT_OBS_ALLOCATION. No
 * RFC 5780 mapping test (RFC 5780 section 4.3: IP1:P1, IP2:P1, IP2:P2)
 * and no filtering test asks IP1:P2 with plain requests: that request,
 * with no CHANGE-REQUEST from the socket, marks it. */
static void shape_of(const tagger *t, nat__rp_rec *const *by, size_t k,
                     sock_shape *sh) {
  size_t i;
  bool changes = false, p1p2 = false;
  memset(sh, 0, sizeof *sh);
  sh->single = true;
  for (i = 0; i < k; i++) {
    const nat__rp_rec *r = by[i];
    if (r->flags & NAT__REC_HAIRPIN)
      continue;
    if (nat__rp_changes(r->o.change_flags)) {
      changes = true;
      continue;
    }
    if (sh->first == NULL)
      sh->first = r;
    else if (!nat_addr_equal(&r->o.server, &sh->first->o.server))
      sh->single = false;
    if (r->o.server_idx == sh->first->o.server_idx &&
        is_p1p2(&t->srv[r->o.server_idx], &r->o.server))
      p1p2 = true;
  }
  if (sh->first == NULL || sh->first->role != ROLE_PRIMARY || changes) {
    sh->single = false;
    return;
  }
  sh->multi = !sh->single && p1p2;
}

static int cmp_ip(const void *pa, const void *pb) {
  return nat__addr_cmp(pa, pb); /* ports are 0 */
}

/* A filtering change-IP request answered from another IP. */
static bool blind_candidate(const nat__rp_rec *r) {
  const nat_addr *src = resp_source(&r->o);
  return (r->tags & TAG(NAT_OBS_FILTERING)) &&
         (r->o.change_flags & NAT_STUN_CHANGE_IP) && r->o.status == 0 &&
         src != NULL && nat__addr_ip_len(src) > 0 &&
         src->family == r->o.server.family &&
         !nat_addr_equal_ip(src, &r->o.server);
}

/* verdict.h's rule for the classic `stun` client, which sends its change
 * requests from a socket that opened nothing: a change-IP request of
 * this socket answered from an IP the socket never sent anything to
 * proves endpoint-independent filtering by itself. O(k log k). */
static bool blind_proof(tagger *t, nat__rp_rec *const *by, size_t k) {
  size_t i, m = 0;
  for (i = 0; i < k && !blind_candidate(by[i]); i++)
    ;
  if (i == k)
    return false;
  if (t->ips == NULL && (t->ips = malloc(t->n * sizeof *t->ips)) == NULL)
    return false; /* no proof without memory: not measurable */
  for (i = 0; i < k; i++)
    if (nat__addr_ip_len(&by[i]->o.server) > 0)
      t->ips[m++] = nat__addr_ip_only(&by[i]->o.server);
  qsort(t->ips, m, sizeof *t->ips, cmp_ip);
  for (i = 0; i < k; i++) {
    nat_addr key;
    if (!blind_candidate(by[i]))
      continue;
    key = nat__addr_ip_only(resp_source(&by[i]->o));
    if (bsearch(&key, t->ips, m, sizeof *t->ips, cmp_ip) == NULL)
      return true;
  }
  return false;
}

/* Unanswered tries a change-request shape needs each way (verdict.h). */
#define SHAPE_TRIES 3

/* verdict.h's rule for change requests that opened the mapping themselves
 * (sent to server @p fsrv's primary address, no opening request needed):
 * with the server's alternate known (CHANGED-ADDRESS / OTHER-ADDRESS from
 * any of its answers), at least SHAPE_TRIES unanswered change-IP requests
 * and either SHAPE_TRIES unanswered change-port-only requests (APD) or a
 * change-port-only request answered from another port of the primary IP
 * (AD). Tries are requests (observations), not retransmissions: fewer
 * than the analyzer may count, never more. */
static bool change_shape(const tagger *t, nat__rp_rec *const *by, size_t k,
                         size_t fsrv) {
  size_t i, ip_lost = 0, port_lost = 0;
  bool port_other = false;
  if (fsrv == SIZE_MAX || !t->srv[fsrv].has_alt)
    return false;
  for (i = 0; i < k; i++) {
    const nat__rp_rec *r = by[i];
    const nat_addr *src;
    if (r->o.server_idx != fsrv || r->role != ROLE_PRIMARY ||
        !nat__rp_changes(r->o.change_flags) || r->tags == TAG_LEFT_OUT)
      continue;
    if (r->o.change_flags & NAT_STUN_CHANGE_IP) {
      ip_lost += r->o.status != 0;
      continue;
    }
    if (r->o.status != 0) {
      port_lost++;
      continue;
    }
    src = resp_source(&r->o);
    if (src != NULL && nat_addr_equal_ip(src, &r->o.server) &&
        src->port != r->o.server.port)
      port_other = true;
  }
  return ip_lost >= SHAPE_TRIES && (port_lost >= SHAPE_TRIES || port_other);
}

/* Tag one socket's records by[0..k): filtering, mapping, the rest basic;
 * a fresh socket that only asked one destination, or netcheck's
 * multi-destination one, is an allocation candidate (tagged later, when
 * the count across sockets is known). */
static void tag_socket(tagger *t, nat__rp_rec **by, size_t k, size_t g) {
  size_t i, fsrv = SIZE_MAX;
  nat_tstamp open_at = 0;
  bool opened = false;
  uint16_t mport = 0;
  sock_shape sh;
  for (i = 0; i < k && mport == 0; i++)
    if (answered(&by[i]->o) && !(by[i]->flags & NAT__REC_HAIRPIN))
      mport = by[i]->o.mapped.port;
  for (i = 0; i < k; i++) {
    nat__rp_rec *r = by[i];
    tag_srv *s = &t->srv[r->o.server_idx];
    if (r->flags & NAT__REC_HAIRPIN) {
      assign_hairpin(t, r);
      continue;
    }
    if (nat__rp_answer_elsewhere_unproven(t, r, mport)) {
      r->tags = TAG_LEFT_OUT;
      continue;
    }
    if (nat__rp_changes(r->o.change_flags)) {
      fsrv = r->o.server_idx;
      continue;
    }
    if (r->role == ROLE_PRIMARY)
      s->stamp_prim = g;
    else
      s->stamp_alt = g;
  }
  for (i = 0; i < k; i++) {
    nat__rp_rec *r = by[i];
    tag_srv *s = &t->srv[r->o.server_idx];
    if ((r->flags & NAT__REC_HAIRPIN) || r->tags == TAG_LEFT_OUT)
      continue;
    if (r->o.server_idx == fsrv &&
        (nat__rp_changes(r->o.change_flags) || r->role == ROLE_PRIMARY)) {
      r->tags |= TAG(NAT_OBS_FILTERING);
      /* the opening request: plain, to IP1:P1, answered */
      if (r->role == ROLE_PRIMARY && answered(&r->o) &&
          !nat__rp_changes(r->o.change_flags) &&
          (!opened || r->o.sent_at < open_at)) {
        opened = true;
        open_at = r->o.sent_at;
      }
    }
    if (plain(r) && s->stamp_prim == g && s->stamp_alt == g)
      r->tags |= TAG(NAT_OBS_MAPPING);
  }
  /* The analyzer rates the change requests sent after the opening one
   * (verdict.h): measurable if there is one, or if a change-IP request
   * was answered from an IP this socket never sent to. */
  for (i = 0; opened && i < k; i++)
    if (by[i]->o.server_idx == fsrv && nat__rp_changes(by[i]->o.change_flags) &&
        by[i]->tags != TAG_LEFT_OUT && by[i]->o.sent_at >= open_at)
      t->filtering_ok = true;
  if (!t->filtering_ok && blind_proof(t, by, k))
    t->filtering_ok = true;
  if (!t->filtering_ok && change_shape(t, by, k, fsrv))
    t->filtering_ok = true;
  shape_of(t, by, k, &sh);
  if (sh.single)
    t->srv[sh.first->o.server_idx].alloc_sockets++;
  else if (sh.multi)
    t->srv[sh.first->o.server_idx].multi_sockets++;
}

/* Second look at the sockets: two or more fresh ones asking the same
 * server (one of them may be netcheck's multi-destination socket, when
 * at least one other asked only the primary) make an allocation test;
 * their plain requests are tagged NAT_OBS_ALLOCATION, and only that, as
 * the live probe plan records them. Then untagged records are basic. */
static void tag_alloc_and_basic(tagger *t) {
  size_t a = 0, b, i;
  while (a < t->n) {
    sock_shape sh;
    const tag_srv *s;
    nat__rp_rec *r0 = t->by_sock[a];
    for (b = a;
         b < t->n && nat__addr_cmp(&t->by_sock[b]->o.local, &r0->o.local) == 0;
         b++)
      ;
    shape_of(t, t->by_sock + a, b - a, &sh);
    s = sh.first != NULL ? &t->srv[sh.first->o.server_idx] : NULL;
    if (s != NULL && (sh.single || sh.multi) && s->alloc_sockets >= 1 &&
        s->alloc_sockets + s->multi_sockets >= 2) {
      for (i = a; i < b; i++) {
        nat__rp_rec *r = t->by_sock[i];
        if (!plain(r))
          continue;
        r->tags = (uint8_t)(r->tags & ~TAG(NAT_OBS_MAPPING));
        r->tags |= TAG(NAT_OBS_ALLOCATION);
      }
    }
    a = b;
  }
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    if (r->tags == 0)
      r->tags = TAG(NAT_OBS_BASIC);
    if (r->tags & TAG(NAT_OBS_BASIC))
      t->srv[r->o.server_idx].has_basic = true;
  }
}

/* A server with no basic observation gets its first plain request to the
 * primary address (the first answered one if any) as one: one pass. */
static void ensure_basic(tagger *t) {
  size_t s, i;
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    tag_srv *v;
    if (!plain(r) || r->role != ROLE_PRIMARY)
      continue;
    v = &t->srv[r->o.server_idx];
    if (v->has_basic)
      continue;
    if (v->pick == NULL || (answered(&r->o) && !answered(&v->pick->o)))
      v->pick = r;
  }
  for (s = 0; s < t->nsrv; s++)
    if (!t->srv[s].has_basic && t->srv[s].pick != NULL)
      t->srv[s].pick->tags |= TAG(NAT_OBS_BASIC);
}

static int emit(const tagger *t, nat_obslog *log) {
  size_t i;
  uint8_t test;
  for (i = 0; i < t->n; i++) {
    nat_obs o = t->recs[i].o;
    for (test = NAT_OBS_BASIC; test <= NAT_OBS_LIFETIME; test++) {
      if (!(t->recs[i].tags & TAG(test)))
        continue;
      o.test = test;
      o.idle = test == NAT_OBS_LIFETIME ? t->recs[i].o.idle : 0;
      if (nat_obslog_append(log, &o) != 0)
        return NAT_ENOMEM;
    }
  }
  return 0;
}

/* Does one socket's log show its mapping for two destinations? Inside
 * the NAT (@p inside): two answered requests to different destinations
 * among the observations the mapping analyzer reads (NAT_OBS_MAPPING,
 * else NAT_OBS_BASIC). Outside, a "socket" is a mapping the NAT made,
 * so a new public port cannot be told from a new client socket: AD and
 * APD never show, and the analyzer's mapped == local rule would call any
 * socket endpoint-independent. Only a source that two different server
 * IPs answered with one and the same mapped address shows an
 * endpoint-independent mapping (assuming no port overloading, which
 * RFC 4787 REQ-3 forbids); two ports of one IP do not (an
 * address-dependent mapping keeps them on one public port too). */
static bool socket_shows_mapping(nat__rp_rec *const *by, size_t k,
                                 bool inside) {
  const nat_obs *first = NULL;
  size_t i;
  for (i = 0; i < k; i++) {
    const nat__rp_rec *r = by[i];
    const nat_obs *o = &r->o;
    if (!plain(r) || !answered(o))
      continue;
    if (inside && (r->tags & (TAG(NAT_OBS_MAPPING) | TAG(NAT_OBS_BASIC))) == 0)
      continue;
    if (first == NULL) {
      first = o;
      continue;
    }
    if (inside && !nat_addr_equal(&o->server, &first->server))
      return true;
    if (!inside && !nat_addr_equal_ip(&o->server, &first->server) &&
        nat_addr_equal(&o->mapped, &first->mapped))
      return true;
  }
  return false;
}

static bool mapping_ok(const tagger *t, bool inside) {
  size_t a, b;
  for (a = 0; a < t->n; a = b) {
    for (b = a; b < t->n && nat__addr_cmp(&t->by_sock[b]->o.local,
                                          &t->by_sock[a]->o.local) == 0;
         b++)
      ;
    if (socket_shows_mapping(t->by_sock + a, b - a, inside))
      return true;
  }
  return false;
}

/* The measurable bits, from the tags and where the capture was taken. */
static void measurable(const tagger *t, uint8_t point, nat_replay_diag *d) {
  size_t i, alloc = 0;
  bool basic = false, any_mapped = false, hairpin = false;
  const nat_obs *xl = NULL;
  d->saw_translation = false;
  d->capture_point = point;
  for (i = 0; i < t->n; i++) {
    const nat__rp_rec *r = &t->recs[i];
    basic |= (r->tags & TAG(NAT_OBS_BASIC)) != 0;
    hairpin |= (r->tags & TAG(NAT_OBS_HAIRPIN)) != 0;
    if ((r->tags & TAG(NAT_OBS_ALLOCATION)) && answered(&r->o))
      alloc++;
    if (answered(&r->o) && !(r->flags & NAT__REC_HAIRPIN)) {
      any_mapped = true;
      if (xl == NULL && !nat_addr_equal(&r->o.mapped, &r->o.local)) {
        d->saw_translation = true;
        xl = &r->o;
      }
    }
  }
  nat__replay_infer_point(d, xl, any_mapped);
  d->inside =
      point == NAT_REPLAY_AT_CLIENT ||
      (point == NAT_REPLAY_AUTO && d->point_inferred == NAT_REPLAY_AT_CLIENT);
  d->measurable = 0;
  if (basic)
    d->measurable |= NAT_REPLAY_M_BASIC;
  if (d->inside && any_mapped)
    d->measurable |= NAT_REPLAY_M_NAT;
  if (mapping_ok(t, d->inside))
    d->measurable |= NAT_REPLAY_M_MAPPING;
  if (d->inside && t->filtering_ok)
    d->measurable |= NAT_REPLAY_M_FILTERING;
  if (d->inside && hairpin)
    d->measurable |= NAT_REPLAY_M_HAIRPIN;
  if (d->inside && alloc >= 2)
    d->measurable |= NAT_REPLAY_M_ALLOCATION;
  /* a mapping's lifetime: only where there is a NAT (a translation), and
   * from inside, where the answer's arrival at the idle socket is seen */
  if (d->inside && d->saw_translation && t->lifetime > 0)
    d->measurable |= NAT_REPLAY_M_LIFETIME;
}

static void tagger_free(tagger *t) {
  free(t->srv);
  free(t->by_sock);
  free(t->ips);
  index_free(&t->ix);
}

/* Sort the records, index their addresses, allocate the tables, number
 * the servers. @return 0 or NAT_ENOMEM. */
static int tagger_start(tagger *t, nat__rp_rec *recs, size_t n,
                        nat_replay_diag *d) {
  size_t nsrv = n < NAT_REPLAY_MAX_SERVERS ? n : NAT_REPLAY_MAX_SERVERS;
  int rv;
  memset(t, 0, sizeof *t);
  t->recs = recs;
  t->n = n = nat__replay_drop_hop_probes(recs, n, d);
  if (n == 0)
    return 0;
  qsort(recs, n, sizeof *recs, cmp_sent);
  t->srv = calloc(nsrv, sizeof *t->srv);
  t->by_sock = malloc(n * sizeof *t->by_sock);
  if (t->srv == NULL || t->by_sock == NULL)
    return NAT_ENOMEM;
  if ((rv = index_build(t)) != 0)
    return rv;
  if ((rv = late_hairpins(t, d)) != 0)
    return rv;
  if ((rv = untranslated_hairpins(t, d)) != 0)
    return rv;
  assign_servers(t);
  return drop_capped(t);
}

int nat__replay_tag(nat__rp_rec *recs, size_t *np, uint8_t capture_point,
                    nat_replay_diag *d, nat_obslog *log) {
  tagger t;
  size_t i, a, b, n, g = 0;
  int rv = tagger_start(&t, recs, *np, d);
  if (rv != 0) {
    tagger_free(&t);
    return rv;
  }
  d->server_overflow += t.dropped;
  d->obs_dropped += t.dropped;
  n = *np = t.n;
  for (i = 0; i < n; i++) {
    recs[i].tags = 0;
    t.by_sock[i] = &recs[i];
  }
  if (n > 0)
    qsort(t.by_sock, n, sizeof *t.by_sock, cmp_sock);
  for (a = 0; a < n; a = b) {
    for (b = a; b < n && nat__addr_cmp(&t.by_sock[b]->o.local,
                                       &t.by_sock[a]->o.local) == 0;
         b++)
      ;
    tag_socket(&t, t.by_sock + a, b - a, ++g);
  }
  nat__rp_lifetime_probes(&t);
  index_free(&t.ix); /* not needed any more: lower the peak of emit() */
  tag_alloc_and_basic(&t);
  ensure_basic(&t);
  for (i = 0; i < n; i++)
    if (recs[i].flags & NAT__REC_LIFE)
      recs[i].tags |= TAG(NAT_OBS_LIFETIME);
  d->nservers = t.nsrv;
  measurable(&t, capture_point, d);
  a = nat_obslog_count(log);
  rv = emit(&t, log);
  if (rv == 0)
    rv = nat__replay_alloc_decides(log, a, d);
  tagger_free(&t);
  return rv;
}
