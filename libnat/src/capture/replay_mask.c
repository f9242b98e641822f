/* What a replay's verdict may say: the verdicts the capture cannot show
 * (nat_replay_diag.measurable) are withheld from the analyzers' verdict,
 * and the strategy table is redone from what is left. Pure. */
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "nat/replay.h"

/* Verdict bits in report order, with their names. */
static const struct {
  uint32_t bit;
  const char *name;
  int fact; /* nat_fact, -1: none */
} bits[] = {
    {NAT_REPLAY_M_BASIC, "basic", -1},
    {NAT_REPLAY_M_NAT, "nat_present", NAT_FACT_NAT},
    {NAT_REPLAY_M_MAPPING, "mapping", NAT_FACT_MAPPING},
    {NAT_REPLAY_M_FILTERING, "filtering", NAT_FACT_FILTERING},
    {NAT_REPLAY_M_HAIRPIN, "hairpinning", NAT_FACT_HAIRPIN},
    {NAT_REPLAY_M_ALLOCATION, "allocation", NAT_FACT_ALLOCATION},
    {NAT_REPLAY_M_LIFETIME, "lifetime", -1},
};

#define NBITS (sizeof bits / sizeof bits[0])

const char *nat_replay_bit_name(uint32_t bit) {
  size_t i;
  for (i = 0; i < NBITS; i++)
    if (bits[i].bit == bit)
      return bits[i].name;
  return "unknown";
}

static void mask_nat(nat_verdict *v, const nat_replay_diag *d) {
  size_t i;
  v->basic.nat_present = NAT_TRI_UNKNOWN;
  v->basic.v4.nat_present = NAT_TRI_UNKNOWN;
  v->basic.v6.nat_present = NAT_TRI_UNKNOWN;
  for (i = 0; i < v->basic.nservers; i++)
    v->basic.servers[i].nat_present = NAT_TRI_UNKNOWN;
  v->double_nat = NAT_TRI_UNKNOWN;
  v->carrier_nat = NAT_TRI_UNKNOWN;
  snprintf(v->double_nat_reason, sizeof v->double_nat_reason,
           "not measurable from this capture: %s",
           nat_replay_strerror(d, NAT_REPLAY_M_NAT));
}

static void mask_mapping(nat_verdict *v) {
  v->mapping = NAT_BEH_UNKNOWN;
  v->mapping_varies = NAT_TRI_UNKNOWN;
  v->rfc5780_used = false;
  v->difficulty = 0;
  v->self_class = NAT_PEER_CLASSES;
}

static void mask_allocation(nat_verdict *v) {
  v->alloc.kind = NAT_PA_UNKNOWN;
  v->alloc.delta = 0;
  v->alloc.confidence = 0;
  v->alloc.parity = NAT_TRI_UNKNOWN;
  v->prediction.n = 0;
  if (v->self_class == NAT_PEER_HARD_SEQUENTIAL)
    v->self_class = NAT_PEER_CLASSES;
}

uint32_t nat_replay_mask(nat_verdict *v, const nat_replay_diag *d) {
  uint32_t m;
  uint8_t p;
  size_t i;
  if (v == NULL || d == NULL)
    return 0;
  m = ~d->measurable & NAT_REPLAY_M_MASKABLE;
  if (m & NAT_REPLAY_M_NAT)
    mask_nat(v, d);
  if (m & NAT_REPLAY_M_MAPPING)
    mask_mapping(v);
  if (m & NAT_REPLAY_M_FILTERING) {
    v->filtering = NAT_BEH_UNKNOWN;
    v->filtering_unsupported = false;
  }
  if (m & NAT_REPLAY_M_HAIRPIN)
    v->hairpinning = NAT_TRI_UNKNOWN;
  if (m & NAT_REPLAY_M_ALLOCATION)
    mask_allocation(v);
  if (m & NAT_REPLAY_M_LIFETIME) {
    v->lifetime_min = 0;
    v->lifetime_max = 0;
  }
  if ((m & (NAT_REPLAY_M_MAPPING | NAT_REPLAY_M_FILTERING |
            NAT_REPLAY_M_ALLOCATION)) &&
      v->basic.udp_reachable)
    for (p = 0; p < NAT_PEER_CLASSES; p++)
      nat_strategy_for(v->self_class, v->filtering, &v->prediction, p,
                       &v->strategy[p]);
  for (i = 0; i < NBITS; i++) { /* the withheld facts' evidence */
    nat_conclusion *c;
    if (!(m & bits[i].bit) || bits[i].fact < 0)
      continue;
    c = &v->evidence[bits[i].fact];
    c->confidence = 0;
    snprintf(c->reason, sizeof c->reason,
             "not measurable from this capture: %s",
             nat_replay_strerror(d, bits[i].bit));
  }
  if (nat_replay_udp_unknown(d) && v->nexplain < NAT_EXPLAIN_MAX)
    snprintf(v->explain[v->nexplain++], NAT_EXPLAIN_LEN,
             "Replay: UDP reachability not measurable from this capture: "
             "every request came as IP fragments and none was answered "
             "(dropped fragments look like blocked UDP)");
  for (i = 0; i < NBITS && v->nexplain < NAT_EXPLAIN_MAX; i++) {
    if (!(m & bits[i].bit) || bits[i].bit == NAT_REPLAY_M_LIFETIME)
      continue;
    snprintf(v->explain[v->nexplain++], NAT_EXPLAIN_LEN,
             "Replay: %s not measurable from this capture: %s", bits[i].name,
             nat_replay_strerror(d, bits[i].bit));
  }
  return m;
}

int nat_replay_verdict(nat_verdict *v, const nat_obslog *log,
                       const nat_replay_diag *d, uint32_t *masked) {
  uint32_t m;
  int rv;
  if (v == NULL || log == NULL || d == NULL)
    return NAT_EINVAL;
  rv = nat_verdict_compute(v, log);
  if (rv < 0)
    return rv;
  m = nat_replay_mask(v, d);
  if (v->double_nat == NAT_TRI_UNKNOWN && !(m & NAT_REPLAY_M_NAT)) {
    size_t n = strlen(v->double_nat_reason);
    snprintf(v->double_nat_reason + n, sizeof v->double_nat_reason - n,
             "; no hop probe or port-mapping answer in a capture");
  }
  if (masked != NULL)
    *masked = m;
  return 0;
}
