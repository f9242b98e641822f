/* natlab -- the `punch` experiment: punch(1) across every pair of NAT kinds.
 *
 * For each unordered pair of kinds (public = no NAT) a worker brings up a
 * lab with its own prefix (topology `pair`: ha behind na, hb behind nb;
 * `public-pair`: ha public, hb behind nb; `public-public`: both public),
 * starts the rendezvous `punch serve --listen 203.0.113.1:4000` on the
 * `wan` node (coturn owns 3478/3479) and waits for its "listening" line,
 * runs `punch connect --rendezvous 203.0.113.1:4000 --room CODE --stun
 * 203.0.113.1:3478 --json --timeout 10` on ha and hb at once, waits for
 * both to exit, stops the rendezvous and tears the lab down. The case
 * records both reports (exit codes, selected pair types, the strategy that
 * won, QUIC confirmed and peer-to-confirmed times, RTT, failure reason and
 * hint, the birthday spray's both-hard estimate) and compares the outcome
 * with the expectation below.
 *
 * Expectation (RFC 4787 behaviours of each side, as the loaded topology
 * declares them; what punch does: after the candidates are exchanged, both
 * sides send hole openers and then connectivity checks to each other's
 * server-reflexive candidates at the same time, answer any check that
 * arrives and learn its source as a peer-reflexive candidate; a side whose
 * NAT maps per destination and allocates ports sequentially also signals
 * predicted candidates, the next ports its NAT will give; when one side
 * maps per destination and the other does not, punch escalates to the
 * birthday spray: the mapping side opens many sockets towards the other's
 * public address, the other sprays checks at random ports of its IP;
 * when both map per destination, punch refuses the spray and says what it
 * would cost):
 *
 *  - neither side maps per destination (no NAT, or endpoint-independent
 *    mapping): each side's server-reflexive address is where its checks
 *    leave from, and each side's own openers and checks towards that
 *    address open its filter for the peer: connected.
 *  - one side maps per destination (address- or address-and-port-dependent
 *    mapping): its checks leave from a new port nobody signalled. They get
 *    in only if the other side's filtering admits a new port of an address
 *    it already sent to: no NAT, endpoint-independent or address-dependent
 *    filtering: connected (the other side learns it as prflx). Address-
 *    and-port-dependent filtering drops them unless the other side sent to
 *    that very port first: it did when the mapping side allocates
 *    sequentially (its predicted candidates name the port): connected;
 *    with random allocation the other side's checks go to the wrong ports
 *    and only the birthday spray meets: connected, strategy birthday.
 *  - both sides map per destination: no check ever reaches a port that
 *    expects it, and a spray from both sides would take about 170,000
 *    probes a side: refused, with the estimate on both peers.
 *
 * For the shipped kinds (mapping/filtering: full-cone ei/ei,
 * restricted-cone ei/ad, port-restricted ei/apd, symmetric and
 * symmetric-sequential apd/apd; random-range behaves as port-restricted):
 *
 *                   public  full-c  restr-c  port-r  sym-seq  symmetric
 *   public           conn    conn    conn     conn    conn     conn
 *   full-cone                conn    conn     conn    conn     conn
 *   restricted-cone                  conn     conn    conn     conn
 *   port-restricted                           conn    conn*    conn(b)
 *   symmetric-seq                                     REF      REF
 *   symmetric                                                  REF
 *
 *   (*) through the symmetric-sequential side's predicted candidates;
 *   (b) by the birthday spray (strategy birthday on both peers);
 *   REF: refused on both peers, each with the both-hard estimate.
 *
 * Both peers know both mappings (--stun on another port of the
 * rendezvous' IP tells each whether it maps per destination). A pair whose
 * outcome, winning strategy or estimate differs from the expectation is a
 * failed case. */
#include "natlab.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define PEER_TIMEOUT_S 10

/* Kinds in their canonical order: `public` (no NAT) and the NAT kinds the
 * pair topologies take (topology-format.md). */
static const char *const kind_names[] = {
    "public",          "full-cone",    "restricted-cone",
    "port-restricted", "random-range", "symmetric-sequential",
    "symmetric",
};
#define NKINDS (int)(sizeof kind_names / sizeof kind_names[0])
static const char default_kinds[] = "public,full-cone,restricted-cone,"
                                    "port-restricted,symmetric-sequential,"
                                    "symmetric";

