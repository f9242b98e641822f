/* Replay, the end: which RFC 5780 test each transaction belonged to,
 * what the capture can measure, and the observation log (nat/replay.h).
 * Pure: no I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/replay.h"
#include "replay_internal.h"

#define TAG(t) ((uint8_t)(1u << (t)))

enum { ROLE_NONE = 0, ROLE_PRIMARY = 1, ROLE_ALT = 2 };

typedef struct tag_srv {
  nat_addr primary;
  bool has_alt;
  nat_addr alt; /* OTHER-ADDRESS / CHANGED-ADDRESS */
  bool has_basic;
  size_t alloc_sockets; /* fresh sockets that asked only this server */
  size_t stamp_prim, stamp_alt, stamp_prim_ans, stamp_alt_ans;
} tag_srv;

typedef struct tagger {
  nat__rp_rec *recs;
  size_t n;
  tag_srv *srv;
  size_t nsrv;
  nat__rp_rec **by_sock;
  bool mapping_ok, filtering_ok;
} tagger;

static bool answered(const nat_obs *o) {
  return o->status == 0 && o->has_mapped;
}

static bool plain(const nat__rp_rec *r) {
  return !nat__rp_changes(r->o.change_flags) && !(r->flags & NAT__REC_HAIRPIN);
}

static int cmp_sent(const void *a, const void *b) {
  const nat__rp_rec *x = a, *y = b;
  if (x->o.sent_at != y->o.sent_at)
    return x->o.sent_at < y->o.sent_at ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_addr(const nat_addr *a, const nat_addr *b) {
  int c;
  if (a->family != b->family)
    return a->family < b->family ? -1 : 1;
  c = memcmp(a->ip, b->ip, sizeof a->ip);
  if (c != 0)
    return c;
  return a->port < b->port ? -1 : a->port > b->port;
}

/* By local socket, then in sent order (the records are sorted already,
 * so their position is the tiebreak). */
static int cmp_sock(const void *a, const void *b) {
  const nat__rp_rec *x = *(nat__rp_rec *const *)a;
  const nat__rp_rec *y = *(nat__rp_rec *const *)b;
  int c = cmp_addr(&x->o.local, &y->o.local);
  if (c != 0)
    return c;
  return x < y ? -1 : x > y;
}

/* The alternates of a server: IP2:P2, IP2:P1, IP1:P2. */
static bool is_alt_of(const tag_srv *s, const nat_addr *d) {
  nat_addr a;
  if (!s->has_alt || d->family != s->primary.family)
    return false;
  if (nat_addr_equal(d, &s->alt))
    return true;
  a = s->alt;
  a.port = s->primary.port;
  if (nat_addr_equal(d, &a))
    return true;
  a = s->primary;
  a.port = s->alt.port;
  return nat_addr_equal(d, &a);
}

/* The server and role of destination @p d; adds a server if @p add. */
static size_t find_server(tagger *t, const nat_addr *d, bool add,
                          uint8_t *role) {
  size_t i;
  for (i = 0; i < t->nsrv; i++) {
    if (nat_addr_equal(&t->srv[i].primary, d)) {
      *role = ROLE_PRIMARY;
      return i;
    }
  }
  for (i = 0; i < t->nsrv; i++) {
    if (is_alt_of(&t->srv[i], d)) {
      *role = ROLE_ALT;
      return i;
    }
  }
  *role = ROLE_NONE;
  if (!add)
    return SIZE_MAX;
  memset(&t->srv[t->nsrv], 0, sizeof t->srv[t->nsrv]);
  t->srv[t->nsrv].primary = *d;
  *role = ROLE_PRIMARY;
  return t->nsrv++;
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
    s = find_server(t, &o->server, true, &r->role);
    r->o.server_idx = (uint16_t)s;
    if (r->role == ROLE_PRIMARY && !t->srv[s].has_alt &&
        (o->has_other_address || o->has_changed_address)) {
      t->srv[s].has_alt = true;
      t->srv[s].alt =
          o->has_other_address ? o->other_address : o->changed_address;
    }
  }
  for (i = 0; i < t->n; i++) {
    nat__rp_rec *r = &t->recs[i];
    if (nat__rp_changes(r->o.change_flags)) {
      s = find_server(t, &r->o.server, true, &r->role);
      r->o.server_idx = (uint16_t)s;
    }
  }
}

/* A hairpin request belongs to the server that reported the mapped
 * address it was sent to. */
