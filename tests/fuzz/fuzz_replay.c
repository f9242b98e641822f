/* libFuzzer target for capture replay (nat/replay.h) end to end: a
 * sequence of STUN datagrams among 16 addresses (two client hosts with
 * two sockets, their mapped addresses, an RFC 5780 server's four
 * addresses, IPv6, a shared-space address, loopback) goes through
 * nat_replay_feed_pkt() (or nat_replay_feed() as bytes), pairing, tagging
 * and every analyzer to the verdict (nat_replay_verdict()), for the main
 * client and, without config.client, for each client
 * (nat_replay_finish_client()). The first 2 bytes configure the replay
 * (capture point, --client, timeout, small pending and observation
 * tables); then records of 4 bytes (+ data):
 *   byte 0  bits 0-2: 0-2 Binding request, 3-4 success response, 5 error
 *           response, 6 raw bytes, 7 something else (indication, another
 *           method, a request to a client); bits 3-7: time advance
 *           (20 ms steps, the last 8 in 4 s steps, past the timeout)
 *   byte 1  source (bits 0-3) and destination (bits 4-7) addresses
 *   byte 2  transaction (bits 0-2, 8 of them: pairing happens), fed as
 *           bytes (bit 3), classic RFC 3489 (bit 4), then per kind:
 *           CHANGE-REQUEST flags and RESPONSE-PORT (requests),
 *           OTHER-ADDRESS / RESPONSE-ORIGIN / MAPPED vs XOR-MAPPED
 *           (responses)
 *   byte 3  TTL (none, 64, a hop probe's 1-16, 128) and direction
 *           (requests); the mapped address and its port (responses)
 * Messages are built with the project's encoder, so requests and answers
 * pair. Invariants that abort() when broken:
 * - every built message decodes, and feeding never fails;
 * - while feeding, every datagram is counted once: datagrams = malformed
 *   + ignored + requests + retransmissions + copies + unmatched +
 *   duplicates + spoofed + responses, and evicted <= timeouts (of which
 *   closed early); the datagrams count is what was fed; after finish no counter
 * went below zero (wrapped) and the log holds at most one observation per
 * request and test;
 * - every observation's test and status are in their enums and its
 *   strings terminated;
 * - the verdict's fields are in their enums (nat_beh, nat_tri,
 *   nat_pooling, nat_pa_kind, peer classes and strategies), the
 *   prediction's probabilities in [0, 1] summing to at most 1, the
 *   strings terminated, the observations counted; a fact concluded has
 *   a confidence in (0, 1] and a reason, an unknown one confidence 0 and
 *   a reason; the bits withheld are exactly the maskable ones the diag
 *   says are not measurable, and a withheld fact is unknown;
 * - nat_replay_finish_client() succeeds or says NAT_ENOTFOUND, and
 *   its diag names that client;
 * - no leak (LeakSanitizer).
 *
 * Per-input setup: a replay with a pending table of 2-62 entries and
 * 4-244 observations (nat_replay_config: eviction and the cap are
 * reached), not the defaults sized for big captures.
 *
 * Found and fixed (unit tests in tests/unit/test_replay.c, the inputs kept
 * as corpus/replay/regress_*): evicted counted the answered entries a
 * full table drops (evicted > timeouts); an untranslated "hairpin"
 * request answered by a response took a hairpin arrival it never counted
 * (hairpin_arrivals wrapped below zero); a late-recognized hairpin
 * request answered by an error response was turned into a hairpin
 * arrival and taken from timeouts (timeouts wrapped below zero).
 *
 * Run (clang, -DNAT_FUZZ=ON -DNAT_SANITIZE=address,undefined), 2026-12-08,
 * after those fixes:
 *   build-fuzz/tests/fuzz/fuzz_replay -max_total_time=600 \
 *     -print_final_stats=1 COPY_OF_corpus/replay
 *   1,410,441 runs in 601 s, 2,346 exec/s on average by the wall clock,
 *   on 2 cores shared with four other helpers' fuzzers and builds (load
 *   average about 9), peak RSS 405 MB, 2,164 corpus units (545 KB) from
 *   the 14 files, cov 2,043, ft 11,433: no crash, no leak, no invariant
 *   broken. Per CPU second (-seed=7 -runs=100000 over that corpus): 1,900
 *   inputs of some 60 datagrams, each through pairing, tagging and one
 *   verdict per client; the time is those and libFuzzer's bookkeeping of
 *   11,000 features, not setup.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/replay.h"
#include "nat/stun.h"
#include "nat/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_util.h"

#define MAXREC 256

typedef struct ctx {
  nat_replay *r;
  nat_addr addr[16];
  nat_tstamp now;
  uint64_t fed;
  const uint8_t *d;
  size_t n, pos;
} ctx;

static uint8_t byte(ctx *c) {
  return c->pos < c->n ? c->d[c->pos++] : 0;
}

static void v6(nat_addr *a, uint8_t last, uint8_t third, uint16_t port) {
  memset(a, 0, sizeof *a);
  a->family = NAT_AF_INET6;
  a->ip[0] = 0x20, a->ip[1] = 0x01, a->ip[2] = 0x0d, a->ip[3] = 0xb8;
  a->ip[5] = third;
  a->ip[15] = last;
  a->port = port;
}

static void addrs(ctx *c) {
  static const uint32_t ip[16] = {
      0xC0A80102, 0xC0A80102, 0x0A000005, 0xC6336402, 0xC6336402, 0xCB007101,
      0xCB007102, 0xCB007101, 0xCB007102, 0xC6336402, 0xC6336403, 0,
      0,          0x64400005, 0x7F000001, 0xC0A80103};
  static const uint16_t port[16] = {27820, 27821, 40000, 27820, 27821, 3478,
                                    3478,  3479,  3479,  40000, 27820, 0,
                                    0,     27820, 3478,  5000};
  for (unsigned i = 0; i < 16; i++)
    nat_addr_set_v4(&c->addr[i], ip[i], port[i]);
  v6(&c->addr[11], 2, 0, 5000);
  v6(&c->addr[12], 1, 1, 3478);
}

static void tid_of(uint8_t tid[16], unsigned t) {
  for (unsigned i = 0; i < 16; i++)
    tid[i] = (uint8_t)(0x5A ^ (i * 29) ^ t);
}

/* Feed @p len bytes at @p buf from @p src to @p dst: as bytes, or decoded
 * through nat_replay_feed_pkt() with the record's TTL and direction. */
