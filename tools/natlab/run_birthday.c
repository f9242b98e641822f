/* natlab -- the `birthday` experiment: the birthday spray (issue 11) over
 * the NAT pairs it is meant for, repeated trials each.
 *
 * For each pair a worker runs N trials, each in a fresh lab (ha: the easy
 * side, hb: the hard one) with its rendezvous on `wan` (peers.c), so that
 * trials are independent (a spray's NAT mappings outlive it: 16 sprays of
 * 256 sockets fill a carrier NAT's 4096-port block): `punch connect` (or,
 * --tool birthday, `birthday connect`: spray only) on ha and hb at once,
 * `--stun 203.0.113.1:3478 --json --timeout S`; then the rendezvous stops
 * and the lab goes down. A trial records both peers' reports: exit codes, the
 * strategy that won, the spray's plan and what it did (`birthday` in the
 * report: role, predicted odds, probes sent, keepalives, the probe that
 * hit), and the time from both peers registered with the rendezvous to
 * QUIC confirmed on both (each peer's times_ms are from its own start; the
 * starts are on natlab's clock).
 *
 * Per pair: outcomes counted; success (connected) over the trials where
 * the spray was planned, with its Wilson 95 % interval, against the
 * predicted probability from the reports (their mean over the trials) and
 * whether the prediction lies inside; time to QUIC confirmed (median,
 * p90); packets the spray sent (dialer's probes + acceptor's keepalives,
 * both peers summed; median); for a refused pair the both-hard estimate.
 *
 * Expectation (the lab's NATs; ha's side never maps per destination
 * except in the both-hard pairs):
 *  - one side maps per destination with random ports (symmetric, the
 *    4,096-port range, the carrier NAT's port block) and the other has an
 *    endpoint-independent mapping with address-and-port-dependent
 *    filtering (port-restricted): plain checks cannot meet (punch's hint
 *    is birthday); the spray connects, strategy birthday, as often as the
 *    predicted probability says.
 *  - full-cone x symmetric: full-cone filtering admits the symmetric
 *    side's new ports, so plain checks connect; the strategy is not
 *    judged (direct, or the spray if it was first), only the outcome.
 *  - both sides map per destination (symmetric-sequential or symmetric x
 *    symmetric): refused by default, both peers exit 1 with "refused" in
 *    the reason and the estimate (probes a side, minutes, NAT entries).
 */
#include "natlab.h"

#include "nat/birthday.h"
#include "nat/natbox.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define BDAY_TRIALS_DEFAULT  3
#define BDAY_TIMEOUT_DEFAULT 10 /* punch connect's own default */

struct bday_pair {
  const char *name;
  const char *kind_a, *kind_b; /* ha's and hb's NAT, for the table */
  const char *topo;
  const char *set[2];   /* NAME=VALUE for the topology's params */
  const char *expected; /* "connected" or "refused" */
  const char *strategy; /* the strategy that must win, NULL: any */
  const char *why;
};

static const struct bday_pair pairs[] = {
    {"port-restricted:symmetric",
     "port-restricted",
     "symmetric",
     "pair",
     {"a=port-restricted", "b=symmetric"},
     "connected",
     "birthday",
     "hb maps per destination with random ports over 1024-65535; ha's "
     "filtering (apd) drops its new ports: only the spray meets"},
    {"full-cone:symmetric",
     "full-cone",
     "symmetric",
     "pair",
     {"a=full-cone", "b=symmetric"},
     "connected",
     NULL,
     "ha's filtering (ei) admits hb's new ports: plain checks connect"},
    {"port-restricted:symmetric-4096",
     "port-restricted",
     "symmetric-4096",
     "birthday-range",
     {NULL, NULL},
     "connected",
     "birthday",
     "hb maps per destination with random ports in 10000-14095; ha's "
     "filtering (apd) drops its new ports: only the spray meets"},
    {"port-restricted:cgn-block",
     "port-restricted",
     "cgn-block",
     "birthday-cgn",
     {NULL, NULL},
     "connected",
     "birthday",
     "hb's carrier NAT maps per destination with random ports in one "
     "4096-port block; ha's filtering (apd) drops them: only the spray "
     "meets"},
    {"symmetric-sequential:symmetric",
     "symmetric-sequential",
     "symmetric",
     "pair",
     {"a=symmetric-sequential", "b=symmetric"},
     "refused",
     NULL,
     "both sides map per destination: refused by default, with the "
     "estimate"},
    {"symmetric:symmetric",
     "symmetric",
     "symmetric",
     "pair",
     {"a=symmetric", "b=symmetric"},
     "refused",
     NULL,
     "both sides map per destination: refused by default, with the "
     "estimate"},
};
#define NPAIRS (int)(sizeof pairs / sizeof pairs[0])