/** The punch program: $NATLAB_PUNCH, else the one built beside natlab
 * (build/tools/punch), else `punch` in natlab's own directory (an
 * installed natlab), else `punch` from PATH. */
const char *nl_punch_path(void) {
  static char beside[PATH_MAX + 8];
  return nl_tool_path("NATLAB_PUNCH", NATLAB_PUNCH_BUILD, "punch", beside,
                      sizeof beside);
}

static int kind_index(const char *name, size_t len) {
  for (int k = 0; k < NKINDS; k++)
    if (strlen(kind_names[k]) == len && strncmp(kind_names[k], name, len) == 0)
      return k;
  return -1;
}

/** Parse --kinds (a comma list; NULL: the default six) into the pairs to
 * run: every unordered pair, the kind itself included, in canonical order
 * (a public side is always ha). 0 or NL_ERR_USAGE after one line on
 * stderr. */
int nl_punch_plan(const char *kinds, struct nl_punch_plan *p) {
  bool on[NKINDS] = {false};
  const char *s = kinds ? kinds : default_kinds;
  memset(p, 0, sizeof *p);
  while (*s) {
    size_t len = strcspn(s, ",");
    int k = kind_index(s, len);
    if (k < 0 || on[k]) {
      fprintf(stderr,
              "natlab: run punch: %s kind '%.*s' in --kinds (public, "
              "full-cone, restricted-cone, port-restricted, random-range, "
              "symmetric-sequential, symmetric; each once)\n",
              k < 0 ? "unknown" : "repeated", (int)len, s);
      return NL_ERR_USAGE;
    }
    on[k] = true;
    s += len + (s[len] == ',');
  }
  for (int k = 0; k < NKINDS; k++)
    if (on[k])
      p->kinds[p->nkinds++] = kind_names[k];
  if (p->nkinds == 0) {
    fprintf(stderr, "natlab: run punch: --kinds lists no kind\n");
    return NL_ERR_USAGE;
  }
  for (int a = 0; a < p->nkinds; a++)
    for (int b = a; b < p->nkinds; b++) {
      p->pa[p->npairs] = (unsigned char)a;
      p->pb[p->npairs++] = (unsigned char)b;
    }
  p->timeout_s = PEER_TIMEOUT_S;
  return 0;
}

/* ------------------------------------------------------------ expectation */

struct expectation {
  const char *outcome;  /* "connected", "refused", NULL: unknown */
  const char *strategy; /* the strategy that must win, NULL: not judged */
  char why[200];
};

static bool per_destination(int mapping) {
  return mapping == NAT_BEH_AD || mapping == NAT_BEH_APD ||
         mapping == NAT_BEH_DEPENDENT;
}

/* Does this filtering let in a new port of an address we sent to? */
static bool admits_new_port(int filtering) {
  return filtering == NL_NO_NAT || filtering == NAT_BEH_EI ||
         filtering == NAT_BEH_AD;
}

/* The rules in the comment at the top, from each host's behaviour. */
static void expect_pair(const struct nl_expect *a, const struct nl_expect *b,
                        struct expectation *x) {
  memset(x, 0, sizeof *x);
  if (a->mapping < 0 || b->mapping < 0 || a->filtering < 0 ||
      b->filtering < 0) {
    snprintf(x->why, sizeof x->why, "a behaviour is not declared");
    return;
  }
  bool da = per_destination(a->mapping), db = per_destination(b->mapping);
  if (!da && !db) {
    x->outcome = "connected";
    snprintf(x->why, sizeof x->why,
             "neither side maps per destination: each side's own checks "
             "open its filter for the other's server-reflexive address");
  } else if (da && db) {
    x->outcome = "refused";
    snprintf(x->why, sizeof x->why,
             "both sides map per destination: no check reaches a port that "
             "expects it, and the spray is refused with its estimate");
  } else {
    const struct nl_expect *fixed = da ? b : a, *moving = da ? a : b;
    char side = da ? 'b' : 'a', other = da ? 'a' : 'b';
    bool in = admits_new_port(fixed->filtering);
    bool predicted = !in && moving->alloc == NL_ALLOC_SEQ;
    x->outcome = "connected";
    x->strategy = in || predicted ? NULL : "birthday";
    if (predicted)
      snprintf(x->why, sizeof x->why,
               "%c maps per destination but allocates sequentially: %c's "
               "checks to its predicted ports open %c's filter (%s)",
               other, side, side, nl_beh_name(fixed->filtering));
    else
      snprintf(x->why, sizeof x->why,
               "%c maps per destination (%s allocation); %c's filtering (%s) "
               "%s its new port%s",
               other, nl_alloc_name(moving->alloc), side,
               nl_beh_name(fixed->filtering), in ? "admits" : "drops",
               in ? "" : ": the birthday spray meets");
  }
}

