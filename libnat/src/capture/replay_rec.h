/* libnat -- a replay's finished transactions before tagging: the record
 * type shared by replay.c (which fills them) and replay_tag.c (which tags
 * them). Depends on nothing of either. */
#ifndef NAT_REPLAY_REC_H
#define NAT_REPLAY_REC_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/obs.h"
#include "nat/stun.h"

/* rec flags */
#define NAT__REC_HAIRPIN 0x01u
#define NAT__REC_DROP    0x02u /* tagger: its server is beyond the cap */
#define NAT__REC_ARRIVED 0x04u /* unanswered, but seen arriving elsewhere */
#define NAT__REC_RPORT                                                         \
  0x08u                     /* answered at another socket of the client,       \
                               as its RESPONSE-PORT asked: to_port */
#define NAT__REC_LIFE 0x10u /* tagger: a lifetime probe (o.idle set) */

/* One finished transaction before tagging. */
typedef struct nat__rp_rec {
  nat_obs o;          /* NAT__REC_ARRIVED and unanswered: o.from is where
                         it arrived from (the tagger clears it unless that
                         answers it) */
  nat_tstamp arr_rtt; /* NAT__REC_ARRIVED: arrival - first transmission */
  uint32_t seq;       /* completion order: a stable tiebreak */
  uint8_t flags;      /* NAT__REC_* */
  uint8_t tags;       /* 1 << nat_obs_test, set by the tagger */
  uint8_t role;       /* tagger's scratch: destination role */
  uint8_t pad;
  uint16_t to_port; /* NAT__REC_RPORT: the local port (of the request's
                       source IP) the answer was delivered to */
  uint8_t ttl;      /* IP TTL / hop limit of the first transmission as
                       captured, 0: not said */
} nat__rp_rec;

/* True for a request that asked the server to answer from elsewhere. */
static inline bool nat__rp_changes(uint32_t change_flags) {
  return (change_flags & (NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT)) != 0;
}

#endif
