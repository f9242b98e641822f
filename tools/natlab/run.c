/* natlab -- experiment runner.
 *
 * An experiment is a list of cases (topology, node, command, expectation).
 * Cases are grouped by topology; each group runs in its own worker process
 * (groups run in parallel): up with a fresh prefix, exec each case in its
 * node, down. Every case records exit code, stdout, duration, expected and
 * observed verdicts. Results: JSON (--json FILE) and a Markdown table
 * (stdout, or --md FILE).
 *
 * Shipped experiment `reference`: on every single-host topology, the
 * reference clients turnutils_natdiscovery (-m -f, then -H) and Debian's
 * `stun` (RFC 3489) against the lab's coturn, compared with the topology's
 * declared behaviour.
 *
 * Shipped experiment `netcheck`: on the same topologies, libnat's netcheck
 * (`netcheck --server 203.0.113.1:3478 --json`; run_netcheck.c reads its
 * report) against the declared mapping, filtering, hairpinning and port
 * allocation, turnutils_natdiscovery -m -f likewise, and whether the two
 * agree.
 *
 * Shipped experiment `punch` (run_punch.c): not per topology but per pair
 * of NAT kinds: each worker runs one pair (its lab, the rendezvous, both
 * peers of punch(1) at once) and compares the outcome with what RFC 4787
 * behaviours predict.
 *
 * Shipped experiment `birthday` (run_birthday.c): per pair of the NATs the
 * birthday spray is for, repeated trials of punch (or birthday) connect:
 * success against the predicted odds, times, packets, refusals. */
#include "natlab.h"

#include "../common/cli.h"
#include "nat/birthday.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

enum check { CHECK_MF, CHECK_HAIRPIN, CHECK_STUN, CHECK_NETCHECK, CHECK_AGREE };

struct ncase {
  const char *name;
  enum check check;
  const char *argv[6]; /* CHECK_NETCHECK: argv[0] is nl_netcheck_path() */
  int timeout_ms;
};

static const struct ncase reference_cases[] = {
    {"natdiscovery -m -f",
     CHECK_MF,
     {"turnutils_natdiscovery", "-m", "-f", NL_STUN_IP1, NULL},
     30000},
    {"natdiscovery -H",
     CHECK_HAIRPIN,
     {"turnutils_natdiscovery", "-H", NL_STUN_IP1, NULL},
     30000},
    {"stun", CHECK_STUN, {"stun", NL_STUN_IP1, NULL}, 30000},
};

/* Experiment `netcheck`: netcheck's verdict against the declaration, the
 * reference natdiscovery -m -f likewise, and whether the two agree (the
 * last case runs nothing: it compares the two before it). */
static const struct ncase netcheck_cases[] = {
    {"netcheck",
     CHECK_NETCHECK,
     {"netcheck", "--server", NL_STUN_IP1 ":3478", "--json", NULL},
     60000},
    {"natdiscovery -m -f",
     CHECK_MF,
     {"turnutils_natdiscovery", "-m", "-f", NL_STUN_IP1, NULL},
     30000},
    {"netcheck = natdiscovery", CHECK_AGREE, {NULL}, 0},
};

enum per {
  PER_TOPOLOGY, /* reference, netcheck: one topology */
  PER_KINDS,    /* punch: one pair of NAT kinds (run_punch.c) */
  PER_BDAY      /* birthday: one NAT pair, N trials (run_birthday.c) */
};

struct experiment {
  const char *name;
  const struct ncase *cases;
  size_t n;
  int per; /* what one worker runs: enum per */
};

static const struct experiment experiments[] = {
    {"reference", reference_cases,
     sizeof reference_cases / sizeof reference_cases[0], PER_TOPOLOGY},
    {"netcheck", netcheck_cases,
     sizeof netcheck_cases / sizeof netcheck_cases[0], PER_TOPOLOGY},
    {"punch", NULL, 0, PER_KINDS},
    {"birthday", NULL, 0, PER_BDAY},
};

