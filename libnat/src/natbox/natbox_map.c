/* libnat -- the NAT model's tables: mappings (hashed by internal key and by
 * external endpoint), permits (remotes a mapping sent to, for filtering),
 * internal hosts (paired pooling, per-host counters), and expiry.
 *
 * Pools grow by doubling up to their maximum and are then rehashed; entries
 * are addressed by index, so growth never invalidates a stored reference. */
#include <stdlib.h>
#include <string.h>

#include "natbox_internal.h"

#define NIL        NAT__NB_NIL
#define INIT_CAP   64u
#define SALT_EXT   0x5bd1e9955bd1e995ULL
#define SALT_PERM  0xc6a4a7935bd1e995ULL
#define SALT_HOST  0x27d4eb2f165667c5ULL
#define KEY2(a, p) ((uint64_t)(a) << 16 | (uint64_t)(p))

/* ---- generic helpers ---------------------------------------------- */

/* A view of the links of one list inside a pool of structs. */
typedef struct lview {
  char *base;
  size_t stride, off;
} lview;

static nat__nb_link *lk(lview v, uint32_t i) {
  return (nat__nb_link *)(void *)(v.base + v.stride * i + v.off);
}

static void list_remove(nat__nb_list *l, lview v, uint32_t i) {
  nat__nb_link *e = lk(v, i);
  if (e->prev != NIL)
    lk(v, e->prev)->next = e->next;
  else
    l->head = e->next;
  if (e->next != NIL)
    lk(v, e->next)->prev = e->prev;
  else
    l->tail = e->prev;
  e->prev = e->next = NIL;
}

static void list_append(nat__nb_list *l, lview v, uint32_t i) {
  nat__nb_link *e = lk(v, i);
  e->prev = l->tail;
  e->next = NIL;
  if (l->tail != NIL)
    lk(v, l->tail)->next = i;
  else
    l->head = i;
  l->tail = i;
}

static lview map_lru_view(const nat_box *b) {
  lview v = {(char *)b->maps, sizeof(nat__nb_map), offsetof(nat__nb_map, lru)};
  return v;
}

static lview pm_lru_view(const nat_box *b) {
  lview v = {(char *)b->pms, sizeof(nat__nb_permit),
             offsetof(nat__nb_permit, lru)};
  return v;
}

static uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

static uint32_t next_cap(const nat__nb_pool *p) {
  if (p->cap == 0)
    return p->max < INIT_CAP ? p->max : INIT_CAP;
  uint32_t c = p->cap * 2;
  return c > p->max || c < p->cap ? p->max : c;
}

/* Fresh bucket array for @p cap entries (load factor <= 1/2). */
static uint32_t *new_buckets(uint32_t cap, uint32_t *mask) {
  uint32_t n = pow2_at_least(cap * 2);
  uint32_t *bk = malloc(sizeof *bk * n);
  if (bk) {
    memset(bk, 0xff, sizeof *bk * n);
    *mask = n - 1;
  }
  return bk;
}

/* ---- mappings ----------------------------------------------------- */

static uint32_t key_slot(const nat_box *b, uint32_t iip, uint16_t iport,
                         uint32_t kdip, uint16_t kdport) {
  return nat__nb_hash(b->salt, KEY2(iip, iport), KEY2(kdip, kdport)) &
         b->mp.mask;
}

static uint32_t ext_slot(const nat_box *b, unsigned eidx, uint16_t eport,
                         uint32_t rip, uint16_t rport) {
  return nat__nb_hash(b->salt ^ SALT_EXT, KEY2(eidx, eport), KEY2(rip, rport)) &
         b->mp.mask;
}

/* The remote part of a mapping's external key: with overloading several
 * mappings share a port and are told apart by their remote. */
static void ext_remote(const nat_box *b, const nat__nb_map *m, uint32_t *rip,
                       uint16_t *rport) {
  *rip = b->overload ? m->key_dip : 0;
  *rport = b->overload ? m->key_dport : 0;
}

