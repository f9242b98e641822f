/* The index the verdict's analyzers share (verdict_internal.h): address
 * groups by sorting, the observations of each local socket, each server's
 * alternate address, and the "earliest element that differs" helpers that
 * replace the analyzers' nested loops. Building it is O(n log n) and
 * deterministic (no hashing an adversarial capture could flood). Pure: no
 * I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "verdict_internal.h"

/* ------------------------------------------------------------------ keys
 */

#define ADDR_KEY 19 /* family, port (2), IP (16) */
#define KEY_LEN  (2 * ADDR_KEY)

typedef struct keyrec {
  uint8_t k[KEY_LEN];
  uint32_t idx;
} keyrec;

enum { K_LOCAL, K_SERVER, K_SIP, K_MAPPED, K_SIPMAP, K_LIP };

/* Serialise @p a (its IP only unless @p port) into @p k, zero-padded, as
 * nat_addr_equal / nat_addr_equal_ip compare it. False if it has no IP. */
static bool put_addr(uint8_t *k, const nat_addr *a, bool port) {
  size_t len = nat__addr_ip_len(a);
  if (len == 0)
    return false;
  k[0] = a->family;
  k[1] = port ? (uint8_t)(a->port >> 8) : 0;
  k[2] = port ? (uint8_t)a->port : 0;
  memcpy(k + 3, a->ip, len);
  return true;
}

static bool make_key(uint8_t k[KEY_LEN], const nat_obs *o, int kind) {
  memset(k, 0, KEY_LEN);
  switch (kind) {
  case K_LOCAL:
    return put_addr(k, &o->local, true);
  case K_SERVER:
    return put_addr(k, &o->server, true);
  case K_SIP:
    return put_addr(k, &o->server, false);
  case K_MAPPED:
    return put_addr(k, &o->mapped, true);
  case K_SIPMAP:
    return put_addr(k, &o->server, false) &&
           put_addr(k + ADDR_KEY, &o->mapped, true);
  default:
    return put_addr(k, &o->local, false);
  }
}

static int cmp_key(const void *pa, const void *pb) {
  const keyrec *a = pa, *b = pb;
  return memcmp(a->k, b->k, KEY_LEN);
}

/* ids[i] = the group of observation i's key (NAT__NONE if it has none);
 * *count = the number of groups. */
static void assign_ids(const nat_obslog *log, int kind, keyrec *tmp,
                       uint32_t *ids, size_t *count) {
  size_t i, m = 0, g = 0;
  for (i = 0; i < log->n; i++) {
    ids[i] = NAT__NONE;
    if (make_key(tmp[m].k, &log->v[i], kind))
      tmp[m++].idx = (uint32_t)i;
  }
  qsort(tmp, m, sizeof *tmp, cmp_key);
  for (i = 0; i < m; i++) {
    if (i > 0 && memcmp(tmp[i].k, tmp[i - 1].k, KEY_LEN) != 0)
      g++;
    ids[tmp[i].idx] = (uint32_t)g;
  }
  *count = m > 0 ? g + 1 : 0;
}

/* ----------------------------------------------------------------- build
 */

static uint32_t *nones(size_t n) {
  uint32_t *p = malloc((n ? n : 1) * sizeof *p);
  if (p != NULL)
    memset(p, 0xff, (n ? n : 1) * sizeof *p);
  return p;
}

/* The observations of each local socket, in log order (counting sort). */
static int group_sockets(nat__vindex *ix) {
  size_t i, g;
  ix->sock_start = calloc(ix->nlocal + 1, sizeof *ix->sock_start);
  ix->sock_obs = malloc((ix->n ? ix->n : 1) * sizeof *ix->sock_obs);
  if (ix->sock_start == NULL || ix->sock_obs == NULL)
    return NAT_ENOMEM;
  for (i = 0; i < ix->n; i++)
    if (ix->local_id[i] != NAT__NONE)
      ix->sock_start[ix->local_id[i] + 1]++;
  for (g = 0; g < ix->nlocal; g++)
    ix->sock_start[g + 1] += ix->sock_start[g];
  for (g = 0; g < ix->nlocal; g++)
    ix->first_of[g] = ix->sock_start[g]; /* fill cursors */
  for (i = 0; i < ix->n; i++) {
    uint32_t id = ix->local_id[i];
    if (id != NAT__NONE)
      ix->sock_obs[ix->first_of[id]++] = (uint32_t)i;
  }
  for (g = 0; g < ix->nlocal; g++)
    ix->first_of[g] = NAT__NONE; /* back to scratch */
  return 0;
}

