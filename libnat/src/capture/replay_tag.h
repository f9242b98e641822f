/* libnat -- the replay's tagger (replay_tag.c): which RFC 5780 test each
 * record belonged to. Called by replay.c at the end of a replay; calls
 * nothing in replay.c. */
#ifndef NAT_REPLAY_TAG_H
#define NAT_REPLAY_TAG_H

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

#endif
