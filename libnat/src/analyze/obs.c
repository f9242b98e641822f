/* The observation log: one nat_obs per STUN transaction (nat/obs.h). */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/obs.h"
#include "nat/stun.h"

/* Copy @p len bytes of attribute text into @p dst (@p cap bytes), truncated,
 * NUL-terminated, with control bytes replaced so the text is safe to print. */
static void copy_text(char *dst, size_t cap, const char *src, size_t len) {
  size_t i;
  if (len > cap - 1)
    len = cap - 1;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  dst[len] = '\0';
}

/* Read an optional address attribute: absent or malformed leaves *has
 * false. */
static void get_opt_addr(const nat_stun_msg *m, uint16_t type, bool *has,
                         nat_addr *out) {
  *has = nat_stun_msg_get_addr(m, type, out) == 0;
  if (!*has)
    memset(out, 0, sizeof *out);
}

static void fill_from_response(nat_obs *o, const nat_stun_msg *m) {
  const nat_stun_attr *sw;
  const char *reason = NULL;
  size_t reason_len = 0;
  int code = 0;

  o->has_mapped = nat_stun_msg_get_mapped(m, &o->mapped) == 0;
  if (!o->has_mapped)
    memset(&o->mapped, 0, sizeof o->mapped);
  get_opt_addr(m, NAT_ATTR_RESPONSE_ORIGIN, &o->has_response_origin,
               &o->response_origin);
  get_opt_addr(m, NAT_ATTR_OTHER_ADDRESS, &o->has_other_address,
               &o->other_address);
  get_opt_addr(m, NAT_ATTR_CHANGED_ADDRESS, &o->has_changed_address,
               &o->changed_address);
  sw = nat_stun_msg_find(m, NAT_ATTR_SOFTWARE);
  if (sw != NULL && sw->value != NULL)
    copy_text(o->software, sizeof o->software, (const char *)sw->value,
              sw->len);
  if (m->cls == NAT_STUN_ERROR) {
    o->status = NAT_ESTUNERR;
    if (nat_stun_msg_get_error(m, &code, &reason, &reason_len) == 0) {
      o->error_code = code;
      if (reason != NULL)
        copy_text(o->error_reason, sizeof o->error_reason, reason, reason_len);
    }
  }
}

int nat_obs_from_result(nat_obs *o, const nat_txn_result *r,
                        const nat_addr *local) {
  if (o == NULL || r == NULL)
    return NAT_EINVAL;
  memset(o, 0, sizeof *o);
  if (local != NULL)
    o->local = *local;
  o->server = r->dst;
  o->status = r->status;
  o->transmissions = r->transmissions;
  if (r->status != 0 || r->response == NULL) {
    if (r->status == 0)
      o->status = NAT_EINVAL; /* a "response" without a message */
    return 0;
  }
  o->rtt = r->rtt;
  o->from = r->from;
  fill_from_response(o, r->response);
  return 0;
}

uint8_t nat_obs_family(const nat_obs *o) {
  if (o == NULL)
    return NAT_AF_NONE;
  if (o->server.family != NAT_AF_NONE)
    return o->server.family;
  return o->local.family;
}

const char *nat_obs_test_name(uint8_t test) {
  switch (test) {
  case NAT_OBS_BASIC:
    return "basic";
  case NAT_OBS_MAPPING:
    return "mapping";
  case NAT_OBS_FILTERING:
    return "filtering";
  case NAT_OBS_HAIRPIN:
    return "hairpin";
  case NAT_OBS_ALLOCATION:
    return "allocation";
  case NAT_OBS_LIFETIME:
    return "lifetime";
  default:
    return "unknown";
  }
}

void nat_obslog_init(nat_obslog *log) {
  if (log != NULL)
    memset(log, 0, sizeof *log);
}

void nat_obslog_free(nat_obslog *log) {
  if (log == NULL)
    return;
  free(log->v);
  memset(log, 0, sizeof *log);
}

int nat_obslog_append(nat_obslog *log, const nat_obs *o) {
  if (log == NULL || o == NULL)
    return NAT_EINVAL;
  if (log->n == log->cap) {
    size_t cap = log->cap ? log->cap * 2 : 16;
    nat_obs *v;
    if (cap > SIZE_MAX / sizeof *v)
      return NAT_ENOMEM;
    v = realloc(log->v, cap * sizeof *v);
    if (v == NULL)
      return NAT_ENOMEM;
    log->v = v;
    log->cap = cap;
  }
  log->v[log->n++] = *o;
  return 0;
}

size_t nat_obslog_count(const nat_obslog *log) {
  return log != NULL ? log->n : 0;
}

const nat_obs *nat_obslog_at(const nat_obslog *log, size_t i) {
  if (log == NULL || i >= log->n)
    return NULL;
  return &log->v[i];
}
