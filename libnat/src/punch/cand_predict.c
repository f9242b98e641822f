/* libnat -- predicted candidates (nat/cand.h): the mapping behaviour from
 * two mappings of one socket, and the ports a sequential NAT will give the
 * next mapping, from allocation samples and the socket's own mappings.
 * Pure: no I/O, no clock. */
#include <string.h>

#include "nat/cand.h"
#include "nat/error.h"

/* Ports wrap into this range when a prediction runs past 65535 (or below
 * it), as nat_alloc_predict() does when no wrap was observed. */
#define WRAP_LO 1024
#define WRAP_HI 65535

static bool has_family(const nat_addr *a) {
  return a != NULL && (a->family == NAT_AF_INET || a->family == NAT_AF_INET6);
}

uint8_t nat_cand_mapping_of(const nat_addr *d1, const nat_addr *m1,
                            const nat_addr *d2, const nat_addr *m2) {
  if (!has_family(d1) || !has_family(m1) || !has_family(d2) ||
      !has_family(m2) || m1->family != m2->family || d1->family != d2->family ||
      nat_addr_equal(d1, d2))
    return NAT_BEH_UNKNOWN;
  if (nat_addr_equal(m1, m2))
    return NAT_BEH_EI;
  return nat_addr_equal_ip(d1, d2) ? NAT_BEH_APD : NAT_BEH_AD;
}

/* @p p - @p ref as a signed distance on the 16-bit port circle. */
static int32_t port_diff(uint16_t p, int32_t ref) {
  int32_t d = (int32_t)p - ref;
  if (d > 32767)
    d -= 65536;
  if (d < -32768)
    d += 65536;
  return d;
}

/* The mapped port of the last sample that is an allocation (not a repeat
 * of an earlier (local, mapped) pair: nat_alloc_classify() drops those). */
static int32_t last_allocated(const nat_port_sample *s, size_t n) {
  for (size_t i = n; i-- > 0;) {
    bool repeat = false;
    for (size_t j = 0; j < i && !repeat; j++)
      repeat = s[j].local_port == s[i].local_port &&
               s[j].mapped_port == s[i].mapped_port;
    if (!repeat)
      return s[i].mapped_port;
  }
  return 0;
}

/* The latest allocated port: the samples' last, or a port of a later
 * mapping of the socket itself (within the window, in delta's direction).
 */
static int32_t latest(const nat_cand_predict_in *in, int32_t ref,
                      int32_t delta) {
  int32_t best = 0, last = ref, sign = delta > 0 ? 1 : -1;
  int32_t window = NAT_CAND_PREDICT_WINDOW * (delta > 0 ? delta : -delta);
  for (size_t i = 0; i < in->nmapped + in->nsamples; i++) {
    uint16_t p = i < in->nmapped ? in->mapped[i].port
                                 : in->samples[i - in->nmapped].mapped_port;
    int32_t off = port_diff(p, ref) * sign;
    if (p != 0 && off > best && off <= window) {
      best = off;
      last = p;
    }
  }
  return last;
}

static bool seen_port(const nat_cand_predict_in *in, int32_t p) {
  for (size_t i = 0; i < in->nmapped; i++)
    if (in->mapped[i].port == p)
      return true;
  for (size_t i = 0; i < in->nsamples; i++)
    if (in->samples[i].mapped_port == p)
      return true;
  return false;
}

/* nat_alloc_predict()'s ports, moved from the samples' last port @p ref to
 * @p last, wrapped into the port range, without ports seen allocated. */
static void shift_prediction(const nat_cand_predict_in *in, int32_t ref,
                             int32_t last, nat_prediction *p) {
  int32_t shift = port_diff((uint16_t)last, ref);
  int32_t lo = WRAP_LO, span;
  size_t n = 0;
  for (size_t i = 0; i < in->nsamples; i++)
    if (in->samples[i].mapped_port < WRAP_LO)
      lo = 1;
  span = WRAP_HI - lo + 1;
  for (size_t i = 0; i < p->n; i++) {
    int32_t q = (int32_t)p->port[i] + shift;
    while (q > WRAP_HI)
      q -= span;
    while (q < lo)
      q += span;
    if (seen_port(in, q))
      continue;
    p->port[n] = (uint16_t)q;
    p->prob[n] = p->prob[i];
    n++;
  }
  p->n = n;
}

int nat_cand_predict(const nat_cand_predict_in *in, nat_cand_predict_out *info,
                     nat_cand *out, size_t max, size_t *nout) {
  nat_cand_predict_out r;
  unsigned count;
  int rc;
  if (in == NULL || out == NULL || nout == NULL ||
      (in->samples == NULL && in->nsamples > 0) ||
      (in->mapped == NULL && in->nmapped > 0) || in->count > NAT_PREDICT_MAX)
    return NAT_EINVAL;
  *nout = 0;
  count = in->count != 0 ? in->count : NAT_CAND_PREDICT_DEFAULT;
  memset(&r, 0, sizeof r);
  rc = nat_alloc_classify(in->samples, in->nsamples, &r.alloc);
  if (rc != 0)
    return rc;
  if (in->nmapped == 0 || !has_family(&in->mapped[0]))
    r.status = NAT_CAND_PREDICT_NO_ADDRESS;
  else if (in->mapping == NAT_BEH_EI)
    r.status = NAT_CAND_PREDICT_MAPPING_EI;
  else if (in->mapping != NAT_BEH_AD && in->mapping != NAT_BEH_APD &&
           in->mapping != NAT_BEH_DEPENDENT)
    r.status = NAT_CAND_PREDICT_MAPPING_UNKNOWN;
  else if (r.alloc.kind != NAT_PA_SEQUENTIAL)
    r.status = NAT_CAND_PREDICT_NOT_SEQUENTIAL;
  else {
    int32_t ref = last_allocated(in->samples, in->nsamples), last;
    rc = nat_alloc_predict(&r.alloc, in->samples, in->nsamples, count, &r.pred);
    if (rc != 0)
      return rc;
    last = latest(in, ref, r.alloc.delta);
    r.last = (uint16_t)last;
    shift_prediction(in, ref, last, &r.pred);
    rc = nat_cand_make_predicted(&r.pred, &in->mapped[0], in->base, out, max,
                                 nout);
    if (rc != 0)
      return rc;
    r.status = NAT_CAND_PREDICT_MADE;
  }
  if (info != NULL)
    *info = r;
  return 0;
}

const char *nat_cand_predict_status_name(int status) {
  switch (status) {
  case NAT_CAND_PREDICT_MADE:
    return "predicted";
  case NAT_CAND_PREDICT_MAPPING_EI:
    return "mapping-independent";
  case NAT_CAND_PREDICT_MAPPING_UNKNOWN:
    return "mapping-unknown";
  case NAT_CAND_PREDICT_NOT_SEQUENTIAL:
    return "not-sequential";
  case NAT_CAND_PREDICT_NO_ADDRESS:
    return "no-address";
  default:
    return "unknown";
  }
}

const char *nat_cand_predict_status_strerror(int status) {
  switch (status) {
  case NAT_CAND_PREDICT_MADE:
    return "predicted candidates made";
  case NAT_CAND_PREDICT_MAPPING_EI:
    return "our mapping is endpoint-independent";
  case NAT_CAND_PREDICT_MAPPING_UNKNOWN:
    return "not known whether our mapping depends on the destination";
  case NAT_CAND_PREDICT_NOT_SEQUENTIAL:
    return "our NAT's ports are not sequential";
  case NAT_CAND_PREDICT_NO_ADDRESS:
    return "no public address";
  default:
    return "unknown";
  }
}