/** The birthday program: $NATLAB_BIRTHDAY, else the one built beside
 * natlab, else `birthday` in natlab's own directory, else from PATH. */
const char *nl_birthday_path(void) {
  static char beside[PATH_MAX + 8];
  return nl_tool_path("NATLAB_BIRTHDAY", NATLAB_BIRTHDAY_BUILD, "birthday",
                      beside, sizeof beside);
}

static int pair_index(const char *name, size_t len) {
  for (int k = 0; k < NPAIRS; k++)
    if (strlen(pairs[k].name) == len && strncmp(pairs[k].name, name, len) == 0)
      return k;
  return -1;
}

/* --topology FILE: the one pair of the run (index -1), its expectation
 * from the behaviours the topology declares for ha and hb (the rules at
 * the top, for any NATs): both map per destination: refused; one does and
 * the other's filtering drops its new ports: connected by birthday; else
 * connected (strategy not judged). Set in the parent, before the workers
 * are forked. */
static struct bday_pair custom;

static int custom_pair(const struct nl_bday_plan *p) {
  static struct nl_topo t;
  static char name[96], kind[2][40];
  char path[PATH_MAX];
  struct nl_expect e[2];
  int r = nl_topo_find(p->topology, path, sizeof path);
  if (r || (r = nl_topo_load(&t, path, &p->set)))
    return r;
  for (int i = 0; i < 2; i++) {
    int h = nl_topo_node(&t, i ? "hb" : "ha");
    if (h < 0) {
      fprintf(stderr, "natlab: run birthday: %s has no host %s\n", path,
              i ? "hb" : "ha");
      return NL_ERR_USAGE;
    }
    nl_topo_effective(&t, h, &e[i]);
    snprintf(kind[i], sizeof kind[i], "%s/%s/%s", nl_beh_name(e[i].mapping),
             nl_beh_name(e[i].filtering), nl_alloc_name(e[i].alloc));
  }
  size_t n = (size_t)snprintf(name, sizeof name, "%s", t.name);
  for (int k = 0; k < p->set.n && n < sizeof name; k++)
    n += (size_t)snprintf(name + n, sizeof name - n, " %s=%s", p->set.name[k],
                          p->set.value[k]);
  bool da = e[0].mapping == NAT_BEH_AD || e[0].mapping == NAT_BEH_APD ||
            e[0].mapping == NAT_BEH_DEPENDENT;
  bool db = e[1].mapping == NAT_BEH_AD || e[1].mapping == NAT_BEH_APD ||
            e[1].mapping == NAT_BEH_DEPENDENT;
  int fixed = db ? e[0].filtering : e[1].filtering;
  bool drops = fixed == NAT_BEH_APD;
  custom = (struct bday_pair){name,
                              kind[0],
                              kind[1],
                              p->topology,
                              {NULL, NULL},
                              da && db ? "refused" : "connected",
                              da != db && drops ? "birthday" : NULL,
                              da && db ? "both sides map per destination"
                              : da != db && drops
                                  ? "one side maps per destination, the "
                                    "other's filtering drops its new ports: "
                                    "only the spray meets"
                                  : "plain checks can meet"};
  return 0;
}

/** Parse --pairs (a comma list; NULL: all) or take --topology into @p p.
 * 0 or NL_ERR_USAGE after one line on stderr. */
int nl_bday_plan(const char *list, struct nl_bday_plan *p) {
  bool on[NPAIRS] = {false};
  p->npairs = 0;
  if (p->topology && list) {
    fprintf(stderr, "natlab: run birthday: --pairs and --topology exclude "
                    "each other\n");
    return NL_ERR_USAGE;
  }
  if (p->set.n && !p->topology) {
    fprintf(stderr, "natlab: run birthday: --set needs --topology\n");
    return NL_ERR_USAGE;
  }
  if (p->topology) {
    p->pair[p->npairs++] = -1;
    return custom_pair(p);
  }
  if (!list) {
    for (int k = 0; k < NPAIRS; k++)
      p->pair[p->npairs++] = k;
    return 0;
  }
  while (*list) {
    size_t len = strcspn(list, ",");
    int k = pair_index(list, len);
    if (k < 0 || on[k]) {
      fprintf(stderr, "natlab: run birthday: %s pair '%.*s' in --pairs (",
              k < 0 ? "unknown" : "repeated", (int)len, list);
      for (int j = 0; j < NPAIRS; j++)
        fprintf(stderr, "%s%s", j ? ", " : "", pairs[j].name);
      fprintf(stderr, "; each once)\n");
      return NL_ERR_USAGE;
    }
    on[k] = true;
    p->pair[p->npairs++] = k;
    list += len + (list[len] == ',');
  }
  if (p->npairs == 0) {
    fprintf(stderr, "natlab: run birthday: --pairs lists no pair\n");
    return NL_ERR_USAGE;
  }
  return 0;
}

