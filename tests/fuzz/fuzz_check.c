/* libFuzzer target for the connectivity checks (nat/check.h): one agent
 * per input (ufrag "L", password "lpwd-fuzz"; the peer's "R",
 * "rpwd-fuzz"), fed a sequence of datagrams and clock steps split from the
 * input.
 *
 * Input: a header (flags: bit 0 controlling, bit 1 aggressive nomination,
 * bit 2 started at once, bit 3 an IPv6 base and candidate, bit 4 passive;
 * then our 8-byte tie-breaker), then records, each an opcode byte (low 3
 * bits) and its operands:
 *   0 raw datagram: source index, 2-byte length, the bytes;
 *   1 a check built by the harness: source index, flags (bit 0
 *     MESSAGE-INTEGRITY, bit 1 ICE-CONTROLLING else ICE-CONTROLLED,
 *     bit 2 no FINGERPRINT, bit 3 USE-CANDIDATE, bit 4 the wrong password,
 *     bit 5 the wrong ufrag, bit 6 no role attribute, bit 7 no USERNAME),
 *     the peer's 8-byte tie-breaker;
 *   2 an answer to one of the checks the agent sent (index into what it
 *     sent): flags (bit 0 MESSAGE-INTEGRITY, bit 1 the wrong password,
 *     bit 2 from another address, bits 4-5 success / 401 / 487 / 400,
 *     bit 6 no FINGERPRINT, bit 7 no XOR-MAPPED-ADDRESS), an address
 *     index (the mapped address, or the other source);
 *   3 the clock moves on (2 bytes, ms), then handle_expiry;
 *   4 a remote candidate trickled (address index);
 *   5 nat_check_start.
 * After each record everything due is taken from nat_check_next_send().
 *
 * Invariants (abort() when broken):
 * - every Binding request fed gets exactly one answer; a success or a 487
 *   only to a request whose USERNAME starts "L:" and whose
 *   MESSAGE-INTEGRITY checks with our password (computed here, apart from
 *   the library), signed with it, XOR-MAPPED-ADDRESS = the request's
 *   source; a 400/401 otherwise, unsigned; it goes to the request's source;
 * - a role conflict resolves per RFC 8445 7.3.1.1: controlling and the
 *   peer claims controlling: our tie-breaker >= theirs answers 487 and
 *   keeps the role, else we switch to controlled and answer; controlled
 *   and the peer claims controlled: ours >= theirs switches us to
 *   controlling and answers, else 487. A 487 answer to our check
 *   switches us to the role opposite to the one that check claimed
 *   (7.2.5.1). Every switch, and only a switch, emits ROLE_CHANGED;
 * - every check we send carries USERNAME "R:L", ICE-CONTROLLING or
 *   -CONTROLLED with our tie-breaker, PRIORITY, MESSAGE-INTEGRITY with the
 *   peer's password and FINGERPRINT, and goes to a pair's remote address;
 * - a pair is succeeded only if a success answer that checks with the
 *   peer's password came from its remote address with the ID of a check
 *   sent there; its local candidate is ours or the mapped address such an
 *   answer carried; the pairs' answered counts add up to at most the
 *   authenticated checks fed;
 * - a pair's local candidate and mapped address are of its family;
 * - nat_check_explain() stays within its buffer, NUL-terminated, and a
 *   hint is given exactly when the run failed;
 * - the outcome is final once reached; SELECTED means a succeeded pair,
 *   nominated: controlled, by an authenticated USE-CANDIDATE check of the
 *   peer on it; controlling, by a USE-CANDIDATE check of ours on it that
 *   the peer answered with the right key;
 *   at most one SELECTED or FAILED event; no callback after free.
 *
 * Run locally (clang, ASan+UBSan, libnat coverage-instrumented), 2026-12-08,
 * through the shared fuzz slot (2 cores shared by five helpers and a
 * benchmark):
 *   CC=clang cmake -S . -B build-fuzz -DNAT_WERROR=ON -DNAT_FUZZ=ON \
 *     -DNAT_SANITIZE=address,undefined && \
 *     cmake --build build-fuzz --target fuzz_check
 *   build-fuzz/tests/fuzz/fuzz_check -max_total_time=600 \
 *     -print_final_stats=1 CORPUS_COPY   (a copy of corpus/check)
 * Result: 1,086,844 runs in 601 s, 1,808 execs/s on average (an agent
 * per input, up to 512 records each with HMAC-SHA1 on every message in
 * and out; the 2 cores were busy with other fuzzers, wall time about 5x
 * CPU time), 4,649 new units over the 6 seeds; the final corpus (908
 * units once reloaded) covers 877 edges / 4,811 features; peak RSS
 * 421 MB; no crash, no invariant broken, no sanitizer report in the run.
 * Found before it, by this target and fixed: a success answer whose
 * mapped address was of the other family made an IPv6 peer-reflexive
 * local candidate on an IPv4 pair (test_check.mapped_other_family).
 * Speed: nat_check_new() allocated the transaction manager's default 1024
 * slots (~170 KB, an mmap per agent under ASan); 512 now (8 per pair):
 * a third of the CPU time per minimal input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/check.h"
#include "nat/error.h"
#include "nat/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LUFRAG "L"
#define LPWD   "lpwd-fuzz"
#define RUFRAG "R"
#define RPWD   "rpwd-fuzz"
#define MS     NAT_MILLISECONDS

#define NADDR 8
#define NSENT 256
#define NMAP  16

typedef struct sent {
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_addr dst;
  bool ctl; /* claimed ICE-CONTROLLING */
  bool nom; /* carried USE-CANDIDATE */
} sent;