static void map_link(nat_box *b, uint32_t mi) {
  nat__nb_map *m = &b->maps[mi];
  uint32_t rip;
  uint16_t rport;
  uint32_t s = key_slot(b, m->int_ip, m->int_port, m->key_dip, m->key_dport);
  m->key_next = b->mp.bkt[s];
  b->mp.bkt[s] = mi;
  ext_remote(b, m, &rip, &rport);
  s = ext_slot(b, m->ext_idx, m->ext_port, rip, rport);
  m->ext_next = b->ext_bkt[s];
  b->ext_bkt[s] = mi;
}

static void map_unlink(nat_box *b, uint32_t mi) {
  nat__nb_map *m = &b->maps[mi];
  uint32_t rip;
  uint16_t rport;
  uint32_t *pp =
      &b->mp.bkt[key_slot(b, m->int_ip, m->int_port, m->key_dip, m->key_dport)];
  while (*pp != mi)
    pp = &b->maps[*pp].key_next;
  *pp = m->key_next;
  ext_remote(b, m, &rip, &rport);
  pp = &b->ext_bkt[ext_slot(b, m->ext_idx, m->ext_port, rip, rport)];
  while (*pp != mi)
    pp = &b->maps[*pp].ext_next;
  *pp = m->ext_next;
}

static int maps_grow(nat_box *b) {
  uint32_t cap = next_cap(&b->mp), mask = 0, mask2 = 0;
  if (cap <= b->mp.cap)
    return -1;
  nat__nb_map *nm = realloc(b->maps, sizeof *nm * cap);
  if (!nm)
    return -1;
  b->maps = nm;
  uint32_t *bk = new_buckets(cap, &mask), *ek = new_buckets(cap, &mask2);
  if (!bk || !ek) {
    free(bk);
    free(ek);
    return -1;
  }
  free(b->mp.bkt);
  free(b->ext_bkt);
  b->mp.bkt = bk;
  b->ext_bkt = ek;
  b->mp.mask = mask;
  for (uint32_t i = 0; i < b->mp.cap; i++)
    if (b->maps[i].live)
      map_link(b, i);
  for (uint32_t i = cap; i-- > b->mp.cap;) {
    memset(&b->maps[i], 0, sizeof b->maps[i]);
    b->maps[i].key_next = b->mp.free;
    b->mp.free = i;
  }
  b->mp.cap = cap;
  return 0;
}

/** The live mapping with internal key (iip:iport, kdip:kdport), or NIL. */
uint32_t nat__nb_map_find(const nat_box *b, uint32_t iip, uint16_t iport,
                          uint32_t kdip, uint16_t kdport) {
  uint32_t i = b->mp.bkt[key_slot(b, iip, iport, kdip, kdport)];
  while (i != NIL) {
    const nat__nb_map *m = &b->maps[i];
    if (m->int_ip == iip && m->int_port == iport && m->key_dip == kdip &&
        m->key_dport == kdport)
      return i;
    i = m->key_next;
  }
  return NIL;
}

/** The live mapping on external endpoint (eidx, eport) whose external key
 * remote is rip:rport (0:0 unless overloading), or NIL. */
uint32_t nat__nb_ext_find(const nat_box *b, unsigned eidx, uint16_t eport,
                          uint32_t rip, uint16_t rport) {
  uint32_t i = b->ext_bkt[ext_slot(b, eidx, eport, rip, rport)];
  while (i != NIL) {
    const nat__nb_map *m = &b->maps[i];
    uint32_t mrip;
    uint16_t mrport;
    ext_remote(b, m, &mrip, &mrport);
    if (m->ext_idx == eidx && m->ext_port == eport && mrip == rip &&
        mrport == rport)
      return i;
    i = m->ext_next;
  }
  return NIL;
}

/** Mark mapping @p mi active now (moves it to the end of the expiry list). */
void nat__nb_map_touch(nat_box *b, uint32_t mi) {
  b->maps[mi].last = b->now;
  if (b->map_lru.tail != mi) {
    list_remove(&b->map_lru, map_lru_view(b), mi);
    list_append(&b->map_lru, map_lru_view(b), mi);
  }
}

/* ---- permits ------------------------------------------------------ */