static void feed(ctx *c, const nat_addr *src, const nat_addr *dst,
                 const uint8_t *buf, size_t len, bool bytes, uint8_t ttl,
                 uint8_t dir, bool frag) {
  c->fed++;
  if (bytes) {
    if (nat_replay_feed(c->r, c->now, src, dst, buf, len) != 0)
      abort();
    return;
  }
  nat_stun_msg m;
  nat_capture_pkt p;
  if (nat_stun_decode(&m, buf, len) != (ssize_t)len)
    abort(); /* the encoder built what the decoder refuses */
  memset(&p, 0, sizeof p);
  p.ts = c->now;
  p.record = c->fed;
  p.src = *src;
  p.dst = *dst;
  p.payload = buf;
  p.len = len;
  p.msg = &m;
  p.linktype = dir != 0 ? NAT_LINK_LINUX_SLL2 : NAT_LINK_RAW;
  p.ttl = ttl;
  p.dir = dir;
  p.reassembled = frag;
  if (nat_replay_feed_pkt(c->r, &p) != 0)
    abort();
}

static int begin(nat_stun_builder *b, uint8_t *buf, size_t cap, uint16_t meth,
                 uint8_t cls, unsigned t, bool classic) {
  uint8_t tid[16];
  tid_of(tid, t);
  return classic ? nat_stun_builder_init_classic(b, buf, cap, meth, cls, tid)
                 : nat_stun_builder_init(b, buf, cap, meth, cls, tid);
}

static ssize_t finish(nat_stun_builder *b, bool classic) {
  ssize_t n = nat_stun_builder_finish(b, !classic);
  if (n <= 0)
    abort();
  return n;
}

