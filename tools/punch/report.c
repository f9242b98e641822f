/* punch connect / punch ticket -- the report: text for people, or JSON
 * (schema_version 3, docs/schema/punch-report-v3.schema.json). */
#include <jansson.h>
#include <string.h>

#include <nat/error.h>
#include <nat/verdict.h>

#include "punch.h"

/* A pair's outcome, as both reports show it. */
static const char *pair_outcome(const nat_check_pair *p) {
  return p->state == NAT_PAIR_SUCCEEDED  ? "succeeded"
         : p->fail != NAT_PAIR_FAIL_NONE ? nat_pair_fail_strerror(p->fail)
                                         : nat_pair_state_name(p->state);
}

/* Milliseconds from t0 to t, or JSON null when t was not reached. */
/* null when either instant never came (a spray's path has no check, so
 * first_check_to_confirmed is null for it) */
static json_t *ms_since(nat_tstamp t0, nat_tstamp t) {
  if (t == 0 || t < t0)
    return json_null();
  return json_real((double)(t - t0) / (double)NAT_MILLISECONDS);
}

static json_t *cand_json(const nat_cand *c) {
  char a[NAT_ADDR_STRLEN];
  return json_pack("{s:s, s:s}", "type", nat_cand_type_name(c->type), "address",
                   nat_addr_format(&c->addr, a, sizeof a));
}

static json_t *cands_json(const nat_ticket *t, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, cand_json(&t->cands[i]));
  return arr;
}

static json_t *pair_json(const nat_check_pair *p) {
  json_t *o = json_object();
  json_object_set_new(o, "local", cand_json(&p->local));
  json_object_set_new(o, "remote", cand_json(&p->remote));
  json_object_set_new(o, "state", json_string(nat_pair_state_name(p->state)));
  json_object_set_new(o, "outcome", json_string(pair_outcome(p)));
  json_object_set_new(o, "requests", json_integer(p->sent));
  json_object_set_new(o, "answered", json_integer(p->answered));
  json_object_set_new(o, "nominated", json_boolean(p->nominated));
  json_object_set_new(o, "rtt_ms",
                      p->state == NAT_PAIR_SUCCEEDED ? ms_since(0, p->rtt)
                                                     : json_null());
  return o;
}

static json_t *pairs_json(const punch_outcome *u) {
  json_t *arr = json_array();
  size_t n = u->agent != NULL ? nat_agent_pair_count(u->agent) : 0;
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_agent_pair_get(u->agent, i, &p) == 0)
      json_array_append_new(arr, pair_json(&p));
  }
  return arr;
}

static json_t *times_json(const punch_outcome *u) {
  json_t *o = json_object();
  json_object_set_new(o, "registered", ms_since(u->info.t0, u->info.t_seen));
  json_object_set_new(o, "peer", ms_since(u->info.t0, u->info.t_peer));
  json_object_set_new(o, "first_check_ok",
                      ms_since(u->info.t0, u->info.t_first_ok));
  json_object_set_new(o, "selected", ms_since(u->info.t0, u->info.t_selected));
  json_object_set_new(o, "quic_confirmed",
                      ms_since(u->info.t0, u->info.t_confirmed));
  json_object_set_new(o, "peer_to_confirmed",
                      ms_since(u->info.t_peer, u->info.t_confirmed));
  json_object_set_new(o, "first_check_to_confirmed",
                      u->info.t_first_ok == 0
                          ? json_null()
                          : ms_since(u->info.t_first_ok, u->info.t_confirmed));
  return o;
}

static json_t *refused_json(const punch_outcome *u) {
  json_t *arr = json_array();
  char a[NAT_ADDR_STRLEN];
  for (size_t i = 0; i < u->info.nrefused; i++)
    json_array_append_new(
        arr,
        json_pack("{s:s, s:s, s:s}", "type",
                  nat_cand_type_name(u->info.refused[i].type), "address",
                  nat_addr_format(&u->info.refused[i].addr, a, sizeof a),
                  "reason", nat_cand_reject_strerror(u->info.refused_why[i])));
  return arr;
}

/* The allocation probes and the predicted candidates made from them; null
 * when none ran (ticket mode, no second server, blob never sent). */
