/* libFuzzer target for the STUN client's response paths: the transaction
 * manager (nat/txn.h: nat_txn_mgr_recv) and the behaviour-discovery plan
 * (nat/probe.h: nat_probe_recv), on a fixed clock that the input moves.
 *
 * Input: byte 0 bit 0 picks the mode.
 * Transaction mode (bit 0 clear; bit 1: odd transactions are classic
 * RFC 3489 requests; bit 2: a callback starts a new transaction; bit 3: a
 * callback cancels another one): byte 1 gives Rc (bits 4-6, 1..8) and the
 * number of transactions (1..6), byte 2 two bits of options per
 * transaction (none, any source, a different expected source, its own RTO
 * and Rc). Records (opcode in the low 3 bits):
 *   0 raw datagram: source index, 2-byte length, the bytes;
 *   1 the clock moves on (2 bytes, ms), handle_expiry, every due datagram
 *     taken from next_send;
 *   2 a response to transaction k built by the harness: k, flags (bit 0
 *     an error response, bit 1 from a wrong source, bit 2 from the
 *     expected source rather than the destination, bit 3 a wrong cookie,
 *     bit 4 no FINGERPRINT), fed through nat_txn_mgr_recv or (bit 5)
 *     nat_txn_mgr_recv_msg;
 *   3 cancel k; 4 start one more; 5 cancel all; 6 an RTT sample.
 * Invariants: a transaction's callback runs once at most, never for an
 * unknown one, never after free; status 0 only from inside
 * nat_txn_mgr_recv for a response whose 128 bits of cookie + ID are the
 * request's, from the expected source (or any with any_source), to a
 * request transmitted at least once, and nat_txn_mgr_recv returns 0
 * exactly when that happened; NAT_ETIMEDOUT only from handle_expiry after
 * all Rc transmissions; NAT_ECANCELED only from a cancel; the live count
 * is what the harness counts; the transmissions reported are the ones
 * next_send handed out.
 *
 * Probe mode (bit 0 set): byte 1 the tests (NAT_PROBE_* bits), byte 2 the
 * servers (bit 0: two rather than one, bits 2-3: server 0/1 is IPv6,
 * bit 4: server 0 named as the RFC 5780 one, bit 5: an overall deadline,
 * bit 6: a short lifetime_max; byte 0 bit 1 makes every fifth socket fail
 * to open). Records:
 *   0 every due action taken (OPEN: the socket opened at 10.0.0.1 /
 *     2001:db8::a, port 40000 + its number; SEND: remembered);
 *   1 the clock moves on (2 bytes, ms), handle_expiry;
 *   2 an answer to sent request k: flags (bit 0 success else a 400,
 *     bit 1 OTHER-ADDRESS, bit 2 RESPONSE-ORIGIN, bit 3 from another
 *     address, bit 4 MAPPED-ADDRESS rather than XOR-MAPPED-ADDRESS,
 *     bit 5 none, bits 6 and 7: the mapped address and OTHER-ADDRESS
 *     picked from odd ones: the other family, port 0, unspecified), an
 *     address index, a socket choice (0: the one that sent it);
 *   3 raw datagram: socket, source index, 2-byte length, the bytes;
 *   4 a Binding request to a socket (the hairpin target answers it):
 *     socket, source index;
 *   5 nat_probe_cancel.
 * Invariants: an observation's mapped address, response source,
 * OTHER-ADDRESS and RESPONSE-ORIGIN are addresses some datagram fed to
 * the plan carried (its source, or the attribute); only answered
 * observations (status 0 or a STUN error) carry them; the answered
 * observations (and the responses the counters show) are no more than
 * the responses fed with the ID of a
 * request the plan sent; the log only grows; a served answer goes to the
 * source of a request fed; every datagram goes out of an open socket to
 * an address of that socket's family, not port 0, not unspecified,
 * whatever the answers said.
 *
 * Run locally (clang, ASan+UBSan, libnat coverage-instrumented), 2026-12-08,
 * through the shared fuzz slot (2 cores shared by five helpers and a
 * benchmark):
 *   CC=clang cmake -S . -B build-fuzz -DNAT_WERROR=ON -DNAT_FUZZ=ON \
 *     -DNAT_SANITIZE=address,undefined && \
 *     cmake --build build-fuzz --target fuzz_txn_probe
 *   build-fuzz/tests/fuzz/fuzz_txn_probe -max_total_time=600 \
 *     -print_final_stats=1 CORPUS_COPY   (a copy of corpus/txn_probe)
 * Result: 1,530,594 runs in 601 s, 2,546 execs/s on average (a plan or a
 * manager per input; the 2 cores were busy with other fuzzers, wall time
 * about 5x CPU time), 5,782 new units over the 5 seeds; coverage 1,021
 * edges / 5,817 features at the end (1,120 units); peak RSS 397 MB; no
 * crash, no invariant broken, no sanitizer report in the run.
 * Found before it, by this target and fixed: the plan sent the mapping
 * test from the IPv4 socket to an IPv6 OTHER-ADDRESS a server named (and
 * recorded it as unanswered); an OTHER-ADDRESS or mapped address of the
 * other family, port 0 or unspecified now counts as absent
 * (test_probe.unusable_answer_address). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/probe.h"
#include "nat/stun.h"
#include "nat/txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS     NAT_MILLISECONDS
#define NADDR  8
#define MAXTXN 16
#define NSENT  256
#define NFED   256

typedef struct in {
  const uint8_t *p;
  size_t n;
} in;

static uint8_t take(in *s) {
  uint8_t v;
  if (s->n == 0)
    return 0;
  v = *s->p++;
  s->n--;
  return v;
}

static uint16_t take16(in *s) {
  uint16_t v = (uint16_t)(take(s) << 8);
  return (uint16_t)(v | take(s));
}

static nat_addr addrs[NADDR];

static void setup_addrs(void) {
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  memset(addrs, 0, sizeof addrs);
  nat_addr_set_v4(&addrs[0], 0xCB007101u, 3478); /* server 1 */
  nat_addr_set_v4(&addrs[1], 0xCB007102u, 3478); /* server 2 */
  addrs[2].family = NAT_AF_INET6;                /* server v6 */
  memcpy(addrs[2].ip, v6, 16);
  addrs[2].ip[15] = 5;
  addrs[2].port = 3478;
  nat_addr_set_v4(&addrs[3], 0xCB007165u, 3479);  /* server 1's other */
  nat_addr_set_v4(&addrs[4], 0xCB007101u, 3479);  /* server 1, other port */
  nat_addr_set_v4(&addrs[5], 0xC6336401u, 6000);  /* a NAT's public side */
  nat_addr_set_v4(&addrs[6], 0x0A000001u, 40001); /* our own socket */
  addrs[7] = addrs[2];
  addrs[7].ip[15] = 6;
  addrs[7].port = 3479;
}