/* ------------------------------------------------------------- reporting */

static json_t *ms_or_null(json_t *v) {
  return json_is_number(v) ? json_real(json_number_value(v)) : json_null();
}

static const char *cand_type(json_t *sel, const char *side) {
  const char *t =
      json_string_value(json_object_get(json_object_get(sel, side), "type"));
  return t ? t : "?";
}

/* One peer's side of the case: what its report says. */
static json_t *peer_json(const char *node, const char *kind,
                         const struct nl_expect *e, const struct nl_proc *p) {
  json_t *rep = json_loads(p->buf[0] ? p->buf[0] : "", 0, NULL);
  json_t *sel = json_object_get(rep, "selected");
  json_t *t = json_object_get(rep, "times_ms");
  json_t *fail = json_object_get(rep, "failure");
  char path[40] = "";
  if (!json_is_object(rep)) {
    json_decref(rep);
    rep = NULL;
  }
  if (json_is_object(sel))
    snprintf(path, sizeof path, "%s->%s", cand_type(sel, "local"),
             cand_type(sel, "remote"));
  json_t *j = json_pack(
      "{s:s,s:s,s:s,s:s,s:i,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "node", node,
      "kind", kind, "mapping", nl_beh_name(e->mapping), "filtering",
      nl_beh_name(e->filtering), "exit_code", p->status, "ok",
      json_is_true(json_object_get(rep, "ok")), "selected",
      path[0] ? json_string(path) : json_null(), "quic_confirmed_ms",
      ms_or_null(json_object_get(t, "quic_confirmed")), "peer_to_confirmed_ms",
      ms_or_null(json_object_get(t, "peer_to_confirmed")), "rtt_ms",
      ms_or_null(json_object_get(rep, "rtt_ms")), "failure_reason",
      json_is_string(json_object_get(fail, "reason"))
          ? json_copy(json_object_get(fail, "reason"))
          : json_null(),
      "failure_hint",
      json_is_string(json_object_get(fail, "hint"))
          ? json_copy(json_object_get(fail, "hint"))
          : json_null(),
      "stderr", nl_last_line(p->buf[1] ? p->buf[1] : ""), "report",
      rep ? rep : json_null());
  json_t *bd = json_object_get(rep, "birthday");
  json_t *est = json_object_get(bd, "both_hard");
  json_object_set_new(j, "strategy",
                      json_is_string(json_object_get(rep, "strategy"))
                          ? json_copy(json_object_get(rep, "strategy"))
                          : json_null());
  json_object_set_new(j, "estimate",
                      json_is_object(est) ? json_deep_copy(est) : json_null());
  return j;
}

static bool has_ms(json_t *peer, const char *key) {
  return json_is_number(json_object_get(peer, key));
}

/* Did this peer refuse the spray (both sides hard)? */
static bool refused(json_t *peer) {
  const char *reason =
      json_string_value(json_object_get(peer, "failure_reason"));
  return reason && strstr(reason, "refused");
}

/* "connected" (both confirmed QUIC), "failed" (both gave up: exit 1),
 * "refused" (both exit 1 refusing the spray),
 * "one-sided", or "error" (no report, killed, usage/environment exit). */
static const char *outcome_of(json_t *pa, json_t *pb) {
  json_int_t ea = json_integer_value(json_object_get(pa, "exit_code"));
  json_int_t eb = json_integer_value(json_object_get(pb, "exit_code"));
  bool oka = json_is_true(json_object_get(pa, "ok")),
       okb = json_is_true(json_object_get(pb, "ok"));
  bool ra = json_is_object(json_object_get(pa, "report")),
       rb = json_is_object(json_object_get(pb, "report"));
  if (!ra || !rb || (ea != 0 && ea != 1) || (eb != 0 && eb != 1))
    return "error";
  if (oka && okb && ea == 0 && eb == 0)
    return "connected";
  if (!oka && !okb && ea == 1 && eb == 1)
    return refused(pa) && refused(pb) ? "refused" : "failed";
  return "one-sided";
}