static bool usable_alt(const nat_addr *c, const nat_addr *server) {
  return c->family == server->family && !nat_addr_equal_ip(c, server);
}

/* Each server's first answer with a usable alternate address. */
static void find_alternates(nat__vindex *ix) {
  size_t i;
  for (i = 0; i < ix->n; i++) {
    const nat_obs *o = &ix->log->v[i];
    uint32_t s = ix->server_id[i];
    if (o->status != 0 || s == NAT__NONE)
      continue;
    if (ix->srv_answered[s] == NAT__NONE)
      ix->srv_answered[s] = (uint32_t)i;
    if (ix->srv_other[s] == NAT__NONE && o->has_other_address &&
        usable_alt(&o->other_address, &o->server))
      ix->srv_other[s] = (uint32_t)i;
    if (ix->srv_changed[s] == NAT__NONE && o->has_changed_address &&
        usable_alt(&o->changed_address, &o->server))
      ix->srv_changed[s] = (uint32_t)i;
  }
}

static int alloc_scratch(nat__vindex *ix) {
  size_t i;
  ix->srv_other = nones(ix->nserver);
  ix->srv_changed = nones(ix->nserver);
  ix->srv_answered = nones(ix->nserver);
  ix->first_of = nones(ix->nlocal);
  ix->by_mapped = malloc((ix->nmapped + 1) * sizeof *ix->by_mapped);
  ix->by_sipmap = malloc((ix->nsipmap + 1) * sizeof *ix->by_sipmap);
  ix->by_lip = malloc((ix->nlip + 1) * sizeof *ix->by_lip);
  ix->by_sip = malloc((ix->nsip + 1) * sizeof *ix->by_sip);
  if (ix->srv_other == NULL || ix->srv_changed == NULL ||
      ix->srv_answered == NULL || ix->first_of == NULL ||
      ix->by_mapped == NULL || ix->by_sipmap == NULL || ix->by_lip == NULL ||
      ix->by_sip == NULL)
    return NAT_ENOMEM;
  for (i = 0; i < ix->nmapped; i++)
    nat__avoid1_reset(&ix->by_mapped[i]);
  for (i = 0; i < ix->nsipmap; i++)
    nat__avoid1_reset(&ix->by_sipmap[i]);
  for (i = 0; i < ix->nlip; i++)
    nat__avoid1_reset(&ix->by_lip[i]);
  for (i = 0; i < ix->nsip; i++)
    nat__avoid2_reset(&ix->by_sip[i]);
  return 0;
}

static int build_ids(nat__vindex *ix) {
  uint32_t **ids[6] = {&ix->local_id,  &ix->server_id, &ix->sip_id,
                       &ix->mapped_id, &ix->sipmap_id, &ix->lip_id};
  size_t *counts[6] = {&ix->nlocal,  &ix->nserver, &ix->nsip,
                       &ix->nmapped, &ix->nsipmap, &ix->nlip};
  keyrec *tmp = malloc((ix->n ? ix->n : 1) * sizeof *tmp);
  int k;
  if (tmp == NULL)
    return NAT_ENOMEM;
  for (k = 0; k < 6; k++) {
    *ids[k] = malloc((ix->n ? ix->n : 1) * sizeof **ids[k]);
    if (*ids[k] == NULL) {
      free(tmp);
      return NAT_ENOMEM;
    }
    assign_ids(ix->log, k, tmp, *ids[k], counts[k]);
  }
  free(tmp);
  return 0;
}

int nat__vindex_build(nat__vindex *ix, const nat_obslog *log) {
  int rc;
  memset(ix, 0, sizeof *ix);
  ix->log = log;
  ix->n = nat_obslog_count(log);
  if (ix->n >= NAT__NONE || ix->n > SIZE_MAX / sizeof(keyrec))
    return NAT_ENOMEM;
  rc = build_ids(ix);
  if (rc == 0)
    rc = alloc_scratch(ix);
  if (rc == 0)
    rc = group_sockets(ix);
  if (rc != 0) {
    nat__vindex_free(ix);
    return rc;
  }
  find_alternates(ix);
  return 0;
}

