/* netcheck -- wording shared by the text and JSON reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nat/error.h>

#include "netcheck.h"

const char *nc_obs_status_name(const nat_obs *o) {
  if (o->status == 0)
    return "ok";
  if (o->status == NAT_ESTUNERR)
    return "stun_error";
  if (o->status == NAT_ETIMEDOUT || o->status == NAT_ECANCELED)
    return "timeout";
  if (o->server.family == NAT_AF_NONE)
    return "resolve_error";
  return "send_error";
}

const char *nc_no_family_strerror(const nc_server *s, char *buf, size_t len) {
  bool v4 = s->no_family == NAT_AF_INET;
  snprintf(buf, len, "resolution failed: no %s address for %s (%s given)",
           v4 ? "IPv4" : "IPv6", s->name, v4 ? "-4" : "-6");
  return buf;
}

static const char *resolve_error(const nat_obs *o, const nc_options *opt,
                                 char *buf, size_t len) {
  const nc_server *s = NULL;
  if (o->server_idx < opt->nservers)
    s = &opt->servers[o->server_idx];
  if (s != NULL && s->resolve_late)
    snprintf(buf, len, "resolution failed: no answer within %u ms",
             opt->timeout_ms);
  else if (s != NULL && s->resolve_uv != 0)
    snprintf(buf, len, "resolution failed: %s", nat_strerror(s->resolve_uv));
  else if (s != NULL && s->no_family != NAT_AF_NONE)
    nc_no_family_strerror(s, buf, len);
  else
    snprintf(buf, len, "resolution failed: %s", nat_strerror(o->status));
  return buf;
}

const char *nc_obs_strerror(const nat_obs *o, const nc_options *opt, char *buf,
                            size_t len) {
  const char *st = nc_obs_status_name(o);
  if (strcmp(st, "ok") == 0)
    return NULL;
  if (strcmp(st, "stun_error") == 0) {
    if (o->error_reason[0] != '\0')
      snprintf(buf, len, "STUN error %d %s", o->error_code, o->error_reason);
    else
      snprintf(buf, len, "STUN error %d", o->error_code);
  } else if (strcmp(st, "timeout") == 0) {
    snprintf(buf, len, "timed out after %u transmission%s", o->transmissions,
             o->transmissions == 1 ? "" : "s");
  } else if (strcmp(st, "resolve_error") == 0) {
    return resolve_error(o, opt, buf, len);
  } else {
    snprintf(buf, len, "cannot send: %s", nat_strerror(o->status));
  }
  return buf;
}

const char *nc_family_name(uint8_t family) {
  if (family == NAT_AF_INET)
    return "ipv4";
  if (family == NAT_AF_INET6)
    return "ipv6";
  return NULL;
}

double nc_ms(nat_tstamp ns) {
  return (double)((ns + 5000) / 10000) / 100.0;
}

static void append(char *buf, size_t len, const char *s) {
  size_t used = strlen(buf);
  if (used < len)
    snprintf(buf + used, len - used, "%s", s);
}

bool nc_udp_unknown(const nc_result *res) {
  return res->replay != NULL && nat_replay_udp_unknown(&res->replay->diag);
}

const char *nc_verdict(const nc_result *res, char *buf, size_t len) {
  const nat_analysis *a = &res->verdict.basic;
  size_t i, tried = 0;
  buf[0] = '\0';
  if (!a->udp_reachable) {
    for (i = 0; i < res->log.n; i++)
      if (res->log.v[i].status == NAT_ETIMEDOUT ||
          res->log.v[i].status == NAT_ECANCELED)
        tried++;
    if (nc_udp_unknown(res))
      append(buf, len,
             "UDP reachability unknown: no request was answered, and every "
             "one came as IP fragments (dropped fragments look the same)");
    else
      append(buf, len,
             tried > 0 ? "UDP blocked"
                       : "check failed: no server could be tried");
    return buf;
  }
  if (a->nat_present == NAT_TRI_YES) {
    bool both =
        a->v4.nat_present == NAT_TRI_YES && a->v6.nat_present == NAT_TRI_YES;
    append(buf, len, "NAT: present (");
    if (a->v4.nat_present == NAT_TRI_YES)
      append(buf, len, "IPv4");
    if (both)
      append(buf, len, ", ");
    if (a->v6.nat_present == NAT_TRI_YES)
      append(buf, len, "IPv6");
    append(buf, len, ")");
  } else if (a->nat_present == NAT_TRI_NO) {
    append(buf, len, "no NAT");
  } else {
    append(buf, len, "NAT: unknown");
  }
  return buf;
}

const nat_server_verdict *nc_verdict_of(const nc_result *res,
                                        const nat_obs *o) {
  size_t i;
  for (i = 0; i < res->verdict.basic.nservers; i++) {
    const nat_server_verdict *v = &res->verdict.basic.servers[i];
    if (v->server_idx == o->server_idx && v->family == nat_obs_family(o))
      return v;
  }
  return NULL;
}

static int basic_cmp(const void *pa, const void *pb) {
  const nat_obs *a = *(const nat_obs *const *)pa;
  const nat_obs *b = *(const nat_obs *const *)pb;
  uint8_t fa = nat_obs_family(a), fb = nat_obs_family(b);
  if (a->server_idx != b->server_idx)
    return a->server_idx < b->server_idx ? -1 : 1;
  if (fa != fb)
    return fa < fb ? -1 : 1;
  return a->sent_at < b->sent_at ? -1 : a->sent_at > b->sent_at;
}

const nat_obs **nc_basic_obs(const nc_result *res, size_t *n) {
  const nat_obs **v = calloc(res->log.n + 1, sizeof *v);
  size_t i;
  *n = 0;
  if (v == NULL)
    return NULL;
  for (i = 0; i < res->log.n; i++)
    if (res->log.v[i].test == NAT_OBS_BASIC)
      v[(*n)++] = &res->log.v[i];
  qsort(v, *n, sizeof *v, basic_cmp);
  return v;
}

const char *nc_headline(const nc_result *res, char *buf, size_t len) {
  const nat_verdict *v = &res->verdict;
  const char *classic = nat_classic_name(v);
  const char *diff = nat_difficulty_name(v->difficulty);
  if (!v->basic.udp_reachable)
    return nc_verdict(res, buf, len);
  if (v->basic.nat_present == NAT_TRI_NO)
    snprintf(buf, len, "no NAT (%s: %s mapping, %s filtering) \xe2\x80\x94 %s",
             strcmp(classic, "unknown") == 0 ? "no translation" : classic,
             nat_beh_name(v->mapping), nat_beh_name(v->filtering), diff);
  else if (strcmp(classic, "unknown") == 0)
    snprintf(buf, len, "%s (%s mapping, %s filtering) \xe2\x80\x94 %s",
             v->basic.nat_present == NAT_TRI_YES ? "NAT of unknown kind"
                                                 : "unknown NAT behaviour",
             nat_beh_name(v->mapping), nat_beh_name(v->filtering), diff);
  else
    snprintf(buf, len, "%s NAT (%s mapping, %s filtering) \xe2\x80\x94 %s",
             classic, nat_beh_name(v->mapping), nat_beh_name(v->filtering),
             diff);
  return buf;
}

const char *nc_server_name(const nc_options *opt, const nat_obs *o, char *buf,
                           size_t len) {
  if (o->server_idx < opt->nservers)
    return opt->servers[o->server_idx].name;
  if (o->server.family != NAT_AF_NONE)
    return nat_addr_format(&o->server, buf, len);
  snprintf(buf, len, "server %u", (unsigned)o->server_idx + 1);
  return buf;
}

void nc_obs_trace(const nat_obs *o) {
  char a1[NAT_ADDR_STRLEN], a2[NAT_ADDR_STRLEN], a3[NAT_ADDR_STRLEN];
  fprintf(stderr,
          "netcheck: %-10s %s -> %s change %u: %s, mapped %s, %u sent\n",
          nat_obs_test_name(o->test), nat_addr_format(&o->local, a1, sizeof a1),
          nat_addr_format(&o->server, a2, sizeof a2), o->change_flags,
          nat_strerror(o->status), nat_addr_format(&o->mapped, a3, sizeof a3),
          o->transmissions);
}