static json_t *prediction_json(const punch_outcome *u) {
  const nat_cand_predict_out *p = &u->info.pred;
  bool seq = p->alloc.kind == NAT_PA_SEQUENTIAL;
  if (!u->info.predict_run)
    return json_null();
  return json_pack("{s:s, s:s, s:o, s:i, s:i, s:o, s:i, s:o}", "status",
                   nat_cand_predict_status_name(p->status), "allocation",
                   nat_pa_kind_name(p->alloc.kind), "delta",
                   seq ? json_integer(p->alloc.delta) : json_null(), "probes",
                   (int)u->info.nprobes, "answered",
                   (int)u->info.probes_answered, "last_port",
                   p->status == NAT_CAND_PREDICT_MADE ? json_integer(p->last)
                                                      : json_null(),
                   "candidates", (int)u->info.npredicted, "wait_ms",
                   ms_since(u->info.t_seen, u->info.t_blob));
}

static json_t *failure_json(const punch_outcome *u) {
  json_t *hint = u->hint != NAT_CHECK_HINT_NONE
                     ? json_string(nat_check_hint_name(u->hint))
                     : json_null();
  return json_pack("{s:s, s:s, s:o}", "phase", u->phase, "reason", u->reason,
                   "hint", hint);
}

static json_t *secs_or_null(nat_tstamp t) {
  return json_real((double)t / (double)NAT_SECONDS);
}

/* The birthday plan and what the spray did (null: no plan was made). */
static json_t *birthday_json(const punch_outcome *u) {
  const nat_bday_plan *p = &u->info.bday;
  const nat_agent_bday_stats *b = &u->info.bstats;
  json_t *o, *actual;
  if (!u->info.bday_planned)
    return json_null();
  o = json_object();
  json_object_set_new(o, "ran", json_boolean(u->info.bday_ran));
  json_object_set_new(o, "role", json_string(nat_bday_role_name(p->role)));
  json_object_set_new(o, "why", json_string(nat_bday_why_name(p->why)));
  json_object_set_new(o, "sockets", json_integer(p->sockets));
  json_object_set_new(o, "probes", json_integer(p->probes));
  json_object_set_new(o, "rate", json_integer(p->rate));
  json_object_set_new(o, "range", json_pack("[i, i]", p->lo, p->hi));
  json_object_set_new(o, "range_ports", json_integer(p->n));
  json_object_set_new(o, "predicted",
                      json_pack("{s:f, s:i, s:i, s:o, s:o}", "p_success",
                                p->p_success, "probes_50", (int)p->probes_50,
                                "probes_99", (int)p->probes_99, "seconds_all",
                                secs_or_null(p->t_expected), "seconds_median",
                                secs_or_null(p->t_median)));
  json_object_set_new(o, "both_hard",
                      p->both_probes != 0
                          ? json_pack("{s:I, s:f, s:I}", "probes_per_side",
                                      (json_int_t)p->both_probes, "minutes",
                                      p->both_minutes, "nat_entries",
                                      (json_int_t)p->both_entries)
                          : json_null());
  if (!u->info.bday_ran) {
    json_object_set_new(o, "actual", json_null());
    return o;
  }
  actual = json_object();
  json_object_set_new(actual, "hit", json_boolean(b->t_hit != 0));
  json_object_set_new(actual, "hit_probe",
                      b->hit_probe ? json_integer(b->hit_probe) : json_null());
  json_object_set_new(actual, "probes_sent", json_integer(b->probes_sent));
  json_object_set_new(actual, "keepalives", json_integer(b->keepalives));
  json_object_set_new(actual, "answers_sent", json_integer(b->answers_sent));
  json_object_set_new(actual, "sockets_opened",
                      json_integer(b->sockets_opened));
  json_object_set_new(actual, "sockets_open", json_integer(b->sockets_open));
  json_object_set_new(actual, "ignored", json_integer(b->ignored));
  json_object_set_new(actual, "replays", json_integer(b->replays));
  json_object_set_new(actual, "send_errors", json_integer(b->send_errors));
  json_object_set_new(actual, "p_at_end", json_real(b->p_now));
  json_object_set_new(
      actual, "ms_to_hit",
      b->t_hit != 0
          ? ms_since(b->t_start < b->t_hit ? b->t_start : b->t_hit, b->t_hit)
          : json_null());
  json_object_set_new(o, "actual", actual);
  return o;
}