typedef struct st {
  const uint8_t *p;
  size_t n;
  nat_check *chk;
  nat_addr addrs[NADDR];
  nat_addr mapped[4];
  uint64_t tb;
  nat_tstamp now;
  bool freed;
  /* what the agent sent */
  sent sent[NSENT];
  size_t nsent;
  /* what was fed */
  nat_addr okfrom[NSENT]; /* authenticated success answers came from */
  size_t nokfrom;
  nat_addr okmap[NMAP]; /* mapped addresses they carried */
  size_t nokmap;
  /* nominations: authenticated USE-CANDIDATE checks of the peer taken
   * while controlled, and authenticated success answers to ours */
  nat_addr peernom[NSENT], oknom[NSENT];
  size_t npeernom, noknom;
  unsigned authok; /* authenticated requests fed */
  /* the request just fed: its answer is expected in the next drain */
  bool want_answer;
  uint8_t want_tid[NAT_STUN_TID_LEN];
  nat_addr want_to;
  int want_code; /* 0, 487, or -1: 400/401 */
  unsigned answers;
  /* events */
  unsigned role_events, final_events;
  int status;
  uint32_t rng, ctr;
} st;

static uint8_t take(st *s) {
  uint8_t v;
  if (s->n == 0)
    return 0;
  v = *s->p++;
  s->n--;
  return v;
}

static uint64_t take64(st *s) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++)
    v = v << 8 | take(s);
  return v;
}

static bool has_addr(const nat_addr *v, size_t n, const nat_addr *a);

static void on_event(void *arg, const nat_check_event *ev) {
  st *s = arg;
  if (s->freed)
    abort();
  switch (ev->type) {
  case NAT_CHECK_EV_ROLE_CHANGED:
    s->role_events++;
    break;
  case NAT_CHECK_EV_SELECTED:
  case NAT_CHECK_EV_FAILED:
    if (++s->final_events > 1)
      abort();
    if (ev->type == NAT_CHECK_EV_SELECTED &&
        (ev->info == NULL || ev->info->state != NAT_PAIR_SUCCEEDED))
      abort();
    /* selected only once nominated: controlled, by the peer; controlling,
     * by our nominating check that the peer answered */
    if (ev->type == NAT_CHECK_EV_SELECTED &&
        !(ev->controlling
              ? has_addr(s->oknom, s->noknom, &ev->info->remote.addr)
              : has_addr(s->peernom, s->npeernom, &ev->info->remote.addr)))
      abort();
    break;
  case NAT_CHECK_EV_PAIR_SUCCEEDED:
    if (ev->info == NULL || ev->info->state != NAT_PAIR_SUCCEEDED)
      abort();
    break;
  default:
    break;
  }
}

