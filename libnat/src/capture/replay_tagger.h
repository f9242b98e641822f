/* libnat -- the replay's tagger state (replay_tag.c), shared with the
 * RESPONSE-PORT rules (replay_life.c: lifetime probes, change answers
 * delivered elsewhere). Private to those two files. */
#ifndef NAT_REPLAY_TAGGER_H
#define NAT_REPLAY_TAGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/addr.h"
#include "nat/obs.h"
#include "replay_rec.h"

#define TAG(t) ((uint8_t)(1u << (t)))
/* a tag that emits nothing: the record is left out of the log */
#define TAG_LEFT_OUT 0x80u
#define NONE         UINT32_MAX

enum { ROLE_NONE = 0, ROLE_PRIMARY = 1, ROLE_ALT = 2 };

typedef struct tag_srv {
  nat_addr primary;
  bool has_alt;
  nat_addr alt; /* OTHER-ADDRESS / CHANGED-ADDRESS */
  bool has_basic;
  size_t alloc_sockets; /* fresh sockets that asked only this server */
  size_t multi_sockets; /* netcheck's multi-destination ones (shape_of) */
  size_t stamp_prim, stamp_alt; /* last socket (group) that asked them */
  nat__rp_rec *pick;            /* ensure_basic()'s choice */
} tag_srv;

/* One address of the index and where it came from (before dedup). */
typedef struct ix_ent {
  nat_addr a;
  uint32_t ref; /* record index * 2, + 1 for a mapped address */
} ix_ent;

/* The addresses of the records, sorted (no hashing a hostile capture
 * could flood): every destination, and every answered mapped address.
 * An address with no IP has no id: it equals nothing (nat_addr_equal). */
typedef struct addr_index {
  ix_ent *u;           /* the distinct addresses, sorted */
  size_t nu;           /* how many */
  uint32_t *dst_id;    /* per record: the id of its destination, or NONE */
  uint32_t *prim_of;   /* per id: the server it is the primary of */
  uint32_t *alt_of;    /* per id: the lowest server it is an alternate of */
  uint32_t *first_map; /* per id: the first answered record mapped to it */
} addr_index;

typedef struct tagger {
  nat__rp_rec *recs;
  size_t n;
  tag_srv *srv;
  size_t nsrv;
  nat__rp_rec **by_sock;
  addr_index ix;
  nat_addr *ips;  /* scratch: one socket's destination IPs (lazy) */
  size_t dropped; /* records whose server would be beyond the cap */
  bool filtering_ok;
  size_t lifetime;     /* lifetime probes found (lifetime_probes) */
  size_t rport_checks; /* answer_elsewhere_unproven()'s scans */
} tagger;

static inline bool answered(const nat_obs *o) {
  return o->status == 0 && o->has_mapped;
}

static inline bool plain(const nat__rp_rec *r) {
  return !nat__rp_changes(r->o.change_flags) && !(r->flags & NAT__REC_HAIRPIN);
}

/* The source of a response as the analyzer reads it: where it came
 * from, else RESPONSE-ORIGIN. */
static inline const nat_addr *resp_source(const nat_obs *o) {
  if (o->from.family != NAT_AF_NONE)
    return &o->from;
  return o->has_response_origin ? &o->response_origin : NULL;
}

/* The id of address @p a in @p ix, or NONE if no record has it. */
uint32_t nat__rp_index_find(const addr_index *ix, const nat_addr *a);

/* Lifetime probes (replay_life.c): mark NAT__REC_LIFE and set o.idle on
 * RESPONSE-PORT requests answered at (or lost on the way to) an idle
 * socket; counts them in t->lifetime. Needs t->ix and t->by_sock. */
void nat__rp_lifetime_probes(tagger *t);

/* A change request whose answer was asked at another socket and proves
 * nothing about the requesting one's filter (replay_life.c): to be left
 * out of the log. @p mport: the requesting socket's mapped port, 0 if not
 * known. Needs t->by_sock. */
bool nat__rp_answer_elsewhere_unproven(tagger *t, const nat__rp_rec *r,
                                       uint16_t mport);

#endif
