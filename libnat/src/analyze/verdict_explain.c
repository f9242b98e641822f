/* The traversal strategy table, the names of the verdict's values and the
 * closing explanation lines (nat/verdict.h). Pure: no I/O, no clock. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "verdict_internal.h"

const char *nat_fact_name(uint8_t f) {
  static const char *const names[NAT_FACTS] = {
      "nat_present", "mapping", "filtering", "hairpinning", "allocation"};
  return f < NAT_FACTS ? names[f] : "unknown";
}

/* The analyzer's line without its "name: " prefix. */
static const char *unprefixed(const char *line) {
  const char *p = line;
  while ((*p >= 'a' && *p <= 'z') || *p == ' ')
    if (*p++ == ' ')
      return line; /* a space before the colon: no prefix */
  return p[0] == ':' && p[1] == ' ' ? p + 2 : line;
}

void nat__evidence_set(nat_verdict *v, uint8_t fact, double conf,
                       const char *line) {
  nat_conclusion *c = &v->evidence[fact];
  c->confidence = conf;
  snprintf(c->reason, sizeof c->reason, "%s", unprefixed(line));
}

const char *nat_pa_kind_name(uint8_t k) {
  switch (k) {
  case NAT_PA_PRESERVING:
    return "preserving";
  case NAT_PA_SEQUENTIAL:
    return "sequential";
  case NAT_PA_RANDOM:
    return "random";
  default:
    return "unknown";
  }
}

const char *nat_pooling_name(uint8_t p) {
  switch (p) {
  case NAT_POOL_SINGLE:
    return "single";
  case NAT_POOL_PAIRED:
    return "paired";
  case NAT_POOL_ARBITRARY:
    return "arbitrary";
  default:
    return "unknown";
  }
}

const char *nat_strategy_name(uint8_t k) {
  switch (k) {
  case NAT_STRAT_DIRECT:
    return "direct";
  case NAT_STRAT_PREDICT:
    return "predict";
  case NAT_STRAT_BIRTHDAY:
    return "birthday";
  case NAT_STRAT_RELAY:
    return "relay";
  default:
    return "unknown";
  }
}

const char *nat_peer_class_name(uint8_t c) {
  switch (c) {
  case NAT_PEER_EASY:
    return "easy";
  case NAT_PEER_HARD_SEQUENTIAL:
    return "hard-sequential";
  case NAT_PEER_HARD_RANDOM:
    return "hard-random";
  default:
    return "unknown";
  }
}

const char *nat_difficulty_name(uint8_t d) {
  switch (d) {
  case 1:
    return "easy";
  case 2:
    return "hard";
  default:
    return "unknown";
  }
}

const char *nat_classic_name(const nat_verdict *v) {
  if (v == NULL)
    return "unknown";
  if (v->mapping == NAT_BEH_UNKNOWN)
    return !v->basic.udp_reachable && v->observations > 0 ? "udp blocked"
                                                          : "unknown";
  if (v->mapping != NAT_BEH_EI)
    return "symmetric";
  if (v->basic.nat_present == NAT_TRI_NO) {
    if (v->filtering == NAT_BEH_EI)
      return "open internet";
    return v->filtering == NAT_BEH_UNKNOWN ? "unknown"
                                           : "symmetric udp firewall";
  }
  switch (v->filtering) {
  case NAT_BEH_EI:
    return "full cone";
  case NAT_BEH_AD:
    return "restricted cone";
  case NAT_BEH_APD:
    return "port-restricted cone";
  default:
    return "unknown";
  }
}

/* ---------------------------------------------------------- the strategy
 */

/* Whole probes (the odds functions give fractions). */
static double whole(double x) {
  double w;
  if (!(x < 1e15))
    return x;
  w = (double)(uint64_t)x;
  return w < x ? w + 1.0 : w;
}

