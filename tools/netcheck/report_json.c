/* netcheck -- the JSON report, schema_version 3
 * (docs/schema/netcheck-report-v3.schema.json). Keys are written in a fixed
 * order; absent values are null, never missing. */
#include <jansson.h>
#include <stdlib.h>

#include <nat/common.h>
#include <nat/error.h>

#include "netcheck.h"

#define NC_SCHEMA_VERSION 3

/* json_object_set_new() that remembers a failure in *ok. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok) {
  if (v == NULL || json_object_set_new(obj, key, v) != 0)
    *ok = false;
}

static json_t *addr_json(bool has, const nat_addr *a) {
  char buf[NAT_ADDR_STRLEN];
  if (!has || a->family == NAT_AF_NONE)
    return json_null();
  return json_string(nat_addr_format(a, buf, sizeof buf));
}

/* A JSON string of @p s; bytes that are not valid UTF-8 (a hostile
 * SOFTWARE or reason phrase) become '?' rather than failing the report. */
static json_t *safe_string(const char *s) {
  char copy[256];
  size_t i;
  json_t *v = json_string(s);
  if (v != NULL)
    return v;
  for (i = 0; s[i] != '\0' && i < sizeof copy - 1; i++)
    copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
  copy[i] = '\0';
  return json_string(copy);
}

static json_t *str_or_null(const char *s) {
  return s != NULL ? safe_string(s) : json_null();
}

static json_t *tri_json(nat_tri t) {
  if (t == NAT_TRI_UNKNOWN)
    return json_null();
  return json_boolean(t == NAT_TRI_YES);
}

static json_t *public_json(const nat_family_verdict *f) {
  char buf[NAT_ADDR_STRLEN];
  if (f->public_agree == NAT_AGREE_NONE)
    return json_null();
  if (f->public_agree == NAT_AGREE_VARIES)
    return json_string("varies");
  return json_string(nat_addr_format_ip(&f->public_ip, buf, sizeof buf));
}

static json_t *server_json(const nc_options *opt, const nat_obs *o, bool *ok) {
  json_t *s = json_object();
  char err[NC_ERRLEN], name[NAT_ADDR_STRLEN];
  bool answered = o->status == 0 || o->status == NAT_ESTUNERR;
  bool sent = o->server.family != NAT_AF_NONE;
  if (s == NULL) {
    *ok = false;
    return NULL;
  }
  put(s, "name", safe_string(nc_server_name(opt, o, name, sizeof name)), ok);
  put(s, "address", addr_json(sent, &o->server), ok);
  put(s, "family", str_or_null(nc_family_name(nat_obs_family(o))), ok);
  put(s, "status", json_string(nc_obs_status_name(o)), ok);
  put(s, "error", str_or_null(nc_obs_strerror(o, opt, err, sizeof err)), ok);
  put(s, "rtt_ms", o->status == 0 ? json_real(nc_ms(o->rtt)) : json_null(), ok);
  put(s, "local", addr_json(true, &o->local), ok);
  put(s, "mapped", addr_json(o->has_mapped, &o->mapped), ok);
  put(s, "rfc5780", json_boolean(o->has_other_address), ok);
  put(s, "other_address", addr_json(o->has_other_address, &o->other_address),
      ok);
  put(s, "response_origin",
      addr_json(o->has_response_origin, &o->response_origin), ok);
  put(s, "changed_address",
      addr_json(o->has_changed_address, &o->changed_address), ok);
  put(s, "software",
      answered && o->software[0] != '\0' ? safe_string(o->software)
                                         : json_null(),
      ok);
  put(s, "stun_error_code",
      o->status == NAT_ESTUNERR ? json_integer(o->error_code) : json_null(),
      ok);
  put(s, "transmissions", json_integer(o->transmissions), ok);
  return s;
}

static json_t *diag_json(const nc_diag *d, bool *ok) {
  json_t *j = json_object();
  if (j == NULL) {
    *ok = false;
    return NULL;
  }
  put(j, "malformed", json_integer((json_int_t)d->malformed), ok);
  put(j, "spoofed", json_integer((json_int_t)d->spoofed), ok);
  put(j, "unmatched", json_integer((json_int_t)d->unmatched), ok);
  put(j, "duplicates", json_integer((json_int_t)d->duplicates), ok);
  put(j, "not_response", json_integer((json_int_t)d->not_response), ok);
  put(j, "send_errors", json_integer((json_int_t)d->send_errors), ok);
  return j;
}