static void assign_hairpin(tagger *t, nat__rp_rec *h) {
  size_t i;
  h->tags |= TAG(NAT_OBS_HAIRPIN);
  for (i = 0; i < t->n; i++) {
    const nat_obs *o = &t->recs[i].o;
    if (answered(o) && nat_addr_equal(&o->mapped, &h->o.server)) {
      h->o.server_idx = o->server_idx;
      return;
    }
  }
}

/* Tag one socket's records by[0..k): filtering, mapping, the rest basic;
 * a fresh socket that only asked one destination is an allocation
 * candidate (tagged later, when the count across sockets is known). */
static void tag_socket(tagger *t, nat__rp_rec **by, size_t k, size_t g) {
  size_t i, fsrv = SIZE_MAX;
  bool single = true;
  const nat_addr *first_ans = NULL;
  for (i = 0; i < k; i++) {
    nat__rp_rec *r = by[i];
    tag_srv *s = &t->srv[r->o.server_idx];
    if (r->flags & NAT__REC_HAIRPIN) {
      assign_hairpin(t, r);
      single = false;
      continue;
    }
    if (nat__rp_changes(r->o.change_flags)) {
      fsrv = r->o.server_idx;
      single = false;
      continue;
    }
    if (!nat_addr_equal(&r->o.server, &by[0]->o.server))
      single = false;
    if (r->role == ROLE_PRIMARY)
      s->stamp_prim = g;
    else
      s->stamp_alt = g;
    if (!answered(&r->o))
      continue;
    if (r->role == ROLE_PRIMARY)
      s->stamp_prim_ans = g;
    else
      s->stamp_alt_ans = g;
    if (first_ans == NULL)
      first_ans = &r->o.server;
    else if (!nat_addr_equal(first_ans, &r->o.server))
      t->mapping_ok = true; /* different destinations, both answered */
  }
  for (i = 0; i < k; i++) {
    nat__rp_rec *r = by[i];
    tag_srv *s = &t->srv[r->o.server_idx];
    if (r->flags & NAT__REC_HAIRPIN)
      continue;
    if (r->o.server_idx == fsrv &&
        (nat__rp_changes(r->o.change_flags) || r->role == ROLE_PRIMARY)) {
      r->tags |= TAG(NAT_OBS_FILTERING);
      if (r->role == ROLE_PRIMARY && answered(&r->o) &&
          !nat__rp_changes(r->o.change_flags))
        t->filtering_ok = true;
    }
    if (plain(r) && s->stamp_prim == g && s->stamp_alt == g)
      r->tags |= TAG(NAT_OBS_MAPPING);
    if (s->stamp_prim_ans == g && s->stamp_alt_ans == g)
      t->mapping_ok = true;
  }
  if (single && by[0]->role == ROLE_PRIMARY)
    t->srv[by[0]->o.server_idx].alloc_sockets++;
}

/* Second look at the fresh sockets: two or more asking the same server
 * make an allocation test; then untagged records are basic. */
static void tag_alloc_and_basic(tagger *t) {
  size_t a = 0, b, i;
  while (a < t->n) {
    bool single = true;
    nat__rp_rec *r0 = t->by_sock[a];
    for (b = a;
         b < t->n && cmp_addr(&t->by_sock[b]->o.local, &r0->o.local) == 0;
         b++) {
      nat__rp_rec *r = t->by_sock[b];
      if (!plain(r) || !nat_addr_equal(&r->o.server, &r0->o.server))
        single = false;
    }
    if (single && r0->role == ROLE_PRIMARY &&
        t->srv[r0->o.server_idx].alloc_sockets >= 2)
      for (i = a; i < b; i++)
        t->by_sock[i]->tags |= TAG(NAT_OBS_ALLOCATION);
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
 * primary address (the first answered one if any) as one. */
static void ensure_basic(tagger *t) {
  size_t s, i;
  for (s = 0; s < t->nsrv; s++) {
    nat__rp_rec *pick = NULL;
    if (t->srv[s].has_basic)
      continue;
    for (i = 0; i < t->n; i++) {
      nat__rp_rec *r = &t->recs[i];
      if (r->o.server_idx != s || !plain(r) || r->role != ROLE_PRIMARY)
        continue;
      if (pick == NULL || (answered(&r->o) && !answered(&pick->o)))
        pick = r;
      if (answered(&pick->o))
        break;
    }
    if (pick != NULL)
      pick->tags |= TAG(NAT_OBS_BASIC);
  }
}

static int emit(const tagger *t, nat_obslog *log) {
  size_t i;
  uint8_t test;
  for (i = 0; i < t->n; i++) {
    nat_obs o = t->recs[i].o;
    for (test = NAT_OBS_BASIC; test <= NAT_OBS_ALLOCATION; test++) {
      if (!(t->recs[i].tags & TAG(test)))
        continue;
      o.test = test;
      if (nat_obslog_append(log, &o) != 0)
        return NAT_ENOMEM;
    }
  }
  return 0;
}

/* The measurable bits, from the tags and where the capture was taken. */
static void measurable(const tagger *t, uint8_t point, nat_replay_diag *d) {
  size_t i, alloc = 0;
  bool basic = false, any_mapped = false, hairpin = false;
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
      if (!nat_addr_equal(&r->o.mapped, &r->o.local))
        d->saw_translation = true;
    }
  }
  d->inside = point == NAT_REPLAY_AT_CLIENT ||
              (point == NAT_REPLAY_AUTO && d->saw_translation);
  d->measurable = 0;
  if (basic)
    d->measurable |= NAT_REPLAY_M_BASIC;
  if (d->inside && any_mapped)
    d->measurable |= NAT_REPLAY_M_NAT;
  if (t->mapping_ok)
    d->measurable |= NAT_REPLAY_M_MAPPING;
  if (d->inside && t->filtering_ok)
    d->measurable |= NAT_REPLAY_M_FILTERING;
  if (d->inside && hairpin)
    d->measurable |= NAT_REPLAY_M_HAIRPIN;
  if (d->inside && alloc >= 2)
    d->measurable |= NAT_REPLAY_M_ALLOCATION;
}