static void fill_birthday(nat_strategy *st, bool both) {
  double open = both ? 1.0 : (double)NAT_SPRAY_DEFAULT_PORTS;
  st->kind = NAT_STRAT_BIRTHDAY;
  st->probes_50 =
      whole(nat_birthday_probes(0.5, open, NAT_BIRTHDAY_RANGE, both));
  st->probes_99 =
      whole(nat_birthday_probes(0.99, open, NAT_BIRTHDAY_RANGE, both));
  st->seconds_99 = st->probes_99 / NAT_SPRAY_DEFAULT_RATE;
  if (st->seconds_99 > NAT_STRATEGY_MAX_SECONDS)
    st->kind = NAT_STRAT_RELAY; /* the figures stay, for the explanation */
}

/* Probes of a prediction: the top ports until @p p is covered, else all
 * of them. */
static double predict_probes(const nat_prediction *pr, double p) {
  double cum = 0.0;
  size_t i;
  for (i = 0; i < pr->n; i++) {
    cum += pr->prob[i];
    if (cum >= p)
      return (double)(i + 1);
  }
  return (double)pr->n;
}

static void fill_predict(nat_strategy *st, const nat_prediction *pr) {
  st->kind = NAT_STRAT_PREDICT;
  if (pr != NULL && pr->n > 0) {
    st->probes_50 = predict_probes(pr, 0.5);
    st->probes_99 = predict_probes(pr, 0.99);
  } else {
    st->probes_50 = 1.0;
    st->probes_99 = (double)NAT_PREDICT_MAX;
  }
  st->seconds_99 = st->probes_99 / NAT_SPRAY_DEFAULT_RATE;
}

int nat_strategy_for(uint8_t self_class, uint8_t self_filtering,
                     const nat_prediction *self_pred, uint8_t peer,
                     nat_strategy *out) {
  uint8_t self =
      self_class >= NAT_PEER_CLASSES ? NAT_PEER_HARD_RANDOM : self_class;
  if (out == NULL || peer >= NAT_PEER_CLASSES)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  out->peer = peer;
  out->kind = NAT_STRAT_DIRECT;
  switch (self) {
  case NAT_PEER_EASY:
    if (peer == NAT_PEER_EASY || self_filtering == NAT_BEH_EI ||
        self_filtering == NAT_BEH_AD)
      break;
    if (peer == NAT_PEER_HARD_SEQUENTIAL)
      fill_predict(out, NULL);
    else
      fill_birthday(out, false);
    break;
  case NAT_PEER_HARD_SEQUENTIAL:
    if (peer == NAT_PEER_HARD_RANDOM)
      fill_birthday(out, false);
    else
      fill_predict(out, peer == NAT_PEER_EASY ? self_pred : NULL);
    break;
  default:
    fill_birthday(out, peer == NAT_PEER_HARD_RANDOM);
    break;
  }
  return 0;
}

void nat__verdict_strategies(nat_verdict *v) {
  uint8_t c;
  for (c = 0; c < NAT_PEER_CLASSES; c++) {
    nat_strategy *st = &v->strategy[c];
    (void)nat_strategy_for(v->self_class, v->filtering, &v->prediction, c, st);
    if (!v->basic.udp_reachable) {
      memset(st, 0, sizeof *st);
      st->peer = c;
      st->kind = NAT_STRAT_RELAY;
    }
  }
}

/* ------------------------------------------------------- the explanation
 */

void nat__explain_add(nat_verdict *v, const char *fmt, ...) {
  va_list ap;
  if (v->nexplain >= NAT_EXPLAIN_MAX)
    return;
  va_start(ap, fmt);
  vsnprintf(v->explain[v->nexplain], NAT_EXPLAIN_LEN, fmt, ap);
  va_end(ap);
  v->nexplain++;
}