static void rand_fn(void *ctx, uint8_t *buf, size_t len) {
  st *s = ctx;
  size_t i;
  for (i = 0; i < len; i++) {
    s->rng = s->rng * 1103515245u + 12345u;
    buf[i] = (uint8_t)(s->rng >> 16);
  }
}

static bool has_addr(const nat_addr *v, size_t n, const nat_addr *a) {
  size_t i;
  for (i = 0; i < n; i++)
    if (nat_addr_equal(&v[i], a))
      return true;
  return false;
}

/* The library's acceptance rule, computed independently. */
static bool auth_ok(const nat_stun_msg *m) {
  const nat_stun_attr *u = nat_stun_msg_find(m, NAT_ATTR_USERNAME);
  return u != NULL && u->len >= 2 && u->value[0] == 'L' && u->value[1] == ':' &&
         m->mi_idx >= 0 &&
         nat_stun_msg_check_integrity(m, (const uint8_t *)LPWD, strlen(LPWD)) ==
             0;
}

static const sent *find_sent(const st *s, const uint8_t *tid) {
  size_t i;
  for (i = 0; i < s->nsent; i++)
    if (memcmp(s->sent[i].tid, tid, NAT_STUN_TID_LEN) == 0)
      return &s->sent[i];
  return NULL;
}

static bool is_pair_remote(const st *s, const nat_addr *a) {
  size_t i, n = nat_check_pair_count(s->chk);
  nat_check_pair p;
  for (i = 0; i < n; i++)
    if (nat_check_pair_get(s->chk, i, &p) == 0 &&
        nat_addr_equal(&p.remote.addr, a))
      return true;
  return false;
}

/* One datagram the agent sends. */
static void outgoing(st *s, const uint8_t *buf, size_t len,
                     const nat_addr *dst) {
  nat_stun_msg m;
  nat_addr a;
  uint64_t tb;
  int code = 0;
  bool ctl;
  const nat_stun_attr *u;
  if (nat_stun_decode(&m, buf, len) != (ssize_t)len || m.classic ||
      m.method != NAT_STUN_BINDING)
    abort();
  if (m.cls == NAT_STUN_REQUEST) {
    u = nat_stun_msg_find(&m, NAT_ATTR_USERNAME);
    if (u == NULL || u->len != 3 || memcmp(u->value, "R:L", 3) != 0 ||
        m.fp_idx < 0 || nat_stun_msg_find(&m, NAT_ATTR_PRIORITY) == NULL ||
        nat_stun_msg_check_integrity(&m, (const uint8_t *)RPWD, strlen(RPWD)) !=
            0)
      abort();
    ctl = nat_stun_msg_get_u64(&m, NAT_ATTR_ICE_CONTROLLING, &tb) == 0;
    if (!ctl && nat_stun_msg_get_u64(&m, NAT_ATTR_ICE_CONTROLLED, &tb) != 0)
      abort();
    if (tb != s->tb || !is_pair_remote(s, dst))
      abort();
    if (find_sent(s, m.tid) == NULL) {
      sent *e = &s->sent[s->nsent < NSENT ? s->nsent++ : NSENT - 1];
      memcpy(e->tid, m.tid, NAT_STUN_TID_LEN);
      e->dst = *dst;
      e->ctl = ctl;
      e->nom = nat_stun_msg_find(&m, NAT_ATTR_USE_CANDIDATE) != NULL;
    }
    return;
  }
  if (m.cls != NAT_STUN_SUCCESS && m.cls != NAT_STUN_ERROR)
    abort();
  /* an answer: to the request just fed, once */
  if (!s->want_answer || memcmp(m.tid, s->want_tid, NAT_STUN_TID_LEN) != 0 ||
      !nat_addr_equal(dst, &s->want_to))
    abort();
  s->answers++;
  if (m.cls == NAT_STUN_SUCCESS) {
    if (s->want_code != 0 || nat_stun_msg_get_mapped(&m, &a) != 0 ||
        !nat_addr_equal(&a, dst))
      abort();
  } else {
    if (nat_stun_msg_get_error(&m, &code, NULL, NULL) != 0)
      abort();
    if (s->want_code == 487
            ? code != 487
            : (s->want_code != -1 || (code != 400 && code != 401)))
      abort();
  }
  if (s->want_code != -1) {
    if (nat_stun_msg_check_integrity(&m, (const uint8_t *)LPWD, strlen(LPWD)) !=
        0)
      abort();
  } else if (m.mi_idx >= 0) {
    abort();
  }
}