static void record(ctx *c) {
  uint8_t r0 = byte(c), r1 = byte(c), r2 = byte(c), r3 = byte(c);
  const nat_addr *src = &c->addr[r1 & 15], *dst = &c->addr[r1 >> 4];
  unsigned t = r2 & 7, dt = r0 >> 3;
  bool bytes = (r2 & 8) != 0, classic = (r2 & 16) != 0;
  uint8_t buf[512];
  nat_stun_builder b;
  ssize_t n;
  c->now += dt < 24 ? (nat_tstamp)dt * 20 * NAT_MILLISECONDS
                    : (nat_tstamp)(dt - 23) * 4 * NAT_SECONDS;
  switch (r0 & 7) {
  case 0:
  case 1:
  case 2: { /* a Binding request */
    static const uint8_t ttls[4] = {0, 64, 1, 128};
    uint8_t ttl = ttls[r3 & 3];
    if (ttl == 1)
      ttl = (uint8_t)(1 + ((r3 >> 2) & 15));
    if (begin(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_REQUEST, t,
              classic) != 0)
      abort();
    if (r2 & 0x60)
      nat_stun_add_change_request(&b,
                                  (r2 & 0x20 ? NAT_STUN_CHANGE_IP : 0) |
                                      (r2 & 0x40 ? NAT_STUN_CHANGE_PORT : 0));
    if ((r2 & 0x80) && !classic)
      nat_stun_add_u32(&b, NAT_ATTR_RESPONSE_PORT,
                       (uint32_t)c->addr[(r3 >> 2) & 15].port << 16);
    n = finish(&b, classic);
    feed(c, src, dst, buf, (size_t)n, bytes, ttl, (uint8_t)((r3 >> 6) % 3),
         (r3 & 0xC0) == 0xC0);
    break;
  }
  case 3:
  case 4: { /* a success response */
    nat_addr mapped = c->addr[r3 & 15];
    if (r3 & 0x10)
      mapped.port = (uint16_t)(mapped.port + 1 + (r3 >> 5));
    if (begin(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_SUCCESS, t,
              classic) != 0)
      abort();
    nat_stun_add_addr(&b,
                      classic || (r2 & 0x80) ? NAT_ATTR_MAPPED_ADDRESS
                                             : NAT_ATTR_XOR_MAPPED_ADDRESS,
                      &mapped);
    if (r2 & 0x20) {
      nat_addr other = c->addr[8];
      if (mapped.family == NAT_AF_INET6)
        other = c->addr[12];
      nat_stun_add_addr(
          &b, classic ? NAT_ATTR_CHANGED_ADDRESS : NAT_ATTR_OTHER_ADDRESS,
          &other);
    }
    if (r2 & 0x40)
      nat_stun_add_addr(
          &b, classic ? NAT_ATTR_SOURCE_ADDRESS : NAT_ATTR_RESPONSE_ORIGIN,
          src);
    n = finish(&b, classic);
    feed(c, src, dst, buf, (size_t)n, bytes, 57, 0, false);
    break;
  }
  case 5: { /* an error response */
    static const int codes[4] = {420, 400, 401, 500};
    if (begin(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_ERROR, t,
              classic) != 0)
      abort();
    nat_stun_add_error(&b, codes[r3 & 3], "Unknown Attribute");
    n = finish(&b, classic);
    feed(c, src, dst, buf, (size_t)n, bytes, 0, 0, false);
    break;
  }
  case 6: { /* raw bytes (malformed, or whatever they are) */
    size_t len = r3 < c->n - c->pos ? r3 : c->n - c->pos;
    static const uint8_t none[1] = {0};
    c->fed++;
    if (nat_replay_feed(c->r, c->now, src, dst, len > 0 ? c->d + c->pos : none,
                        len) != 0)
      abort();
    c->pos += len;
    break;
  }
  default: { /* an indication, another method, a request to a client */
    static const uint16_t meth[4] = {NAT_STUN_BINDING, 0x003, 0x008,
                                     NAT_STUN_BINDING};
    static const uint8_t cls[4] = {NAT_STUN_INDICATION, NAT_STUN_REQUEST,
                                   NAT_STUN_SUCCESS, NAT_STUN_REQUEST};
    if (begin(&b, buf, sizeof buf, meth[r3 & 3], cls[r3 & 3], t + 8, classic) !=
        0)
      abort();
    if ((r3 & 3) == 3) /* an ICE connectivity check */
      nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 0x6e7f1eff);
    n = finish(&b, classic);
    feed(c, src, dst, buf, (size_t)n, bytes, 64, 0, false);
    break;
  }
  }
}

ORACLE static bool terminated(const char *s, size_t cap) {
  return memchr(s, '\0', cap) != NULL;
}