struct runopts {
  const struct experiment *x;
  const char *json, *md;
  const char *only[64];
  int nonly;
  int jobs;           /* workers at a time; 0: the number of CPUs */
  const char *kinds;  /* punch: --kinds LIST */
  char (*paths)[600]; /* per-topology experiments: one topology a worker */
  struct nl_punch_plan plan; /* punch: one pair of kinds a worker */
  const char *pairs;         /* birthday: --pairs LIST */
  struct nl_bday_plan bday;  /* birthday: one NAT pair a worker */
};

static int beh_from_text(const char *out, const char *what) {
  char key[64];
  static const struct {
    const char *text;
    int beh;
  } forms[] = {{"Address and Port Dependent %s", NAT_BEH_APD},
               {"Address Dependent %s", NAT_BEH_AD},
               {"Endpoint Independent %s", NAT_BEH_EI}};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    snprintf(key, sizeof key, forms[i].text, what);
    if (strstr(out, key))
      return forms[i].beh;
  }
  return -1;
}

static bool beh_match(int expected, int observed) {
  return expected < 0 || expected == observed;
}

/* natdiscovery -m -f: "NAT with <X> Mapping!" / "... Filtering!". It
 * binds 0.0.0.0 and so calls a host without NAT "Endpoint Independent":
 * a reflexive address equal to the host's own address means no NAT. */
static void natdisc_mf(const char *out, const char *host_ip, int *m, int *f) {
  const char *refl = strstr(out, "UDP reflexive addr: ");
  size_t hl = strlen(host_ip);
  *m = beh_from_text(out, "Mapping");
  *f = beh_from_text(out, "Filtering");
  if (refl && strncmp(refl + 20, host_ip, hl) == 0 && refl[20 + hl] == ':')
    *m = NL_NO_NAT;
}

static bool check_mf(const char *out, const struct nl_expect *e,
                     const char *host_ip, char *obs, size_t len) {
  int m, f;
  natdisc_mf(out, host_ip, &m, &f);
  snprintf(obs, len, "mapping=%s filtering=%s", nl_beh_name(m), nl_beh_name(f));
  if (e->mapping == NL_NO_NAT || m == NL_NO_NAT)
    return e->mapping == m;
  return m >= 0 && f >= 0 && beh_match(e->mapping, m) &&
         beh_match(e->filtering, f);
}

static bool check_hairpin(const char *out, const struct nl_expect *e, char *obs,
                          size_t len) {
  int h = strstr(out, "successful hairpinning") != NULL;
  snprintf(obs, len, "hairpin=%s", h ? "on" : "off");
  return e->hairpin < 0 || e->hairpin == h;
}

/* stun (vovida client 0.97): exit code = type | 0x01 if the port was
 * preserved | 0x10 if there is no hairpin. Types: 0x00 open, 0x02
 * independent filter, 0x04 address-dependent filter, 0x06 port-dependent
 * filter, 0x08 dependent mapping, 0x0A firewall, 0x0C blocked. */
static bool check_stun(int code, const struct nl_expect *e, char *obs,
                       size_t len) {
  static const char *const names[] = {
      "open",      "full-cone", "restricted", "port-restricted",
      "symmetric", "firewall",  "blocked",    "unknown"};
  int type = code < 0 || code > 0x1f ? 14 : code & 0x0e;
  bool preserve = code >= 0 && (code & 1), hairpin = !(code & 0x10);
  snprintf(obs, len, "%s%s%s", names[type / 2],
           preserve ? " preserves-port" : " new-port",
           hairpin ? " hairpin" : " no-hairpin");
  int want = -1;
  if (e->mapping == NL_NO_NAT)
    want = 0;
  else if (e->mapping == NAT_BEH_AD || e->mapping == NAT_BEH_APD)
    want = 8;
  else if (e->mapping == NAT_BEH_EI && e->filtering >= 0)
    want = 2 * e->filtering; /* EI 2, AD 4, APD 6 */
  if (want >= 0 && type != want)
    return false;
  if (e->alloc >= 0 && e->mapping != NL_NO_NAT &&
      (e->alloc == NL_ALLOC_PRESERVE) != preserve)
    return false;
  return e->hairpin < 0 || e->mapping == NL_NO_NAT ||
         e->hairpin == (int)hairpin;
}

/* netcheck's mapping and filtering against natdiscovery's (no NAT: both
 * "none"; natdiscovery's filtering is not compared then). */