/* Addresses a server may put in an answer that are no use as a
 * destination: the other family, port 0, unspecified. */
#define NODD 6
static nat_addr odd[NODD];

static void setup_odd(void) {
  memset(odd, 0, sizeof odd);
  odd[0] = addrs[2]; /* IPv6 */
  odd[0].port = 3479;
  nat_addr_set_v4(&odd[1], 0xCB007165u, 0); /* port 0 */
  nat_addr_set_v4(&odd[2], 0, 3479);        /* 0.0.0.0 */
  odd[3].family = NAT_AF_INET6;             /* :: */
  odd[3].port = 3479;
  nat_addr_set_v4(&odd[4], 0xCB007166u, 3479); /* usable IPv4 */
  odd[5] = addrs[7];                           /* usable IPv6 */
}

static bool has_addr(const nat_addr *v, size_t n, const nat_addr *a) {
  size_t i;
  for (i = 0; i < n; i++)
    if (nat_addr_equal(&v[i], a))
      return true;
  return false;
}

/* ============================================================== txn */

typedef struct rec {
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t cookie[4];
  nat_addr dst, expect;
  bool any, classic, live, ended;
  unsigned rc, sent;
} rec;

typedef struct tst {
  nat_txn_mgr *m;
  rec r[MAXTXN];
  size_t nr;
  unsigned rc;
  uint8_t flags;
  nat_tstamp now;
  bool in_recv, in_expiry, in_cancel, freed;
  const uint8_t *recv_buf; /* the datagram being fed */
  unsigned completed;      /* status-0 callbacks during this recv */
  size_t live;
  int depth;
} tst;

static int txn_new(tst *t, uint8_t kind);