static uint32_t pm_slot(const nat_box *b, uint32_t mi, uint32_t rip,
                        uint16_t rport) {
  return nat__nb_hash(b->salt ^ SALT_PERM, mi, KEY2(rip, rport)) & b->pp.mask;
}

static void pm_link(nat_box *b, uint32_t pi) {
  nat__nb_permit *p = &b->pms[pi];
  uint32_t s = pm_slot(b, p->map, p->rip, p->rport);
  p->hnext = b->pp.bkt[s];
  b->pp.bkt[s] = pi;
}

static void permit_destroy(nat_box *b, uint32_t pi) {
  nat__nb_permit *p = &b->pms[pi];
  uint32_t *pp = &b->pp.bkt[pm_slot(b, p->map, p->rip, p->rport)];
  while (*pp != pi)
    pp = &b->pms[*pp].hnext;
  *pp = p->hnext;
  list_remove(&b->pm_lru, pm_lru_view(b), pi);
  if (p->owner.prev != NIL)
    b->pms[p->owner.prev].owner.next = p->owner.next;
  else
    b->maps[p->map].permits = p->owner.next;
  if (p->owner.next != NIL)
    b->pms[p->owner.next].owner.prev = p->owner.prev;
  p->live = false;
  p->hnext = b->pp.free;
  b->pp.free = pi;
  b->pp.count--;
}

static int permits_grow(nat_box *b) {
  uint32_t cap = next_cap(&b->pp), mask = 0;
  if (cap <= b->pp.cap)
    return -1;
  nat__nb_permit *np = realloc(b->pms, sizeof *np * cap);
  if (!np)
    return -1;
  b->pms = np;
  uint32_t *bk = new_buckets(cap, &mask);
  if (!bk)
    return -1;
  free(b->pp.bkt);
  b->pp.bkt = bk;
  b->pp.mask = mask;
  for (uint32_t i = 0; i < b->pp.cap; i++)
    if (b->pms[i].live)
      pm_link(b, i);
  for (uint32_t i = cap; i-- > b->pp.cap;) {
    memset(&b->pms[i], 0, sizeof b->pms[i]);
    b->pms[i].hnext = b->pp.free;
    b->pp.free = i;
  }
  b->pp.cap = cap;
  return 0;
}

/** The live permit of mapping @p mi for rip:rport, or NIL. */
uint32_t nat__nb_permit_find(const nat_box *b, uint32_t mi, uint32_t rip,
                             uint16_t rport) {
  uint32_t i = b->pp.bkt[pm_slot(b, mi, rip, rport)];
  while (i != NIL) {
    const nat__nb_permit *p = &b->pms[i];
    if (p->map == mi && p->rip == rip && p->rport == rport)
      return i;
    i = p->hnext;
  }
  return NIL;
}

/** Mark permit @p pi active now. */
void nat__nb_permit_touch(nat_box *b, uint32_t pi) {
  b->pms[pi].last = b->now;
  if (b->pm_lru.tail != pi) {
    list_remove(&b->pm_lru, pm_lru_view(b), pi);
    list_append(&b->pm_lru, pm_lru_view(b), pi);
  }
}

/** Record that mapping @p mi sent to rip:rport now (create or refresh the
 * permit). When the pool is at its maximum the oldest permit is evicted. */
void nat__nb_permit_note(nat_box *b, uint32_t mi, uint32_t rip,
                         uint16_t rport) {
  uint32_t pi = nat__nb_permit_find(b, mi, rip, rport);
  if (pi != NIL) {
    nat__nb_permit_touch(b, pi);
    return;
  }
  if (b->pp.free == NIL && permits_grow(b) != 0) {
    if (b->pm_lru.head == NIL)
      return;
    permit_destroy(b, b->pm_lru.head);
  }
  pi = b->pp.free;
  nat__nb_permit *p = &b->pms[pi];
  b->pp.free = p->hnext;
  b->pp.count++;
  p->map = mi;
  p->rip = rip;
  p->rport = rport;
  p->live = true;
  p->last = b->now;
  pm_link(b, pi);
  list_append(&b->pm_lru, pm_lru_view(b), pi);
  p->owner.prev = NIL;
  p->owner.next = b->maps[mi].permits;
  if (p->owner.next != NIL)
    b->pms[p->owner.next].owner.prev = pi;
  b->maps[mi].permits = pi;
}

