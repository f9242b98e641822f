/* netcheck -- wording shared by the text and JSON reports. */
#include <stdio.h>
#include <string.h>

#include <nat/error.h>

#include "netcheck.h"

const char *nc_obs_status(const nat_obs *o) {
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
    snprintf(buf, len, "resolution failed: no %s address",
             s->no_family == NAT_AF_INET ? "IPv4" : "IPv6");
  else
    snprintf(buf, len, "resolution failed: %s", nat_strerror(o->status));
  return buf;
}

const char *nc_obs_error(const nat_obs *o, const nc_options *opt, char *buf,
                         size_t len) {
  const char *st = nc_obs_status(o);
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

const char *nc_verdict(const nc_result *res, char *buf, size_t len) {
  const nat_analysis *a = &res->analysis;
  size_t i, tried = 0;
  buf[0] = '\0';
  if (!a->udp_reachable) {
    for (i = 0; i < res->log.n; i++)
      if (res->log.v[i].status == NAT_ETIMEDOUT)
        tried++;
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
  for (i = 0; i < res->analysis.nservers; i++) {
    const nat_server_verdict *v = &res->analysis.servers[i];
    if (v->server_idx == o->server_idx && v->family == nat_obs_family(o))
      return v;
  }
  return NULL;
}