static void txn_cb(void *arg, const nat_txn_result *res) {
  tst *t = arg;
  size_t i = (size_t)(uintptr_t)res->user;
  rec *r;
  if (t->freed || i >= t->nr)
    abort();
  r = &t->r[i];
  if (!r->live || r->ended || memcmp(res->tid, r->tid, NAT_STUN_TID_LEN) != 0 ||
      !nat_addr_equal(&res->dst, &r->dst) || res->transmissions != r->sent)
    abort();
  r->ended = true;
  r->live = false;
  t->live--;
  switch (res->status) {
  case 0:
    if (!t->in_recv || res->response == NULL || r->sent == 0 ||
        memcmp(res->response->buf + 4, r->cookie, 4) != 0 ||
        memcmp(res->response->tid, r->tid, NAT_STUN_TID_LEN) != 0 ||
        res->response->buf != t->recv_buf ||
        (res->response->cls != NAT_STUN_SUCCESS &&
         res->response->cls != NAT_STUN_ERROR) ||
        (!r->any && !nat_addr_equal(&res->from, &r->expect)))
      abort();
    t->completed++;
    break;
  case NAT_ETIMEDOUT:
    if (!t->in_expiry || r->sent != r->rc || res->response != NULL)
      abort();
    break;
  case NAT_ECANCELED:
    if (!t->in_cancel || res->response != NULL)
      abort();
    break;
  default:
    abort();
  }
  /* re-entrancy: the manager may be used from the callback */
  if (t->depth < 2) {
    t->depth++;
    if (t->flags & 0x04)
      txn_new(t, (uint8_t)i);
    if ((t->flags & 0x08) && t->nr > 0) {
      bool was = t->in_cancel;
      rec *o = &t->r[(i + 1) % t->nr];
      bool live = o->live;
      t->in_cancel = true;
      if (nat_txn_cancel(t->m, o->tid) != (live ? 0 : NAT_ENOTFOUND))
        abort();
      t->in_cancel = was;
    }
    t->depth--;
  }
}

static int txn_new(tst *t, uint8_t kind) {
  uint8_t buf[128], tid16[16];
  nat_stun_builder b;
  nat_txn_opts o;
  rec *r;
  ssize_t n;
  size_t i = t->nr;
  int rc;
  if (t->nr == MAXTXN)
    return 0;
  r = &t->r[i];
  memset(r, 0, sizeof *r);
  memset(tid16, 0, sizeof tid16);
  tid16[0] = 0x5E, tid16[1] = 0xED;
  tid16[4] = (uint8_t)i;
  tid16[5] = kind;
  r->classic = (t->flags & 0x02) && (i & 1);
  if (r->classic)
    nat_stun_builder_init_classic(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                  NAT_STUN_REQUEST, tid16);
  else
    nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                          NAT_STUN_REQUEST, tid16 + 4);
  n = nat_stun_builder_finish(&b, !r->classic);
  if (n <= 0)
    abort();
  memcpy(r->tid, buf + 8, NAT_STUN_TID_LEN);
  memcpy(r->cookie, buf + 4, 4);
  r->dst = addrs[i % 3];
  r->expect = r->dst;
  r->rc = t->rc;
  memset(&o, 0, sizeof o);
  switch (kind & 3) {
  case 1:
    o.any_source = true;
    r->any = true;
    break;
  case 2:
    o.expect_from = &addrs[3];
    r->expect = addrs[3];
    break;
  case 3:
    o.rto = 7 * MS;
    o.rc = 2;
    r->rc = 2;
    break;
  default:
    break;
  }
  rc = nat_txn_start(t->m, t->now, &r->dst, buf, (size_t)n,
                     (kind & 3) ? &o : NULL, (void *)(uintptr_t)i);
  if (rc == NAT_EBUSY && t->live >= 8)
    return rc; /* max_txns live: refused, no callback */
  if (rc != 0)
    abort();
  r->live = true;
  t->nr++;
  t->live++;
  return 0;
}

static void txn_drain(tst *t) {
  uint8_t buf[256];
  nat_addr dst;
  ssize_t n;
  size_t i;
  int k;
  for (k = 0; k < 200; k++) {
    n = nat_txn_mgr_next_send(t->m, t->now, buf, sizeof buf, &dst);
    if (n < 0)
      abort();
    if (n == 0)
      break;
    for (i = 0; i < t->nr; i++)
      if (t->r[i].live && memcmp(buf + 8, t->r[i].tid, 12) == 0 &&
          memcmp(buf + 4, t->r[i].cookie, 4) == 0)
        break;
    if (i == t->nr || !nat_addr_equal(&dst, &t->r[i].dst))
      abort();
    t->r[i].sent++;
    if (t->r[i].sent > t->r[i].rc)
      abort();
  }
}

