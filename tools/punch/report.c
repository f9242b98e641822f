/* punch connect / punch ticket -- the report: text for people, or JSON
 * (schema_version 1, docs/schema/punch-report-v1.schema.json). */
#include <jansson.h>
#include <string.h>

#include <nat/verdict.h>

#include "punch.h"
#include "session.h"

static const char *phase_name(punch_phase p) {
  static const char *const names[] = {"setup", "rendezvous", "checks",
                                      "quic",  "pipe",       "done"};
  return names[p];
}

static const char *hint_key(int hint) {
  switch (hint) {
  case NAT_CHECK_HINT_BIRTHDAY:
    return "birthday";
  case NAT_CHECK_HINT_NO_RESPONSE:
    return "no-response";
  case NAT_CHECK_HINT_CREDENTIALS:
    return "credentials";
  case NAT_CHECK_HINT_NOT_NOMINATED:
    return "not-nominated";
  case NAT_CHECK_HINT_NO_PAIRS:
    return "no-pairs";
  default:
    return NULL;
  }
}

/* Milliseconds from t0 to t, or JSON null when t was not reached. */
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
  json_object_set_new(o, "outcome",
                      json_string(p->state == NAT_PAIR_SUCCEEDED ? "succeeded"
                                  : p->fail != NAT_PAIR_FAIL_NONE
                                      ? nat_pair_fail_strerror(p->fail)
                                      : nat_pair_state_name(p->state)));
  json_object_set_new(o, "requests", json_integer(p->sent));
  json_object_set_new(o, "answered", json_integer(p->answered));
  json_object_set_new(o, "nominated", json_boolean(p->nominated));
  json_object_set_new(o, "rtt_ms",
                      p->state == NAT_PAIR_SUCCEEDED ? ms_since(0, p->rtt)
                                                     : json_null());
  return o;
}

static json_t *pairs_json(const punch_sess *s) {
  json_t *arr = json_array();
  size_t n = s->chk != NULL ? nat_check_pair_count(s->chk) : 0;
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_check_pair_get(s->chk, i, &p) == 0)
      json_array_append_new(arr, pair_json(&p));
  }
  return arr;
}

static json_t *times_json(const punch_sess *s) {
  json_t *o = json_object();
  json_object_set_new(o, "registered", ms_since(s->t0, s->t_seen));
  json_object_set_new(o, "peer", ms_since(s->t0, s->t_peer));
  json_object_set_new(o, "first_check_ok", ms_since(s->t0, s->t_first_ok));
  json_object_set_new(o, "selected", ms_since(s->t0, s->t_selected));
  json_object_set_new(o, "quic_confirmed", ms_since(s->t0, s->t_confirmed));
  json_object_set_new(o, "peer_to_confirmed",
                      ms_since(s->t_peer, s->t_confirmed));
  json_object_set_new(o, "first_check_to_confirmed",
                      ms_since(s->t_first_ok, s->t_confirmed));
  return o;
}

static json_t *refused_json(const punch_sess *s) {
  json_t *arr = json_array();
  char a[NAT_ADDR_STRLEN];
  for (size_t i = 0; i < s->nrefused; i++)
    json_array_append_new(
        arr,
        json_pack("{s:s, s:s, s:s}", "type",
                  nat_cand_type_name(s->refused[i].cand.type), "address",
                  nat_addr_format(&s->refused[i].cand.addr, a, sizeof a),
                  "reason", nat_cand_reject_strerror(s->refused[i].reason)));
  return arr;
}

static unsigned probes_answered(const punch_sess *s) {
  unsigned n = 0;
  for (unsigned i = 0; i < s->nprobes; i++)
    n += s->probes[i].answered;
  return n;
}

/* The allocation probes and the predicted candidates made from them; null
 * when none ran (ticket mode, no second server, blob never sent). */
static json_t *prediction_json(const punch_sess *s) {
  const nat_cand_predict_out *p = &s->pred;
  bool seq = p->alloc.kind == NAT_PA_SEQUENTIAL;
  if (!s->predict_run)
    return json_null();
  return json_pack(
      "{s:s, s:s, s:o, s:i, s:i, s:o, s:i, s:o}", "status",
      nat_cand_predict_status_name(p->status), "allocation",
      nat_pa_kind_name(p->alloc.kind), "delta",
      seq ? json_integer(p->alloc.delta) : json_null(), "probes",
      (int)s->nprobes, "answered", (int)probes_answered(s), "last_port",
      p->status == NAT_CAND_PREDICT_MADE ? json_integer(p->last) : json_null(),
      "candidates", (int)s->npredicted, "wait_ms",
      ms_since(s->t_seen, s->t_blob));
}

