/* libnat -- the replay's tagger (replay_tag.c): which RFC 5780 test each
 * record belonged to. Called by replay.c at the end of a replay; calls
 * nothing in replay.c. */
#ifndef NAT_REPLAY_TAG_H
#define NAT_REPLAY_TAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/obs.h"
#include "nat/replay.h"
#include "replay_rec.h"

/* Tag @p *np records (sorted by sent_at in place), fill the measurable
 * bits, nservers and the inferred capture point of @p d (whose
 * request_ttl, requests_outgoing and requests_in the caller set), and
 * append the observations to @p log. @p *np gets the records kept (those
 * of servers beyond NAT_REPLAY_MAX_SERVERS are left out).
 * @return 0 or NAT_ENOMEM. */
int nat__replay_tag(nat__rp_rec *recs, size_t *np, uint8_t capture_point,
                    nat_replay_diag *d, nat_obslog *log);

/* Where the capture says it was taken (replay_point.c): fill
 * @p d->point_inferred and point_reason from @p xl, a response that showed
 * a translation (or NULL), @p any_mapped (some request was answered) and
 * @p d's request_ttl, requests_outgoing and requests_in. */
void nat__replay_infer_point(nat_replay_diag *d, const nat_obs *xl,
                             bool any_mapped);

/* Leave the client's hop probes out of @p recs[0..n) (replay_point.c,
 * nat/replay.h "Hop probes"), counted in @p d->hop_probes.
 * @return the records kept (moved to the front). */
size_t nat__replay_drop_hop_probes(nat__rp_rec *recs, size_t n,
                                   nat_replay_diag *d);

/* Set NAT_REPLAY_M_ALLOCATION in @p d->measurable (inside the NAT) when
 * the analyzer's allocation rules decide over @p log[start..], the
 * observations just emitted. @return 0 or NAT_ENOMEM. */
int nat__replay_alloc_decides(const nat_obslog *log, size_t start,
                              nat_replay_diag *d);

#endif