int nat__replay_tag(nat__rp_rec *recs, size_t n, uint8_t capture_point,
                    nat_replay_diag *d, nat_obslog *log) {
  tagger t;
  size_t i, a, b, g = 0;
  int rv;
  memset(&t, 0, sizeof t);
  t.recs = recs;
  t.n = n;
  if (n > 0) {
    qsort(recs, n, sizeof *recs, cmp_sent);
    t.srv = calloc(n, sizeof *t.srv);
    t.by_sock = malloc(n * sizeof *t.by_sock);
    if (t.srv == NULL || t.by_sock == NULL) {
      free(t.srv);
      free(t.by_sock);
      return NAT_ENOMEM;
    }
  }
  for (i = 0; i < n; i++) {
    recs[i].tags = 0;
    t.by_sock[i] = &recs[i];
  }
  assign_servers(&t);
  if (n > 0)
    qsort(t.by_sock, n, sizeof *t.by_sock, cmp_sock);
  for (a = 0; a < n; a = b) {
    for (b = a;
         b < n && cmp_addr(&t.by_sock[b]->o.local, &t.by_sock[a]->o.local) == 0;
         b++)
      ;
    tag_socket(&t, t.by_sock + a, b - a, ++g);
  }
  tag_alloc_and_basic(&t);
  ensure_basic(&t);
  d->nservers = t.nsrv;
  measurable(&t, capture_point, d);
  rv = emit(&t, log);
  free(t.srv);
  free(t.by_sock);
  return rv;
}

const char *nat_replay_why_not(const nat_replay_diag *d, uint32_t bit) {
  const char *outside = "the capture may have been taken outside the NAT, "
                        "where answers the NAT drops are still seen";
  if (d == NULL || (d->measurable & bit) != 0)
    return "";
  switch (bit) {
  case NAT_REPLAY_M_BASIC:
    return "no Binding requests from the client in the capture";
  case NAT_REPLAY_M_NAT:
    if (d->capture_point == NAT_REPLAY_OUTSIDE)
      return "captured outside the NAT: the client's own address is not "
             "in the capture";
    return d->responses == 0 ? "no request was answered"
                             : "every mapped address equals the request's "
                               "source: no NAT, or a capture taken outside "
                               "the NAT";
  case NAT_REPLAY_M_MAPPING:
    return "no socket had answers from two destinations (RFC 5780 "
           "section 4.3 probes)";
  case NAT_REPLAY_M_FILTERING:
    return d->change_requests == 0 ? "no CHANGE-REQUEST probes in the capture"
           : d->inside             ? "no answered request opened the mapping "
                                     "before the CHANGE-REQUEST probes"
                                   : outside;
  case NAT_REPLAY_M_HAIRPIN:
    return d->hairpin_requests == 0
               ? "no request to another socket's mapped address"
               : outside;
  case NAT_REPLAY_M_ALLOCATION:
    return d->inside ? "fewer than two fresh sockets asked the same server"
                     : outside;
  case NAT_REPLAY_M_LIFETIME:
    return "mapping lifetime is not inferred from captures";
  default:
    return "unknown";
  }
}