/** Defaults of the experiment's knobs. */
void nl_bday_plan_defaults(struct nl_bday_plan *p) {
  memset(p, 0, sizeof *p);
  p->trials = BDAY_TRIALS_DEFAULT;
  p->timeout_s = BDAY_TIMEOUT_DEFAULT;
  p->tool = "punch";
}

/* ------------------------------------------------------------- one trial */

static json_t *num_or_null(json_t *v) {
  return json_is_number(v) ? json_real(json_number_value(v)) : json_null();
}

static json_t *copy_or_null(json_t *v) {
  return v ? json_deep_copy(v) : json_null();
}

/* "a.b.c" in @p root, or NULL. */
static json_t *path(json_t *root, const char *keys) {
  char buf[96], *save = NULL;
  snprintf(buf, sizeof buf, "%s", keys);
  for (char *k = strtok_r(buf, ".", &save); k && root;
       k = strtok_r(NULL, ".", &save))
    root = json_object_get(root, k);
  return root;
}

/* One peer of a trial: what its report says (the whole report too when
 * the peer did not connect, to see why). */
static json_t *peer_json(const char *node, const struct nl_proc *p) {
  json_t *rep = json_loads(p->buf[0] ? p->buf[0] : "", 0, NULL);
  if (!json_is_object(rep)) {
    json_decref(rep);
    rep = NULL;
  }
  json_t *j = json_pack(
      "{s:s,s:i,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "node", node,
      "exit_code", p->status, "ok", json_is_true(json_object_get(rep, "ok")),
      "strategy", copy_or_null(json_object_get(rep, "strategy")),
      "registered_ms", num_or_null(path(rep, "times_ms.registered")),
      "quic_confirmed_ms", num_or_null(path(rep, "times_ms.quic_confirmed")),
      "peer_to_confirmed_ms",
      num_or_null(path(rep, "times_ms.peer_to_confirmed")), "failure_reason",
      copy_or_null(path(rep, "failure.reason")), "failure_hint",
      copy_or_null(path(rep, "failure.hint")), "birthday",
      copy_or_null(json_object_get(rep, "birthday")), "stderr",
      nl_last_line(p->buf[1] ? p->buf[1] : ""));
  json_object_set_new(j, "has_report", json_boolean(rep != NULL));
  if (rep && !json_is_true(json_object_get(rep, "ok")))
    json_object_set(j, "report", rep);
  json_decref(rep);
  return j;
}

static bool refused(json_t *peer) {
  const char *reason =
      json_string_value(json_object_get(peer, "failure_reason"));
  const char *why = json_string_value(path(peer, "birthday.why"));
  return (reason && strstr(reason, "refused")) ||
         (why && strcmp(why, "both-hard") == 0);
}

/* connected (both exit 0 and ok), refused (both exit 1, refused), failed
 * (both exit 1), one-sided, or error (no report, killed, exit 2 or 3). */
static const char *trial_outcome(json_t *pa, json_t *pb) {
  json_t *p[2] = {pa, pb};
  int ok = 0, one = 0, ref = 0;
  for (int i = 0; i < 2; i++) {
    json_int_t e = json_integer_value(json_object_get(p[i], "exit_code"));
    if (!json_is_true(json_object_get(p[i], "has_report")) ||
        (e != 0 && e != 1))
      return "error";
    ok += e == 0 && json_is_true(json_object_get(p[i], "ok"));
    one += e == 1 && !json_is_true(json_object_get(p[i], "ok"));
    ref += e == 1 && refused(p[i]);
  }
  if (ok == 2)
    return "connected";
  if (ref == 2)
    return "refused";
  return one == 2 ? "failed" : "one-sided";
}

/* The latest of both peers' @p key on natlab's clock (each report's times
 * are from its own start), or NAN. */
static double both_at(json_t *p[2], const struct nl_proc pr[2],
                      const char *key) {
  double t = -INFINITY;
  for (int i = 0; i < 2; i++) {
    json_t *v = json_object_get(p[i], key);
    if (!json_is_number(v))
      return NAN;
    t = fmax(t, pr[i].spawned_ms + json_number_value(v));
  }
  return t;
}

