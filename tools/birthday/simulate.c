/* birthday simulate -- the Monte Carlo of the spray (nat_bday_sim_run(),
 * nat/birthday.h): one configuration, measured success with its Wilson
 * 95 % interval against the formula; or --sweep, the table of success
 * against probes for K 64/128/256 over the full range, 4096 and 1000
 * ports. Text for people, --json (schema_version 1,
 * docs/schema/birthday-simulate-v1.schema.json) for machines. See
 * birthday(1). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nat/birthday.h>
#include <nat/error.h>
#include <nat/natbox.h>

#include "../common/cli.h"
#include "birthday.h"

#define WHO            "birthday simulate"
#define TRIALS_DEFAULT 10000
#define TRIALS_MAX     100000000

static const char simulate_usage[] =
    "usage: birthday simulate [--sockets K] [--probes M] [--rate PPS]\n"
    "                         [--range LO-HI] [--alloc random|sequential]\n"
    "                         [--delta D] [--jitter P[:MAX]] [--block N]\n"
    "                         [--table-limit N] [--timeout SEC] [--blind]\n"
    "                         [--trials N] [--seed S] [--json] [--sweep]\n"
    "\n"
    "The acceptor's NAT maps K sockets as natbox allocates ports; the\n"
    "dialer sends M probes to distinct ports (its range first); a trial\n"
    "hits at the first probe on a live mapping. Prints the measured success\n"
    "with its 95 % interval against the formula.\n"
    "\n"
    "  -k, --sockets K      mappings the acceptor opens (default 256)\n"
    "  -m, --probes M       the dialer's budget, 1..65535 (default 2048)\n"
    "  -r, --rate PPS       probes per second, for --timeout (default 250)\n"
    "  -R, --range LO-HI    the NAT's port range (default 1024-65535)\n"
    "  -a, --alloc KIND     random (default) or sequential\n"
    "  -d, --delta D        sequential step, non-zero (default 1)\n"
    "  -j, --jitter P[:MAX] sequential: with probability P other hosts take\n"
    "                       1..MAX ports first (default MAX 3)\n"
    "  -b, --block N        carrier NAT port block of N ports\n"
    "  -l, --table-limit N  session table: mappings past N are not made\n"
    "  -t, --timeout SEC    mappings (never refreshed) die after SEC\n"
    "  -B, --blind          the dialer does not know the range or block: it\n"
    "                       sprays 1024-65535 uniformly\n"
    "  -n, --trials N       trials (default 10000; a --sweep point each)\n"
    "  -s, --seed S         the seed (default 1): a seed repeats a run\n"
    "  -J, --json           JSON (schema_version 1)\n"
    "  -S, --sweep          success against probes for K 64, 128, 256 over\n"
    "                       1024-65535, 4096 and 1000 ports\n"
    "\n"
    "Exit status: 0 done, 2 usage error, 3 internal error.\n";

typedef struct sim_opts {
  nat_bday_sim_config c;
  bool json, sweep;
  bool set_sockets, set_probes, set_range, set_block; /* not with --sweep */
} sim_opts;

/* ------------------------------------------------------------ options */

static int parse_jitter(const char *arg, nat_bday_sim_config *c) {
  char buf[64], *colon;
  unsigned max = 3;
  double p;
  if (strlen(arg) >= sizeof buf)
    return -1;
  strcpy(buf, arg);
  colon = strchr(buf, ':');
  if (colon != NULL) {
    *colon = '\0';
    if (nat_cli_uint(colon + 1, 1, 65535, &max) != 0)
      return -1;
  }
  if (nat_cli_double(buf, 0, 1, &p) != 0)
    return -1;
  c->interleave = p;
  c->interleave_max = max;
  return 0;
}