static json_t *beh_json(uint8_t b) {
  return json_string(nat_beh_name(b));
}

static json_t *alloc_json(const nat_alloc_verdict *a, bool *ok) {
  json_t *j = json_object();
  if (j == NULL) {
    *ok = false;
    return NULL;
  }
  put(j, "kind", json_string(nat_pa_kind_name(a->kind)), ok);
  put(j, "delta",
      a->kind == NAT_PA_SEQUENTIAL ? json_integer(a->delta) : json_null(), ok);
  put(j, "samples", json_integer((json_int_t)a->samples), ok);
  put(j, "confidence", json_real(a->confidence), ok);
  put(j, "range",
      a->samples > 0 ? json_pack("[ii]", (int)a->lo, (int)a->hi) : json_null(),
      ok);
  put(j, "parity_preserved", tri_json(a->parity), ok);
  return j;
}

static json_t *prediction_json(const nat_prediction *p, bool *ok) {
  json_t *arr = json_array();
  size_t i;
  if (arr == NULL) {
    *ok = false;
    return NULL;
  }
  for (i = 0; i < p->n; i++)
    if (json_array_append_new(arr, json_pack("{sisf}", "port", (int)p->port[i],
                                             "probability", p->prob[i])) != 0)
      *ok = false;
  return arr;
}

static json_t *strategy_json(const nat_verdict *v, bool *ok) {
  json_t *j = json_object();
  size_t i;
  if (j == NULL) {
    *ok = false;
    return NULL;
  }
  for (i = 0; i < NAT_PEER_CLASSES; i++) {
    const nat_strategy *s = &v->strategy[i];
    json_t *e = json_pack("{sssfsfsf}", "kind", nat_strategy_name(s->kind),
                          "probes_50", s->probes_50, "probes_99", s->probes_99,
                          "seconds_99", s->seconds_99);
    put(j, nat_peer_class_name(s->peer), e, ok);
  }
  return j;
}

static json_t *explain_json(const nat_verdict *v, bool *ok) {
  json_t *arr = json_array();
  size_t i;
  if (arr == NULL) {
    *ok = false;
    return NULL;
  }
  for (i = 0; i < v->nexplain; i++)
    if (json_array_append_new(arr, safe_string(v->explain[i])) != 0)
      *ok = false;
  return arr;
}

static json_t *tests_json(const nc_result *res, bool *ok) {
  json_t *j = json_object();
  uint8_t t;
  if (j == NULL) {
    *ok = false;
    return NULL;
  }
  for (t = 0; t < 6; t++) {
    const nat_probe_test_info *ti = &res->tests[t];
    json_t *e = json_object();
    if (e == NULL) {
      *ok = false;
      continue;
    }
    put(e, "run", json_boolean(ti->transactions > 0), ok);
    put(e, "requests", json_integer(ti->transactions), ok);
    put(e, "start_ms",
        ti->transactions > 0 ? json_real(nc_ms(ti->start)) : json_null(), ok);
    put(e, "duration_ms",
        ti->transactions > 0 && res->replay == NULL
            ? json_real(nc_ms(ti->end - ti->start))
            : json_null(),
        ok);
    put(e, "skipped", str_or_null(ti->skipped), ok);
    put(j, nat_obs_test_name(t), e, ok);
  }
  return j;
}

static json_t *lifetime_json(const nat_verdict *v) {
  if (v->lifetime_min == 0 && v->lifetime_max == 0)
    return json_null();
  return json_pack(
      "{soso}", "min_s", json_real((double)v->lifetime_min / 1e9), "max_s",
      v->lifetime_max ? json_real((double)v->lifetime_max / 1e9) : json_null());
}

static json_t *difficulty_json(const nat_verdict *v) {
  return json_string(v->basic.udp_reachable ? nat_difficulty_name(v->difficulty)
                                            : "unknown");
}

