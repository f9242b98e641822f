/* libnat -- private declarations shared by replay.c (pairing) and
 * replay_tag.c (test tagging at the end of a replay). */
#ifndef NAT_REPLAY_INTERNAL_H
#define NAT_REPLAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "nat/obs.h"
#include "nat/replay.h"

/* rec flags */
#define NAT__REC_HAIRPIN 0x01u
#define NAT__REC_DROP    0x02u /* tagger: its server is beyond the cap */

/* One finished transaction before tagging. */
typedef struct nat__rp_rec {
  nat_obs o;
  uint32_t seq;  /* completion order: a stable tiebreak */
  uint8_t flags; /* NAT__REC_* */
  uint8_t tags;  /* 1 << nat_obs_test, set by the tagger */
  uint8_t role;  /* tagger's scratch: destination role */
  uint8_t pad;
} nat__rp_rec;

/* Tag @p n records (sorted by sent_at in place), fill the measurable
 * bits and nservers of @p d, and append the observations to @p log.
 * @return 0 or NAT_ENOMEM. */
int nat__replay_tag(nat__rp_rec *recs, size_t n, uint8_t capture_point,
                    nat_replay_diag *d, nat_obslog *log);

/* True for a request that asked the server to answer from elsewhere. */
bool nat__rp_changes(uint32_t change_flags);

#endif
