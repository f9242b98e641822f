/* netcheck -- the JSON report, schema_version 1
 * (docs/schema/netcheck-report-v1.schema.json). Keys are written in a fixed
 * order; absent values are null, never missing. */
#include <jansson.h>

#include <nat/common.h>
#include <nat/error.h>

#include "netcheck.h"

#define NC_SCHEMA_VERSION 1

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
  char err[160];
  bool answered = o->status == 0 || o->status == NAT_ESTUNERR;
  bool sent = o->server.family != NAT_AF_NONE;
  if (s == NULL) {
    *ok = false;
    return NULL;
  }
  put(s, "name", json_string(opt->servers[o->server_idx].name), ok);
  put(s, "address", addr_json(sent, &o->server), ok);
  put(s, "family", str_or_null(nc_family_name(nat_obs_family(o))), ok);
  put(s, "status", json_string(nc_obs_status(o)), ok);
  put(s, "error", str_or_null(nc_obs_error(o, opt, err, sizeof err)), ok);
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

static json_t *report_json(const nc_options *opt, const nc_result *res,
                           bool *ok) {
  const nat_analysis *a = &res->analysis;
  json_t *root = json_object(), *servers = json_array();
  size_t i;
  if (root == NULL || servers == NULL) {
    json_decref(root);
    json_decref(servers);
    *ok = false;
    return NULL;
  }
  put(root, "schema_version", json_integer(NC_SCHEMA_VERSION), ok);
  put(root, "tool", json_string("netcheck"), ok);
  put(root, "version", json_string(nat_version_string()), ok);
  put(root, "duration_ms", json_real(nc_ms(res->duration)), ok);
  put(root, "udp", json_boolean(a->udp_reachable), ok);
  put(root, "nat_present", tri_json(a->nat_present), ok);
  put(root, "nat_present_v4", tri_json(a->v4.nat_present), ok);
  put(root, "nat_present_v6", tri_json(a->v6.nat_present), ok);
  put(root, "public_v4", public_json(&a->v4), ok);
  put(root, "public_v6", public_json(&a->v6), ok);
  for (i = 0; i < res->log.n; i++) {
    json_t *s = server_json(opt, &res->log.v[i], ok);
    if (s == NULL || json_array_append_new(servers, s) != 0)
      *ok = false;
  }
  put(root, "servers", servers, ok);
  put(root, "diagnostics", diag_json(&res->diag, ok), ok);
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
