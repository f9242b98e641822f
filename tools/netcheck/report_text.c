/* netcheck -- the text report: the verdict first, then one fact a line,
 * labels aligned. */
#include <stdio.h>
#include <stdlib.h>

#include <nat/error.h>

#include "netcheck.h"

#define LABEL "%-20s"

static const char *public_ip(const nat_family_verdict *f, char *buf,
                             size_t len) {
  if (f->public_agree == NAT_AGREE_NONE)
    return "-";
  if (f->public_agree == NAT_AGREE_VARIES)
    return "varies (servers disagree)";
  return nat_addr_format_ip(&f->public_ip, buf, len);
}

static const char *addr_or_dash(bool has, const nat_addr *a, char *buf,
                                size_t len) {
  if (!has || a->family == NAT_AF_NONE)
    return "-";
  return nat_addr_format(a, buf, len);
}

/* Replays: "LABEL not measurable from this capture: why" for a verdict
 * the capture cannot support; returns true if it printed that. */
static bool not_measurable(FILE *out, const nc_result *res, const char *label,
                           uint32_t bit) {
  if (!nc_masked(res, bit))
    return false;
  fprintf(out, LABEL "not measurable from this capture: %s\n", label,
          nat_replay_strerror(&res->replay->diag, bit));
  return true;
}

static void allocation(FILE *out, const nat_alloc_verdict *a) {
  fprintf(out, LABEL "%s", "Port allocation:", nat_pa_kind_name(a->kind));
  if (a->kind == NAT_PA_SEQUENTIAL)
    fprintf(out, ", delta %+d", a->delta);
  fprintf(out, ", %zu samples, confidence %.2f", a->samples, a->confidence);
  if (a->samples > 0)
    fprintf(out, ", ports %u-%u", a->lo, a->hi);
  fprintf(out, ", parity %s\n",
          a->parity == NAT_TRI_YES  ? "kept"
          : a->parity == NAT_TRI_NO ? "not kept"
                                    : "unknown");
}

/* "Hops:" on one line: "1 192.168.1.1 private 0.4 ms, 2 *, 3 server
 * 203.0.113.1 1.2 ms (reached at TTL 3)". */
static void hops_line(FILE *out, const nc_result *res) {
  const nat_hop_list *h = &res->hops;
  char ip[NAT_ADDR_STRLEN];
  size_t i;
  fprintf(out, LABEL, "Hops:");
  if (h->target.family == NAT_AF_NONE) {
    fprintf(out, "%s\n",
            res->replay != NULL ? "no hop probe in a capture" : "not probed");
    return;
  }
  for (i = 0; i < h->n && i < NAT_HOPS_MAX; i++) {
    const nat_hop *hp = &h->hop[i];
    fprintf(out, "%s%u ", i > 0 ? ", " : "", hp->ttl);
    if (hp->kind == NAT_HOP_SILENT) {
      fprintf(out, "*");
      continue;
    }
    fprintf(out, "%s%s %s%s %.1f ms",
            hp->kind == NAT_HOP_SERVER ? "server " : "",
            nat_addr_format_ip(&hp->addr, ip, sizeof ip),
            nat_addr_space_name(hp->space), hp->by_order ? "?" : "",
            nc_ms(hp->rtt));
  }
  if (h->reached_ttl != 0)
    fprintf(out, " (reached at TTL %u)\n", h->reached_ttl);
  else
    fprintf(out, " (server not reached in %u hops)\n", h->max_ttl);
}