/* Does the case meet the expectation? (Connected: both selected a pair and
 * report both times; failed: both give the expected hint.) */
static bool judge(const struct expectation *x, const char *outcome,
                  json_t *peers[2], char *why, size_t len) {
  if (strcmp(outcome, x->outcome) != 0) {
    snprintf(why, len, "outcome %s, expected %s", outcome, x->outcome);
    return false;
  }
  for (int i = 0; i < 2; i++) {
    const char *side = i ? "b" : "a";
    /* a connection by the spray has no checked pair: the spray's hit */
    json_t *hit = json_object_get(
        json_object_get(
            json_object_get(json_object_get(peers[i], "report"), "birthday"),
            "actual"),
        "hit");
    const char *strategy =
        json_string_value(json_object_get(peers[i], "strategy"));
    bool spray = strategy && strcmp(strategy, "birthday") == 0;
    if (strcmp(outcome, "connected") == 0 &&
        (!(spray ? json_is_true(hit)
                 : json_is_string(json_object_get(peers[i], "selected"))) ||
         !has_ms(peers[i], "quic_confirmed_ms") ||
         !has_ms(peers[i], "peer_to_confirmed_ms"))) {
      snprintf(why, len, "%s connected without %s or times", side,
               spray ? "the spray's hit" : "a selected pair");
      return false;
    }
    if (x->strategy && (!strategy || strcmp(strategy, x->strategy) != 0)) {
      snprintf(why, len, "%s's strategy is %s, expected %s", side,
               strategy ? strategy : "null", x->strategy);
      return false;
    }
    json_t *est = json_object_get(peers[i], "estimate");
    if (strcmp(outcome, "refused") == 0 &&
        !(json_number_value(json_object_get(est, "probes_per_side")) > 0)) {
      snprintf(why, len, "%s refused without the estimate", side);
      return false;
    }
  }
  why[0] = '\0';
  return true;
}

static void observed_text(const char *outcome, json_t *peers[2], char *buf,
                          size_t len) {
  const char *path = json_string_value(json_object_get(peers[0], "selected"));
  const char *hint =
      json_string_value(json_object_get(peers[0], "failure_hint"));
  const char *reason =
      json_string_value(json_object_get(peers[0], "failure_reason"));
  const char *strategy =
      json_string_value(json_object_get(peers[0], "strategy"));
  if (strcmp(outcome, "connected") == 0)
    snprintf(buf, len, "connected %s%sby %s", path ? path : "", path ? " " : "",
             strategy ? strategy : "?");
  else if (reason)
    snprintf(buf, len, "%s: %s (hint %s)", outcome, reason,
             hint ? hint : "none");
  else
    snprintf(buf, len, "%s: %s", outcome,
             json_string_value(json_object_get(peers[0], "stderr")));
}

/* ---------------------------------------------------------------- worker */

struct pair_lab {
  const char *ka, *kb; /* kinds of ha and hb */
  const char *topo;    /* topology name */
  struct nl_params params;
  struct nl_topo t;
};

static int load_pair(struct pair_lab *L, const char *ka, const char *kb) {
  char path[PATH_MAX];
  bool pa = strcmp(ka, "public") == 0, pb = strcmp(kb, "public") == 0;
  memset(&L->params, 0, sizeof L->params);
  L->ka = ka;
  L->kb = kb;
  if (pb && !pa) { /* the plan puts public first; keep ha the public one */
    L->ka = kb;
    L->kb = ka;
    pa = true;
    pb = false;
  }
  L->topo = pa && pb ? "public-public" : pa ? "public-pair" : "pair";
  if (!pa) {
    snprintf(L->params.name[L->params.n], 24, "a");
    snprintf(L->params.value[L->params.n++], 40, "%s", L->ka);
  }
  if (!pb) {
    snprintf(L->params.name[L->params.n], 24, "b");
    snprintf(L->params.value[L->params.n++], 40, "%s", L->kb);
  }
  if (nl_topo_find(L->topo, path, sizeof path) != 0 ||
      nl_topo_load(&L->t, path, &L->params) != 0)
    return NL_ERR_USAGE;
  if (nl_topo_node(&L->t, "ha") < 0 || nl_topo_node(&L->t, "hb") < 0) {
    fprintf(stderr, "natlab: %s has no hosts ha and hb\n", path);
    return NL_ERR_USAGE;
  }
  return 0;
}