static void txn_feed(tst *t, const nat_addr *from, const uint8_t *buf,
                     size_t len, bool as_msg) {
  nat_stun_msg m;
  int rc;
  t->in_recv = true;
  t->recv_buf = buf;
  t->completed = 0;
  if (as_msg)
    rc = nat_txn_mgr_recv_msg(t->m, t->now, from, &m,
                              nat_stun_decode(&m, buf, len));
  else
    rc = nat_txn_mgr_recv(t->m, t->now, from, buf, len);
  t->in_recv = false;
  if ((rc == 0) != (t->completed == 1) || t->completed > 1)
    abort();
}

static void txn_check(tst *t) {
  if (nat_txn_mgr_count(t->m) != t->live)
    abort();
}

static void run_txn(in *s, uint8_t b0) {
  static tst t;
  nat_txn_config cfg;
  uint8_t b1 = take(s), b2 = take(s);
  size_t i, ntx;
  int k;
  memset(&t, 0, sizeof t);
  t.flags = b0;
  t.rc = 1 + ((b1 >> 4) & 7);
  ntx = 1 + (size_t)((b1 & 0x0F) % 6);
  memset(&cfg, 0, sizeof cfg);
  cfg.rto = 10 * MS;
  cfg.rto_min = 5 * MS;
  cfg.rto_max = 80 * MS;
  cfg.rc = t.rc;
  cfg.rm = 4;
  cfg.max_txns = 8;
  if (nat_txn_mgr_new(&t.m, &cfg, txn_cb, &t) != 0)
    abort();
  t.now = 5 * NAT_SECONDS;
  for (i = 0; i < ntx; i++)
    txn_new(&t, (uint8_t)(b2 >> (2 * (i % 4))));
  for (k = 0; k < 256 && s->n > 0; k++) {
    uint8_t op = take(s) & 7;
    switch (op) {
    case 0: {
      const nat_addr *from = &addrs[take(s) % NADDR];
      size_t len = take16(s);
      if (len > s->n)
        len = s->n;
      txn_feed(&t, from, s->p, len, false);
      s->p += len;
      s->n -= len;
      break;
    }
    case 1:
      t.now += (nat_tstamp)take16(s) * MS;
      t.in_expiry = true;
      nat_txn_mgr_handle_expiry(t.m, t.now);
      t.in_expiry = false;
      txn_drain(&t);
      break;
    case 2: {
      uint8_t kk = take(s), f = take(s), buf[256], tid16[16];
      nat_stun_builder b;
      const rec *r;
      nat_addr from;
      ssize_t n;
      if (t.nr == 0)
        break;
      r = &t.r[kk % t.nr];
      memcpy(tid16, r->cookie, 4);
      memcpy(tid16 + 4, r->tid, 12);
      if (f & 0x08)
        tid16[0] ^= 1;
      if (r->classic)
        nat_stun_builder_init_classic(
            &b, buf, sizeof buf, NAT_STUN_BINDING,
            (f & 1) ? NAT_STUN_ERROR : NAT_STUN_SUCCESS, tid16);
      else
        nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                              (f & 1) ? NAT_STUN_ERROR : NAT_STUN_SUCCESS,
                              r->tid);
      if (f & 1)
        nat_stun_add_error(&b, 400, "Bad Request");
      else
        nat_stun_add_addr(&b,
                          r->classic ? NAT_ATTR_MAPPED_ADDRESS
                                     : NAT_ATTR_XOR_MAPPED_ADDRESS,
                          &addrs[5]);
      n = nat_stun_builder_finish(&b, !r->classic && !(f & 0x10));
      if (n <= 0)
        break; /* a classic ID made to look like a cookie */
      from = (f & 0x02)   ? addrs[(kk + 1) % NADDR]
             : (f & 0x04) ? r->expect
                          : r->dst;
      txn_feed(&t, &from, buf, (size_t)n, (f & 0x20) != 0);
      break;
    }
    case 3: {
      rec *r;
      bool live;
      uint8_t kk = take(s);
      if (t.nr == 0)
        break;
      r = &t.r[kk % t.nr];
      live = r->live;
      t.in_cancel = true;
      if (nat_txn_cancel(t.m, r->tid) != (live ? 0 : NAT_ENOTFOUND))
        abort();
      t.in_cancel = false;
      break;
    }
    case 4:
      txn_new(&t, take(s));
      break;
    case 5:
      t.in_cancel = true;
      nat_txn_cancel_all(t.m);
      t.in_cancel = false;
      if (t.live != 0 && !(t.flags & 0x04))
        abort();
      break;
    case 6:
      nat_txn_mgr_seed_rtt(t.m, (nat_tstamp)take16(s) * MS);
      break;
    default:
      break;
    }
    txn_check(&t);
  }
  t.freed = true; /* freeing drops live transactions without callbacks */
  nat_txn_mgr_free(t.m);
}