/* The dialer's (else the acceptor's) birthday object, or NULL. */
static json_t *spray_of(json_t *p[2]) {
  json_t *acc = NULL;
  for (int i = 0; i < 2; i++) {
    json_t *b = json_object_get(p[i], "birthday");
    const char *role = json_string_value(json_object_get(b, "role"));
    if (role && strcmp(role, "dialer") == 0)
      return b;
    if (role && strcmp(role, "acceptor") == 0)
      acc = b;
  }
  return acc;
}

/* Packets the spray sent in a trial: probes and keepalives of both
 * peers; -1 when neither report has the spray's actual figures. */
static double packets_of(json_t *p[2]) {
  double n = 0;
  bool any = false;
  for (int i = 0; i < 2; i++) {
    json_t *act = path(p[i], "birthday.actual");
    if (!json_is_object(act))
      continue;
    any = true;
    n += json_number_value(json_object_get(act, "probes_sent")) +
         json_number_value(json_object_get(act, "keepalives"));
  }
  return any ? n : -1;
}

static json_t *trial_json(int k, const struct nl_proc peer[2]) {
  json_t *p[2] = {peer_json("ha", &peer[0]), peer_json("hb", &peer[1])};
  const char *outcome = trial_outcome(p[0], p[1]);
  double reg = both_at(p, peer, "registered_ms");
  double conf = both_at(p, peer, "quic_confirmed_ms");
  double pk = packets_of(p);
  json_t *spray = spray_of(p);
  /* the plan both peers made says spray (a role each) */
  const char *why = json_string_value(json_object_get(spray, "why"));
  /* one connection, one strategy: the trial's is the one both peers
   * report, null when they disagree (both are kept in "strategies") */
  json_t *sa = json_object_get(p[0], "strategy");
  json_t *sb = json_object_get(p[1], "strategy");
  json_t *strategy = json_equal(sa, sb) ? sa : NULL;
  return json_pack(
      "{s:i,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:o}", "trial", k, "outcome",
      outcome, "strategy", copy_or_null(strategy), "time_ms",
      strcmp(outcome, "connected") == 0 && isfinite(reg) && isfinite(conf)
          ? json_real(conf - reg)
          : json_null(),
      "packets", pk >= 0 ? json_real(pk) : json_null(), "predicted_p",
      num_or_null(path(spray, "predicted.p_success")), "hit_probe",
      num_or_null(path(spray, "actual.hit_probe")), "spray_planned",
      why && strcmp(why, "spray") == 0, "strategies",
      json_pack("[OO]", sa ? sa : json_null(), sb ? sb : json_null()), "a",
      p[0], "b", p[1]);
}

/* ------------------------------------------------------------ statistics */

/* The Wilson 95 % interval of @p hits in @p n trials (libnat's), its
 * ends exactly 0 and 1 at 0 and n hits (the formula's rounding gives
 * 0.9999999999999999, which would put a prediction of 1 outside). */
