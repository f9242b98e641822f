/* netcheck -- the text report: the verdict first, then one fact a line,
 * labels aligned. */
#include <stdio.h>

#include <nat/error.h>

#include "netcheck.h"

#define LABEL "%-18s"

static const char *public_ip(const nat_family_verdict *f, char *buf,
                             size_t len) {
  if (f->public_agree == NAT_AGREE_NONE)
    return "-";
  if (f->public_agree == NAT_AGREE_VARIES)
    return "varies (servers disagree)";
  return nat_addr_format_ip(&f->public_ip, buf, len);
}

static const char *tri_text(nat_tri t) {
  return t == NAT_TRI_YES ? "yes" : t == NAT_TRI_NO ? "no" : "unknown";
}

static const char *addr_or_dash(bool has, const nat_addr *a, char *buf,
                                size_t len) {
  if (!has || a->family == NAT_AF_NONE)
    return "-";
  return nat_addr_format(a, buf, len);
}

static void summary(FILE *out, const nc_result *res) {
  const nat_analysis *a = &res->analysis;
  char buf[NAT_ADDR_STRLEN + 32];
  size_t tried = a->v4.tried + a->v6.tried;
  size_t answered = a->v4.answered + a->v6.answered;
  size_t i;
  for (i = 0; i < a->nservers; i++)
    if (a->servers[i].family == NAT_AF_NONE)
      tried++;
  fprintf(out, "%s\n", nc_verdict(res, buf, sizeof buf));
  fprintf(out, LABEL "%s\n", "UDP reachable:", a->udp_reachable ? "yes" : "no");
  fprintf(out, LABEL "%s\n",
          "Public IPv4:", public_ip(&a->v4, buf, sizeof buf));
  fprintf(out, LABEL "%s\n",
          "Public IPv6:", public_ip(&a->v6, buf, sizeof buf));
  fprintf(out, LABEL "%s\n", "NAT on IPv4:", tri_text(a->v4.nat_present));
  fprintf(out, LABEL "%s\n", "NAT on IPv6:", tri_text(a->v6.nat_present));
  fprintf(out, LABEL "%zu of %zu\n", "Probes answered:", answered, tried);
  fprintf(out, LABEL "%.2f ms\n", "Duration:", nc_ms(res->duration));
}

static void server_block(FILE *out, const nc_options *opt, const nc_result *res,
                         const nat_obs *o) {
  char b1[NAT_ADDR_STRLEN], err[160];
  const char *fam = nc_family_name(nat_obs_family(o));
  const char *why = nc_obs_error(o, opt, err, sizeof err);
  const nat_server_verdict *v = nc_verdict_of(res, o);

  fprintf(out, "\nServer %s (%s)\n", opt->servers[o->server_idx].name,
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
          "NAT:", tri_text(v != NULL ? v->nat_present : NAT_TRI_UNKNOWN));
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
  size_t i;
  summary(out, res);
  for (i = 0; i < res->log.n; i++)
    server_block(out, opt, res, &res->log.v[i]);
  fprintf(out,
          "\n" LABEL "%llu malformed, %llu spoofed, %llu unmatched, "
          "%llu duplicates, %llu send errors\n",
          "Diagnostics:", (unsigned long long)d->malformed,
          (unsigned long long)d->spoofed, (unsigned long long)d->unmatched,
          (unsigned long long)d->duplicates,
          (unsigned long long)d->send_errors);
  return ferror(out) ? -1 : 0;
}