static bool check_agree(const char *netcheck_json, const char *natdisc_out,
                        const char *host_ip, char *obs, size_t len) {
  int nm = -2, nf = -2, dm, df;
  bool parsed = nl_netcheck_mf(netcheck_json, &nm, &nf) == 0;
  natdisc_mf(natdisc_out, host_ip, &dm, &df);
  snprintf(obs, len, "netcheck %s/%s, natdiscovery %s/%s",
           parsed ? nl_beh_seen_name(nm) : "no-report", nl_beh_seen_name(nf),
           nl_beh_seen_name(dm), nl_beh_seen_name(df));
  if (!parsed || nm < 0 || dm < 0)
    return false;
  if (nm == NL_NO_NAT || dm == NL_NO_NAT)
    return nm == dm;
  return nm == dm && nf == df && nf >= 0;
}

static void expected_text(enum check c, const struct nl_expect *e, char *buf,
                          size_t len) {
  if (c == CHECK_AGREE)
    snprintf(buf, len, "same mapping and filtering");
  else if (c == CHECK_MF)
    snprintf(buf, len, "mapping=%s filtering=%s", nl_beh_name(e->mapping),
             nl_beh_name(e->filtering));
  else if (c == CHECK_HAIRPIN)
    snprintf(buf, len, "hairpin=%s",
             e->hairpin < 0 ? "any" : (e->hairpin ? "on" : "off"));
  else
    snprintf(buf, len, "mapping=%s filtering=%s alloc=%s hairpin=%s",
             nl_beh_name(e->mapping), nl_beh_name(e->filtering),
             nl_alloc_name(e->alloc),
             e->hairpin < 0 ? "any" : (e->hairpin ? "on" : "off"));
  size_t l = strlen(buf);
  if (c == CHECK_NETCHECK && e->alloc == NL_ALLOC_SEQ && e->delta > 0)
    snprintf(buf + l, len - l, " delta=%d", e->delta);
}

/* The stdout of case @p name among the results of this host so far. */
static const char *earlier_stdout(json_t *res, const char *node,
                                  const char *name) {
  size_t i;
  json_t *c;
  json_array_foreach(res, i, c) {
    const char *cn = json_string_value(json_object_get(c, "case"));
    const char *nn = json_string_value(json_object_get(c, "node"));
    if (cn && nn && strcmp(cn, name) == 0 && strcmp(nn, node) == 0)
      return json_string_value(json_object_get(c, "stdout"));
  }
  return NULL;
}

static json_t *run_case(const struct nl_topo *t, int host, const char *prefix,
                        const struct ncase *c, json_t *res) {
  char ns[64], obs[160], exp[128], ip[20];
  char *out = NULL;
  const char *argv[6];
  int status = -1, r = 0;
  double ms = 0;
  struct nl_expect e;
  nl_topo_effective(t, host, &e);
  snprintf(ns, sizeof ns, "%s-%s", prefix, t->nodes[host].name);
  nl_ip_str(t->nodes[host].up_addr, ip, sizeof ip);
  memcpy(argv, c->argv, sizeof argv);
  if (c->check == CHECK_NETCHECK)
    argv[0] = nl_netcheck_path();
  if (c->check == CHECK_AGREE)
    status = 0;
  else
    r = nl_capture(ns, (char *const *)(uintptr_t)argv, c->timeout_ms, &out,
                   &status, &ms);
  bool pass = false;
  const char *s = out ? out : "";
  const char *nc = earlier_stdout(res, t->nodes[host].name, "netcheck");
  const char *nd =
      earlier_stdout(res, t->nodes[host].name, "natdiscovery -m -f");
  if (c->check == CHECK_AGREE)
    pass = check_agree(nc ? nc : "", nd ? nd : "", ip, obs, sizeof obs);
  else if (r == 0 && c->check == CHECK_NETCHECK)
    pass = nl_check_netcheck(s, &e, obs, sizeof obs);
  else if (r == 0 && c->check == CHECK_MF)
    pass = check_mf(s, &e, ip, obs, sizeof obs);
  else if (r == 0 && c->check == CHECK_HAIRPIN)
    pass = check_hairpin(s, &e, obs, sizeof obs);
  else if (r == 0)
    pass = check_stun(status, &e, obs, sizeof obs);
  else
    snprintf(obs, sizeof obs, "could not run");
  expected_text(c->check, &e, exp, sizeof exp);
  json_t *cmd = json_array();
  for (int i = 0; argv[i]; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:i,s:f,s:s,s:s,s:s,s:s}", "topology",
                        t->name, "node", t->nodes[host].name, "case", c->name,
                        "command", cmd, "exit_code", status, "duration_ms", ms,
                        "stdout", s, "expected", exp, "observed", obs, "result",
                        e.set ? (pass ? "pass" : "fail") : "n/a");
  free(out);
  return j;
}