static json_t *hop_json(const nat_hop *h) {
  char ip[NAT_ADDR_STRLEN];
  bool silent = h->kind == NAT_HOP_SILENT;
  return json_pack(
      "{sisosososssb}", "ttl", (int)h->ttl, "address",
      silent ? json_null()
             : json_string(nat_addr_format_ip(&h->addr, ip, sizeof ip)),
      "rtt_ms", silent ? json_null() : json_real(nc_ms(h->rtt)), "space",
      silent ? json_null() : json_string(nat_addr_space_name(h->space)), "kind",
      nat_hop_kind_name(h->kind), "by_order", h->by_order);
}

/* "hops": null when the hop probe did not run (replays, --no-hops). */
static json_t *hops_json(const nc_result *res, bool *ok) {
  const nat_hop_list *h = &res->hops;
  char buf[NAT_ADDR_STRLEN];
  json_t *j, *list;
  size_t i;
  if (h->target.family == NAT_AF_NONE)
    return json_null();
  j = json_object();
  list = json_array();
  if (j == NULL || list == NULL) {
    json_decref(j);
    json_decref(list);
    *ok = false;
    return NULL;
  }
  put(j, "target", json_string(nat_addr_format(&h->target, buf, sizeof buf)),
      ok);
  put(j, "reached_ttl",
      h->reached_ttl != 0 ? json_integer(h->reached_ttl) : json_null(), ok);
  put(j, "max_ttl", json_integer(h->max_ttl), ok);
  put(j, "sent", json_integer(h->sent), ok);
  put(j, "reports", json_integer(h->reports), ok);
  put(j, "answers", json_integer(h->answers), ok);
  put(j, "refused", json_integer(h->refused), ok);
  put(j, "send_errors", json_integer((json_int_t)res->hop_send_errors), ok);
  for (i = 0; i < h->n && i < NAT_HOPS_MAX; i++)
    if (json_array_append_new(list, hop_json(&h->hop[i])) != 0)
      *ok = false;
  put(j, "list", list, ok);
  return j;
}

static json_t *ip_or_null(const nat_addr *a) {
  char buf[NAT_ADDR_STRLEN];
  if (a->family == NAT_AF_NONE)
    return json_null();
  return json_string(nat_addr_format_ip(a, buf, sizeof buf));
}

static json_t *pm_service_json(const nat_pm_service *s) {
  return json_pack(
      "{sbsbsosososososs}", "asked", s->asked, "answered", s->answered,
      "status",
      s->asked && s->status != 0 ? json_string(nat_err_name(s->status))
                                 : json_null(),
      "result", s->answered ? json_integer(s->result) : json_null(),
      "external_address", ip_or_null(&s->external), "epoch",
      s->has_epoch ? json_integer(s->epoch) : json_null(), "rtt_ms",
      s->answered ? json_real(nc_ms(s->rtt)) : json_null(), "detail",
      s->detail);
}

static json_t *pm_test_json(const nat_netcheck_portmap *r) {
  const nat_portmap_mapping *m = &r->mapping;
  char buf[NAT_ADDR_STRLEN];
  bool granted = m->external.family != NAT_AF_NONE;
  if (!r->tested)
    return json_null();
  return json_pack(
      "{sosisosisisbsbso}", "protocol",
      granted ? json_string(nat_pm_proto_name(m->proto)) : json_null(),
      "internal_port", (int)m->internal_port, "external",
      granted ? json_string(nat_addr_format(&m->external, buf, sizeof buf))
              : json_null(),
      "lifetime_asked", (int)m->lifetime_asked, "lifetime_granted",
      (int)m->lifetime, "read_back", r->read_back, "deleted", r->deleted,
      "error", r->test_status != 0 ? safe_string(r->test_error) : json_null());
}

/* "port_mapping": null when not probed (--no-portmap, replays). */
static json_t *portmap_json(const nc_result *res, bool *ok) {
  const nat_netcheck_portmap *r = &res->portmap;
  const nat_portmap_probe *p = &r->probe;
  json_t *j, *svc;
  if (!r->probed)
    return json_null();
  j = json_object();
  svc = json_object();
  if (j == NULL || svc == NULL) {
    json_decref(j);
    json_decref(svc);
    *ok = false;
    return NULL;
  }
  put(j, "gateway", ip_or_null(&p->gateway), ok);
  put(j, "gateway_private", json_boolean(p->gateway_private), ok);
  put(j, "refused", json_boolean(p->refused), ok);
  put(j, "duration_ms", json_real(nc_ms(p->duration)), ok);
  put(svc, "pcp", pm_service_json(&p->svc[NAT_PM_PCP]), ok);
  put(svc, "nat_pmp", pm_service_json(&p->svc[NAT_PM_NATPMP]), ok);
  put(svc, "upnp", pm_service_json(&p->svc[NAT_PM_UPNP]), ok);
  put(j, "services", svc, ok);
  put(j, "test", pm_test_json(r), ok);
  return j;
}