static json_t *pair_case(const struct pair_lab *L, const struct expectation *x,
                         json_t *pa, json_t *pb, const char *outcome,
                         bool judged, bool pass, const char *why, double ms) {
  json_t *peers[2] = {pa, pb};
  char exp[64], obs[600], name[64];
  snprintf(name, sizeof name, "%s x %s", L->ka, L->kb);
  snprintf(exp, sizeof exp, "%s%s%s", x->outcome ? x->outcome : "unknown",
           x->strategy ? " by " : "", x->strategy ? x->strategy : "");
  if (pa && pb)
    observed_text(outcome, peers, obs, sizeof obs);
  else
    snprintf(obs, sizeof obs, "%s", why);
  json_t *c = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:o,s:o,s:f,s:s}", "pair", name,
      "topology", L->topo, "kind_a", L->ka, "kind_b", L->kb, "expected",
      x->outcome ? x->outcome : "unknown", "expected_strategy",
      x->strategy ? json_string(x->strategy) : json_null(), "expectation",
      x->why, "outcome", outcome, "expected_text", exp, "observed", obs, "a",
      pa ? pa : json_null(), "b", pb ? pb : json_null(), "duration_ms", ms,
      "result",
      !judged       ? "error"
      : !x->outcome ? "n/a"
      : pass        ? "pass"
                    : "fail");
  if (judged && !pass && why[0])
    json_object_set_new(c, "mismatch", json_string(why));
  return c;
}

/* One pair: lab up, rendezvous, both peers, everything down again. */
static json_t *run_pair(struct pair_lab *L, const char *prefix, int timeout_s) {
  struct nl_expect ea, eb;
  struct expectation x;
  struct nl_proc srv, peer[2];
  char why[200] = "";
  double t0 = nl_now_ms();
  nl_topo_effective(&L->t, nl_topo_node(&L->t, "ha"), &ea);
  nl_topo_effective(&L->t, nl_topo_node(&L->t, "hb"), &eb);
  expect_pair(&ea, &eb, &x);
  if (nl_lab_up(&L->t, prefix, &L->params, true) != 0)
    return pair_case(L, &x, NULL, NULL, "error", false, false,
                     "lab did not come up", nl_now_ms() - t0);
  if (nl_serve_start(prefix, &srv) != 0) {
    json_t *l = nl_last_line(srv.buf[1] ? srv.buf[1] : "");
    snprintf(why, sizeof why, "punch serve did not start: %s",
             json_string_value(l) && *json_string_value(l)
                 ? json_string_value(l)
                 : "no output");
    json_decref(l);
    nl_serve_stop(&srv);
    nl_proc_free(&srv);
    nl_lab_down(prefix, true);
    return pair_case(L, &x, NULL, NULL, "error", false, false, why,
                     nl_now_ms() - t0);
  }
  struct nl_peer_cmd cmd;
  char room[48];
  snprintf(room, sizeof room, "natlab-%s-%d", prefix, (int)getpid());
  nl_peer_cmd_init(&cmd, nl_punch_path(), "connect", room, timeout_s);
  nl_peers_run(prefix, &cmd, (timeout_s + 20) * 1000.0, &srv, peer);
  nl_serve_stop(&srv);
  nl_lab_down(prefix, true);
  json_t *pa = peer_json("ha", L->ka, &ea, &peer[0]);
  json_t *pb = peer_json("hb", L->kb, &eb, &peer[1]);
  json_t *peers[2] = {pa, pb};
  const char *outcome = outcome_of(pa, pb);
  bool pass = x.outcome && judge(&x, outcome, peers, why, sizeof why);
  json_t *c =
      pair_case(L, &x, pa, pb, outcome, true, pass, why, nl_now_ms() - t0);
  json_object_set_new(c, "rendezvous_log",
                      nl_text_json(srv.buf[1], srv.len[1]));
  for (int i = 0; i < 2; i++)
    nl_proc_free(&peer[i]);
  nl_proc_free(&srv);
  return c;
}

