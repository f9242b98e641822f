/* Replay: where the capture was taken (nat/replay.h, "Where the capture
 * was taken"), what its TTLs say besides (hop probes), the allocation
 * bit from the analyzer's own rules, and why a verdict is not measurable
 * from the capture. Pure. */
#include <stdio.h>

#include "nat/error.h"
#include "nat/replay.h"
#include "nat/verdict.h"
#include "replay_tag.h"

/* An initial TTL / hop limit: what a host sets before any router has
 * forwarded the datagram (64: Linux, macOS, the BSDs; 128: Windows; 255:
 * network equipment and some Unixes). 32 and 1 are not taken: 32 is
 * rare (old Windows) and 1 is a hop probe's, both also what a forwarded
 * datagram can carry. */
static bool initial_ttl(uint8_t ttl) {
  return ttl == 64 || ttl == 128 || ttl == 255;
}

/* Where the capture says it was taken (nat/replay.h, "Where the capture
 * was taken"): @p xl is a response that showed a translation (or NULL),
 * @p any_mapped whether some request was answered. */
void nat__replay_infer_point(nat_replay_diag *d, const nat_obs *xl,
                             bool any_mapped) {
  char a[NAT_ADDR_STRLEN], b[NAT_ADDR_STRLEN];
  const char *no_nat = any_mapped ? " and the servers saw their source "
                                    "address: no NAT"
                                  : "; no request was answered";
  d->point_inferred = NAT_REPLAY_AT_CLIENT;
  if (xl != NULL) {
    snprintf(d->point_reason, sizeof d->point_reason,
             "a response maps %s to %s: captured inside the NAT",
             nat_addr_format(&xl->local, a, sizeof a),
             nat_addr_format(&xl->mapped, b, sizeof b));
  } else if (initial_ttl(d->request_ttl)) {
    snprintf(d->point_reason, sizeof d->point_reason,
             "captured on the sending host or its link (requests leave "
             "with TTL %u, no router forwarded them yet)%s",
             d->request_ttl, no_nat);
  } else if (d->requests_outgoing > 0 && d->requests_in == 0) {
    snprintf(d->point_reason, sizeof d->point_reason,
             "captured on the sending host (Linux cooked capture: its "
             "requests are outgoing, never incoming)%s",
             no_nat);
  } else {
    d->point_inferred = NAT_REPLAY_AUTO;
    if (d->request_ttl != 0)
      snprintf(d->point_reason, sizeof d->point_reason,
               "requests carry TTL %u, forwarded by a router, and no "
               "response shows a translation: outside a NAT, or on a path "
               "with none; not known",
               d->request_ttl);
    else
      snprintf(d->point_reason, sizeof d->point_reason,
               "no response shows a translation, and the capture gives no "
               "TTL or direction that places it");
  }
}

/* The usual request TTL a client must have for a request of TTL at most
 * NAT__HOP_MAX_TTL to be taken for a hop probe (nat/replay.h, "Hop
 * probes"). */
#define HOP_USUAL_TTL 32

/* netcheck's hop probes (nat/hops.h): Binding requests with TTL 1..N from
 * the behaviour socket, mostly unanswered (routers answer with ICMP
 * time-exceeded, which a capture's STUN reader skips). A live run keeps
 * them out of the observation log (they go to its hop list); the replay
 * recognizes a request whose first transmission was captured with a TTL
 * of at most NAT__HOP_MAX_TTL while the client's usual TTL (request_ttl, the
 * most common) is at least HOP_USUAL_TTL, and leaves it out, counted as
 * hop_probes (its timeout or response no longer counted). Before
 * anything else is tagged. */
size_t nat__replay_drop_hop_probes(nat__rp_rec *recs, size_t n,
                                   nat_replay_diag *d) {
  size_t i, j;
  if (d->request_ttl < HOP_USUAL_TTL)
    return n;
  for (i = j = 0; i < n; i++) {
    nat__rp_rec *r = &recs[i];
    if (!(r->flags & NAT__REC_LOWTTL)) {
      recs[j++] = *r;
      continue;
    }
    d->hop_probes++;
    if (r->o.status == NAT_ETIMEDOUT) {
      if (d->timeouts > 0)
        d->timeouts--;
    } else if (d->responses > 0) { /* answered: success or error */
      d->responses--;
    }
  }
  return j;
}