static json_t *error_case(const struct nl_topo *t, const char *what) {
  /* a lab that did not come up: one error case for the topology */
  return json_pack("{s:s,s:s,s:s,s:[],s:i,s:f,s:s,s:s,s:s,s:s}", "topology",
                   t->name, "node", "-", "case", what, "command", "exit_code",
                   -1, "duration_ms", 0.0, "stdout", "", "expected", "lab up",
                   "observed", "lab did not come up", "result", "error");
}

/* Worker: one topology, its cases, results written as JSON to @p file. */
static int worker(const struct experiment *x, const char *path,
                  const char *file, int seq) {
  static struct nl_topo t;
  char prefix[NL_PREFIX_MAX];
  json_t *res = json_array();
  if (nl_topo_load(&t, path, NULL) != 0)
    return 2;
  snprintf(prefix, sizeof prefix, "r%x%02d", (unsigned)getpid() & 0xfff,
           seq % 100);
  if (nl_lab_up(&t, prefix, NULL, true) != 0) {
    json_array_append_new(res, error_case(&t, "up"));
  } else {
    for (int h = 1; h < t.nnodes && !nl_interrupted; h++) {
      if (t.nodes[h].kind != NL_HOST)
        continue;
      for (size_t c = 0; c < x->n && !nl_interrupted; c++)
        json_array_append_new(res, run_case(&t, h, prefix, &x->cases[c], res));
    }
    nl_lab_down(prefix, true);
  }
  int r = json_dump_file(res, file, JSON_INDENT(1));
  json_decref(res);
  return r == 0 && !nl_interrupted ? 0 : 3;
}

static bool wanted(const struct runopts *o, const char *name) {
  if (o->nonly == 0)
    return true;
  for (int i = 0; i < o->nonly; i++)
    if (strcmp(o->only[i], name) == 0)
      return true;
  return false;
}

/* True if some uplink of @p t drops packets on purpose (loss=, up-loss=,
 * down-loss= above 0). The reference clients do not retransmit, so such a
 * topology says nothing about their verdicts: `natlab run` leaves it out
 * unless named with --only (lab.netcheck.loss covers netcheck there). */
static bool lossy(const struct nl_topo *t) {
  for (int i = 0; i < t->nnodes; i++)
    for (int k = 0; k < t->nodes[i].n_link_opts; k++) {
      const struct nl_opt *opt = &t->nodes[i].link_opts[k];
      if ((strcmp(opt->key, "loss") == 0 || strcmp(opt->key, "up-loss") == 0 ||
           strcmp(opt->key, "down-loss") == 0) &&
          atof(opt->val) > 0)
        return true;
    }
  return false;
}

static int cmp_path(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

/* The single-host topologies of the shipped set (natbox-based ones only
 * when a natbox program can be found). */
static int reference_topologies(const struct runopts *o, char paths[][600],
                                int max) {
  static struct nl_topo t;
  const char *dir = nl_topo_dir();
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) {
    fprintf(stderr, "natlab: cannot read %s\n", dir);
    return NL_ERR_ENV;
  }
  while ((e = readdir(d)) && n < max) {
    size_t l = strlen(e->d_name);
    if (l < 6 || strcmp(e->d_name + l - 5, ".topo") != 0)
      continue;
    snprintf(paths[n], 600, "%s/%s", dir, e->d_name);
    if (nl_topo_load(&t, paths[n], NULL) != 0 || nl_topo_hosts(&t) != 1 ||
        !wanted(o, t.name) || (o->nonly == 0 && lossy(&t)))
      continue;
    bool natbox = false;
    for (int i = 1; i < t.nnodes; i++)
      natbox |= nl_node_has_natbox(&t.nodes[i]);
    if (natbox && !nl_natbox_available())
      continue;
    n++;
  }
  closedir(d);
  qsort(paths, (size_t)n, 600, cmp_path);
  return n;
}