static void wilson(int hits, int n, double *lo, double *hi) {
  nat_bday_wilson((uint32_t)hits, (uint32_t)n, lo, hi);
  if (hits == 0)
    *lo = 0;
  if (n > 0 && hits == n)
    *hi = 1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Quantile @p q (nearest rank) of the numbers under @p key in the trials,
 * or null when none has one. */
static json_t *quantile(json_t *trials, const char *key, double q) {
  double v[NL_BDAY_TRIALS_MAX];
  size_t i, n = 0;
  json_t *t;
  json_array_foreach(trials, i, t) {
    json_t *x = json_object_get(t, key);
    if (json_is_number(x) && n < NL_BDAY_TRIALS_MAX)
      v[n++] = json_number_value(x);
  }
  if (n == 0)
    return json_null();
  qsort(v, n, sizeof v[0], cmp_double);
  size_t r = (size_t)ceil(q * (double)n);
  return json_real(v[r ? r - 1 : 0]);
}

/* The both-hard estimate from the first refused trial's reports. */
static json_t *estimate_of(json_t *trials) {
  size_t i;
  json_t *t;
  json_array_foreach(trials, i, t) {
    for (int s = 0; s < 2; s++) {
      json_t *e = path(json_object_get(t, s ? "b" : "a"), "birthday.both_hard");
      if (json_is_object(e))
        return json_deep_copy(e);
    }
  }
  return json_null();
}

struct tally {
  int n[5]; /* connected, refused, failed, one-sided, error */
  int planned, planned_hits;
  int wrong_strategy, disagree, refused_without_estimate;
  double p_sum;
  int p_n;
};

static const char *const outcomes[5] = {"connected", "refused", "failed",
                                        "one-sided", "error"};

static void count(const struct bday_pair *x, json_t *trials, struct tally *c) {
  size_t i;
  json_t *t;
  memset(c, 0, sizeof *c);
  json_array_foreach(trials, i, t) {
    const char *o = json_string_value(json_object_get(t, "outcome"));
    const char *s = json_string_value(json_object_get(t, "strategy"));
    json_t *p = json_object_get(t, "predicted_p");
    bool conn = strcmp(o, "connected") == 0;
    for (int k = 0; k < 5; k++)
      c->n[k] += strcmp(o, outcomes[k]) == 0;
    if (json_is_true(json_object_get(t, "spray_planned"))) {
      c->planned++;
      c->planned_hits += conn;
    }
    if (json_is_number(p)) {
      c->p_sum += json_number_value(p);
      c->p_n++;
    }
    if (conn && !s)
      c->disagree++;
    else if (conn && x->strategy && strcmp(s, x->strategy) != 0)
      c->wrong_strategy++;
    if (strcmp(o, "refused") == 0) {
      for (int side = 0; side < 2; side++) {
        json_t *e = path(json_object_get(t, side ? "b" : "a"),
                         "birthday.both_hard.probes_per_side");
        if (!json_is_number(e) || json_number_value(e) <= 0) {
          c->refused_without_estimate++;
          break;
        }
      }
    }
  }
}

/* Is the measured success compared with the prediction? Only where the
 * spray is the way to connect and was planned (full-cone x symmetric
 * connects by plain checks, which cut the spray short). */
static bool judged_p(const struct bday_pair *x, const struct tally *c) {
  return x->strategy && strcmp(x->strategy, "birthday") == 0 && c->planned &&
         c->p_n;
}

/* The dialer's birthday object of trial @p t, or NULL. */
static json_t *dialer_of(json_t *t) {
  for (int s = 0; s < 2; s++) {
    json_t *b = path(json_object_get(t, s ? "b" : "a"), "birthday");
    const char *role = json_string_value(json_object_get(b, "role"));
    if (role && strcmp(role, "dialer") == 0 &&
        json_array_size(json_object_get(b, "range")) == 2)
      return b;
  }
  return NULL;
}

/* The simulation of the sprays the trials planned: for each trial whose
 * dialer planned one, nat_bday_sim_run() on its plan (K, m, rate and the
 * range it sprayed: natbox's model of a NAT drawing ports at random from
 * that range, the dialer spraying it), 100,000 simulated trials shared
 * out among them (at least 1,000 each), seed 1 plus the trial's number.
 * Each trial's own plan, since the range a dialer measures varies from
 * trial to trial, as the predicted p (the mean of the trials') does. The
 * rate over all simulated trials and its Wilson 95 % interval, or NAN. */
static double simulated_p(json_t *trials, double *lo, double *hi) {
  size_t i, nplans = 0;
  json_t *t;
  uint64_t hits = 0, all = 0;
  json_array_foreach(trials, i, t) nplans += dialer_of(t) != NULL;
  if (nplans == 0)
    return NAN;
  uint32_t each = (uint32_t)(100000 / nplans);
  if (each < 1000)
    each = 1000;
  json_array_foreach(trials, i, t) {
    json_t *b = dialer_of(t), *range = json_object_get(b, "range");
    if (!b)
      continue;
    nat_bday_sim_config cfg = {
        .sockets = (uint32_t)json_integer_value(json_object_get(b, "sockets")),
        .probes = (uint32_t)json_integer_value(json_object_get(b, "probes")),
        .rate = (uint32_t)json_integer_value(json_object_get(b, "rate")),
        .alloc = NAT_ALLOC_RANDOM,
        .port_min = (uint16_t)json_integer_value(json_array_get(range, 0)),
        .port_max = (uint16_t)json_integer_value(json_array_get(range, 1)),
        .dialer_knows_range = true,
        .trials = each,
        .seed = 1 + i};
    nat_bday_sim_result r;
    if (nat_bday_sim_run(&cfg, &r) != 0)
      return NAN;
    hits += r.hits;
    all += r.trials;
  }
  nat_bday_wilson((uint32_t)hits, (uint32_t)all, lo, hi);
  return (double)hits / (double)all;
}

/* Does the pair meet its expectation? @p why says how not. */
static bool judge(const struct bday_pair *x, const struct tally *c, int trials,
                  double p, double sim, double lo, double hi, char *why,
                  size_t len) {
  why[0] = '\0';
  if (c->n[4] || c->n[3])
    snprintf(why, len, "%d trial(s) ended in error or one-sided",
             c->n[4] + c->n[3]);
  else if (strcmp(x->expected, "refused") == 0 && c->n[1] != trials)
    snprintf(why, len, "%d of %d trials refused, expected all", c->n[1],
             trials);
  else if (c->refused_without_estimate)
    snprintf(why, len, "%d refused trial(s) without the estimate",
             c->refused_without_estimate);
  else if (strcmp(x->expected, "connected") == 0 && c->n[0] == 0)
    snprintf(why, len, "no trial connected");
  else if (c->disagree)
    snprintf(why, len,
             "in %d connected trial(s) the peers report different strategies",
             c->disagree);
  else if (c->wrong_strategy)
    snprintf(why, len, "%d connected trial(s) not by %s", c->wrong_strategy,
             x->strategy);
  else if (x->strategy && c->planned != trials)
    snprintf(why, len, "the spray was planned in %d of %d trials", c->planned,
             trials);
  else if (judged_p(x, c) && !(p >= lo && p <= hi))
    snprintf(why, len,
             "predicted p %.4f outside the measured 95 %% interval "
             "[%.4f, %.4f]",
             p, lo, hi);
  else if (judged_p(x, c) && isfinite(sim) && !(sim >= lo && sim <= hi))
    snprintf(why, len,
             "simulated p %.4f outside the measured 95 %% interval "
             "[%.4f, %.4f]",
             sim, lo, hi);
  else if (!c->planned && strcmp(x->expected, "connected") == 0 &&
           c->n[0] != trials)
    snprintf(why, len, "%d of %d trials connected without a spray", c->n[0],
             trials);
  return why[0] == '\0';
}

static json_t *pair_case(const struct bday_pair *x, const char *prefix,
                         json_t *trials, double ms, const char *error) {
  struct tally c;
  char why[200];
  double lo, hi;
  int n = (int)json_array_size(trials);
  count(x, trials, &c);
  int base = c.planned ? c.planned : n;
  int hits = c.planned ? c.planned_hits : c.n[0];
  wilson(hits, base, &lo, &hi);
  double p = c.p_n ? c.p_sum / c.p_n : NAN;
  double sim_lo = NAN, sim_hi = NAN;
  double sim = c.planned ? simulated_p(trials, &sim_lo, &sim_hi) : NAN;
  bool pass = !error && judge(x, &c, n, p, sim, lo, hi, why, sizeof why);
  json_t *counts = json_object();
  for (int k = 0; k < 5; k++)
    json_object_set_new(counts, outcomes[k], json_integer(c.n[k]));
  json_t *j = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:i,s:o,s:i,s:o,s:o,s:[f,f],s:o,s:{s:o,"
      "s:o},s:{s:o,s:o},s:o,s:f,s:s,s:o}",
      "pair", x->name, "kind_a", x->kind_a, "kind_b", x->kind_b, "topology",
      x->topo, "prefix", prefix, "expected_strategy",
      x->strategy ? json_string(x->strategy) : json_null(), "expected",
      x->expected, "trials", n, "outcomes", counts, "spray_trials", c.planned,
      "predicted_p", isfinite(p) ? json_real(p) : json_null(), "measured_p",
      base ? json_real((double)hits / base) : json_null(), "ci95", lo, hi,
      "prediction_inside",
      judged_p(x, &c) ? json_boolean(p >= lo && p <= hi) : json_null(),
      "time_ms", "median", quantile(trials, "time_ms", 0.5), "p90",
      quantile(trials, "time_ms", 0.9), "packets", "median",
      quantile(trials, "packets", 0.5), "p90", quantile(trials, "packets", 0.9),
      "estimate", estimate_of(trials), "duration_ms", ms, "result",
      error  ? "error"
      : pass ? "pass"
             : "fail",
      "runs", json_incref(trials));
  json_object_set_new(j, "simulated_p",
                      isfinite(sim) ? json_real(sim) : json_null());
  json_object_set_new(j, "simulated_ci95",
                      isfinite(sim) ? json_pack("[f,f]", sim_lo, sim_hi)
                                    : json_null());
  json_object_set_new(j, "simulation_inside",
                      judged_p(x, &c) && isfinite(sim)
                          ? json_boolean(sim >= lo && sim <= hi)
                          : json_null());
  json_object_set_new(j, "expectation", json_string(x->why));
  if (error || !pass)
    json_object_set_new(j, "mismatch", json_string(error ? error : why));
  return j;
}

/* ---------------------------------------------------------------- worker */

/* Trial @p k in a fresh lab: up, the rendezvous, both peers, all down
 * again, so that no trial inherits another's NAT state (mappings the spray
 * left until they time out: 16 sprays of 256 sockets fill a carrier NAT's
 * 4096-port block, and the next one finds no free port). The trial, or
 * NULL with @p err set when the lab or the rendezvous did not come up. */
static json_t *one_trial(const struct nl_bday_plan *p, const struct nl_topo *t,
                         const struct nl_params *params, const char *prefix,
                         int k, char *err, size_t len) {
  struct nl_proc srv, peer[2];
  struct nl_peer_cmd cmd;
  char room[48], sockets[12], probes[12];
  json_t *trial = NULL;
  if (nl_lab_up(t, prefix, params, true) != 0) {
    snprintf(err, len, "lab did not come up (trial %d)", k);
    return NULL;
  }
  if (nl_serve_start(prefix, &srv) != 0) {
    json_t *l = nl_last_line(srv.buf[1] ? srv.buf[1] : "");
    snprintf(err, len, "punch serve did not start: %s", json_string_value(l));
    json_decref(l);
  } else {
    snprintf(room, sizeof room, "natlab-bday-%s-%d-%d", prefix, k,
             (int)getpid());
    nl_peer_cmd_init(&cmd,
                     strcmp(p->tool, "birthday") == 0 ? nl_birthday_path()
                                                      : nl_punch_path(),
                     "connect", room, p->timeout_s);
    if (p->sockets) {
      snprintf(sockets, sizeof sockets, "%d", p->sockets);
      nl_peer_cmd_add(&cmd, "--sockets");
      nl_peer_cmd_add(&cmd, sockets);
    }
    if (p->probes) {
      snprintf(probes, sizeof probes, "%d", p->probes);
      nl_peer_cmd_add(&cmd, "--probes");
      nl_peer_cmd_add(&cmd, probes);
    }
    nl_peers_run(prefix, &cmd, (p->timeout_s + 20) * 1000.0, &srv, peer);
    trial = trial_json(k, peer);
    nl_proc_free(&peer[0]);
    nl_proc_free(&peer[1]);
  }
  nl_serve_stop(&srv);
  nl_lab_down(prefix, true);
  /* the rendezvous' log where a trial did not connect */
  const char *o = json_string_value(json_object_get(trial, "outcome"));
  if (trial && o && strcmp(o, "connected") != 0)
    json_object_set_new(trial, "rendezvous_log",
                        nl_text_json(srv.buf[1], srv.len[1]));
  nl_proc_free(&srv);
  return trial;
}

/* N trials on pair @p x, each in its own lab (one_trial). */
static json_t *run_pair(const struct nl_bday_plan *p, const struct bday_pair *x,
                        const char *prefix) {
  static struct nl_topo t;
  struct nl_params params = x == &custom ? p->set : (struct nl_params){0};
  struct bday_pair spray_only = *x;
  /* birthday connect only sprays: every connection is by birthday, and
   * measured against the prediction */
  if (strcmp(p->tool, "birthday") == 0 &&
      strcmp(x->expected, "connected") == 0 && !x->strategy) {
    spray_only.strategy = "birthday";
    spray_only.why = "birthday connect sprays only";
    x = &spray_only;
  }
  char topo[PATH_MAX], err[300] = "";
  json_t *trials = json_array();
  double t0 = nl_now_ms();
  for (int k = 0; k < 2 && x->set[k]; k++) {
    const char *eq = strchr(x->set[k], '=');
    snprintf(params.name[params.n], 24, "%.*s", (int)(eq - x->set[k]),
             x->set[k]);
    snprintf(params.value[params.n++], 40, "%s", eq + 1);
  }
  if (nl_topo_find(x->topo, topo, sizeof topo) != 0 ||
      nl_topo_load(&t, topo, &params) != 0)
    snprintf(err, sizeof err, "topology does not load");
  for (int k = 0; !err[0] && k < p->trials && !nl_interrupted; k++) {
    json_t *trial = one_trial(p, &t, &params, prefix, k, err, sizeof err);
    if (trial)
      json_array_append_new(trials, trial);
    if (isatty(2))
      fprintf(stderr, "\rnatlab: %s: trial %d/%d", x->name, k + 1, p->trials);
  }
  json_t *c =
      pair_case(x, prefix, trials, nl_now_ms() - t0, err[0] ? err : NULL);
  json_decref(trials);
  return c;
}

/** Worker of pair @p i of @p p: its case (a one-element array) as JSON in
 * @p file. 0, 3 when interrupted or the file cannot be written. */
int nl_bday_worker(const struct nl_bday_plan *p, int i, const char *file) {
  char prefix[16]; /* 6 characters: b, 3 hex digits, 2 digits */
  snprintf(prefix, sizeof prefix, "b%03x%02u", (unsigned)getpid() & 0xfffu,
           (unsigned)i % 100u);
  json_t *res = json_array();
  json_array_append_new(
      res, run_pair(p, p->pair[i] < 0 ? &custom : &pairs[p->pair[i]], prefix));
  int r = json_dump_file(res, file, JSON_INDENT(1));
  json_decref(res);
  return r == 0 && !nl_interrupted ? 0 : 3;
}

/* ------------------------------------------------------------- markdown */

static void num(FILE *f, json_t *v, int digits) {
  if (json_is_number(v))
    fprintf(f, "%.*f", digits, json_number_value(v));
  else
    fputc('-', f);
}

/** The birthday experiment's table: one row per pair. */
void nl_bday_markdown(FILE *f, json_t *cases, int pass, int fail) {
  size_t i;
  json_t *c;
  fprintf(f, "| pair (ha x hb) | expected | trials | connected | refused | "
             "failed | other | strategy | predicted p | simulated p | "
             "measured (95 %% CI) | inside | ms median | ms p90 | packets "
             "median | estimate | "
             "result |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- "
             "| ---: | ---: | --- | --- | ---: | ---: | ---: | --- | --- |\n");
  json_array_foreach(cases, i, c) {
    json_t *o = json_object_get(c, "outcomes"),
           *ci = json_object_get(c, "ci95");
    json_t *e = json_object_get(c, "estimate");
    const char *strat =
        json_string_value(json_object_get(c, "expected_strategy"));
    json_t *inside = json_object_get(c, "prediction_inside");
    json_t *sim_in = json_object_get(c, "simulation_inside");
    fprintf(f, "| %s | %s%s%s | %d | %d | %d | %d | %d | ",
            json_string_value(json_object_get(c, "pair")),
            json_string_value(json_object_get(c, "expected")),
            strat ? " by " : "", strat ? strat : "",
            (int)json_integer_value(json_object_get(c, "trials")),
            (int)json_integer_value(json_object_get(o, "connected")),
            (int)json_integer_value(json_object_get(o, "refused")),
            (int)json_integer_value(json_object_get(o, "failed")),
            (int)(json_integer_value(json_object_get(o, "one-sided")) +
                  json_integer_value(json_object_get(o, "error"))));
    /* the strategies that won, as counted over the trials */
    json_t *runs = json_object_get(c, "runs"), *t;
    size_t k;
    json_t *seen = json_object();
    json_array_foreach(runs, k, t) {
      json_t *two = json_object_get(t, "strategies");
      const char *sa = json_string_value(json_array_get(two, 0));
      const char *sb = json_string_value(json_array_get(two, 1));
      char key[40];
      if (!sa && !sb)
        continue;
      if (sa && sb && strcmp(sa, sb) == 0)
        snprintf(key, sizeof key, "%s", sa);
      else /* the peers disagree: both, ha's first */
        snprintf(key, sizeof key, "%s/%s", sa ? sa : "-", sb ? sb : "-");
      json_object_set_new(
          seen, key,
          json_integer(json_integer_value(json_object_get(seen, key)) + 1));
    }
    const char *name;
    json_t *v;
    int any = 0;
    json_object_foreach(seen, name, v) {
      fprintf(f, "%s%s %d", any++ ? ", " : "", name,
              (int)json_integer_value(v));
    }
    json_decref(seen);
    fprintf(f, "%s | ", any ? "" : "-");
    num(f, json_object_get(c, "predicted_p"), 4);
    fputs(" | ", f);
    num(f, json_object_get(c, "simulated_p"), 4);
    fputs(" | ", f);
    num(f, json_object_get(c, "measured_p"), 3);
    fprintf(f, " [%.3f, %.3f] | %s | ",
            json_number_value(json_array_get(ci, 0)),
            json_number_value(json_array_get(ci, 1)),
            !json_is_boolean(inside)                         ? "-"
            : json_is_true(inside) && !json_is_false(sim_in) ? "yes"
                                                             : "NO");
    num(f, path(c, "time_ms.median"), 0);
    fputs(" | ", f);
    num(f, path(c, "time_ms.p90"), 0);
    fputs(" | ", f);
    num(f, path(c, "packets.median"), 0);
    if (json_is_object(e))
      fprintf(f, " | %.0f probes a side, %.0f min, %.0f NAT entries | ",
              json_number_value(json_object_get(e, "probes_per_side")),
              json_number_value(json_object_get(e, "minutes")),
              json_number_value(json_object_get(e, "nat_entries")));
    else
      fputs(" | - | ", f);
    fprintf(f, "%s |\n", json_string_value(json_object_get(c, "result")));
  }
  fprintf(f, "\n%d passed, %d failed\n", pass, fail);
}