static void drain(st *s) {
  uint8_t buf[1500];
  nat_addr dst;
  ssize_t n;
  int i;
  s->answers = 0;
  for (i = 0; i < 1000; i++) {
    n = nat_check_next_send(s->chk, s->now, buf, sizeof buf, &dst);
    if (n < 0)
      abort();
    if (n == 0)
      break;
    outgoing(s, buf, (size_t)n, &dst);
  }
  if (s->want_answer && s->answers != 1)
    abort();
  s->want_answer = false;
}

/* State that must hold between records. */
static void consistent(st *s) {
  size_t i, n = nat_check_pair_count(s->chk);
  unsigned answered = 0;
  nat_check_pair p;
  int status = nat_check_status_get(s->chk);
  if (n > NAT_CHECK_MAX_PAIRS)
    abort();
  if (s->status != NAT_CHECK_RUNNING && status != s->status)
    abort();
  s->status = status;
  for (i = 0; i < n; i++) {
    if (nat_check_pair_get(s->chk, i, &p) != 0)
      abort();
    answered += p.answered;
    /* a pair is of one family, its local candidate and mapped address too */
    if (p.local.addr.family != p.remote.addr.family ||
        (p.mapped.family != NAT_AF_NONE &&
         p.mapped.family != p.remote.addr.family))
      abort();
    if (p.state == NAT_PAIR_SUCCEEDED || p.succeeded_at != 0) {
      if (!has_addr(s->okfrom, s->nokfrom, &p.remote.addr))
        abort();
      if (p.local.type == NAT_CAND_PRFLX &&
          !has_addr(s->okmap, s->nokmap, &p.local.addr))
        abort();
    }
  }
  if (answered > s->authok)
    abort();
  if (status == NAT_CHECK_SELECTED) {
    if (nat_check_selected(s->chk, &p) != 0 || p.state != NAT_PAIR_SUCCEEDED)
      abort();
  } else if (nat_check_selected(s->chk, &p) != NAT_EAGAIN) {
    abort();
  }
}