ORACLE static void check_counts(const nat_replay_diag *d, uint64_t fed,
                                bool feeding) {
  const uint64_t *c[] = {
      &d->requests,        &d->retransmissions, &d->responses,
      &d->timeouts,        &d->evicted,         &d->unmatched,
      &d->duplicates,      &d->spoofed,         &d->copies,
      &d->malformed,       &d->ignored,         &d->hairpin_arrivals,
      &d->hop_probes,      &d->frag_requests,   &d->change_requests,
      &d->hairpin_requests};
  if (d->datagrams != fed)
    abort();
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    if (*c[i] > fed)
      abort(); /* more than was fed: a counter wrapped below zero */
  if (feeding && d->malformed + d->ignored + d->requests + d->retransmissions +
                         d->copies + d->unmatched + d->duplicates + d->spoofed +
                         d->responses !=
                     d->datagrams)
    abort();
  if ((feeding && d->evicted > d->timeouts) ||
      d->nclients > NAT_REPLAY_MAX_CLIENTS ||
      d->capture_point > NAT_REPLAY_OUTSIDE ||
      d->point_inferred > NAT_REPLAY_OUTSIDE ||
      !terminated(d->point_reason, sizeof d->point_reason))
    abort();
}

ORACLE static void check_log(const nat_obslog *log, const nat_replay_diag *d) {
  if (log->n > d->requests * (NAT_OBS_LIFETIME + 1))
    abort(); /* one observation per test a request was tagged for */
  for (size_t i = 0; i < log->n; i++) {
    const nat_obs *o = &log->v[i];
    if (o->test > NAT_OBS_LIFETIME ||
        (o->status != 0 && o->status != NAT_ESTUNERR &&
         o->status != NAT_ETIMEDOUT) ||
        !terminated(o->error_reason, sizeof o->error_reason) ||
        !terminated(o->software, sizeof o->software))
      abort();
  }
}

ORACLE static bool tri(nat_tri t) {
  return t == NAT_TRI_UNKNOWN || t == NAT_TRI_NO || t == NAT_TRI_YES;
}

ORACLE static void check_verdict(const nat_verdict *v, const nat_obslog *log,
                                 const nat_replay_diag *d, uint32_t masked) {
  const nat_analysis *a = &v->basic;
  bool known[NAT_FACTS] = {
      a->nat_present != NAT_TRI_UNKNOWN, v->mapping != NAT_BEH_UNKNOWN,
      v->filtering != NAT_BEH_UNKNOWN,   v->hairpinning != NAT_TRI_UNKNOWN,
      v->alloc.kind != NAT_PA_UNKNOWN,
  };
  double psum = 0;
  if (v->mapping > NAT_BEH_DEPENDENT || v->filtering > NAT_BEH_APD ||
      !tri(v->hairpinning) || v->pooling > NAT_POOL_ARBITRARY ||
      v->alloc.kind > NAT_PA_RANDOM || !tri(v->alloc.parity) ||
      !(v->alloc.confidence >= 0 && v->alloc.confidence <= 1) ||
      !tri(v->double_nat) || !tri(v->carrier_nat) || v->difficulty > 2 ||
      !tri(v->mapping_varies) || v->self_class > NAT_PEER_CLASSES ||
      v->observations != log->n || v->nexplain > NAT_EXPLAIN_MAX ||
      v->prediction.n > NAT_PREDICT_MAX ||
      !terminated(v->double_nat_reason, sizeof v->double_nat_reason))
    abort();
  if (!tri(a->nat_present) || !tri(a->v4.nat_present) ||
      !tri(a->v6.nat_present) || a->v4.public_agree > NAT_AGREE_VARIES ||
      a->v6.public_agree > NAT_AGREE_VARIES || a->nservers > a->cap)
    abort();
  for (size_t i = 0; i < a->nservers; i++) {
    const nat_server_verdict *s = &a->servers[i];
    if ((s->family != NAT_AF_NONE && s->family != NAT_AF_INET &&
         s->family != NAT_AF_INET6) ||
        !tri(s->nat_present) || s->obs_index >= log->n)
      abort();
  }
  for (size_t i = 0; i < v->prediction.n; i++) {
    double p = v->prediction.prob[i];
    if (!(p >= 0 && p <= 1))
      abort();
    psum += p;
  }
  if (psum > 1 + 1e-9)
    abort();
  for (size_t i = 0; i < v->nexplain; i++)
    if (!terminated(v->explain[i], NAT_EXPLAIN_LEN))
      abort();
  for (size_t i = 0; i < NAT_PEER_CLASSES; i++)
    if (v->strategy[i].peer >= NAT_PEER_CLASSES ||
        v->strategy[i].kind > NAT_STRAT_RELAY ||
        !(v->strategy[i].probes_50 >= 0) || !(v->strategy[i].probes_99 >= 0))
      abort();
  for (unsigned f = 0; f < NAT_FACTS; f++) {
    const nat_conclusion *e = &v->evidence[f];
    if (!terminated(e->reason, sizeof e->reason) || e->reason[0] == '\0')
      abort();
    if (known[f] ? !(e->confidence > 0 && e->confidence <= 1)
                 : e->confidence != 0)
      abort();
  }
  if (masked != (NAT_REPLAY_M_MASKABLE & ~d->measurable))
    abort();
  if (((masked & NAT_REPLAY_M_MAPPING) && v->mapping != NAT_BEH_UNKNOWN) ||
      ((masked & NAT_REPLAY_M_FILTERING) && v->filtering != NAT_BEH_UNKNOWN) ||
      ((masked & NAT_REPLAY_M_HAIRPIN) && v->hairpinning != NAT_TRI_UNKNOWN) ||
      ((masked & NAT_REPLAY_M_ALLOCATION) && v->alloc.kind != NAT_PA_UNKNOWN) ||
      ((masked & NAT_REPLAY_M_NAT) && a->nat_present != NAT_TRI_UNKNOWN) ||
      ((masked & NAT_REPLAY_M_LIFETIME) &&
       (v->lifetime_min != 0 || v->lifetime_max != 0)))
    abort();
}