/* ---- hosts -------------------------------------------------------- */

static uint32_t host_slot(const nat_box *b, uint32_t ip) {
  return nat__nb_hash(b->salt ^ SALT_HOST, ip, 0) & b->hp.mask;
}

static void host_relink_all(nat_box *b) {
  memset(b->hp.bkt, 0xff, sizeof *b->hp.bkt * ((size_t)b->hp.mask + 1));
  for (uint32_t i = 0; i < b->hp.cap; i++) {
    if (!b->hosts[i].live)
      continue;
    uint32_t s = host_slot(b, b->hosts[i].ip);
    b->hosts[i].hnext = b->hp.bkt[s];
    b->hp.bkt[s] = i;
  }
}

/* Make room for one host: grow, or forget hosts that hold no mapping
 * (rare: only with more internal hosts than max_mappings). */
static int hosts_make_room(nat_box *b) {
  uint32_t cap = next_cap(&b->hp), mask = 0;
  if (cap > b->hp.cap) {
    nat__nb_host *nh = realloc(b->hosts, sizeof *nh * cap);
    uint32_t *bk = nh ? new_buckets(cap, &mask) : NULL;
    if (nh)
      b->hosts = nh;
    if (!bk)
      return -1;
    free(b->hp.bkt);
    b->hp.bkt = bk;
    b->hp.mask = mask;
    for (uint32_t i = cap; i-- > b->hp.cap;) {
      memset(&b->hosts[i], 0, sizeof b->hosts[i]);
      b->hosts[i].hnext = b->hp.free;
      b->hp.free = i;
    }
    b->hp.cap = cap;
    host_relink_all(b);
    return 0;
  }
  for (uint32_t i = 0; i < b->hp.cap; i++) {
    if (b->hosts[i].live && b->hosts[i].nmappings == 0) {
      b->hosts[i].live = false;
      b->hp.count--;
    }
  }
  host_relink_all(b);
  for (uint32_t i = b->hp.cap; i-- > 0;) {
    if (!b->hosts[i].live) {
      b->hosts[i].hnext = b->hp.free;
      b->hp.free = i;
    }
  }
  return b->hp.free == NIL ? -1 : 0;
}

static int host_get(nat_box *b, uint32_t ip, uint32_t *out) {
  uint32_t i = b->hp.bkt[host_slot(b, ip)];
  for (; i != NIL; i = b->hosts[i].hnext) {
    if (b->hosts[i].ip == ip) {
      *out = i;
      return 0;
    }
  }
  if (b->hp.free == NIL && hosts_make_room(b) != 0)
    return -1;
  i = b->hp.free;
  nat__nb_host *h = &b->hosts[i];
  b->hp.free = h->hnext;
  b->hp.count++;
  memset(h, 0, sizeof *h);
  h->ip = ip;
  h->live = true;
  if (b->cfg.npublic > 1 && !b->cfg.pooling_arbitrary)
    h->ext_idx = (uint8_t)nat__nb_rand_below(b, b->cfg.npublic);
  uint32_t s = host_slot(b, ip);
  h->hnext = b->hp.bkt[s];
  b->hp.bkt[s] = i;
  *out = i;
  return 0;
}

/* ---- lifecycle ---------------------------------------------------- */

/** Room for one more mapping of internal host @p iip: 0 with *hi set to
 * its host (created when new), or -1 (max_mappings reached, no memory). */
int nat__nb_map_reserve(nat_box *b, uint32_t iip, uint32_t *hi) {
  if (b->st.mappings_live >= b->cfg.max_mappings || host_get(b, iip, hi))
    return -1;
  if (b->mp.free == NIL && maps_grow(b) != 0)
    return -1;
  return 0;
}

/** Insert a mapping of host @p hi (room made by nat__nb_map_reserve())
 * on external endpoint (@p eidx, @p eport). @return its index. */