static void markdown(FILE *f, json_t *cases, int pass, int fail) {
  size_t i;
  json_t *c;
  fprintf(f, "| topology | node | case | expected | observed | result | ms "
             "|\n| --- | --- | --- | --- | --- | --- | ---: |\n");
  json_array_foreach(cases, i, c) {
    fprintf(f, "| %s | %s | %s | %s | %s | %s | %.0f |\n",
            json_string_value(json_object_get(c, "topology")),
            json_string_value(json_object_get(c, "node")),
            json_string_value(json_object_get(c, "case")),
            json_string_value(json_object_get(c, "expected")),
            json_string_value(json_object_get(c, "observed")),
            json_string_value(json_object_get(c, "result")),
            json_real_value(json_object_get(c, "duration_ms")));
  }
  fprintf(f, "\n%d passed, %d failed\n", pass, fail);
}

/* --NAME N within @p lo..@p hi; 0 or NL_ERR_USAGE after one line. */
static int uint_opt(const char *name, const char *v, unsigned lo, unsigned hi,
                    int *out) {
  unsigned x;
  if (nat_cli_uint(v, lo, hi, &x) != 0) {
    fprintf(stderr, "natlab: run: bad %s '%s' (%u..%u)\n", name, v, lo, hi);
    return NL_ERR_USAGE;
  }
  *out = (int)x;
  return 0;
}

/* An option only the birthday experiment takes. 1: not one of them. */
static int bday_opt(struct runopts *o, const char *opt, const char *v) {
  struct nl_bday_plan *b = &o->bday;
  if (strcmp(opt, "--pairs") == 0)
    o->pairs = v;
  else if (strcmp(opt, "--trials") == 0)
    return uint_opt(opt, v, 1, NL_BDAY_TRIALS_MAX, &b->trials);
  else if (strcmp(opt, "--topology") == 0)
    b->topology = v;
  else if (strcmp(opt, "--set") == 0)
    return nl_params_add(&b->set, v);
  else if (strcmp(opt, "--timeout") == 0)
    return uint_opt(opt, v, 1, 600, &b->timeout_s);
  else if (strcmp(opt, "--sockets") == 0)
    return uint_opt(opt, v, 1, NAT_BDAY_SOCKETS_MAX, &b->sockets);
  else if (strcmp(opt, "--probes") == 0)
    return uint_opt(opt, v, 1, NAT_BDAY_PROBES_MAX, &b->probes);
  else if (strcmp(opt, "--tool") == 0 &&
           (strcmp(v, "punch") == 0 || strcmp(v, "birthday") == 0))
    b->tool = v;
  else
    return 1;
  return 0;
}

static const char *const run_opts_text[] = {
    [PER_TOPOLOGY] = "--only TOPOLOGY",
    [PER_KINDS] = "--kinds KIND,KIND...",
    [PER_BDAY] = "--pairs PAIR,PAIR... or --topology FILE [--set "
                 "NAME=VALUE]..., --trials N, --timeout S, --sockets K, "
                 "--probes M, --tool punch|birthday"};