/* The verdict of @p log with @p d, checked. */
static void verdict(const nat_obslog *log, const nat_replay_diag *d,
                    uint64_t fed) {
  nat_verdict v;
  uint32_t masked = 0;
  check_counts(d, fed, false);
  check_log(log, d);
  nat_verdict_init(&v);
  if (nat_replay_verdict(&v, log, d, &masked) != 0)
    abort();
  check_verdict(&v, log, d, masked);
  nat_verdict_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ctx c;
  nat_replay_config cfg;
  nat_replay_diag d;
  nat_obslog log;
  unsigned nrec = 0;
  if (size < 2)
    return 0;
  c.d = data, c.n = size, c.pos = 0, c.fed = 0;
  c.now = (nat_tstamp)1700000000 * NAT_SECONDS;
  addrs(&c);
  uint8_t c0 = byte(&c), c1 = byte(&c);
  memset(&cfg, 0, sizeof cfg);
  cfg.capture_point = (uint8_t)(c0 % 3);
  if (c0 & 4) { /* --client: one of the client sockets, or its IP */
    cfg.client = c.addr[(c0 >> 3) & 3];
    if (c0 & 0x20)
      cfg.client.port = 0;
  }
  if (c0 & 0x40)
    cfg.timeout = 5 * NAT_SECONDS;
  /* small tables: per-input setup stays cheap, and eviction and the
   * observation cap are reached */
  cfg.max_pending = 2 + (size_t)(c1 & 15) * 4;
  cfg.max_obs = 4 + (size_t)(c1 >> 4) * 16;
  if (nat_replay_new(&c.r, &cfg) != 0)
    abort();
  while (c.pos < c.n && nrec++ < MAXREC) {
    record(&c);
    nat_replay_get_diag(c.r, &d);
    check_counts(&d, c.fed, true);
  }
  nat_obslog_init(&log);
  if (nat_replay_finish(c.r, &log) != 0)
    abort();
  nat_replay_get_diag(c.r, &d);
  verdict(&log, &d, c.fed);
  nat_obslog_free(&log);
  if (cfg.client.family == NAT_AF_NONE) {
    for (size_t i = 0; i < d.nclients; i++) {
      nat_replay_diag di;
      int rv;
      nat_obslog_init(&log);
      rv = nat_replay_finish_client(c.r, i, &log, &di);
      if (rv == 0) {
        if (!nat_addr_equal(&di.client, &d.clients[i]))
          abort();
        verdict(&log, &di, c.fed);
      } else if (rv != NAT_ENOTFOUND) {
        abort();
      }
      nat_obslog_free(&log);
    }
  }
  nat_replay_free(c.r);
  c.r = NULL;
  return 0;
}