uint32_t nat__nb_map_insert(nat_box *b, uint32_t hi, uint32_t iip,
                            uint16_t iport, uint32_t kdip, uint16_t kdport,
                            unsigned eidx, uint16_t eport) {
  nat__nb_host *h = &b->hosts[hi];
  uint32_t mi = b->mp.free;
  nat__nb_map *m = &b->maps[mi];
  b->mp.free = m->key_next;
  b->mp.count++;
  memset(m, 0, sizeof *m);
  m->int_ip = iip;
  m->int_port = iport;
  m->key_dip = kdip;
  m->key_dport = kdport;
  m->ext_idx = (uint8_t)eidx;
  m->ext_ip = b->cfg.public_ip[eidx];
  m->ext_port = eport;
  m->host = hi;
  m->live = true;
  m->last = b->now;
  m->permits = NIL;
  map_link(b, mi);
  list_append(&b->map_lru, map_lru_view(b), mi);
  b->inuse[eidx][eport - b->cfg.port_min]++;
  h->nmappings++;
  b->st.mappings_created++;
  b->st.mappings_live++;
  return mi;
}

/** Give back host @p h's port block (its last mapping is gone). */
void nat__nb_block_release(nat_box *b, nat__nb_host *h) {
  if (h->block == 0)
    return;
  b->block_used[h->block - 1] &= (uint8_t)~h->block_ips;
  h->block = 0;
  h->block_ips = 0;
}

static void map_destroy(nat_box *b, uint32_t mi) {
  nat__nb_map *m = &b->maps[mi];
  map_unlink(b, mi);
  list_remove(&b->map_lru, map_lru_view(b), mi);
  b->inuse[m->ext_idx][m->ext_port - b->cfg.port_min]--;
  if (--b->hosts[m->host].nmappings == 0)
    nat__nb_block_release(b, &b->hosts[m->host]);
  while (m->permits != NIL)
    permit_destroy(b, m->permits);
  m->live = false;
  m->key_next = b->mp.free;
  b->mp.free = mi;
  b->mp.count--;
  b->st.mappings_live--;
  b->st.mappings_expired++;
}

/** Expire every mapping and permit idle for the timeout at b->now. */
void nat__nb_expire(nat_box *b) {
  nat_tstamp t = b->cfg.timeout;
  while (b->map_lru.head != NIL && b->now - b->maps[b->map_lru.head].last >= t)
    map_destroy(b, b->map_lru.head);
  while (b->pm_lru.head != NIL && b->now - b->pms[b->pm_lru.head].last >= t)
    permit_destroy(b, b->pm_lru.head);
}

static int pool_init(nat__nb_pool *p, uint32_t max) {
  p->max = max;
  p->cap = 0;
  p->count = 0;
  p->free = NIL;
  p->bkt = new_buckets(1, &p->mask);
  return p->bkt ? 0 : -1;
}

/** Set up empty tables (pools grow on first use). @return 0 or -1. */
int nat__nb_tables_init(nat_box *b) {
  uint32_t max = (uint32_t)b->cfg.max_mappings;
  uint64_t pmax = (uint64_t)max * 4;
  b->map_lru.head = b->map_lru.tail = NIL;
  b->pm_lru.head = b->pm_lru.tail = NIL;
  if (pool_init(&b->mp, max) ||
      pool_init(&b->pp,
                (uint32_t)(pmax > NAT__NB_MAX_ENTRIES ? NAT__NB_MAX_ENTRIES
                                                      : pmax)) ||
      pool_init(&b->hp, max))
    return -1;
  b->ext_bkt = new_buckets(1, &b->mp.mask);
  if (!b->ext_bkt)
    return -1;
  b->mp.cap = b->pp.cap = b->hp.cap = 0;
  if (maps_grow(b) || permits_grow(b) || hosts_make_room(b))
    return -1;
  return 0;
}

/** Free everything nat__nb_tables_init() and later growth allocated. */
void nat__nb_tables_free(nat_box *b) {
  free(b->maps);
  free(b->mp.bkt);
  free(b->ext_bkt);
  free(b->pms);
  free(b->pp.bkt);
  free(b->hosts);
  free(b->hp.bkt);
}
