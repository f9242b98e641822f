/* libnat -- answering STUN Binding requests (nat/stunsrv.h). Pure. */
#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/stunsrv.h"

/* Attributes a plain RFC 8489 server does not understand (RFC 5780's
 * CHANGE-REQUEST and RESPONSE-PORT), listed in its 420 response. */
static size_t rfc5780_unknown(const nat_stun_msg *m, uint16_t *types) {
  size_t n = 0;
  if (nat_stun_msg_find(m, NAT_ATTR_CHANGE_REQUEST) != NULL)
    types[n++] = NAT_ATTR_CHANGE_REQUEST;
  if (nat_stun_msg_find(m, NAT_ATTR_RESPONSE_PORT) != NULL)
    types[n++] = NAT_ATTR_RESPONSE_PORT;
  return n;
}

/* Source and destination of the reply (CHANGE-REQUEST, RESPONSE-PORT). */
static int route(const nat_stunsrv_opts *o, const nat_addr *from,
                 const nat_stun_msg *m, nat_stunsrv_reply *w) {
  uint32_t flags = 0;
  uint16_t port = 0;
  memset(w, 0, sizeof *w);
  w->dst = *from;
  if (o->local != NULL)
    w->src = *o->local;
  if (o->other == NULL)
    return 0;
  if (nat_stun_msg_get_u32(m, NAT_ATTR_CHANGE_REQUEST, &flags) == 0 &&
      (flags & (NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT)) != 0) {
    if (o->local == NULL || o->other->family != o->local->family)
      return NAT_EINVAL;
    if (flags & NAT_STUN_CHANGE_IP)
      memcpy(w->src.ip, o->other->ip, sizeof w->src.ip);
    if (flags & NAT_STUN_CHANGE_PORT)
      w->src.port = o->other->port;
  }
  if (nat_stun_msg_get_response_port(m, &port) == 0 && port != 0)
    w->dst.port = port;
  return 0;
}

static int add_error_420(nat_stun_builder *b, const nat_stun_msg *m,
                         const uint16_t *extra, size_t nextra) {
  uint16_t types[NAT_STUN_MAX_UNKNOWN + 2];
  size_t n = 0, i;
  for (i = 0; i < m->nunknown && i < NAT_STUN_MAX_UNKNOWN; i++)
    types[n++] = m->unknown[i];
  for (i = 0; i < nextra; i++)
    types[n++] = extra[i];
  nat_stun_add_error(b, 420, "Unknown Attribute");
  return nat_stun_add_unknown_attrs(b, types, n);
}

static ssize_t build(const nat_stunsrv_opts *o, const nat_stun_msg *m,
                     const nat_addr *from, const nat_stunsrv_reply *w,
                     const uint16_t *extra, size_t nextra, uint8_t *out,
                     size_t cap) {
  nat_stun_builder b;
  uint8_t tid16[16];
  bool err = w->error;
  uint8_t cls = err ? NAT_STUN_ERROR : NAT_STUN_SUCCESS;
  int rv;
  if (m->classic) {
    memcpy(tid16, m->buf + 4, sizeof tid16);
    rv = nat_stun_builder_init_classic(&b, out, cap, NAT_STUN_BINDING, cls,
                                       tid16);
  } else {
    rv = nat_stun_builder_init(&b, out, cap, NAT_STUN_BINDING, cls, m->tid);
  }
  if (rv < 0)
    return rv;
  if (err) {
    add_error_420(&b, m, extra, nextra);
  } else {
    nat_stun_add_addr(
        &b, m->classic ? NAT_ATTR_MAPPED_ADDRESS : NAT_ATTR_XOR_MAPPED_ADDRESS,
        from);
    if (o->other != NULL && o->local != NULL) {
      nat_stun_add_addr(
          &b, m->classic ? NAT_ATTR_SOURCE_ADDRESS : NAT_ATTR_RESPONSE_ORIGIN,
          &w->src);
      nat_stun_add_addr(
          &b, m->classic ? NAT_ATTR_CHANGED_ADDRESS : NAT_ATTR_OTHER_ADDRESS,
          o->other);
    }
  }
  if (o->software != NULL)
    nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, o->software);
  if (o->key != NULL)
    nat_stun_add_integrity(&b, o->key, o->keylen);
  return nat_stun_builder_finish(&b, !m->classic && m->fp_idx >= 0);
}

ssize_t nat_stunsrv_respond(const nat_stunsrv_opts *opts, const nat_addr *from,
                            const uint8_t *req, size_t len, uint8_t *out,
                            size_t cap, nat_stunsrv_reply *where) {
  nat_stun_msg m;
  ssize_t n;
  if (from == NULL || req == NULL || out == NULL || where == NULL ||
      from->family == NAT_AF_NONE)
    return NAT_EINVAL;
  if (opts != NULL && opts->local != NULL &&
      opts->local->family != from->family)
    return NAT_EINVAL;
  n = nat_stun_decode(&m, req, len);
  if (n < 0)
    return n;
  return nat_stunsrv_respond_msg(opts, from, &m, out, cap, where);
}

ssize_t nat_stunsrv_respond_msg(const nat_stunsrv_opts *opts,
                                const nat_addr *from, const nat_stun_msg *m,
                                uint8_t *out, size_t cap,
                                nat_stunsrv_reply *where) {
  static const nat_stunsrv_opts none;
  const nat_stunsrv_opts *o = opts != NULL ? opts : &none;
  uint16_t extra[2];
  size_t nextra = 0;
  int rv;
  if (from == NULL || m == NULL || out == NULL || where == NULL ||
      from->family == NAT_AF_NONE)
    return NAT_EINVAL;
  if (o->local != NULL && o->local->family != from->family)
    return NAT_EINVAL;
  if (m->cls != NAT_STUN_REQUEST || m->method != NAT_STUN_BINDING)
    return NAT_EBADCLASS;
  if (o->key != NULL) {
    rv = nat_stun_msg_check_integrity(m, o->key, o->keylen);
    if (rv < 0)
      return rv;
  }
  if (o->other == NULL)
    nextra = rfc5780_unknown(m, extra);
  rv = route(o, from, m, where);
  if (rv < 0)
    return rv;
  where->error = m->nunknown > 0 || nextra > 0;
  if (where->error) { /* errors go back where the request came from */
    where->dst = *from;
    memset(&where->src, 0, sizeof where->src);
    if (o->local != NULL)
      where->src = *o->local;
  }
  return build(o, m, from, where, extra, nextra, out, cap);
}