/* ============================================================ probe */

typedef struct psent {
  unsigned sock;
  nat_addr dst;
  uint8_t tid[16]; /* cookie + ID */
  bool classic;
} psent;

typedef struct pst {
  nat_probe *p;
  nat_tstamp now;
  bool fail_open;
  psent sent[NSENT];
  size_t nsent;
  nat_addr local[NAT_PROBE_MAX_SOCKETS];
  bool opened[NAT_PROBE_MAX_SOCKETS];
  /* what was fed */
  nat_addr from[NFED], mapped[NFED], other[NFED], origin[NFED];
  size_t nfrom, nmapped, nother, norigin;
  nat_addr reqfrom[NFED]; /* sources of requests fed */
  size_t nreqfrom;
  unsigned matched; /* responses fed with the ID of a sent request */
  size_t logn;
} pst;

static void add(nat_addr *v, size_t *n, const nat_addr *a) {
  if (*n < NFED && !has_addr(v, *n, a))
    v[(*n)++] = *a;
}

static bool tid_sent(const pst *t, const uint8_t *buf, size_t len);

static void p_actions(pst *t) {
  nat_probe_action a;
  nat_stun_msg m;
  int k, rc;
  for (k = 0; k < 1000; k++) {
    rc = nat_probe_next_action(t->p, t->now, &a);
    if (rc < 0)
      abort();
    if (rc == 0)
      break;
    if (a.kind == NAT_PROBE_ACT_OPEN) {
      nat_addr l;
      memset(&l, 0, sizeof l);
      l.family = a.family;
      if (a.family == NAT_AF_INET6) {
        l.ip[0] = 0x20, l.ip[1] = 0x01, l.ip[2] = 0x0d, l.ip[3] = 0xb8;
        l.ip[15] = 0x0a;
      } else {
        l.ip[0] = 10, l.ip[3] = 1;
      }
      l.port = (uint16_t)(40000 + a.sock);
      if (a.sock >= NAT_PROBE_MAX_SOCKETS)
        abort();
      t->local[a.sock] = l;
      if (t->fail_open && a.sock % 5 == 4) {
        if (nat_probe_socket_opened(t->p, t->now, a.sock, NAT_EBUSY, NULL) != 0)
          abort();
      } else {
        if (nat_probe_socket_opened(t->p, t->now, a.sock, 0, &l) != 0)
          abort();
        t->opened[a.sock] = true;
      }
    } else if (a.kind == NAT_PROBE_ACT_SEND) {
      /* from an open socket, to a usable address of its family */
      if (a.sock >= NAT_PROBE_MAX_SOCKETS || !t->opened[a.sock] ||
          a.dst.family != t->local[a.sock].family || a.dst.port == 0 ||
          nat_addr_is_unspecified(&a.dst) ||
          nat_stun_decode(&m, a.data, a.len) != (ssize_t)a.len)
        abort();
      if (m.cls == NAT_STUN_REQUEST && !tid_sent(t, a.data, a.len)) {
        psent *e = &t->sent[t->nsent < NSENT ? t->nsent++ : NSENT - 1];
        e->sock = a.sock;
        e->dst = a.dst;
        memcpy(e->tid, a.data + 4, 16);
        e->classic = m.classic;
      } else if (m.cls == NAT_STUN_SUCCESS || m.cls == NAT_STUN_ERROR) {
        /* a served answer: to the source of a request fed */
        if (!has_addr(t->reqfrom, t->nreqfrom, &a.dst))
          abort();
      }
    } else {
      abort();
    }
  }
}

static bool tid_sent(const pst *t, const uint8_t *buf, size_t len) {
  size_t i;
  if (len < 20)
    return false;
  for (i = 0; i < t->nsent; i++)
    if (memcmp(t->sent[i].tid, buf + 4, 16) == 0)
      return true;
  return false;
}