/* Feed @p buf from @p from, with the invariants of a request. */
static void feed(st *s, const nat_addr *from, const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  bool before = nat_check_is_controlling(s->chk), after, req = false;
  bool ok = false, claim_ctl = false, claim_cld = false;
  uint64_t tb = 0, tbc = 0;
  unsigned roles = s->role_events;
  const sent *sn = NULL;
  nat_addr a;
  int rc;
  if (nat_stun_decode(&m, buf, len) == (ssize_t)len && !m.classic &&
      m.method == NAT_STUN_BINDING) {
    if (m.cls == NAT_STUN_REQUEST) {
      req = true;
      ok = auth_ok(&m);
      claim_ctl = nat_stun_msg_get_u64(&m, NAT_ATTR_ICE_CONTROLLING, &tb) == 0;
      claim_cld = nat_stun_msg_get_u64(&m, NAT_ATTR_ICE_CONTROLLED, &tbc) == 0;
      s->want_answer = true;
      memcpy(s->want_tid, m.tid, NAT_STUN_TID_LEN);
      s->want_to = *from;
      s->want_code = -1;
      if (ok) {
        s->authok++;
        s->want_code = 0;
        if (before && claim_ctl)
          s->want_code = s->tb >= tb ? 487 : 0;
        else if (!before && claim_cld)
          s->want_code = s->tb >= tbc ? 0 : 487;
      }
    } else if (m.cls == NAT_STUN_SUCCESS || m.cls == NAT_STUN_ERROR) {
      sn = find_sent(s, m.tid);
      if (m.cls == NAT_STUN_SUCCESS && sn != NULL &&
          nat_addr_equal(&sn->dst, from) &&
          nat_stun_msg_check_integrity(&m, (const uint8_t *)RPWD,
                                       strlen(RPWD)) == 0) {
        if (s->nokfrom < NSENT)
          s->okfrom[s->nokfrom++] = *from;
        if (nat_stun_msg_get_mapped(&m, &a) == 0 && s->nokmap < NMAP)
          s->okmap[s->nokmap++] = a;
        if (sn->nom && s->noknom < NSENT)
          s->oknom[s->noknom++] = *from;
      }
    }
  }
  /* an authenticated USE-CANDIDATE check that leaves us controlled
   * nominates (the selection may come inside the call) */
  if (req && ok && s->want_code == 0 &&
      nat_stun_msg_find(&m, NAT_ATTR_USE_CANDIDATE) != NULL &&
      (before ? (claim_ctl && s->tb < tb) : !(claim_cld && s->tb >= tbc)) &&
      s->npeernom < NSENT)
    s->peernom[s->npeernom++] = *from;
  rc = nat_check_recv(s->chk, s->now, from, buf, len);
  after = nat_check_is_controlling(s->chk);
  if (req && rc != 0)
    abort(); /* a decoded Binding request is always consumed */
  if ((s->role_events - roles) != (before != after ? 1u : 0u))
    abort();
  if (req && ok) {
    bool want_after = before;
    if (before && claim_ctl && s->tb < tb)
      want_after = false;
    else if (!before && claim_cld && s->tb >= tbc)
      want_after = true;
    if (after != want_after)
      abort();
  } else if (req && before != after) {
    abort(); /* an unauthenticated request changes nothing */
  }
  if (!req && before != after) {
    /* only an authenticated 487 to a check we sent claiming the other
     * role */
    int code = 0;
    if (sn == NULL || m.cls != NAT_STUN_ERROR ||
        nat_stun_msg_get_error(&m, &code, NULL, NULL) != 0 || code != 487 ||
        after != !sn->ctl || !nat_addr_equal(&sn->dst, from) ||
        nat_stun_msg_check_integrity(&m, (const uint8_t *)RPWD, strlen(RPWD)) !=
            0)
      abort();
  }
  drain(s);
  consistent(s);
}

static void keyed_request(st *s) {
  nat_stun_builder b;
  uint8_t buf[512], tid[NAT_STUN_TID_LEN];
  const nat_addr *from = &s->addrs[take(s) % NADDR];
  uint8_t f = take(s);
  uint64_t tb = take64(s);
  ssize_t n;
  s->ctr++;
  memcpy(tid, &s->ctr, 4);
  memcpy(tid + 4, &tb, 8);
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  if (!(f & 0x80))
    nat_stun_add_string(&b, NAT_ATTR_USERNAME, (f & 0x20) ? "X:R" : "L:R");
  nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, (uint32_t)tb | 1u);
  if (!(f & 0x40))
    nat_stun_add_u64(
        &b, (f & 0x02) ? NAT_ATTR_ICE_CONTROLLING : NAT_ATTR_ICE_CONTROLLED,
        tb);
  if (f & 0x08)
    nat_stun_add_attr(&b, NAT_ATTR_USE_CANDIDATE, "", 0);
  if (f & 0x01)
    nat_stun_add_integrity(&b, (const uint8_t *)((f & 0x10) ? RPWD : LPWD),
                           strlen(LPWD));
  n = nat_stun_builder_finish(&b, !(f & 0x04));
  if (n <= 0)
    abort();
  feed(s, from, buf, (size_t)n);
}