/* "Port mapping:" and a line per protocol asked, then the test. */
static void portmap_lines(FILE *out, const nc_result *res) {
  static const char *const label[NAT_PM_PROTOS] = {
      "  PCP:", "  NAT-PMP:", "  UPnP:"};
  const nat_netcheck_portmap *r = &res->portmap;
  const nat_portmap_probe *p = &r->probe;
  char ip[NAT_ADDR_STRLEN];
  int i;
  if (!r->probed) {
    fprintf(out, LABEL "%s\n", "Port mapping:",
            res->replay != NULL ? "not in a capture" : "not probed");
    return;
  }
  if (p->gateway.family == NAT_AF_NONE) {
    fprintf(out, LABEL "no gateway found\n", "Port mapping:");
    return;
  }
  fprintf(out, LABEL "gateway %s%s, %.2f ms\n",
          "Port mapping:", nat_addr_format_ip(&p->gateway, ip, sizeof ip),
          p->refused ? " (public address: not asked)" : "", nc_ms(p->duration));
  for (i = 0; i < NAT_PM_PROTOS; i++) {
    const nat_pm_service *s = &p->svc[i];
    if (!s->asked)
      continue;
    fprintf(out, LABEL, label[i]);
    if (s->status == 0 && s->external.family != NAT_AF_NONE)
      fprintf(out, "external %s, %.2f ms",
              nat_addr_format_ip(&s->external, ip, sizeof ip), nc_ms(s->rtt));
    else if (s->status == 0)
      fprintf(out, "answered (no external address), %.2f ms", nc_ms(s->rtt));
    else if (s->answered)
      fprintf(out, "refused (result %u)", s->result);
    else
      fprintf(out, "%s", nat_strerror(s->status));
    fprintf(out, "%s%s%s\n", s->detail[0] != '\0' ? " (" : "", s->detail,
            s->detail[0] != '\0' ? ")" : "");
  }
  if (!r->tested)
    return;
  fprintf(out, LABEL, "  mapping test:");
  if (r->mapping.external.family != NAT_AF_NONE)
    fprintf(out, "UDP %u -> %s by %s for %u s (asked %u), %s, %s",
            r->mapping.internal_port,
            nat_addr_format(&r->mapping.external, ip, sizeof ip),
            nat_pm_proto_name(r->mapping.proto), r->mapping.lifetime,
            r->mapping.lifetime_asked,
            r->read_back ? "read back" : "not read back",
            r->deleted ? "deleted" : "not deleted");
  else
    fprintf(out, "not granted");
  fprintf(out, "%s%s\n", r->test_status != 0 ? ": " : "", r->test_error);
}

/* The evidence of fact @p f when it is not obvious: an unknown fact (why),
 * a "dependent" mapping, or a conclusion whose confidence is 0.999 or
 * less (3 silent tries or fewer, nat/verdict.h). The allocation line gives
 * its confidence itself. */
static void evidence_line(FILE *out, const nat_verdict *v, uint8_t f,
                          bool known) {
  const nat_conclusion *c = &v->evidence[f];
  if (c->reason[0] == '\0')
    return;
  if (!known)
    fprintf(out, LABEL "%s\n", "  why unknown:", c->reason);
  else if (c->confidence < 0.9995 && f != NAT_FACT_ALLOCATION)
    fprintf(out, LABEL "%s (confidence %.6g)\n", "  evidence:", c->reason,
            c->confidence);
  else if (f == NAT_FACT_MAPPING && v->mapping == NAT_BEH_DEPENDENT)
    fprintf(out, LABEL "%s\n", "  evidence:", c->reason);
}