static int parse_run(int argc, char **argv, struct runopts *o) {
  for (size_t i = 0; argc > 0 && i < sizeof experiments / sizeof experiments[0];
       i++)
    if (strcmp(argv[0], experiments[i].name) == 0)
      o->x = &experiments[i];
  if (!o->x) {
    fprintf(stderr,
            "natlab: unknown experiment '%s' (experiments: "
            "reference, netcheck, punch, birthday)\n",
            argc ? argv[0] : "");
    return NL_ERR_USAGE;
  }
  nl_bday_plan_defaults(&o->bday);
  for (int i = 1; i < argc; i++) {
    bool has = i + 1 < argc;
    int r = 1;
    if (strcmp(argv[i], "--json") == 0 && has)
      o->json = argv[++i];
    else if (strcmp(argv[i], "--md") == 0 && has)
      o->md = argv[++i];
    else if (strcmp(argv[i], "--only") == 0 && has && o->nonly < 64 &&
             o->x->per == PER_TOPOLOGY)
      o->only[o->nonly++] = argv[++i];
    else if (strcmp(argv[i], "--kinds") == 0 && has && o->x->per == PER_KINDS)
      o->kinds = argv[++i];
    else if (strcmp(argv[i], "--jobs") == 0 && has) {
      if (uint_opt("--jobs", argv[++i], 1, 64, &o->jobs))
        return NL_ERR_USAGE;
    } else if (has && o->x->per == PER_BDAY &&
               (r = bday_opt(o, argv[i], argv[i + 1])) <= 0) {
      if (r < 0)
        return NL_ERR_USAGE;
      i++;
    } else {
      fprintf(stderr,
              "natlab: run %s: bad option '%s' (--json FILE, --md "
              "FILE, %s, --jobs N)\n",
              o->x->name, argv[i], run_opts_text[o->x->per]);
      return NL_ERR_USAGE;
    }
  }
  if (o->x->per == PER_KINDS)
    return nl_punch_plan(o->kinds, &o->plan);
  if (o->x->per == PER_BDAY)
    return nl_bday_plan(o->pairs, &o->bday);
  return 0;
}

/* Worker @p i of the run: one topology, one pair of kinds (punch), or one
 * NAT pair's trials (birthday). */
static int job(const struct runopts *o, int i, const char *file) {
  if (o->x->per == PER_KINDS)
    return nl_punch_worker(&o->plan, i, file);
  if (o->x->per == PER_BDAY)
    return nl_bday_worker(&o->bday, i, file);
  return worker(o->x, o->paths[i], file, i);
}

/* On a terminal: how many of @p total workers are done (quiet otherwise);
 * the line ends when the last one to wait for (@p last) is. */
static void progress(int done, int last, int total) {
  if (!isatty(2))
    return;
  fprintf(stderr, "\rnatlab: %d/%d done", done, total);
  if (done == last)
    fputc('\n', stderr);
}

/* Run one worker per topology (punch: per pair of kinds), at most
 * @p o->jobs at a time (each lab's coturn, NATs and probes compete for the
 * CPUs: too many at once delays packets by seconds and turns verdicts into
 * timeouts), and wait for all, forwarding SIGINT/SIGTERM so they tear their
 * labs down. */
static int run_workers(const struct runopts *o, int n, const char *tmp) {
  pid_t pids[64];
  int jobs = o->jobs, total = n;
  char file[700];
  int started = 0, done = 0;
  bool forwarded = false;
  while (done < n) {
    while (started < n && started - done < jobs && !nl_interrupted) {
      snprintf(file, sizeof file, "%s/%d.json", tmp, started);
      pids[started] = fork();
      if (pids[started] == 0)
        _exit(job(o, started, file));
      started++;
    }
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p > 0) {
      for (int i = 0; i < started; i++)
        if (pids[i] == p)
          pids[i] = 0;
      done++;
      progress(done, n, total);
      continue;
    }
    if (errno != EINTR)
      break;
    if (nl_interrupted && !forwarded) {
      for (int i = 0; i < started; i++)
        if (pids[i] > 0)
          kill(pids[i], SIGTERM);
      forwarded = true;
      n = started; /* start nothing more */
    }
  }
  return nl_interrupted ? NL_ERR_INTR : 0;
}

static json_t *collect_results(const char *tmp, int n, int *pass, int *fail) {
  json_t *all = json_array();
  char file[700];
  for (int i = 0; i < n; i++) {
    snprintf(file, sizeof file, "%s/%d.json", tmp, i);
    json_t *part = json_load_file(file, 0, NULL);
    size_t k;
    json_t *c;
    json_array_foreach(part, k, c) {
      const char *r = json_string_value(json_object_get(c, "result"));
      *pass += r && strcmp(r, "pass") == 0;
      *fail += r && (strcmp(r, "fail") == 0 || strcmp(r, "error") == 0);
      json_array_append(all, c);
    }
    if (!part)
      (*fail)++;
    json_decref(part);
    unlink(file);
  }
  rmdir(tmp);
  return all;
}