static void p_check(pst *t) {
  const nat_obslog *log = nat_probe_log(t->p);
  size_t i;
  unsigned answered = 0;
  if (log == NULL || log->n < t->logn)
    abort();
  t->logn = log->n;
  for (i = 0; i < log->n; i++) {
    const nat_obs *o = &log->v[i];
    bool ans = o->status == 0 || o->status == NAT_ESTUNERR;
    if (ans)
      answered++;
    if ((o->has_mapped || o->has_other_address || o->has_response_origin ||
         o->has_changed_address) &&
        !ans)
      abort();
    if (ans && !has_addr(t->from, t->nfrom, &o->from))
      abort();
    if (o->has_mapped && !has_addr(t->mapped, t->nmapped, &o->mapped))
      abort();
    if (o->has_other_address &&
        !has_addr(t->other, t->nother, &o->other_address))
      abort();
    if (o->has_changed_address &&
        !has_addr(t->other, t->nother, &o->changed_address))
      abort();
    if (o->has_response_origin &&
        !has_addr(t->origin, t->norigin, &o->response_origin))
      abort();
  }
  if (answered > t->matched)
    abort();
  {
    nat_probe_stats st;
    nat_probe_stats_get(t->p, &st);
    if (st.responses > t->matched || st.responses > st.received ||
        st.served > st.received)
      abort();
  }
}

static void p_feed(pst *t, unsigned sock, const nat_addr *from,
                   const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  nat_addr a;
  if (nat_stun_decode(&m, buf, len) == (ssize_t)len) {
    if (m.cls == NAT_STUN_SUCCESS || m.cls == NAT_STUN_ERROR) {
      if (tid_sent(t, buf, len))
        t->matched++;
      add(t->from, &t->nfrom, from);
      if (nat_stun_msg_get_addr(&m, NAT_ATTR_XOR_MAPPED_ADDRESS, &a) == 0)
        add(t->mapped, &t->nmapped, &a);
      if (nat_stun_msg_get_addr(&m, NAT_ATTR_MAPPED_ADDRESS, &a) == 0)
        add(t->mapped, &t->nmapped, &a);
      if (nat_stun_msg_get_addr(&m, NAT_ATTR_OTHER_ADDRESS, &a) == 0)
        add(t->other, &t->nother, &a);
      if (nat_stun_msg_get_addr(&m, NAT_ATTR_CHANGED_ADDRESS, &a) == 0)
        add(t->other, &t->nother, &a);
      if (nat_stun_msg_get_addr(&m, NAT_ATTR_RESPONSE_ORIGIN, &a) == 0)
        add(t->origin, &t->norigin, &a);
      if (nat_stun_msg_get_addr(&m, NAT_ATTR_SOURCE_ADDRESS, &a) == 0)
        add(t->origin, &t->norigin, &a);
    } else if (m.cls == NAT_STUN_REQUEST) {
      add(t->reqfrom, &t->nreqfrom, from);
    }
  }
  nat_probe_recv(t->p, t->now, sock, from, buf, len);
  p_actions(t); /* a served answer is due at once */
  p_check(t);
}

static unsigned pick_sock(const pst *t, uint8_t b) {
  unsigned i, n = 0;
  for (i = 0; i < NAT_PROBE_MAX_SOCKETS; i++)
    if (t->opened[i] && n++ == b % 8)
      return i;
  return 0;
}