void nat__vindex_free(nat__vindex *ix) {
  if (ix == NULL)
    return;
  free(ix->local_id);
  free(ix->server_id);
  free(ix->sip_id);
  free(ix->mapped_id);
  free(ix->sipmap_id);
  free(ix->lip_id);
  free(ix->sock_start);
  free(ix->sock_obs);
  free(ix->srv_other);
  free(ix->srv_changed);
  free(ix->srv_answered);
  free(ix->first_of);
  free(ix->by_mapped);
  free(ix->by_sipmap);
  free(ix->by_lip);
  free(ix->by_sip);
  memset(ix, 0, sizeof *ix);
}

bool nat__vindex_other_of(const nat__vindex *ix, size_t i, nat_addr *oa) {
  uint32_t s = ix->server_id[i];
  if (s == NAT__NONE)
    return false;
  if (ix->srv_other[s] != NAT__NONE) {
    *oa = ix->log->v[ix->srv_other[s]].other_address;
    return true;
  }
  if (ix->srv_changed[s] != NAT__NONE) {
    *oa = ix->log->v[ix->srv_changed[s]].changed_address;
    return true;
  }
  return false;
}

/* ------------------------------------------- earliest element that differs
 */

static const nat_obs *at(const nat_obslog *log, uint32_t i) {
  return &log->v[i];
}

void nat__avoid1_reset(nat__avoid1 *av) {
  av->first = av->other = NAT__NONE;
}

uint32_t nat__avoid1_find(const nat__avoid1 *av, const nat_obslog *log,
                          const nat_obs *o, nat__obs_eq eq) {
  if (av->first == NAT__NONE)
    return NAT__NONE;
  /* equal to the first: the elements that differ from o are those that
   * differ from the first */
  return eq(at(log, av->first), o) ? av->other : av->first;
}

void nat__avoid1_add(nat__avoid1 *av, const nat_obslog *log, uint32_t i,
                     nat__obs_eq eq) {
  if (av->first == NAT__NONE)
    av->first = i;
  else if (av->other == NAT__NONE && !eq(at(log, av->first), at(log, i)))
    av->other = i;
}

void nat__avoid2_reset(nat__avoid2 *av) {
  av->e1 = av->a = av->a2 = av->b = av->b2 = av->c = NAT__NONE;
}

/* The first of (@p p, then @p p2) that differs from @p o in @p eq: p2 is
 * the first after p that differs from p. */
static uint32_t pick(const nat_obslog *log, const nat_obs *o, uint32_t p,
                     uint32_t p2, nat__obs_eq eq) {
  if (p == NAT__NONE)
    return NAT__NONE;
  return eq(at(log, p), o) ? p2 : p;
}

uint32_t nat__avoid2_find(const nat__avoid2 *av, const nat_obslog *log,
                          const nat_obs *o, nat__obs_eq eqx, nat__obs_eq eqy) {
  bool x1, y1;
  if (av->e1 == NAT__NONE)
    return NAT__NONE;
  x1 = eqx(at(log, av->e1), o);
  y1 = eqy(at(log, av->e1), o);
  if (!x1 && !y1)
    return av->e1;
  if (x1 && !y1) /* X must differ from X(e1): a, else a2 */
    return pick(log, o, av->a, av->a2, eqy);
  if (!x1) /* Y must differ from Y(e1): b, else b2 */
    return pick(log, o, av->b, av->b2, eqx);
  return av->c;
}

void nat__avoid2_add(nat__avoid2 *av, const nat_obslog *log, uint32_t i,
                     nat__obs_eq eqx, nat__obs_eq eqy) {
  const nat_obs *e1, *o = at(log, i);
  bool dx, dy;
  if (av->e1 == NAT__NONE) {
    av->e1 = i;
    return;
  }
  e1 = at(log, av->e1);
  dx = !eqx(e1, o);
  dy = !eqy(e1, o);
  if (dx && av->a == NAT__NONE)
    av->a = i;
  else if (dx && av->a2 == NAT__NONE && !eqy(at(log, av->a), o))
    av->a2 = i;
  if (dy && av->b == NAT__NONE)
    av->b = i;
  else if (dy && av->b2 == NAT__NONE && !eqx(at(log, av->b), o))
    av->b2 = i;
  if (dx && dy && av->c == NAT__NONE)
    av->c = i;
}