static void behaviour(FILE *out, const nc_result *res) {
  const nat_verdict *v = &res->verdict;
  size_t i;
  if (!not_measurable(out, res, "Mapping:", NAT_REPLAY_M_MAPPING)) {
    fprintf(out, LABEL "%s%s\n", "Mapping:", nat_beh_name(v->mapping),
            v->rfc5780_used ? " (RFC 5780)" : "");
    evidence_line(out, v, NAT_FACT_MAPPING, v->mapping != NAT_BEH_UNKNOWN);
  }
  if (!not_measurable(out, res, "Filtering:", NAT_REPLAY_M_FILTERING)) {
    fprintf(out, LABEL "%s%s\n", "Filtering:", nat_beh_name(v->filtering),
            v->filtering_unsupported ? " (the server ignores CHANGE-REQUEST)"
            : res->tests[NAT_OBS_FILTERING].skipped != NULL ? " (not measured)"
                                                            : "");
    evidence_line(out, v, NAT_FACT_FILTERING, v->filtering != NAT_BEH_UNKNOWN);
  }
  if (!not_measurable(out, res, "Hairpinning:", NAT_REPLAY_M_HAIRPIN)) {
    fprintf(out, LABEL "%s\n", "Hairpinning:", nat_tri_name(v->hairpinning));
    evidence_line(out, v, NAT_FACT_HAIRPIN, v->hairpinning != NAT_TRI_UNKNOWN);
  }
  if (!not_measurable(out, res, "Port allocation:", NAT_REPLAY_M_ALLOCATION)) {
    allocation(out, &v->alloc);
    evidence_line(out, v, NAT_FACT_ALLOCATION, v->alloc.kind != NAT_PA_UNKNOWN);
  }
  fprintf(out, LABEL, "Prediction:");
  if (v->prediction.n == 0)
    fprintf(out, "-");
  for (i = 0; i < v->prediction.n && i < 4; i++)
    fprintf(out, "%s%u (%.0f %%)", i ? ", " : "", v->prediction.port[i],
            100.0 * v->prediction.prob[i]);
  fprintf(out, "\n");
  fprintf(out, LABEL "%s\n", "Pooling:", nat_pooling_name(v->pooling));
  if (!not_measurable(out, res, "Double NAT:", NAT_REPLAY_M_NAT)) {
    fprintf(out, LABEL "%s (%s)\n", "Double NAT:", nat_tri_name(v->double_nat),
            v->double_nat_reason);
    fprintf(out, LABEL "%s\n", "Carrier NAT:", nat_tri_name(v->carrier_nat));
  }
  hops_line(out, res);
  portmap_lines(out, res);
  if (not_measurable(out, res, "Mapping lifetime:", NAT_REPLAY_M_LIFETIME))
    return;
  if (v->lifetime_min == 0 && v->lifetime_max == 0)
    fprintf(out, LABEL "%s\n", "Mapping lifetime:",
            res->tests[NAT_OBS_LIFETIME].transactions > 0 ? "unknown"
                                                          : "not measured");
  else if (v->lifetime_max == 0)
    fprintf(out, LABEL "more than %.1f s\n",
            "Mapping lifetime:", (double)v->lifetime_min / 1e9);
  else
    fprintf(out, LABEL "between %.1f s and %.1f s\n",
            "Mapping lifetime:", (double)v->lifetime_min / 1e9,
            (double)v->lifetime_max / 1e9);
}

static void strategy(FILE *out, const nat_verdict *v) {
  size_t i;
  fprintf(out, "Strategy:\n");
  for (i = 0; i < NAT_PEER_CLASSES; i++) {
    const nat_strategy *s = &v->strategy[i];
    char label[40];
    snprintf(label, sizeof label, "vs %s:", nat_peer_class_name(s->peer));
    fprintf(out, "  " LABEL "%s", label, nat_strategy_name(s->kind));
    if (s->probes_99 > 0)
      fprintf(out, " (%.0f probes for 50 %%, %.0f for 99 %%, about %.1f s)",
              s->probes_50, s->probes_99, s->seconds_99);
    fprintf(out, "\n");
  }
}

static void replay_line(FILE *out, const nc_replay_info *info) {
  char ip[NAT_ADDR_STRLEN];
  fprintf(out,
          LABEL "%s: %llu records, %llu STUN datagrams, captured at %s, "
                "client %s\n",
          "Replay of:", info->file, (unsigned long long)info->cap.records,
          (unsigned long long)info->cap.stun, nc_capture_point_name(info),
          info->diag.client.family != NAT_AF_NONE
              ? nat_addr_format_ip(&info->diag.client, ip, sizeof ip)
              : "-");
}

/* One short line per other client of the capture: its own verdict. */
static void other_client(FILE *out, const nc_replay_client *c) {
  char ip[NAT_ADDR_STRLEN], pub[NAT_ADDR_STRLEN];
  const nat_family_verdict *f =
      c->v4.public_agree != NAT_AGREE_NONE ? &c->v4 : &c->v6;
  fprintf(out,
          LABEL "%s: %llu requests, captured at %s, UDP %s, NAT %s, public "
                "%s, mapping %s, filtering %s, hairpinning %s, allocation "
                "%s (replay it alone with --client)\n",
          "Other client:", nat_addr_format_ip(&c->diag.client, ip, sizeof ip),
          (unsigned long long)c->requests, nc_point_name(&c->diag),
          c->udp ? "yes" : "no", nat_tri_name(c->nat_present),
          f->public_agree == NAT_AGREE_NONE ? "-"
          : f->public_agree == NAT_AGREE_VARIES
              ? "varies"
              : nat_addr_format_ip(&f->public_ip, pub, sizeof pub),
          nat_beh_name(c->mapping), nat_beh_name(c->filtering),
          nat_tri_name(c->hairpinning), nat_pa_kind_name(c->alloc_kind));
}