static void p_answer(pst *t, in *s) {
  uint8_t k = take(s), f = take(s), ai = take(s), so = take(s);
  uint8_t buf[512];
  nat_stun_builder b;
  const psent *e;
  nat_addr from;
  unsigned sock;
  ssize_t n;
  if (t->nsent == 0)
    return;
  e = &t->sent[k % t->nsent];
  if (e->classic)
    nat_stun_builder_init_classic(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                  (f & 1) ? NAT_STUN_SUCCESS : NAT_STUN_ERROR,
                                  e->tid);
  else
    nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                          (f & 1) ? NAT_STUN_SUCCESS : NAT_STUN_ERROR,
                          e->tid + 4);
  if (!(f & 1))
    nat_stun_add_error(&b, 400, "Bad Request");
  else if (!(f & 0x20))
    nat_stun_add_addr(
        &b, (f & 0x10) ? NAT_ATTR_MAPPED_ADDRESS : NAT_ATTR_XOR_MAPPED_ADDRESS,
        (f & 0x40) ? &odd[ai % NODD] : &addrs[5 + ai % 2]);
  if (f & 0x02)
    nat_stun_add_addr(&b, NAT_ATTR_OTHER_ADDRESS,
                      (f & 0x80)                      ? &odd[(ai >> 3) % NODD]
                      : e->dst.family == NAT_AF_INET6 ? &addrs[7]
                                                      : &addrs[3]);
  if (f & 0x04)
    nat_stun_add_addr(&b, NAT_ATTR_RESPONSE_ORIGIN, &e->dst);
  n = nat_stun_builder_finish(&b, !e->classic);
  if (n <= 0)
    return;
  from = (f & 0x08) ? addrs[ai % NADDR] : e->dst;
  sock = so == 0 ? e->sock : pick_sock(t, so);
  p_feed(t, sock, &from, buf, (size_t)n);
}

static void p_request(pst *t, in *s) {
  uint8_t so = take(s), fi = take(s), buf[128], tid[12] = {7, 7, 7};
  nat_stun_builder b;
  ssize_t n;
  tid[3] = so;
  tid[4] = fi;
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  n = nat_stun_builder_finish(&b, true);
  if (n <= 0)
    abort();
  p_feed(t, pick_sock(t, so), &addrs[fi % NADDR], buf, (size_t)n);
}

static void p_rand(void *ctx, uint8_t *buf, size_t len) {
  uint32_t *x = ctx;
  size_t i;
  for (i = 0; i < len; i++) {
    *x = *x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(*x >> 16);
  }
}

static void run_probe(in *s, uint8_t b0) {
  static pst t;
  nat_probe_config cfg;
  nat_probe_server sv[2];
  uint8_t tests = take(s) & 0x3F, b2 = take(s);
  uint32_t rng = 1;
  size_t i;
  int k;
  memset(&t, 0, sizeof t);
  t.fail_open = (b0 & 0x02) != 0;
  memset(sv, 0, sizeof sv);
  for (i = 0; i < 2; i++) {
    sv[i].addr = (b2 & (4u << i)) ? addrs[2] : addrs[i];
    sv[i].server_idx = (uint16_t)i;
  }
  sv[0].rfc5780 = (b2 & 0x10) != 0;
  memset(&cfg, 0, sizeof cfg);
  cfg.servers = sv;
  cfg.nservers = (b2 & 1) ? 2 : 1;
  cfg.tests = tests;
  cfg.alloc_samples = 3;
  cfg.rc = 3;
  cfg.rto = 20 * MS;
  cfg.rto_min = 5 * MS;
  if (b2 & 0x20)
    cfg.deadline = 3 * NAT_SECONDS;
  cfg.lifetime_max = (b2 & 0x40) ? 2 * NAT_SECONDS : 0;
  cfg.software = "fuzz";
  cfg.rand = p_rand;
  cfg.rand_ctx = &rng;
  t.now = 10 * NAT_SECONDS;
  if (nat_probe_new(&t.p, &cfg, t.now) != 0)
    abort();
  for (k = 0; k < 256 && s->n > 0; k++) {
    uint8_t op = take(s) & 7;
    switch (op) {
    case 0:
      p_actions(&t);
      break;
    case 1:
      t.now += (nat_tstamp)take16(s) * MS;
      nat_probe_handle_expiry(t.p, t.now);
      p_actions(&t);
      break;
    case 2:
      p_answer(&t, s);
      break;
    case 3: {
      unsigned sock = pick_sock(&t, take(s));
      const nat_addr *from = &addrs[take(s) % NADDR];
      size_t len = take16(s);
      if (len > s->n)
        len = s->n;
      p_feed(&t, sock, from, s->p, len);
      s->p += len;
      s->n -= len;
      break;
    }
    case 4:
      p_request(&t, s);
      break;
    case 5:
      nat_probe_cancel(t.p, t.now);
      break;
    default:
      break;
    }
    p_check(&t);
  }
  nat_probe_free(t.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in s = {data, size};
  uint8_t b0;
  if (size < 3)
    return 0;
  if (addrs[0].family == 0) {
    setup_addrs();
    setup_odd();
  }
  b0 = take(&s);
  if (b0 & 1)
    run_probe(&s, b0);
  else
    run_txn(&s, b0);
  return 0;
}
