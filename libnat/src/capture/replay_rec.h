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
/* answered at another socket of the client, as its RESPONSE-PORT asked:
 * at to_port */
#define NAT__REC_RPORT 0x08u
#define NAT__REC_LIFE  0x10u /* tagger: a lifetime probe (o.idle set) */
/* first transmission captured with a TTL / hop limit of 1..
 * NAT__HOP_MAX_TTL: maybe a hop probe (nat/replay.h, "Hop probes") */
#define NAT__REC_LOWTTL 0x20u
/* answered by its own arrival (a hairpin request seen coming back in,
 * counted in hairpin_arrivals), not by a response */
#define NAT__REC_HPARRIVAL 0x40u

/* The largest TTL a hop probe is taken to have. */
#define NAT__HOP_MAX_TTL 16

/* One finished transaction before tagging. */
typedef struct nat__rp_rec {
  nat_obs o; /* NAT__REC_ARRIVED and unanswered: o.from is where
                it arrived from (the tagger clears it unless that
                answers it) */
  union {
    nat_tstamp arr_rtt; /* NAT__REC_ARRIVED and unanswered: arrival -
                           first transmission */
    uint16_t to_port;   /* NAT__REC_RPORT (answered): the local port (of
                           the request's source IP) the answer was
                           delivered to */
  } u;
  uint32_t seq;  /* completion order: a stable tiebreak */
  uint8_t flags; /* NAT__REC_* */
  uint8_t tags;  /* 1 << nat_obs_test, set by the tagger */
  uint8_t role;  /* tagger's scratch: destination role */
  uint8_t pad;
} nat__rp_rec;

/* True for a request that asked the server to answer from elsewhere. */
static inline bool nat__rp_changes(uint32_t change_flags) {
  return (change_flags & (NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT)) != 0;
}

#endif