static int write_outputs(const struct runopts *o, json_t *cases, int pass,
                         int fail) {
  FILE *md = o->md ? fopen(o->md, "w") : stdout;
  int r = 0;
  if (!md) {
    fprintf(stderr, "natlab: cannot write %s: %s\n", o->md, strerror(errno));
    return NL_ERR_ENV;
  }
  if (o->x->per == PER_KINDS)
    nl_punch_markdown(md, cases, pass, fail);
  else if (o->x->per == PER_BDAY)
    nl_bday_markdown(md, cases, pass, fail);
  else
    markdown(md, cases, pass, fail);
  if (md != stdout && fclose(md) != 0)
    r = NL_ERR_ENV;
  if (o->json) {
    json_t *doc =
        json_pack("{s:i,s:s,s:i,s:i,s:O}", "schema_version", 1, "experiment",
                  o->x->name, "passed", pass, "failed", fail, "cases", cases);
    if (o->x->per == PER_BDAY) {
      json_object_set_new(doc, "trials", json_integer(o->bday.trials));
      json_object_set_new(doc, "peer_timeout_s",
                          json_integer(o->bday.timeout_s));
      json_object_set_new(doc, "tool", json_string(o->bday.tool));
      json_object_set_new(doc, "sockets",
                          o->bday.sockets ? json_integer(o->bday.sockets)
                                          : json_null());
      json_object_set_new(doc, "probes",
                          o->bday.probes ? json_integer(o->bday.probes)
                                         : json_null());
      json_object_set_new(doc, "program",
                          json_string(strcmp(o->bday.tool, "birthday") == 0
                                          ? nl_birthday_path()
                                          : nl_punch_path()));
    }
    if (o->x->per == PER_KINDS) {
      json_t *kinds = json_array();
      for (int k = 0; k < o->plan.nkinds; k++)
        json_array_append_new(kinds, json_string(o->plan.kinds[k]));
      json_object_set_new(doc, "kinds", kinds);
      json_object_set_new(doc, "peer_timeout_s",
                          json_integer(o->plan.timeout_s));
      json_object_set_new(doc, "punch", json_string(nl_punch_path()));
    }
    if (json_dump_file(doc, o->json, JSON_INDENT(2)) != 0) {
      fprintf(stderr, "natlab: cannot write %s\n", o->json);
      r = NL_ERR_ENV;
    }
    json_decref(doc);
  }
  return r;
}

/** `natlab run EXPERIMENT ...`: exit code 0 all passed, 1 a case failed,
 * 2 usage, 3 environment or interrupted. */
int nl_run_experiment(int argc, char **argv) {
  static char paths[64][600];
  struct runopts o = {0};
  char tmp[] = "/tmp/natlab-run-XXXXXX";
  int pass = 0, fail = 0, n;
  if (parse_run(argc, argv, &o))
    return NL_EXIT_USAGE;
  o.paths = paths;
  n = o.x->per == PER_KINDS  ? o.plan.npairs
      : o.x->per == PER_BDAY ? o.bday.npairs
                             : reference_topologies(&o, paths, 64);
  if (n <= 0) {
    fprintf(stderr, "natlab: no single-host topology to run%s\n",
            o.nonly ? " (check --only)" : "");
    return n < 0 ? NL_EXIT_ENV : NL_EXIT_USAGE;
  }
  if (!mkdtemp(tmp))
    return NL_EXIT_ENV;
  nl_signals_install();
  if (o.jobs == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
  }
  if (isatty(2))
    fprintf(stderr, "natlab: running %d %s, %d at a time...\n", n,
            o.x->per == PER_KINDS  ? "pairs of NAT kinds"
            : o.x->per == PER_BDAY ? "NAT pairs"
                                   : "topologies",
            o.jobs);
  int r = run_workers(&o, n, tmp);
  json_t *cases = collect_results(tmp, n, &pass, &fail);
  if (r == 0)
    r = write_outputs(&o, cases, pass, fail);
  json_decref(cases);
  if (r == NL_ERR_INTR)
    fprintf(stderr, "natlab: interrupted\n");
  if (r)
    return NL_EXIT_ENV;
  return fail ? NL_EXIT_FAIL : NL_EXIT_OK;
}