static void replay_diag(FILE *out, const nc_replay_info *info) {
  const nat_replay_diag *d = &info->diag;
  char ip[NAT_ADDR_STRLEN], why[NAT_REPLAY_REASON_LEN + 80];
  size_t i;
  fprintf(out,
          LABEL "%llu requests, %llu responses, %llu retransmissions, "
                "%llu timeouts, %llu spoofed, %llu unmatched, %llu "
                "duplicates, %llu copies, %llu malformed, %llu ignored, "
                "%llu dropped (log full)\n",
          "Replay diagnostics:", (unsigned long long)d->requests,
          (unsigned long long)d->responses,
          (unsigned long long)d->retransmissions,
          (unsigned long long)d->timeouts, (unsigned long long)d->spoofed,
          (unsigned long long)d->unmatched, (unsigned long long)d->duplicates,
          (unsigned long long)d->copies,
          (unsigned long long)(d->malformed + info->cap.stun_malformed),
          (unsigned long long)d->ignored, (unsigned long long)d->obs_dropped);
  fprintf(out, LABEL "%s (%s): %s\n",
          "Capture point:", nc_capture_point_name(info),
          d->capture_point == NAT_REPLAY_AUTO ? "inferred" : "given",
          nc_point_reason(d, why, sizeof why));
  for (i = 0; i < info->nclients; i++)
    if (!info->clients[i].main)
      other_client(out, &info->clients[i]);
  if (info->nclients > 0)
    return; /* without --client: every client is above */
  for (i = 0; i < d->nclients && i < NAT_REPLAY_MAX_CLIENTS; i++)
    if (!nat_addr_equal_ip(&d->clients[i], &d->client))
      fprintf(
          out, LABEL "%s also sent %llu requests (ignored: --client)\n",
          "Other requester:", nat_addr_format_ip(&d->clients[i], ip, sizeof ip),
          (unsigned long long)d->client_requests[i]);
}

static void summary(FILE *out, const nc_result *res) {
  const nat_analysis *a = &res->verdict.basic;
  char buf[NAT_ADDR_STRLEN + 200];
  size_t tried = a->v4.tried + a->v6.tried;
  size_t answered = a->v4.answered + a->v6.answered;
  size_t i;
  for (i = 0; i < a->nservers; i++)
    if (a->servers[i].family == NAT_AF_NONE)
      tried++;
  fprintf(out, "%s\n", nc_headline(res, buf, sizeof buf));
  if (res->replay != NULL)
    replay_line(out, res->replay);
  if (a->udp_reachable && res->probed)
    behaviour(out, res);
  fprintf(out, LABEL "%s\n", "UDP reachable:",
          nc_udp_unknown(res) ? "unknown (every request came as IP "
                                "fragments and none was answered)"
          : a->udp_reachable  ? "yes"
                              : "no");
  fprintf(out, LABEL "%s\n",
          "Public IPv4:", public_ip(&a->v4, buf, sizeof buf));
  fprintf(out, LABEL "%s\n",
          "Public IPv6:", public_ip(&a->v6, buf, sizeof buf));
  if (!not_measurable(out, res, "NAT:", NAT_REPLAY_M_NAT)) {
    fprintf(out, LABEL "%s\n", "NAT on IPv4:", nat_tri_name(a->v4.nat_present));
    fprintf(out, LABEL "%s\n", "NAT on IPv6:", nat_tri_name(a->v6.nat_present));
  }
  fprintf(out, LABEL "%zu of %zu\n", "Probes answered:", answered, tried);
  if (a->udp_reachable)
    strategy(out, &res->verdict);
  if (res->verdict.nexplain > 0)
    fprintf(out, "Why:\n");
  for (i = 0; i < res->verdict.nexplain; i++)
    fprintf(out, "  %s\n", res->verdict.explain[i]);
  fprintf(out, LABEL "%.2f ms%s\n", "Duration:", nc_ms(res->duration),
          res->replay != NULL ? " (capture span)" : "");
}