static int parse_seed(const char *arg, uint64_t *out) {
  char *end = NULL;
  unsigned long long v;
  if (arg[0] < '0' || arg[0] > '9')
    return -1;
  errno = 0;
  v = strtoull(arg, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

/* One option with its value; 0, or the exit status of a usage error. */
static int parse_one(sim_opts *o, int ch, const char *arg) {
  nat_bday_sim_config *c = &o->c;
  unsigned v, v2;
  double d;
  switch (ch) {
  case 'k':
    if (nat_cli_uint(arg, 1, 65535, &v) != 0)
      return nat_cli_usage_error(WHO, "bad --sockets '%s': expected 1..65535",
                                 arg);
    c->sockets = v;
    o->set_sockets = true;
    return 0;
  case 'm':
    if (nat_cli_uint(arg, 1, 65535, &v) != 0)
      return nat_cli_usage_error(WHO, "bad --probes '%s': expected 1..65535",
                                 arg);
    c->probes = v;
    o->set_probes = true;
    return 0;
  case 'r':
    if (nat_cli_uint(arg, 1, 1000000, &v) != 0)
      return nat_cli_usage_error(
          WHO, "bad --rate '%s': expected 1..1000000 probes per second", arg);
    c->rate = v;
    return 0;
  case 'R':
    if (nat_cli_range(arg, 1, &v, &v2) != 0)
      return nat_cli_usage_error(
          WHO, "bad --range '%s': expected LO-HI, 1 <= LO <= HI <= 65535", arg);
    c->port_min = (uint16_t)v;
    c->port_max = (uint16_t)v2;
    o->set_range = true;
    return 0;
  case 'a':
    if (strcmp(arg, "random") == 0)
      c->alloc = NAT_ALLOC_RANDOM;
    else if (strcmp(arg, "sequential") == 0)
      c->alloc = NAT_ALLOC_SEQUENTIAL;
    else
      return nat_cli_usage_error(
          WHO, "bad --alloc '%s': expected random or sequential", arg);
    return 0;
  case 'd':
    if (nat_cli_double(arg, -65535, 65535, &d) != 0 || d != (double)(int)d ||
        d == 0)
      return nat_cli_usage_error(
          WHO, "bad --delta '%s': expected a non-zero integer", arg);
    c->delta = (int32_t)d;
    return 0;
  case 'j':
    if (parse_jitter(arg, c) != 0)
      return nat_cli_usage_error(
          WHO, "bad --jitter '%s': expected P[:MAX], P in 0..1, MAX >= 1", arg);
    return 0;
  case 'b':
    if (nat_cli_uint(arg, 1, 65535, &v) != 0)
      return nat_cli_usage_error(WHO, "bad --block '%s': expected 1..65535",
                                 arg);
    c->block = v;
    o->set_block = true;
    return 0;
  case 'l':
    if (nat_cli_uint(arg, 1, 4294967295UL, &v) != 0)
      return nat_cli_usage_error(
          WHO, "bad --table-limit '%s': expected a mapping count >= 1", arg);
    c->max_mappings = v;
    return 0;
  case 't':
    if (nat_cli_double(arg, 0.000001, 86400.0 * 365, &d) != 0)
      return nat_cli_usage_error(
          WHO, "bad --timeout '%s': expected seconds > 0", arg);
    c->timeout = (nat_tstamp)(d * (double)NAT_SECONDS + 0.5);
    return 0;
  case 'n':
    if (nat_cli_uint(arg, 1, TRIALS_MAX, &v) != 0)
      return nat_cli_usage_error(WHO, "bad --trials '%s': expected 1..%u", arg,
                                 TRIALS_MAX);
    c->trials = v;
    return 0;
  case 's':
    if (parse_seed(arg, &c->seed) != 0)
      return nat_cli_usage_error(
          WHO, "bad --seed '%s': expected an unsigned integer", arg);
    return 0;
  default:
    return nat_cli_usage_error(WHO, "unhandled option");
  }
}

/* Everything that needs the options together. */
static int check_opts(sim_opts *o) {
  nat_bday_sim_config *c = &o->c;
  uint32_t lo = c->port_min ? c->port_min : NAT_BDAY_PORT_LO;
  uint32_t hi = c->port_max ? c->port_max : NAT_BDAY_PORT_HI;
  if (o->sweep) {
    if (o->set_sockets || o->set_probes || o->set_range || o->set_block)
      return nat_cli_usage_error(WHO, "%s",
                                 "--sweep sets K, M and the range itself: "
                                 "no --sockets, --probes, --range, --block");
    return 0;
  }
  if (c->block > hi - lo + 1)
    return nat_cli_usage_error(WHO,
                               "--block %" PRIu32 " is larger than the range "
                               "%" PRIu32 "-%" PRIu32,
                               c->block, lo, hi);
  uint32_t room = c->block ? c->block : hi - lo + 1;
  if (c->sockets > room)
    return nat_cli_usage_error(
        WHO,
        "--sockets %" PRIu32
        ": that many mappings do not fit in the %s's %" PRIu32 " ports",
        c->sockets, c->block ? "block" : "range", room);
  return 0;
}

/* @return 0 to run, -1 after --help, else a usage error's status. */
static int parse_opts(sim_opts *o, int argc, char **argv) {
  static const struct option longs[] = {
      {"sockets", required_argument, NULL, 'k'},
      {"probes", required_argument, NULL, 'm'},
      {"rate", required_argument, NULL, 'r'},
      {"range", required_argument, NULL, 'R'},
      {"alloc", required_argument, NULL, 'a'},
      {"delta", required_argument, NULL, 'd'},
      {"jitter", required_argument, NULL, 'j'},
      {"block", required_argument, NULL, 'b'},
      {"table-limit", required_argument, NULL, 'l'},
      {"timeout", required_argument, NULL, 't'},
      {"blind", no_argument, NULL, 'B'},
      {"trials", required_argument, NULL, 'n'},
      {"seed", required_argument, NULL, 's'},
      {"json", no_argument, NULL, 'J'},
      {"sweep", no_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int ch, rv;
  memset(o, 0, sizeof *o);
  o->c.sockets = NAT_BDAY_SOCKETS_DEFAULT;
  o->c.probes = NAT_BDAY_PROBES_DEFAULT;
  o->c.rate = NAT_BDAY_RATE_DEFAULT;
  o->c.alloc = NAT_ALLOC_RANDOM;
  o->c.dialer_knows_range = true;
  o->c.trials = TRIALS_DEFAULT;
  o->c.seed = 1;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, ":k:m:r:R:a:d:j:b:l:t:Bn:s:JSh", longs,
                           NULL)) != -1) {
    switch (ch) {
    case 'B':
      o->c.dialer_knows_range = false;
      break;
    case 'J':
      o->json = true;
      break;
    case 'S':
      o->sweep = true;
      break;
    case 'h':
      fputs(simulate_usage, stdout);
      return -1;
    case ':':
      return nat_cli_usage_error(WHO, "option '%s' needs a value",
                                 argv[optind - 1]);
    case '?':
      return nat_cli_usage_error(WHO, "unknown option '%s'", argv[optind - 1]);
    default:
      rv = parse_one(o, ch, optarg);
      if (rv != 0)
        return rv;
    }
  }
  if (optind < argc)
    return nat_cli_usage_error(WHO, "unexpected argument '%s'", argv[optind]);
  return check_opts(o);
}

/* ------------------------------------------------------------ figures */

/* The n of the formula: what the dialer sprays first (nat/birthday.h). */
static uint32_t formula_n(const nat_bday_sim_config *c) {
  uint32_t lo = c->port_min ? c->port_min : NAT_BDAY_PORT_LO;
  uint32_t hi = c->port_max ? c->port_max : NAT_BDAY_PORT_HI;
  if (!c->dialer_knows_range)
    return NAT_BDAY_PORT_HI - NAT_BDAY_PORT_LO + 1;
  return c->block ? c->block : hi - lo + 1;
}

static int run_sim(const nat_bday_sim_config *c, nat_bday_sim_result *r) {
  int rv = nat_bday_sim_run(c, r);
  if (rv != 0)
    fprintf(stderr, WHO ": the simulation failed: %s\n", nat_strerror(rv));
  return rv;
}

static bool inside(const nat_bday_sim_result *r) {
  return r->ci_lo <= r->predicted && r->predicted <= r->ci_hi;
}

static const char *agreement(const nat_bday_sim_result *r) {
  if (inside(r))
    return "agrees: the formula is inside the 95 % interval";
  return r->predicted > r->ci_hi ? "below the formula (outside the 95 % "
                                   "interval)"
                                 : "above the formula (outside the 95 % "
                                   "interval)";
}

static void print_text(const nat_bday_sim_config *c,
                       const nat_bday_sim_result *r) {
  uint32_t lo = c->port_min ? c->port_min : NAT_BDAY_PORT_LO;
  uint32_t hi = c->port_max ? c->port_max : NAT_BDAY_PORT_HI;
  uint32_t rate = c->rate ? c->rate : NAT_BDAY_RATE_DEFAULT;
  printf("measured     %s\n", agreement(r));
  printf("success      %.3f %% (%" PRIu32 " of %" PRIu32
         " trials), 95 %% interval %.3f-%.3f %%\n",
         100 * r->rate, r->hits, r->trials, 100 * r->ci_lo, 100 * r->ci_hi);
  printf("formula      %.3f %% (K %" PRIu32 " among n %" PRIu32
         " ports, m %" PRIu32 " probes)\n",
         100 * r->predicted, c->sockets, formula_n(c), c->probes);
  if (r->hits)
    printf("mean hit     probe %.1f, %.2f s at %" PRIu32 " probes/s\n",
           r->mean_probe, (r->mean_probe - 1) / rate, rate);
  else
    printf("mean hit     none\n");
  printf("simulation   %" PRIu64 " probes sent, %.1f M probes/s simulated "
         "(%.3f s)\n",
         r->probes_sent, r->probes_per_sec / 1e6, r->seconds);
  printf("nat          %s allocation",
         c->alloc == NAT_ALLOC_SEQUENTIAL ? "sequential" : "random");
  if (c->alloc == NAT_ALLOC_SEQUENTIAL)
    printf(" (delta %" PRId32 ", jitter %.2f:%u)", c->delta ? c->delta : 1,
           c->interleave, c->interleave_max ? c->interleave_max : 3);
  printf(", ports %" PRIu32 "-%" PRIu32, lo, hi);
  if (c->block)
    printf(", blocks of %" PRIu32, c->block);
  if (c->max_mappings)
    printf(", table limit %" PRIu32, c->max_mappings);
  if (c->timeout)
    printf(", timeout %.3f s", (double)c->timeout / (double)NAT_SECONDS);
  printf("\ndialer       %s, seed %" PRIu64 "\n",
         c->dialer_knows_range ? "sprays the range (or block) first"
                               : "sprays 1024-65535 blind",
         c->seed);
}

static json_t *config_json(const nat_bday_sim_config *c, bool sweep) {
  json_t *o = json_object();
  uint32_t lo = c->port_min ? c->port_min : NAT_BDAY_PORT_LO;
  uint32_t hi = c->port_max ? c->port_max : NAT_BDAY_PORT_HI;
  if (!sweep) {
    json_object_set_new(o, "sockets", json_integer(c->sockets));
    json_object_set_new(o, "probes", json_integer(c->probes));
    json_object_set_new(o, "range_lo", json_integer(lo));
    json_object_set_new(o, "range_hi", json_integer(hi));
    json_object_set_new(o, "block", json_integer(c->block));
  }
  json_object_set_new(o, "rate", json_integer(c->rate));
  json_object_set_new(
      o, "alloc",
      json_string(c->alloc == NAT_ALLOC_SEQUENTIAL ? "sequential" : "random"));
  json_object_set_new(o, "delta", json_integer(c->delta ? c->delta : 1));
  json_object_set_new(o, "jitter", json_real(c->interleave));
  json_object_set_new(o, "jitter_max",
                      json_integer(c->interleave_max ? c->interleave_max : 3));
  json_object_set_new(o, "table_limit", json_integer(c->max_mappings));
  json_object_set_new(o, "timeout_s",
                      json_real((double)c->timeout / (double)NAT_SECONDS));
  json_object_set_new(o, "dialer_knows_range",
                      json_boolean(c->dialer_knows_range));
  json_object_set_new(o, "trials", json_integer(c->trials));
  json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
  return o;
}

static json_t *result_json(const nat_bday_sim_config *c,
                           const nat_bday_sim_result *r) {
  json_t *o = json_object();
  json_object_set_new(o, "trials", json_integer(r->trials));
  json_object_set_new(o, "hits", json_integer(r->hits));
  json_object_set_new(o, "success", json_real(r->rate));
  json_object_set_new(o, "ci_lo", json_real(r->ci_lo));
  json_object_set_new(o, "ci_hi", json_real(r->ci_hi));
  json_object_set_new(o, "formula", json_real(r->predicted));
  json_object_set_new(o, "formula_n", json_integer(formula_n(c)));
  json_object_set_new(o, "formula_inside", json_boolean(inside(r)));
  json_object_set_new(o, "mean_probe", json_real(r->mean_probe));
  json_object_set_new(o, "probes_sent",
                      json_integer((json_int_t)r->probes_sent));
  json_object_set_new(o, "seconds", json_real(r->seconds));
  json_object_set_new(o, "probes_per_sec", json_real(r->probes_per_sec));
  return o;
}

static int emit_json(json_t *doc) {
  int rv = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(doc);
  if (rv != 0) {
    fprintf(stderr, WHO ": cannot write the JSON report\n");
    return BDAY_EXIT_ENV;
  }
  fputc('\n', stdout);
  return BDAY_EXIT_OK;
}

static int run_one(const sim_opts *o) {
  nat_bday_sim_result r;
  if (run_sim(&o->c, &r) != 0)
    return BDAY_EXIT_ENV;
  if (!o->json) {
    print_text(&o->c, &r);
    return BDAY_EXIT_OK;
  }
  json_t *doc = json_object();
  json_object_set_new(doc, "schema_version", json_integer(1));
  json_object_set_new(doc, "mode", json_string("simulate"));
  json_object_set_new(doc, "config", config_json(&o->c, false));
  json_object_set_new(doc, "result", result_json(&o->c, &r));
  return emit_json(doc);
}

/* -------------------------------------------------------------- sweep */

static const uint32_t sweep_k[] = {64, 128, 256};
static const struct {
  uint16_t lo, hi;
} sweep_range[] = {{1024, 65535}, {1024, 5119}, {1024, 2023}};
static const double sweep_p[] = {0.5, 0.9, 0.99, 0.999};
#define NK         3
#define NR         3
#define NP         4
#define MAX_POINTS 14 /* probes 1, 2, 4, ... 8192 */

typedef struct sweep_point {
  uint32_t probes;
  nat_bday_sim_result r;
} sweep_point;

typedef struct sweep_curve {
  uint32_t k, n;
  uint16_t lo, hi;
  unsigned npoints;
  sweep_point pt[MAX_POINTS];
} sweep_curve;

/* One curve: probes 1, 2, 4, ... until the formula is all but 1. */
static int sweep_curve_run(const sim_opts *o, sweep_curve *cv, uint32_t k,
                           unsigned ri, uint64_t *seed, unsigned *done) {
  nat_bday_sim_config c = o->c;
  c.sockets = k;
  c.port_min = sweep_range[ri].lo;
  c.port_max = sweep_range[ri].hi;
  c.block = 0;
  cv->k = k;
  cv->lo = c.port_min;
  cv->hi = c.port_max;
  cv->n = formula_n(&c);
  cv->npoints = 0;
  for (uint32_t m = 1; cv->npoints < MAX_POINTS; m *= 2) {
    sweep_point *pt = &cv->pt[cv->npoints++];
    c.probes = m;
    c.seed = (*seed)++;
    pt->probes = m;
    if (run_sim(&c, &pt->r) != 0)
      return -1;
    if (isatty(STDERR_FILENO))
      fprintf(stderr, "\rsweep: %u runs", ++*done);
    if (pt->r.predicted > 0.99995)
      break;
  }
  return 0;
}

/* Decimals for a percentage: two from 99 % (99.97, not 100.0). */
static int digits(double p) {
  return p >= 0.99 ? 2 : 1;
}

static void sweep_text(const sim_opts *o, const sweep_curve cv[NR][NK]) {
  printf("probes needed (formula; the dialer sprays the range first)\n");
  printf("%-6s %-12s %7s %7s %7s %7s\n", "K", "ports", "50 %", "90 %", "99 %",
         "99.9 %");
  for (unsigned ki = 0; ki < NK; ki++)
    for (unsigned ri = 0; ri < NR; ri++) {
      printf("%-6" PRIu32 " %-12" PRIu32, sweep_k[ki], cv[ri][ki].n);
      for (unsigned pi = 0; pi < NP; pi++)
        printf(" %7" PRIu32,
               nat_bday_probes_for(cv[ri][ki].n, sweep_k[ki], sweep_p[pi]));
      printf("\n");
    }
  printf("\nsuccess against probes, %% measured / formula (%" PRIu32
         " trials a point; * formula outside the 95 %% interval)\n",
         o->c.trials);
  for (unsigned ri = 0; ri < NR; ri++) {
    printf("\nports %" PRIu16 "-%" PRIu16 " (%" PRIu32 ")\n", cv[ri][0].lo,
           cv[ri][0].hi, cv[ri][0].n);
    printf("%-7s", "probes");
    for (unsigned ki = 0; ki < NK; ki++)
      printf("   K %-14" PRIu32, sweep_k[ki]);
    printf("\n");
    for (unsigned i = 0; i < MAX_POINTS; i++) {
      bool any = false;
      char row[256];
      int len = snprintf(row, sizeof row, "%-7u", 1u << i);
      for (unsigned ki = 0; ki < NK; ki++) {
        const sweep_curve *c = &cv[ri][ki];
        if (i >= c->npoints) {
          len += snprintf(row + len, sizeof row - (size_t)len, "   %-16s", "");
          continue;
        }
        any = true;
        const nat_bday_sim_result *r = &c->pt[i].r;
        char cell[32];
        snprintf(cell, sizeof cell, "%.*f / %.*f%s", digits(r->rate),
                 100 * r->rate, digits(r->predicted), 100 * r->predicted,
                 inside(r) ? "" : " *");
        len += snprintf(row + len, sizeof row - (size_t)len, "   %-16s", cell);
      }
      if (any)
        printf("%s\n", row);
    }
  }
}

static json_t *sweep_json(const sim_opts *o, const sweep_curve cv[NR][NK],
                          double pps) {
  json_t *doc = json_object(), *needed = json_array(), *curves = json_array();
  json_object_set_new(doc, "schema_version", json_integer(1));
  json_object_set_new(doc, "mode", json_string("sweep"));
  json_object_set_new(doc, "config", config_json(&o->c, true));
  for (unsigned ki = 0; ki < NK; ki++)
    for (unsigned ri = 0; ri < NR; ri++) {
      const sweep_curve *c = &cv[ri][ki];
      json_t *row = json_object(), *pts = json_array();
      json_object_set_new(row, "sockets", json_integer(c->k));
      json_object_set_new(row, "range_lo", json_integer(c->lo));
      json_object_set_new(row, "range_hi", json_integer(c->hi));
      json_object_set_new(row, "n", json_integer(c->n));
      json_object_set_new(
          row, "p50",
          json_integer(nat_bday_probes_for(c->n, c->k, sweep_p[0])));
      json_object_set_new(
          row, "p90",
          json_integer(nat_bday_probes_for(c->n, c->k, sweep_p[1])));
      json_object_set_new(
          row, "p99",
          json_integer(nat_bday_probes_for(c->n, c->k, sweep_p[2])));
      json_object_set_new(
          row, "p999",
          json_integer(nat_bday_probes_for(c->n, c->k, sweep_p[3])));
      json_array_append_new(needed, row);
      row = json_object();
      json_object_set_new(row, "sockets", json_integer(c->k));
      json_object_set_new(row, "range_lo", json_integer(c->lo));
      json_object_set_new(row, "range_hi", json_integer(c->hi));
      json_object_set_new(row, "n", json_integer(c->n));
      for (unsigned i = 0; i < c->npoints; i++) {
        const nat_bday_sim_result *r = &c->pt[i].r;
        json_t *p = json_object();
        json_object_set_new(p, "probes", json_integer(c->pt[i].probes));
        json_object_set_new(p, "hits", json_integer(r->hits));
        json_object_set_new(p, "trials", json_integer(r->trials));
        json_object_set_new(p, "success", json_real(r->rate));
        json_object_set_new(p, "ci_lo", json_real(r->ci_lo));
        json_object_set_new(p, "ci_hi", json_real(r->ci_hi));
        json_object_set_new(p, "formula", json_real(r->predicted));
        json_object_set_new(p, "formula_inside", json_boolean(inside(r)));
        json_array_append_new(pts, p);
      }
      json_object_set_new(row, "points", pts);
      json_array_append_new(curves, row);
    }
  json_object_set_new(doc, "needed", needed);
  json_object_set_new(doc, "curves", curves);
  json_object_set_new(doc, "probes_per_sec", json_real(pps));
  return doc;
}

static int run_sweep(const sim_opts *o) {
  static sweep_curve cv[NR][NK];
  uint64_t seed = o->c.seed, evaluated_s = 0;
  double secs = 0, evaluated = 0;
  unsigned done = 0;
  for (unsigned ri = 0; ri < NR; ri++)
    for (unsigned ki = 0; ki < NK; ki++) {
      if (sweep_curve_run(o, &cv[ri][ki], sweep_k[ki], ri, &seed, &done) != 0)
        return BDAY_EXIT_ENV;
      for (unsigned i = 0; i < cv[ri][ki].npoints; i++) {
        const nat_bday_sim_result *r = &cv[ri][ki].pt[i].r;
        evaluated += r->probes_per_sec * r->seconds;
        secs += r->seconds;
        evaluated_s++;
      }
    }
  if (isatty(STDERR_FILENO))
    fprintf(stderr, "\r%*s\r", 24, "");
  double pps = secs > 0 ? evaluated / secs : 0;
  if (o->json)
    return emit_json(sweep_json(o, cv, pps));
  sweep_text(o, cv);
  printf("\nsimulation   %" PRIu64 " runs, %.1f M probes/s simulated "
         "(%.2f s)\n",
         evaluated_s, pps / 1e6, secs);
  return BDAY_EXIT_OK;
}

int birthday_simulate(int argc, char **argv) {
  sim_opts o;
  int rv = parse_opts(&o, argc, argv);
  if (rv != 0)
    return rv < 0 ? BDAY_EXIT_OK : rv;
  return o.sweep ? run_sweep(&o) : run_one(&o);
}