/** Worker of pair @p i of @p p: its case (a one-element array) as JSON in
 * @p file. 0, 2 when the topology does not load, 3 when interrupted or the
 * file cannot be written. */
int nl_punch_worker(const struct nl_punch_plan *p, int i, const char *file) {
  static struct pair_lab L;
  char prefix[16]; /* 6 characters: m, 3 hex digits, 2 digits */
  if (load_pair(&L, p->kinds[p->pa[i]], p->kinds[p->pb[i]]) != 0)
    return 2;
  snprintf(prefix, sizeof prefix, "m%03x%02u", (unsigned)getpid() & 0xfffu,
           (unsigned)i % 100u);
  json_t *res = json_array();
  json_t *c = run_pair(&L, prefix, p->timeout_s);
  if (!c) /* no memory for the case: still count it as a failure */
    c = json_pack("{s:s,s:s,s:s}", "kind_a", L.ka, "kind_b", L.kb, "result",
                  "error");
  json_object_set_new(c, "prefix", json_string(prefix));
  json_array_append_new(res, c);
  int r = json_dump_file(res, file, JSON_INDENT(1));
  json_decref(res);
  return r == 0 && !nl_interrupted ? 0 : 3;
}

/* ------------------------------------------------------------- markdown */

static void ms2(FILE *f, json_t *a, json_t *b, const char *key) {
  json_t *v[2] = {json_object_get(a, key), json_object_get(b, key)};
  for (int i = 0; i < 2; i++) {
    if (json_is_number(v[i]))
      fprintf(f, "%s%.*f", i ? "/" : "", strcmp(key, "rtt_ms") == 0 ? 1 : 0,
              json_number_value(v[i]));
    else
      fprintf(f, "%s-", i ? "/" : "");
  }
}

/** The punch experiment's table: one row per pair of kinds. */
void nl_punch_markdown(FILE *f, json_t *cases, int pass, int fail) {
  size_t i;
  json_t *c;
  fprintf(f, "| a | b | expected | outcome | exit a/b | path (a), strategy | "
             "QUIC confirmed ms a/b | peer to confirmed ms a/b | RTT ms a/b | "
             "failure (hint) | result |\n"
             "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | --- "
             "| --- |\n");
  json_array_foreach(cases, i, c) {
    json_t *a = json_object_get(c, "a"), *b = json_object_get(c, "b");
    const char *path = json_string_value(json_object_get(a, "selected"));
    const char *reason =
        json_string_value(json_object_get(a, "failure_reason"));
    const char *hint = json_string_value(json_object_get(a, "failure_hint"));
    fprintf(f, "| %s | %s | %s | %s | ",
            json_string_value(json_object_get(c, "kind_a")),
            json_string_value(json_object_get(c, "kind_b")),
            json_string_value(json_object_get(c, "expected_text")),
            json_string_value(json_object_get(c, "outcome")));
    if (json_is_object(a) && json_is_object(b))
      fprintf(f, "%d/%d",
              (int)json_integer_value(json_object_get(a, "exit_code")),
              (int)json_integer_value(json_object_get(b, "exit_code")));
    else
      fputc('-', f);
    const char *strategy = json_string_value(json_object_get(a, "strategy"));
    fprintf(f, " | %s%s%s | ", path ? path : "-", strategy ? " by " : "",
            strategy ? strategy : "");
    ms2(f, a, b, "quic_confirmed_ms");
    fputs(" | ", f);
    ms2(f, a, b, "peer_to_confirmed_ms");
    fputs(" | ", f);
    ms2(f, a, b, "rtt_ms");
    json_t *est = json_object_get(a, "estimate");
    if (reason && json_is_object(est))
      fprintf(f, " | %s (estimate: %.0f probes a side, %.1f min) | ", reason,
              json_number_value(json_object_get(est, "probes_per_side")),
              json_number_value(json_object_get(est, "minutes")));
    else if (reason)
      fprintf(f, " | %s (%s) | ", reason, hint ? hint : "no hint");
    else if (!json_is_object(a))
      fprintf(f, " | %s | ", json_string_value(json_object_get(c, "observed")));
    else
      fputs(" | - | ", f);
    fprintf(f, "%s |\n", json_string_value(json_object_get(c, "result")));
  }
  fprintf(f, "\n%d passed, %d failed\n", pass, fail);
}