/* "evidence": per fact (nat_fact_name), its confidence and reason; every
 * fact always present ("not computed" when the check failed before the
 * verdict was computed). */
static json_t *evidence_json(const nat_verdict *v, bool *ok) {
  json_t *j = json_object();
  uint8_t f;
  if (j == NULL) {
    *ok = false;
    return NULL;
  }
  for (f = 0; f < NAT_FACTS; f++) {
    json_t *c = json_object();
    if (c == NULL) {
      *ok = false;
      break;
    }
    put(c, "confidence", json_real(v->evidence[f].confidence), ok);
    put(c, "reason",
        safe_string(v->evidence[f].reason[0] ? v->evidence[f].reason
                                             : "not computed"),
        ok);
    put(j, nat_fact_name(f), c, ok);
  }
  return j;
}

static void verdict_keys(json_t *root, const nc_result *res, bool *ok) {
  const nat_verdict *v = &res->verdict;
  char buf[400];
  put(root, "verdict", json_string(nc_headline(res, buf, sizeof buf)), ok);
  put(root, "classic_name",
      json_string(nc_udp_unknown(res) ? "unknown" : nat_classic_name(v)), ok);
  put(root, "difficulty", difficulty_json(v), ok);
  put(root, "mapping", beh_json(v->mapping), ok);
  put(root, "filtering", beh_json(v->filtering), ok);
  put(root, "rfc5780", json_boolean(v->rfc5780_used), ok);
  put(root, "hairpinning", tri_json(v->hairpinning), ok);
  put(root, "port_allocation", alloc_json(&v->alloc, ok), ok);
  put(root, "prediction", prediction_json(&v->prediction, ok), ok);
  put(root, "pooling", json_string(nat_pooling_name(v->pooling)), ok);
  put(root, "double_nat", tri_json(v->double_nat), ok);
  put(root, "double_nat_reason", safe_string(v->double_nat_reason), ok);
  put(root, "carrier_nat", tri_json(v->carrier_nat), ok);
  put(root, "lifetime", lifetime_json(v), ok);
  put(root, "strategy", strategy_json(v, ok), ok);
  put(root, "evidence", evidence_json(v, ok), ok);
  put(root, "explanation", explain_json(v, ok), ok);
  put(root, "tests", tests_json(res, ok), ok);
  put(root, "hops", hops_json(res, ok), ok);
  put(root, "port_mapping", portmap_json(res, ok), ok);
}

static json_t *count_json(uint64_t n) {
  return json_integer((json_int_t)n);
}