static void answer(st *s) {
  nat_stun_builder b;
  uint8_t buf[512], f, k;
  static const int codes[4] = {0, 401, 487, 400};
  const sent *sn;
  nat_addr from;
  int code;
  ssize_t n;
  k = take(s);
  f = take(s);
  if (s->nsent == 0) {
    take(s);
    return;
  }
  sn = &s->sent[k % s->nsent];
  code = codes[(f >> 4) & 3];
  k = take(s);
  from = (f & 0x04) ? s->addrs[k % NADDR] : sn->dst;
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                        code == 0 ? NAT_STUN_SUCCESS : NAT_STUN_ERROR, sn->tid);
  if (code == 0 && !(f & 0x80))
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &s->mapped[k % 4]);
  if (code != 0)
    nat_stun_add_error(&b, code, "x");
  if (f & 0x01)
    nat_stun_add_integrity(&b, (const uint8_t *)((f & 0x02) ? LPWD : RPWD),
                           strlen(RPWD));
  n = nat_stun_builder_finish(&b, !(f & 0x40));
  if (n <= 0)
    abort();
  feed(s, &from, buf, (size_t)n);
}

static void setup_addrs(st *s) {
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  size_t i;
  memset(s->addrs, 0, sizeof s->addrs);
  for (i = 0; i < NADDR; i++)
    s->addrs[i].family = NAT_AF_INET;
  nat_addr_set_v4(&s->addrs[0], 0xCB00710Au, 7000); /* remote host */
  nat_addr_set_v4(&s->addrs[1], 0xCB00710Bu, 7001); /* remote srflx */
  s->addrs[2].family = NAT_AF_INET6;                /* remote v6 host */
  memcpy(s->addrs[2].ip, v6, 16);
  s->addrs[2].ip[15] = 2;
  s->addrs[2].port = 7000;
  nat_addr_set_v4(&s->addrs[3], 0xC0000263u, 9999); /* not a candidate */
  nat_addr_set_v4(&s->addrs[4], 0xCB00710Au, 7999); /* host IP, other port */
  s->addrs[5] = s->addrs[2];                        /* trickled later */
  s->addrs[5].ip[15] = 3;
  s->addrs[5].port = 7002;
  nat_addr_set_v4(&s->addrs[6], 0, 0);               /* refused: unspecified */
  nat_addr_set_v4(&s->addrs[7], 0x7F000001u, 1);     /* refused: loopback */
  nat_addr_set_v4(&s->mapped[0], 0xC6336401u, 6000); /* our srflx */
  nat_addr_set_v4(&s->mapped[1], 0x0A000001u, 5000); /* our host */
  nat_addr_set_v4(&s->mapped[2], 0xC633644Du, 1234); /* new: prflx */
  s->mapped[3] = s->addrs[2];
  s->mapped[3].ip[15] = 1;
  s->mapped[3].port = 5000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static st s;
  nat_check_config cfg;
  nat_cand c;
  uint8_t h;
  int i;
  if (size < 9)
    return 0;
  memset(&s, 0, sizeof s);
  s.p = data;
  s.n = size;
  setup_addrs(&s);
  h = take(&s);
  s.tb = take64(&s);
  memset(&cfg, 0, sizeof cfg);
  cfg.controlling = h & 0x01;
  cfg.aggressive = (h & 0x02) != 0;
  cfg.passive = (h & 0x10) != 0;
  cfg.tie_breaker = s.tb;
  cfg.local_ufrag = LUFRAG;
  cfg.local_pwd = LPWD;
  cfg.remote_ufrag = RUFRAG;
  cfg.remote_pwd = RPWD;
  cfg.rand = rand_fn;
  cfg.rand_ctx = &s;
  s.rng = 1;
  cfg.timeout = 2 * NAT_SECONDS;
  cfg.rc = 3;
  if (nat_check_new(&s.chk, &cfg, on_event, &s) != 0)
    abort();
  nat_cand_make(&c, NAT_CAND_HOST, &s.mapped[1], &s.mapped[1], NULL, 65535);
  nat_check_add_local(s.chk, &c);
  nat_cand_make(&c, NAT_CAND_SRFLX, &s.mapped[0], &s.mapped[1], NULL, 65535);
  nat_check_add_local(s.chk, &c);
  if (h & 0x08) {
    nat_cand_make(&c, NAT_CAND_HOST, &s.mapped[3], &s.mapped[3], NULL, 65000);
    nat_check_add_local(s.chk, &c);
  }
  nat_cand_make(&c, NAT_CAND_HOST, &s.addrs[0], NULL, NULL, 65535);
  nat_check_add_remote(s.chk, 0, &c);
  nat_cand_make(&c, NAT_CAND_SRFLX, &s.addrs[1], NULL, NULL, 65535);
  nat_check_add_remote(s.chk, 0, &c);
  if (h & 0x08) {
    nat_cand_make(&c, NAT_CAND_HOST, &s.addrs[2], NULL, NULL, 65000);
    nat_check_add_remote(s.chk, 0, &c);
  }
  s.now = 1 * NAT_SECONDS;
  if (h & 0x04)
    nat_check_start(s.chk, s.now);
  s.status = NAT_CHECK_RUNNING;
  for (i = 0; i < 512 && s.n > 0; i++) {
    uint8_t op = take(&s) & 7;
    switch (op) {
    case 0: {
      const nat_addr *from = &s.addrs[take(&s) % NADDR];
      size_t len = (size_t)take(&s) << 8;
      len |= take(&s);
      if (len > s.n)
        len = s.n;
      feed(&s, from, s.p, len);
      s.p += len;
      s.n -= len;
      break;
    }
    case 1:
      keyed_request(&s);
      break;
    case 2:
      answer(&s);
      break;
    case 3: {
      nat_tstamp ms = (nat_tstamp)take(&s) << 8;
      ms |= take(&s);
      s.now += ms * MS;
      nat_check_handle_expiry(s.chk, s.now);
      drain(&s);
      consistent(&s);
      break;
    }
    case 4: {
      const nat_addr *a = &s.addrs[take(&s) % NADDR];
      nat_cand_make(&c, NAT_CAND_HOST, a, NULL, NULL, 60000);
      nat_check_add_remote(s.chk, s.now, &c);
      consistent(&s);
      break;
    }
    case 5:
      nat_check_start(s.chk, s.now);
      drain(&s);
      break;
    default:
      break;
    }
  }
  { /* the explanation: NUL-terminated, within the buffer; a hint only
     * for a failed run */
    char text[700];
    size_t len = 1 + (size % sizeof text), n;
    int status = nat_check_status_get(s.chk);
    int hint = nat_check_hint_get(s.chk);
    n = nat_check_explain(s.chk, text, len);
    if (n >= len || text[n] != '\0' || strlen(text) != n)
      abort();
    if (status == NAT_CHECK_FAILED
            ? hint < NAT_CHECK_HINT_BIRTHDAY || hint > NAT_CHECK_HINT_NO_PAIRS
            : hint != NAT_CHECK_HINT_NONE)
      abort();
  }
  s.freed = true; /* freeing the agent calls nothing back */
  nat_check_free(s.chk);
  return 0;
}
