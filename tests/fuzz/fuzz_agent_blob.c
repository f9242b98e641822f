/* Fuzz target: the punch agent's blob (src/punch/agent_blob.c): a ticket
 * and its fields, the birthday spray's among them (alloc=, seq=, range=,
 * bd=). Any input must parse or fail with NAT_ETICKET and a reason; a
 * parsed blob must encode and parse again to the same fields, and the plan
 * made from it (nat/birthday.h) must stay within the hard limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "punch/agent_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const nat_bday_side *a, const nat_bday_side *b) {
  if (a->alloc != b->alloc || a->lo != b->lo || a->hi != b->hi ||
      a->sockets != b->sockets || a->probes != b->probes ||
      a->rate != b->rate || a->enabled != b->enabled ||
      a->allow_both_hard != b->allow_both_hard ||
      a->force_acceptor != b->force_acceptor ||
      a->force_dialer != b->force_dialer)
    abort();
  if (a->alloc == 2 && a->last != 0 &&
      (a->delta != b->delta || a->last != b->last))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char blob[NAT__PUNCH_BLOB_MAX];
  nat_ticket t, u;
  nat_bday_side bd, bd2, us;
  nat_bday_plan plan;
  nat_tstamp rtt, rtt2;
  int map, map2, rc;
  char why[200];
  ssize_t n;
  why[0] = '\0';
  rc = nat__punch_blob_parse((const char *)data, size, &t, &map, &rtt, &bd, why,
                             sizeof why);
  if (rc != 0) {
    if (rc != NAT_ETICKET || why[0] == '\0' || strchr(why, '\n') != NULL)
      abort();
    return 0;
  }
  n = nat__punch_blob_encode(&t, map, rtt, &bd, blob, sizeof blob);
  if (n < 0)
    return 0; /* a ticket near the size limit with long fields */
  if (nat__punch_blob_parse(blob, (size_t)n, &u, &map2, &rtt2, &bd2, why,
                            sizeof why) != 0 ||
      map2 != map || rtt2 != rtt)
    abort();
  same(&bd, &bd2);
  /* the plan against an easy and a hard us: never past the limits */
  memset(&us, 0, sizeof us);
  us.enabled = true;
  for (int m = -1; m <= 3; m++) {
    us.mapping = m;
    bd.mapping = map;
    if (nat_bday_plan_make(&us, &bd, &plan) != 0 ||
        plan.sockets > NAT_BDAY_SOCKETS_MAX ||
        plan.probes > NAT_BDAY_PROBES_MAX || plan.rate > NAT_BDAY_RATE_MAX ||
        plan.rate == 0 || plan.lo > plan.hi || plan.n == 0 ||
        !(plan.p_success >= 0.0 && plan.p_success <= 1.0))
      abort();
  }
  return 0;
}