/* The gateway's port mapping (null: --no-portmap). */
static json_t *portmap_json(const punch_outcome *u) {
  const nat_agent_info *i = &u->info;
  const nat_portmap_mapping *m = &i->pm_mapping;
  char a[NAT_ADDR_STRLEN];
  json_t *o, *answered;
  if (!i->pm_asked)
    return json_null();
  o = json_object();
  json_object_set_new(
      o, "gateway",
      i->pm_probe.gateway.family != NAT_AF_NONE
          ? json_string(nat_addr_format_ip(&i->pm_probe.gateway, a, sizeof a))
          : json_null());
  answered = json_object();
  for (unsigned p = 0; p < NAT_PM_PROTOS; p++)
    json_object_set_new(answered,
                        p == NAT_PM_NATPMP ? "nat_pmp"
                                           : nat_pm_proto_name((nat_pm_proto)p),
                        json_boolean(i->pm_probe.svc[p].answered));
  json_object_set_new(o, "answered", answered);
  if (m->lifetime_asked != 0 && m->external.family != NAT_AF_NONE)
    json_object_set_new(
        o, "mapping",
        json_pack("{s:s, s:i, s:s, s:I, s:I, s:i, s:i}", "protocol",
                  nat_pm_proto_name(m->proto), "internal_port",
                  (int)m->internal_port, "external",
                  nat_addr_format(&m->external, a, sizeof a), "lifetime_asked",
                  (json_int_t)m->lifetime_asked, "lifetime",
                  (json_int_t)m->lifetime, "refreshes", (int)m->refreshes,
                  "restarts", (int)m->restarts));
  else
    json_object_set_new(o, "mapping", json_null());
  json_object_set_new(o, "offered", json_boolean(i->pm_offered));
  json_object_set_new(o, "deleted", json_boolean(i->pm_deleted));
  json_object_set_new(
      o, "error", i->pm_status != 0 ? json_string(i->pm_reason) : json_null());
  return o;
}

static json_t *report_json(const punch_outcome *u) {
  json_t *o = json_object();
  char a[NAT_ADDR_STRLEN];
  bool ok = u->exit_code == PUNCH_EXIT_OK;
  json_object_set_new(o, "schema_version", json_integer(3));
  json_object_set_new(o, "tool", json_string(u->opt->prog));
  json_object_set_new(
      o, "mode", json_string(u->opt->ticket_mode ? "ticket" : "rendezvous"));
  json_object_set_new(o, "ok", json_boolean(ok));
  json_object_set_new(o, "exit_code", json_integer(u->exit_code));
  json_object_set_new(
      o, "role",
      !u->info.checks
          ? json_null()
          : json_string(u->info.controlling ? "controlling" : "controlled"));
  json_object_set_new(o, "local_address",
                      u->info.has_local ? json_string(nat_addr_format(
                                              &u->info.local, a, sizeof a))
                                        : json_null());
  json_object_set_new(o, "mapping",
                      json_pack("{s:s, s:s}", "local",
                                nat_beh_name((uint8_t)u->info.local_mapping),
                                "remote",
                                nat_beh_name((uint8_t)u->info.remote_mapping)));
  json_object_set_new(
      o, "candidates",
      json_pack(
          "{s:o, s:o, s:o}", "local",
          cands_json(&u->info.mine, u->info.mine.ncands), "remote",
          cands_json(&u->info.peer, u->info.has_peer ? u->info.peer.ncands : 0),
          "refused", refused_json(u)));
  json_object_set_new(o, "prediction", prediction_json(u));
  json_object_set_new(o, "pairs", pairs_json(u));
  json_object_set_new(o, "selected",
                      u->info.selected
                          ? json_pack("{s:o, s:o}", "local",
                                      cand_json(&u->info.sel.local), "remote",
                                      cand_json(&u->info.sel.remote))
                          : json_null());
  json_object_set_new(o, "quic_connected", json_boolean(u->info.connected));
  json_object_set_new(
      o, "strategy",
      u->info.connected && u->info.strategy != 0
          ? json_string(nat_agent_strategy_name(u->info.strategy))
          : json_null());
  json_object_set_new(o, "birthday", birthday_json(u));
  json_object_set_new(o, "portmap", portmap_json(u));
  json_object_set_new(o, "times_ms", times_json(u));
  json_object_set_new(o, "rtt_ms",
                      u->info.selected ? ms_since(0, u->info.sel.rtt)
                                       : json_null());
  json_object_set_new(o, "failure", ok ? json_null() : failure_json(u));
  json_object_set_new(
      o, "pipe",
      u->opt->pipe
          ? json_pack("{s:I, s:I}", "bytes_sent", (json_int_t)u->info.pipe_sent,
                      "bytes_received", (json_int_t)u->info.pipe_received)
          : json_null());
  return o;
}