static json_t *replay_diag_json(const nc_replay_info *info, bool *ok) {
  const nat_replay_diag *d = &info->diag;
  json_t *j = json_object(), *others = json_array(), *refused = json_object();
  char buf[NAT_ADDR_STRLEN];
  size_t i;
  if (j == NULL || others == NULL || refused == NULL) {
    json_decref(j);
    json_decref(others);
    json_decref(refused);
    *ok = false;
    return NULL;
  }
  put(j, "requests", count_json(d->requests), ok);
  put(j, "responses", count_json(d->responses), ok);
  put(j, "retransmissions", count_json(d->retransmissions), ok);
  put(j, "timeouts", count_json(d->timeouts), ok);
  put(j, "spoofed", count_json(d->spoofed), ok);
  put(j, "unmatched", count_json(d->unmatched), ok);
  put(j, "duplicates", count_json(d->duplicates), ok);
  put(j, "copies", count_json(d->copies), ok);
  put(j, "malformed", count_json(d->malformed + info->cap.stun_malformed), ok);
  put(j, "ignored", count_json(d->ignored), ok);
  put(j, "evicted", count_json(d->evicted), ok);
  put(j, "obs_dropped", count_json(d->obs_dropped), ok);
  put(j, "other_client_obs", count_json(d->other_client_obs), ok);
  put(j, "hairpin_arrivals", count_json(d->hairpin_arrivals), ok);
  put(j, "hop_probes", count_json(d->hop_probes), ok);
  put(j, "change_requests", count_json(d->change_requests), ok);
  put(j, "servers", count_json(d->nservers), ok);
  put(j, "not_stun", count_json(info->cap.not_stun), ok);
  for (i = 0; i < d->nclients && i < NAT_REPLAY_MAX_CLIENTS; i++) {
    if (nat_addr_equal_ip(&d->clients[i], &d->client))
      continue;
    if (json_array_append_new(
            others,
            json_pack("{sssI}", "address",
                      nat_addr_format_ip(&d->clients[i], buf, sizeof buf),
                      "requests", (json_int_t)d->client_requests[i])) != 0)
      *ok = false;
  }
  put(j, "other_clients", others, ok);
  for (i = 1; i < NAT_CAPR_COUNT; i++)
    if (info->cap.reason[i] > 0)
      put(refused, nat_capture_reason_name((uint8_t)i),
          count_json(info->cap.reason[i]), ok);
  put(j, "refused_frames", refused, ok);
  put(j, "fragments",
      json_pack("{sIsIsIsIsIsIsI}", "reassembled",
                (json_int_t)info->cap.frag_reassembled, "used",
                (json_int_t)info->cap.frag_used, "dropped",
                (json_int_t)info->cap.frag_dropped, "timeout",
                (json_int_t)info->cap.frag_timeout, "evicted",
                (json_int_t)info->cap.frag_evicted, "bad",
                (json_int_t)info->cap.frag_bad, "duplicate",
                (json_int_t)info->cap.frag_duplicate),
      ok);
  return j;
}

static json_t *measurable_json(const nat_replay_diag *d, bool *ok) {
  json_t *meas = json_object();
  size_t i;
  if (meas == NULL) {
    *ok = false;
    return NULL;
  }
  for (i = 0; i < NC_REPLAY_NBITS; i++)
    put(meas, nc_replay_key(i),
        json_boolean((d->measurable & nc_replay_bit(i)) != 0), ok);
  return meas;
}

/* Where the capture was taken, and why: the keys of "replay" and of each
 * of its "clients". */
static void point_keys(json_t *j, const nat_replay_diag *d, bool *ok) {
  char why[NAT_REPLAY_REASON_LEN + 80];
  put(j, "capture_point", json_string(nc_point_name(d)), ok);
  put(j, "capture_point_inferred",
      json_boolean(d->capture_point == NAT_REPLAY_AUTO), ok);
  put(j, "capture_point_reason",
      safe_string(nc_point_reason(d, why, sizeof why)), ok);
  put(j, "request_ttl",
      d->request_ttl != 0 ? json_integer(d->request_ttl) : json_null(), ok);
}

/* "replay.clients": one compact verdict per client of the capture. */
static json_t *clients_json(const nc_replay_info *info, bool *ok) {
  json_t *a = json_array();
  char buf[NAT_ADDR_STRLEN];
  size_t i;
  if (a == NULL) {
    *ok = false;
    return NULL;
  }
  for (i = 0; i < info->nclients; i++) {
    const nc_replay_client *c = &info->clients[i];
    json_t *j = json_object();
    if (j == NULL || json_array_append_new(a, j) != 0) {
      *ok = false;
      continue;
    }
    put(j, "address",
        json_string(nat_addr_format_ip(&c->diag.client, buf, sizeof buf)), ok);
    put(j, "main", json_boolean(c->main), ok);
    put(j, "requests", count_json(c->requests), ok);
    point_keys(j, &c->diag, ok);
    put(j, "udp",
        nat_replay_udp_unknown(&c->diag) ? json_null() : json_boolean(c->udp),
        ok);
    put(j, "nat_present", tri_json(c->nat_present), ok);
    put(j, "public_v4", public_json(&c->v4), ok);
    put(j, "public_v6", public_json(&c->v6), ok);
    put(j, "mapping", beh_json(c->mapping), ok);
    put(j, "filtering", beh_json(c->filtering), ok);
    put(j, "hairpinning", tri_json(c->hairpinning), ok);
    put(j, "port_allocation_kind", json_string(nat_pa_kind_name(c->alloc_kind)),
        ok);
    put(j, "measurable", measurable_json(&c->diag, ok), ok);
  }
  return a;
}