/* Inside the NAT, allocation is measurable also when the analyzer's
 * allocation rules decide over what the capture gave (the observations
 * emitted from @p log[start..]): two fresh sockets asking one server are
 * not the only evidence -- e.g. two sockets' preserved ports from a
 * turnutils_natdiscovery -t capture, or the classic `stun` client's two
 * sockets (nat/verdict.h, the rules for few samples). A verdict the
 * analyzer leaves unknown adds nothing. @return 0 or NAT_ENOMEM. */
int nat__replay_alloc_decides(const nat_obslog *log, size_t start,
                              nat_replay_diag *d) {
  nat_obslog view;
  nat_alloc_verdict av;
  int rv;
  if (!d->inside || (d->measurable & NAT_REPLAY_M_ALLOCATION) ||
      log->n <= start)
    return 0;
  view.v = log->v + start;
  view.n = view.cap = log->n - start;
  rv = nat_analyze_allocation(&view, &av, NULL);
  if (rv == NAT_ENOMEM)
    return rv;
  if (rv == 0 && av.kind != NAT_PA_UNKNOWN)
    d->measurable |= NAT_REPLAY_M_ALLOCATION;
  return 0;
}

const char *nat_replay_strerror(const nat_replay_diag *d, uint32_t bit) {
  const char *outside = "the capture may have been taken outside the NAT, "
                        "where answers the NAT drops are still seen";
  if (d == NULL || (d->measurable & bit) != 0)
    return "";
  switch (bit) {
  case NAT_REPLAY_M_BASIC:
    return "no Binding requests from the client in the capture";
  case NAT_REPLAY_M_NAT:
    if (d->capture_point == NAT_REPLAY_OUTSIDE)
      return "captured outside the NAT: the client's own address is not "
             "in the capture";
    return d->responses == 0 ? "no request was answered"
                             : "every mapped address equals the request's "
                               "source: no NAT, or a capture taken outside "
                               "the NAT";
  case NAT_REPLAY_M_MAPPING:
    return d->inside ? "no socket had answers from two destinations (RFC "
                       "5780 section 4.3 probes)"
                     : "the capture may have been taken outside the NAT, "
                       "where a new mapping cannot be told from a new "
                       "client socket, and no source was answered from two "
                       "server IPs with one mapped address (which would "
                       "show an endpoint-independent mapping)";
  case NAT_REPLAY_M_FILTERING:
    return d->change_requests == 0 ? "no CHANGE-REQUEST probes in the capture"
           : d->inside
               ? "no answered request opened the mapping before the "
                 "CHANGE-REQUEST probes (the probing socket had no answered "
                 "plain request to the server's primary address before "
                 "them), no change-IP probe was answered from an IP its "
                 "socket never sent to (which alone proves "
                 "endpoint-independent filtering), and no socket's change "
                 "probes to the primary address show a dependent filter "
                 "(3 unanswered change-IP probes, and 3 unanswered "
                 "change-port probes or a change-port answer from another "
                 "port, with the server's alternate address known)"
               : outside;
  case NAT_REPLAY_M_HAIRPIN:
    return d->hairpin_requests == 0
               ? "no request to another socket's mapped address"
               : outside;
  case NAT_REPLAY_M_ALLOCATION:
    return d->inside ? "fewer than two fresh sockets asked the same server, "
                       "and the mappings answered are too few for the "
                       "rules for few samples"
                     : outside;
  case NAT_REPLAY_M_LIFETIME:
    if (!d->inside)
      return "the capture may have been taken outside the NAT, where the "
             "arrival of an answer at an idle socket is not seen";
    if (d->responses == 0)
      return "no request was answered";
    if (!d->saw_translation)
      return "no NAT: a mapping lifetime does not apply";
    return "no RESPONSE-PORT probe asked for an answer at a socket left "
           "idle after its mapping was made";
  default:
    return "unknown";
  }
}