static void print_ms(FILE *out, const char *label, nat_tstamp t0,
                     nat_tstamp t) {
  if (t != 0 && t >= t0)
    fprintf(out, "%-22s %.1f ms\n", label,
            (double)(t - t0) / (double)NAT_MILLISECONDS);
}

static void print_prediction(const punch_outcome *u, FILE *out) {
  const nat_cand_predict_out *p = &u->info.pred;
  if (p->status == NAT_CAND_PREDICT_MADE)
    fprintf(out,
            "prediction            %zu candidates: sequential %+d from port "
            "%u (%u of %u probes answered)\n",
            u->info.npredicted, (int)p->alloc.delta, (unsigned)p->last,
            u->info.probes_answered, u->info.nprobes);
  else
    fprintf(out,
            "prediction            none: %s (allocation %s, %u of %u probes "
            "answered)\n",
            nat_cand_predict_status_strerror(p->status),
            nat_pa_kind_name(p->alloc.kind), u->info.probes_answered,
            u->info.nprobes);
}

static void print_birthday(const punch_outcome *u, FILE *out) {
  const nat_bday_plan *p = &u->info.bday;
  const nat_agent_bday_stats *b = &u->info.bstats;
  if (p->role == NAT_BDAY_NONE) {
    fprintf(out, "birthday              no spray: %s\n",
            nat_bday_why_strerror(p->why));
    return;
  }
  fprintf(out,
          "birthday              %s; %u sockets, %u probes at %u/s, ports "
          "%u-%u: %.1f %% predicted\n",
          nat_bday_role_name(p->role), p->sockets, p->probes, p->rate,
          (unsigned)p->lo, (unsigned)p->hi, 100.0 * p->p_success);
  if (!u->info.bday_ran)
    return;
  if (b->t_hit != 0)
    fprintf(
        out,
        "birthday hit          after %.1f ms%s%.0u; %u probes sent, %u "
        "keepalives, %u sockets opened\n",
        (double)(b->t_hit - (b->t_start < b->t_hit ? b->t_start : b->t_hit)) /
            (double)NAT_MILLISECONDS,
        b->hit_probe ? ", probe " : "", b->hit_probe, b->probes_sent,
        b->keepalives, b->sockets_opened);
  else
    fprintf(out,
            "birthday              no hit: %u probes sent, %u keepalives, %u "
            "sockets opened, %.1f %% was the chance\n",
            b->probes_sent, b->keepalives, b->sockets_opened, 100.0 * b->p_now);
  if (b->ignored != 0 || b->replays != 0)
    fprintf(out,
            "birthday ignored      %u datagrams without the key or out of "
            "place, %u replays\n",
            b->ignored, b->replays);
}

static void print_portmap(const punch_outcome *u, FILE *out) {
  const nat_agent_info *i = &u->info;
  const nat_portmap_mapping *m = &i->pm_mapping;
  char a[NAT_ADDR_STRLEN];
  if (!i->pm_asked)
    return;
  if (m->lifetime_asked != 0 && m->external.family != NAT_AF_NONE)
    fprintf(out,
            "port mapping          %s %s for %u s (asked %u)%s; %s at "
            "exit\n",
            nat_pm_proto_name(m->proto),
            nat_addr_format(&m->external, a, sizeof a), m->lifetime,
            m->lifetime_asked, i->pm_offered ? ", offered" : ", not offered",
            i->pm_deleted ? "deleted" : "not confirmed deleted");
  else
    fprintf(out, "port mapping          none%s%s\n",
            i->pm_status != 0 ? ": " : "",
            i->pm_status != 0 ? i->pm_reason : "");
}