static void tests_block(FILE *out, const nc_result *res) {
  uint8_t t;
  for (t = 0; t < 6; t++) {
    const nat_probe_test_info *ti = &res->tests[t];
    char label[40];
    if (ti->transactions == 0 && ti->skipped == NULL)
      continue;
    snprintf(label, sizeof label, "Test %s:", nat_obs_test_name(t));
    fprintf(out, LABEL, label);
    if (ti->transactions > 0 && res->replay != NULL)
      fprintf(out, "%u requests", ti->transactions);
    else if (ti->transactions > 0)
      fprintf(out, "%u requests, %.2f ms", ti->transactions,
              nc_ms(ti->end - ti->start));
    if (ti->skipped != NULL)
      fprintf(out, "%s%s", ti->transactions > 0 ? "; " : "", ti->skipped);
    fprintf(out, "\n");
  }
}

static void server_block(FILE *out, const nc_options *opt, const nc_result *res,
                         const nat_obs *o) {
  char b1[NAT_ADDR_STRLEN], err[NC_ERRLEN], name[NAT_ADDR_STRLEN];
  const char *fam = nc_family_name(nat_obs_family(o));
  const char *why = nc_obs_strerror(o, opt, err, sizeof err);
  const nat_server_verdict *v = nc_verdict_of(res, o);

  fprintf(out, "\nServer %s (%s)\n", nc_server_name(opt, o, name, sizeof name),
          fam == NULL     ? "no address"
          : fam[3] == '4' ? "IPv4"
                          : "IPv6");
  fprintf(out, "  " LABEL "%s\n", "result:", why == NULL ? "ok" : why);
  fprintf(out, "  " LABEL "%s\n",
          "server address:", addr_or_dash(true, &o->server, b1, sizeof b1));
  fprintf(out, "  " LABEL "%s\n",
          "local address:", addr_or_dash(true, &o->local, b1, sizeof b1));
  if (o->server.family == NAT_AF_NONE)
    return;
  fprintf(out, "  " LABEL "%u\n", "transmissions:", o->transmissions);
  if (o->status != 0 && o->status != NAT_ESTUNERR)
    return;
  fprintf(out, "  " LABEL "%s\n", "mapped address:",
          addr_or_dash(o->has_mapped, &o->mapped, b1, sizeof b1));
  fprintf(out, "  " LABEL "%s\n",
          "NAT:", nat_tri_name(v != NULL ? v->nat_present : NAT_TRI_UNKNOWN));
  fprintf(out, "  " LABEL "%.2f ms\n", "RTT:", nc_ms(o->rtt));
  fprintf(out, "  " LABEL "%s\n",
          "RFC 5780:", o->has_other_address ? "yes" : "no");
  fprintf(out, "  " LABEL "%s\n", "other address:",
          addr_or_dash(o->has_other_address, &o->other_address, b1, sizeof b1));
  fprintf(
      out, "  " LABEL "%s\n", "response origin:",
      addr_or_dash(o->has_response_origin, &o->response_origin, b1, sizeof b1));
  if (o->has_changed_address)
    fprintf(out, "  " LABEL "%s\n", "changed address:",
            nat_addr_format(&o->changed_address, b1, sizeof b1));
  fprintf(out, "  " LABEL "%s\n",
          "software:", o->software[0] != '\0' ? o->software : "-");
}

int nc_report_text(FILE *out, const nc_options *opt, const nc_result *res) {
  const nc_diag *d = &res->diag;
  const nat_obs **basic;
  size_t i, n;
  basic = nc_basic_obs(res, &n);
  if (basic == NULL)
    return -1;
  summary(out, res);
  tests_block(out, res);
  for (i = 0; i < n; i++)
    server_block(out, opt, res, basic[i]);
  free(basic);
  fprintf(out,
          "\n" LABEL "%llu malformed, %llu spoofed, %llu unmatched, "
          "%llu duplicates, %llu not responses, %llu send errors\n",
          "Diagnostics:", (unsigned long long)d->malformed,
          (unsigned long long)d->spoofed, (unsigned long long)d->unmatched,
          (unsigned long long)d->duplicates,
          (unsigned long long)d->not_response,
          (unsigned long long)d->send_errors);
  if (res->replay != NULL)
    replay_diag(out, res->replay);
  return ferror(out) ? -1 : 0;
}