/* "replay": null in live runs; what the capture held and could tell. */
static json_t *replay_json(const nc_result *res, bool *ok) {
  const nc_replay_info *info = res->replay;
  json_t *j, *meas, *why;
  char buf[NAT_ADDR_STRLEN];
  size_t i;
  if (info == NULL)
    return json_null();
  j = json_object();
  meas = json_object();
  why = json_object();
  if (j == NULL || meas == NULL || why == NULL) {
    json_decref(j);
    json_decref(meas);
    json_decref(why);
    *ok = false;
    return NULL;
  }
  put(j, "file", safe_string(info->file), ok);
  put(j, "linktype", count_json(info->linktype), ok);
  put(j, "packets", count_json(info->cap.records), ok);
  put(j, "udp_datagrams", count_json(info->cap.udp), ok);
  put(j, "stun_datagrams", count_json(info->cap.stun), ok);
  put(j, "span_ms", json_real(nc_ms(info->last - info->first)), ok);
  point_keys(j, &info->diag, ok);
  put(j, "client",
      info->diag.client.family != NAT_AF_NONE
          ? json_string(nat_addr_format_ip(&info->diag.client, buf, sizeof buf))
          : json_null(),
      ok);
  for (i = 0; i < NC_REPLAY_NBITS; i++) {
    uint32_t bit = nc_replay_bit(i);
    bool m = (info->diag.measurable & bit) != 0;
    put(meas, nc_replay_key(i), json_boolean(m), ok);
    put(why, nc_replay_key(i),
        m ? json_null() : safe_string(nat_replay_strerror(&info->diag, bit)),
        ok);
  }
  put(j, "measurable", meas, ok);
  put(j, "not_measurable", why, ok);
  put(j, "clients", clients_json(info, ok), ok);
  put(j, "diagnostics", replay_diag_json(info, ok), ok);
  return j;
}

static json_t *report_json(const nc_options *opt, const nc_result *res,
                           bool *ok) {
  const nat_analysis *a = &res->verdict.basic;
  json_t *root = json_object(), *servers = json_array();
  const nat_obs **basic;
  size_t i, n = 0;
  basic = nc_basic_obs(res, &n);
  if (root == NULL || servers == NULL || basic == NULL) {
    json_decref(root);
    json_decref(servers);
    free(basic);
    *ok = false;
    return NULL;
  }
  put(root, "schema_version", json_integer(NC_SCHEMA_VERSION), ok);
  put(root, "tool", json_string("netcheck"), ok);
  put(root, "version", json_string(nat_version_string()), ok);
  put(root, "duration_ms", json_real(nc_ms(res->duration)), ok);
  put(root, "udp",
      nc_udp_unknown(res) ? json_null() : json_boolean(a->udp_reachable), ok);
  put(root, "nat_present", tri_json(a->nat_present), ok);
  put(root, "nat_present_v4", tri_json(a->v4.nat_present), ok);
  put(root, "nat_present_v6", tri_json(a->v6.nat_present), ok);
  put(root, "public_v4", public_json(&a->v4), ok);
  put(root, "public_v6", public_json(&a->v6), ok);
  verdict_keys(root, res, ok);
  for (i = 0; i < n; i++) {
    json_t *s = server_json(opt, basic[i], ok);
    if (s == NULL || json_array_append_new(servers, s) != 0)
      *ok = false;
  }
  free(basic);
  put(root, "servers", servers, ok);
  put(root, "diagnostics", diag_json(&res->diag, ok), ok);
  put(root, "replay", replay_json(res, ok), ok);
  return root;
}

int nc_report_json(FILE *out, const nc_options *opt, const nc_result *res) {
  bool ok = true;
  json_t *root = report_json(opt, res, &ok);
  int rv = -1;
  if (ok && root != NULL &&
      json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) == 0 &&
      fputc('\n', out) != EOF)
    rv = 0;
  if (!ok)
    fprintf(stderr, "netcheck: cannot build the JSON report: out of "
                    "memory\n");
  json_decref(root);
  return rv;
}