static json_t *report_json(const punch_sess *s) {
  json_t *o = json_object();
  char a[NAT_ADDR_STRLEN];
  bool ok = s->exit_code == PUNCH_EXIT_OK;
  json_object_set_new(o, "schema_version", json_integer(1));
  json_object_set_new(
      o, "mode", json_string(s->opt.ticket_mode ? "ticket" : "rendezvous"));
  json_object_set_new(o, "ok", json_boolean(ok));
  json_object_set_new(o, "exit_code", json_integer(s->exit_code));
  json_object_set_new(
      o, "role",
      s->chk == NULL
          ? json_null()
          : json_string(s->controlling ? "controlling" : "controlled"));
  json_object_set_new(o, "local_address",
                      s->udp != NULL || s->local.family != 0
                          ? json_string(nat_addr_format(&s->local, a, sizeof a))
                          : json_null());
  json_object_set_new(o, "mapping",
                      json_pack("{s:s, s:s}", "local",
                                punch_mapping_name(s->local_mapping), "remote",
                                punch_mapping_name(s->remote_mapping)));
  json_object_set_new(
      o, "candidates",
      json_pack("{s:o, s:o, s:o}", "local",
                cands_json(&s->mine, s->mine.ncands), "remote",
                cands_json(&s->peer, s->has_peer ? s->peer.ncands : 0),
                "refused", refused_json(s)));
  json_object_set_new(o, "prediction", prediction_json(s));
  json_object_set_new(o, "pairs", pairs_json(s));
  json_object_set_new(
      o, "selected",
      s->selected ? json_pack("{s:o, s:o}", "local", cand_json(&s->sel.local),
                              "remote", cand_json(&s->sel.remote))
                  : json_null());
  json_object_set_new(o, "quic_connected", json_boolean(s->connected));
  json_object_set_new(o, "times_ms", times_json(s));
  json_object_set_new(o, "rtt_ms",
                      s->selected ? ms_since(0, s->sel.rtt) : json_null());
  json_object_set_new(
      o, "failure",
      ok ? json_null()
         : json_pack("{s:s, s:s, s:o}", "phase", phase_name(s->phase), "reason",
                     s->reason, "hint",
                     hint_key(s->hint) ? json_string(hint_key(s->hint))
                                       : json_null()));
  json_object_set_new(
      o, "pipe",
      s->opt.pipe
          ? json_pack("{s:I, s:I}", "bytes_sent", (json_int_t)s->pipe.bytes_out,
                      "bytes_received", (json_int_t)s->pipe.bytes_in)
          : json_null());
  return o;
}

static void print_ms(FILE *out, const char *label, nat_tstamp t0,
                     nat_tstamp t) {
  if (t != 0 && t >= t0)
    fprintf(out, "%-22s %.1f ms\n", label,
            (double)(t - t0) / (double)NAT_MILLISECONDS);
}

static void print_prediction(const punch_sess *s, FILE *out) {
  const nat_cand_predict_out *p = &s->pred;
  if (p->status == NAT_CAND_PREDICT_MADE)
    fprintf(out,
            "prediction            %zu candidates: sequential %+d from port "
            "%u (%u of %u probes answered)\n",
            s->npredicted, (int)p->alloc.delta, (unsigned)p->last,
            probes_answered(s), s->nprobes);
  else
    fprintf(out,
            "prediction            none: %s (allocation %s, %u of %u probes "
            "answered)\n",
            p->status == NAT_CAND_PREDICT_MAPPING_EI
                ? "our mapping is endpoint-independent"
            : p->status == NAT_CAND_PREDICT_MAPPING_UNKNOWN
                ? "not known whether our mapping depends on the destination"
            : p->status == NAT_CAND_PREDICT_NOT_SEQUENTIAL
                ? "our NAT's ports are not sequential"
                : "no public address",
            nat_pa_kind_name(p->alloc.kind), probes_answered(s), s->nprobes);
}

static void report_text(const punch_sess *s, FILE *out) {
  char a[NAT_ADDR_STRLEN], b[NAT_ADDR_STRLEN];
  size_t n = s->chk != NULL ? nat_check_pair_count(s->chk) : 0;
  if (s->exit_code == PUNCH_EXIT_OK)
    fprintf(out,
            "connected             %s, QUIC confirmed (pinned both ways)\n",
            s->controlling ? "as QUIC client (controlling)"
                           : "as QUIC server (controlled)");
  else
    fprintf(out, "failed                %s\n", s->reason);
  if (s->selected)
    fprintf(out, "path                  %s -> %s\n",
            nat_cand_format(&s->sel.local, a, sizeof a),
            nat_cand_format(&s->sel.remote, b, sizeof b));
  print_ms(out, "rtt", 0, s->selected ? s->sel.rtt : 0);
  print_ms(out, "first check ok", s->t0, s->t_first_ok);
  print_ms(out, "quic confirmed", s->t0, s->t_confirmed);
  print_ms(out, "peer known -> quic", s->t_peer, s->t_confirmed);
  fprintf(out, "mapping               local %s, peer %s\n",
          punch_mapping_name(s->local_mapping),
          punch_mapping_name(s->remote_mapping));
  if (s->predict_run)
    print_prediction(s, out);
  for (size_t i = 0; i < s->mine.ncands; i++)
    fprintf(out, "local candidate       %s\n",
            nat_cand_format(&s->mine.cands[i], a, sizeof a));
  for (size_t i = 0; s->has_peer && i < s->peer.ncands; i++)
    fprintf(out, "remote candidate      %s\n",
            nat_cand_format(&s->peer.cands[i], a, sizeof a));
  for (size_t i = 0; i < s->nrefused; i++)
    fprintf(out, "refused candidate     %s: %s\n",
            nat_cand_format(&s->refused[i].cand, a, sizeof a),
            nat_cand_reject_strerror(s->refused[i].reason));
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_check_pair_get(s->chk, i, &p) != 0)
      continue;
    fprintf(out, "pair                  %s -> %s: %s (%u requests)\n",
            nat_cand_format(&p.local, a, sizeof a),
            nat_cand_format(&p.remote, b, sizeof b),
            p.state == NAT_PAIR_SUCCEEDED  ? "succeeded"
            : p.fail != NAT_PAIR_FAIL_NONE ? nat_pair_fail_strerror(p.fail)
                                           : nat_pair_state_name(p.state),
            p.sent);
  }
  if (s->opt.pipe)
    fprintf(out, "piped                 %llu bytes sent, %llu received\n",
            (unsigned long long)s->pipe.bytes_out,
            (unsigned long long)s->pipe.bytes_in);
}

void punch_report(const punch_sess *s, FILE *out) {
  if (s->opt.json) {
    json_t *o = report_json(s);
    json_dumpf(o, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(o);
  } else {
    report_text(s, out);
  }
  fflush(out);
}