void punch_portmap_event(const punch_opts *opt, const nat_portmap_event *ev) {
  char a[NAT_ADDR_STRLEN];
  if (opt->json || ev == NULL)
    return;
  switch (ev->type) {
  case NAT_PM_EV_MAPPED:
    if (ev->mapping != NULL && ev->mapping->refreshes == 0)
      fprintf(stderr, "%s: port mapping: %s %s for %u s\n", opt->prog,
              nat_pm_proto_name(ev->mapping->proto),
              nat_addr_format(&ev->mapping->external, a, sizeof a),
              ev->mapping->lifetime);
    break;
  case NAT_PM_EV_LOST:
  case NAT_PM_EV_FAILED:
    fprintf(stderr, "%s: port mapping: %s\n", opt->prog,
            ev->reason != NULL ? ev->reason : nat_strerror(ev->status));
    break;
  default:
    break;
  }
}

static void report_text(const punch_outcome *u, FILE *out) {
  char a[NAT_ADDR_STRLEN], b[NAT_ADDR_STRLEN];
  size_t n = u->agent != NULL ? nat_agent_pair_count(u->agent) : 0;
  if (u->exit_code == PUNCH_EXIT_OK)
    fprintf(out,
            "connected             %s, QUIC confirmed (pinned both ways), "
            "%s\n",
            u->info.controlling ? "as QUIC client (controlling)"
                                : "as QUIC server (controlled)",
            u->info.strategy == NAT_AGENT_VIA_BIRTHDAY    ? "by birthday"
            : u->info.strategy == NAT_AGENT_VIA_PREDICTED ? "predicted"
            : u->info.strategy == NAT_AGENT_VIA_MAPPED
                ? "through the gateway's port mapping"
                : "direct");
  else
    fprintf(out, "failed                %s\n", u->reason);
  if (u->info.selected)
    fprintf(out, "path                  %s -> %s\n",
            nat_cand_format(&u->info.sel.local, a, sizeof a),
            nat_cand_format(&u->info.sel.remote, b, sizeof b));
  print_ms(out, "rtt", 0, u->info.selected ? u->info.sel.rtt : 0);
  print_ms(out, "first check ok", u->info.t0, u->info.t_first_ok);
  print_ms(out, "quic confirmed", u->info.t0, u->info.t_confirmed);
  print_ms(out, "peer known -> quic", u->info.t_peer, u->info.t_confirmed);
  fprintf(out, "mapping               local %s, peer %s\n",
          nat_beh_name((uint8_t)u->info.local_mapping),
          nat_beh_name((uint8_t)u->info.remote_mapping));
  if (u->info.predict_run)
    print_prediction(u, out);
  for (size_t i = 0; i < u->info.mine.ncands; i++)
    fprintf(out, "local candidate       %s\n",
            nat_cand_format(&u->info.mine.cands[i], a, sizeof a));
  for (size_t i = 0; u->info.has_peer && i < u->info.peer.ncands; i++)
    fprintf(out, "remote candidate      %s\n",
            nat_cand_format(&u->info.peer.cands[i], a, sizeof a));
  for (size_t i = 0; i < u->info.nrefused; i++)
    fprintf(out, "refused candidate     %s: %s\n",
            nat_cand_format(&u->info.refused[i], a, sizeof a),
            nat_cand_reject_strerror(u->info.refused_why[i]));
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_agent_pair_get(u->agent, i, &p) != 0)
      continue;
    fprintf(out, "pair                  %s -> %s: %s (%u requests)\n",
            nat_cand_format(&p.local, a, sizeof a),
            nat_cand_format(&p.remote, b, sizeof b), pair_outcome(&p), p.sent);
  }
  if (u->info.bday_planned)
    print_birthday(u, out);
  print_portmap(u, out);
  if (u->opt->pipe)
    fprintf(out, "piped                 %llu bytes sent, %llu received\n",
            (unsigned long long)u->info.pipe_sent,
            (unsigned long long)u->info.pipe_received);
}

void punch_report(const punch_outcome *u, FILE *out) {
  if (u->opt->json) {
    json_t *o = report_json(u);
    json_dumpf(o, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(o);
  } else {
    report_text(u, out);
  }
  fflush(out);
}
