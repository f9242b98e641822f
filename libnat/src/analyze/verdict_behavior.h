/* libnat -- helpers shared by the behaviour analyzers, mapping
 * (verdict_mapping.c) and filtering (verdict_filtering.c): the sockets of
 * the index. */
#ifndef NAT_VERDICT_BEHAVIOR_H
#define NAT_VERDICT_BEHAVIOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/addr.h"
#include "verdict_internal.h"

static inline bool nat__concrete_local(const nat_addr *a) {
  return a->family != NAT_AF_NONE && a->port != 0;
}

/* The local socket of observation @p i if @p i is the first of @p test
 * from that socket and the socket is a concrete one of family @p fam
 * (nat__first_of_test() ran for @p test), else NAT__NONE. */
static inline uint32_t nat__first_of_socket(const nat__vindex *ix, size_t i,
                                            uint8_t test, uint8_t fam) {
  const nat_obs *o = &ix->log->v[i];
  uint32_t g = ix->local_id[i];
  if (o->test != test || o->local.family != fam ||
      !nat__concrete_local(&o->local) || g == NAT__NONE || ix->first_of[g] != i)
    return NAT__NONE;
  return g;
}

/* Observation @p k of a socket's list (nat__vindex.sock_obs). */
static inline const nat_obs *nat__sock_at(const nat__vindex *ix, size_t k) {
  return &ix->log->v[ix->sock_obs[k]];
}

static inline size_t nat__obs_index(const nat__vindex *ix, const nat_obs *o) {
  return (size_t)(o - ix->log->v);
}

/* Fill ix->first_of: per local socket, its first observation of @p test
 * (NAT__NONE if none). */
void nat__first_of_test(nat__vindex *ix, uint8_t test);

#endif