void nat__alloc_line(const nat_alloc_verdict *a, nat__why *why) {
  double share =
      a->samples > 0 ? a->confidence / (1.0 - 1.0 / (double)a->samples) : 0.0;
  if (a->samples < 3) {
    nat__why_set(why, "%zu new mappings seen, 3 needed -> unknown", a->samples);
    return;
  }
  switch (a->kind) {
  case NAT_PA_PRESERVING:
    nat__why_set(why,
                 "public port == local port for %.0f %% of %zu mappings -> "
                 "preserving",
                 share * 100.0, a->samples);
    break;
  case NAT_PA_SEQUENTIAL:
    nat__why_set(why,
                 "%zu mappings in ports %u-%u, %.0f %% of steps are "
                 "multiples of %+d -> sequential (confidence %.2f)",
                 a->samples, a->lo, a->hi, share * 100.0, (int)a->delta,
                 a->confidence);
    break;
  case NAT_PA_RANDOM:
    nat__why_set(why,
                 "%zu mappings spread over ports %u-%u, no common step -> "
                 "random (confidence %.2f)",
                 a->samples, a->lo, a->hi, a->confidence);
    break;
  default:
    nat__why_set(why,
                 "%zu mappings in ports %u-%u fit no pattern clearly -> "
                 "unknown",
                 a->samples, a->lo, a->hi);
    break;
  }
  why->conf = a->kind != NAT_PA_UNKNOWN ? a->confidence : 0.0;
}

static void explain_alloc(nat_verdict *v) {
  nat__explain_add(v, "allocation: %s",
                   v->evidence[NAT_FACT_ALLOCATION].reason);
}

static void explain_prediction(nat_verdict *v) {
  const nat_prediction *p = &v->prediction;
  char buf[NAT_EXPLAIN_LEN];
  size_t i, len = 0;
  if (p->n == 0)
    return;
  buf[0] = '\0';
  for (i = 0; i < p->n && i < 4; i++) {
    int w = snprintf(buf + len, sizeof buf - len, "%s%u (%.2f)", i ? ", " : "",
                     p->port[i], p->prob[i]);
    if (w < 0 || (size_t)w >= sizeof buf - len)
      break;
    len += (size_t)w;
  }
  nat__explain_add(v, "prediction: next public ports %s", buf);
}

static void explain_verdict(nat_verdict *v) {
  if (!v->basic.udp_reachable) {
    nat__explain_add(v, "verdict: unknown (no STUN server answered: UDP "
                        "blocked or no server reachable) -> relay");
    return;
  }
  if (v->difficulty == 1)
    nat__explain_add(v,
                     "verdict: easy (%s): the public address is the same "
                     "for every peer",
                     v->basic.nat_present == NAT_TRI_NO
                         ? "no address translation"
                         : "endpoint-independent mapping");
  else if (v->difficulty == 2)
    nat__explain_add(v,
                     "verdict: hard (the public port changes with the "
                     "destination; %s ports)",
                     nat_pa_kind_name(v->alloc.kind));
  else
    nat__explain_add(v, "verdict: unknown (the mapping could not be "
                        "measured); strategies assume hard-random");
}

static void explain_strategy(nat_verdict *v, const nat_strategy *st) {
  const char *peer = nat_peer_class_name(st->peer);
  if (st->kind == NAT_STRAT_DIRECT)
    nat__explain_add(v, "strategy vs %s peers: direct hole punch", peer);
  else if (st->kind == NAT_STRAT_RELAY && st->probes_99 > 0)
    nat__explain_add(v,
                     "strategy vs %s peers: relay (a birthday spray needs "
                     "%.0f probes each for 99 %%: %.0f s at %.0f/s)",
                     peer, st->probes_99, st->seconds_99,
                     NAT_SPRAY_DEFAULT_RATE);
  else if (st->kind == NAT_STRAT_RELAY)
    nat__explain_add(v, "strategy vs %s peers: relay", peer);
  else
    nat__explain_add(v,
                     "strategy vs %s peers: %s (%.0f probe%s for 50 %%, "
                     "%.0f for 99 %%, %.1f s at %.0f/s)",
                     peer, nat_strategy_name(st->kind), st->probes_50,
                     st->probes_50 == 1 ? "" : "s", st->probes_99,
                     st->seconds_99, NAT_SPRAY_DEFAULT_RATE);
}

void nat__verdict_explain_tail(nat_verdict *v) {
  uint8_t c;
  explain_alloc(v);
  explain_prediction(v);
  explain_verdict(v);
  for (c = 0; c < NAT_PEER_CLASSES; c++)
    explain_strategy(v, &v->strategy[c]);
}
