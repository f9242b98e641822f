/* libFuzzer target for the QUIC endpoint's demultiplexer and server side
 * (nat/quic.h, quic/quic_endpoint.c and what it calls: a server-role
 * connection for each new Initial, ngtcp2 and GnuTLS behind it). One
 * accepting endpoint per input, on a socket without a socket
 * (quic_fake_udp.h: datagrams enter the endpoint's receive callback from
 * memory, what it sends is counted here) and a fake clock; one identity
 * and one libuv loop for the whole run (the loop only runs the handles'
 * close callbacks and the deferred reports).
 *
 * Input: a flags byte (bit 0: on_accept refuses every connection; bit 1:
 * the endpoint does not accept connections), then datagrams, each as a
 * header byte, a length (15 bits, big endian, at most 1500 used) and the
 * bytes. With the length's top bit set the bytes are a client Initial's
 * CIDs and plaintext frames, sealed here with the Initial keys of its
 * DCID (quic_initial.h, fz_sealed), so that mutated frames and TLS
 * ClientHellos get past the AEAD into ngtcp2 and GnuTLS. Header byte: bits 0-3
 * pick the source among 16 addresses (4 IPs x 4 ports: one peer moving between
 * ports too), bits 4-6 move the clock on by 2^k ms - 1 before the datagram, bit
 * 7 runs the timers due after it. At the end the clock moves on, deadline by
 * deadline, over 60 s (past the 10 s handshake timeout and the closing
 * periods), then the endpoint closes and the loop runs until its close
 * callback.
 *
 * Invariants that must hold abort() when broken:
 * - the demultiplexing rule (LAB-NOTES "STUN/QUIC demultiplexing rule",
 *   nat_stun_is_stun): a datagram that passes it goes to on_stun once,
 *   with its bytes and the udp's decoded view, and nothing of it reaches
 *   QUIC (no QUIC counter moves, nothing is sent); one that does not pass
 *   never reaches on_stun;
 * - a datagram creates at most one connection, and only if it is a long
 *   header of at least 1200 bytes while the endpoint accepts; a short
 *   header for an unknown CID creates none; connections alive never
 *   exceed those accepted, and none is left once the clock has passed the
 *   handshake timeout and closing periods (a handshake no client finishes
 *   ends); every connection on_accept kept gets on_closed exactly once,
 *   none that it refused;
 * - anti-amplification (RFC 9000 section 8.1; no address is ever
 *   validated here, as no client finishes a handshake): the bytes sent to
 *   an address never exceed three times the QUIC bytes received from it,
 *   counting Version Negotiation, Initial/Handshake answers and their
 *   retransmissions, and CONNECTION_CLOSE (closing periods, endpoint
 *   close); a Version Negotiation answer is smaller than its trigger;
 * - the endpoint's counters add up: datagrams_in = stun_in + quic_in +
 *   undecodable + unknown_cid + version_negotiation answers' triggers;
 * - no leak, no sanitizer report (the endpoint and its connections are
 *   freed at each input's end).
 *
 * Seeds (corpus/quic_demux, written by quic_seeds.c from a real handshake
 * between two endpoints on this fake socket): the client's first Initial,
 * all its datagrams of the handshake in order, its Initial's frames to be
 * sealed here (and those of a client asking for another ALPN, refused
 * with CONNECTION_CLOSE, then late packets), the Initial coming again
 * from another port and another IP, an Initial of an unknown version
 * (Version Negotiation), a Version Negotiation packet, Initials with a
 * token and with short CIDs, short headers for unknown CIDs, stateless-
 * reset-sized junk, STUN requests, indications and responses, a STUN
 * look-alike with a wrong length (QUIC's to read), classic RFC 3489.
 *
 * Found and fixed (each with a test in tests/unit/test_quic.c and its
 * input in the corpus): an empty datagram reached
 * ngtcp2_pkt_decode_version_cid(), whose assertion aborted the process
 * (quic_endpoint.c; test_empty_datagram); a sealed Initial whose
 * ClientHello had no QUIC transport parameters made ngtcp2 0.12 abort on
 * an assertion writing the server's answer (quic_tls.c now refuses it
 * with missing_extension; test_client_hello_without_transport_params).
 *
 * Run locally (clang, ASan+UBSan, libnat coverage-instrumented; ngtcp2 and
 * GnuTLS are the system's, not instrumented), 2 cores shared by five
 * helpers' fuzzers:
 *   CC=clang cmake -S . -B build-fuzz -DNAT_FUZZ=ON \
 *     -DNAT_SANITIZE=address,undefined && cmake --build build-fuzz
 *   build-fuzz/tests/fuzz/fuzz_quic_demux -max_total_time=600 \
 *     -print_final_stats=1 COPY_OF_corpus/quic_demux
 * 2026-12-08, before Initials were sealed (raw datagrams only, the 26
 * seeds then): 3,531,984 runs in 601 s, 5,876 execs/s on average,
 * coverage 242 -> 324 edges, 1,280 features, corpus 347 units / 326 KB,
 * peak RSS 435 MB; no finding (the empty datagram was found before, in a
 * 25 s trial).
 * 2026-12-08, the harness as it is (Initials sealed) with both fixes,
 * from the 29 seeds (23 units after libFuzzer's merge): 6,196,149 runs in
 * 601 s, 10,309 execs/s on average, coverage 250 -> 370 edges, 495 ->
 * 1,675 features, corpus 455 units / 507 KB, peak RSS 410 MB; no crash,
 * no leak, no broken invariant, no sanitizer report (the missing
 * transport parameters were found in a 90 s trial before it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "nat/error.h"
#include "nat/quic.h"
#include "nat/stun.h"
#include "nat/udp.h"
#include "quic_fake_udp.h"
#include "quic_initial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_util.h"

#define NSRC 16

typedef struct fuzz_state {
  uv_loop_t loop;
  nat_quic_identity *id;
  nat_udp udp;
  nat_tstamp now;
  /* this input */
  nat_addr src[NSRC];
  uint64_t rx[NSRC], tx[NSRC]; /* QUIC bytes received, bytes sent */
  uint64_t sends;
  size_t last_len; /* of the last datagram sent */
  bool refuse;
  uint64_t accepts, refused, closed, stun_calls;
  const uint8_t *cur;
  size_t cur_len;
  bool ep_closed;
} fuzz_state;

static fuzz_state S;

static nat_tstamp fz_clock(void *ctx) {
  (void)ctx;
  return S.now += NAT_MICROSECONDS;
}

static void fz_send(void *ctx, const nat_addr *dst, const uint8_t *buf,
                    size_t len) {
  (void)ctx;
  (void)buf;
  S.sends++;
  S.last_len = len;
  for (int i = 0; i < NSRC; i++) {
    if (nat_addr_equal(dst, &S.src[i])) {
      S.tx[i] += len;
      CHECK(S.tx[i] <= 3 * S.rx[i]);
      return;
    }
  }
  abort(); /* sent to an address nothing came from */
}

static int fz_on_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  (void)ep, (void)arg, (void)c;
  if (S.refuse) {
    S.refused++;
    return -1;
  }
  S.accepts++;
  return 0;
}

static void fz_on_closed(nat_quic_conn *c, void *arg,
                         const nat_quic_close_info *info) {
  (void)c, (void)arg, (void)info;
  S.closed++;
  CHECK(S.closed <= S.accepts);
}

static void fz_on_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                       const uint8_t *buf, size_t len,
                       const nat_stun_msg *msg) {
  (void)ep, (void)arg, (void)from;
  S.stun_calls++;
  CHECK(buf == S.cur && len == S.cur_len && nat_stun_is_stun(buf, len));
  CHECK(!msg || (msg->buf == buf && msg->len == len));
}

static bool fz_verify(nat_quic_conn *c, void *arg,
                      const uint8_t pin[NAT_QUIC_PIN_LEN]) {
  (void)c, (void)arg, (void)pin;
  return true; /* any client: the handshake is what is fuzzed */
}

static void fz_init(void) {
  nat_addr local;
  CHECK(uv_loop_init(&S.loop) == 0);
  CHECK(nat_quic_identity_new(&S.id, "fuzz-server") == 0);
  CHECK(nat_addr_parse(&local, "192.0.2.1:4433", 0) == 0);
  fake_udp_init(&S.udp, &local, fz_send, NULL);
  S.now = 1000 * NAT_SECONDS;
}

static void fz_on_ep_closed(nat_quic_endpoint *ep, void *arg) {
  (void)ep, (void)arg;
  S.ep_closed = true;
}

/* Run the loop's due callbacks (close callbacks, deferred reports). */
static void fz_loop(void) {
  uv_run(&S.loop, UV_RUN_NOWAIT);
}

static void fz_expire(nat_quic_endpoint *ep) {
  nat_tstamp t = nat_quic_endpoint_get_expiry(ep);
  if (t == NAT_TSTAMP_MAX)
    return;
  if (t > S.now)
    S.now = t;
  nat_quic_endpoint_handle_expiry(ep);
  fz_loop();
}

static void fz_datagram(nat_quic_endpoint *ep, int si, const uint8_t *buf,
                        size_t len) {
  nat_quic_stats a, b;
  uint64_t sends = S.sends, stun_calls = S.stun_calls;
  uint64_t accepts = S.accepts + S.refused;
  bool stun = nat_stun_is_stun(buf, len);

  if (!stun)
    S.rx[si] += len;
  nat_quic_endpoint_stats(ep, &a);
  S.cur = buf;
  S.cur_len = len;
  S.udp.ecn = (unsigned)si & 3u; /* each source its own ECN codepoint */
  fake_udp_deliver(&S.udp, &S.src[si], buf, len);
  S.udp.ecn = 0;
  S.cur = NULL;
  nat_quic_endpoint_stats(ep, &b);
  CHECK(b.datagrams_in == a.datagrams_in + 1);
  if (stun) {
    CHECK(S.stun_calls == stun_calls + 1 && b.stun_in == a.stun_in + 1);
    CHECK(b.quic_in == a.quic_in && b.undecodable == a.undecodable &&
          b.unknown_cid == a.unknown_cid && b.accepted == a.accepted &&
          b.version_negotiation == a.version_negotiation && S.sends == sends);
    return;
  }
  CHECK(S.stun_calls == stun_calls && b.stun_in == a.stun_in);
  /* exactly one of: to a connection, dropped undecodable, dropped for no
   * connection, answered with Version Negotiation (or dropped: counted
   * undecodable) */
  CHECK((b.quic_in - a.quic_in) + (b.undecodable - a.undecodable) +
            (b.unknown_cid - a.unknown_cid) +
            (b.version_negotiation - a.version_negotiation) ==
        1);
  /* at most one connection per datagram, only from a long header of at
   * least 1200 bytes (RFC 9000 section 14.1) */
  CHECK(b.accepted - a.accepted <= 1);
  CHECK(S.accepts + S.refused - accepts == b.accepted - a.accepted);
  if (b.accepted != a.accepted)
    CHECK((buf[0] & 0x80) && len >= 1200);
  if (b.version_negotiation != a.version_negotiation)
    CHECK(len >= 1200 && S.sends == sends + 1 && S.last_len < len);
  CHECK(b.conns <= b.accepted);
}

/* A client Initial sealed here (quic_initial.h) from @p d: DCID length
 * (8 + d[0] % 13), SCID length (d[1] % 21), packet number (d[2]), the
 * DCID, the SCID, then the plaintext frames (PADDING added to 1200
 * bytes). */
static void fz_sealed(nat_quic_endpoint *ep, int si, const uint8_t *d,
                      size_t len) {
  uint8_t pkt[1500 + 64];
  size_t dl, sl, n;
  if (len < 3)
    return;
  dl = 8 + d[0] % 13;
  sl = d[1] % 21;
  if (len < 3 + dl + sl)
    return;
  n = len - 3 - dl - sl;
  n = qi_seal(pkt, d + 3, dl, d + 3 + dl, sl, d[2], d + 3 + dl + sl,
              n > 1300 ? 1300 : n);
  CHECK(n > 0 && n <= sizeof pkt);
  fz_datagram(ep, si, pkt, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool init;
  nat_quic_config cfg;
  nat_quic_endpoint *ep;
  nat_quic_stats st;
  size_t off = 1;
  nat_tstamp end;

  if (!init) {
    fz_init();
    init = true;
  }
  if (size < 1)
    return 0;
  memset(S.rx, 0, sizeof S.rx);
  memset(S.tx, 0, sizeof S.tx);
  S.sends = S.accepts = S.refused = S.closed = S.stun_calls = 0;
  S.ep_closed = false;
  S.refuse = data[0] & 1;
  for (int i = 0; i < NSRC; i++) {
    nat_addr_set_v4(&S.src[i],
                    0xC6336401u + (uint32_t)(i & 3), /* 198.51.100.x */
                    (uint16_t)(40000 + 1111 * (i >> 2)));
  }

  memset(&cfg, 0, sizeof cfg);
  cfg.udp = &S.udp;
  cfg.identity = S.id;
  cfg.accept = !(data[0] & 2);
  cfg.verify_pin = fz_verify;
  cfg.cb.on_accept = fz_on_accept;
  cfg.cb.on_closed = fz_on_closed;
  cfg.cb.on_stun = fz_on_stun;
  cfg.clock = fz_clock;
  CHECK(nat_quic_endpoint_new(&ep, &S.loop, &cfg) == 0);

  while (off + 3 <= size) {
    uint8_t h = data[off];
    bool seal = data[off + 1] & 0x80;
    size_t len = (size_t)(data[off + 1] & 0x7f) << 8 | data[off + 2];
    off += 3;
    if (len > size - off)
      len = size - off;
    S.now += (((nat_tstamp)1 << ((h >> 4) & 7)) - 1) * NAT_MILLISECONDS;
    if (seal)
      fz_sealed(ep, h & 15, data + off, len);
    else
      fz_datagram(ep, h & 15, data + off, len > 1500 ? 1500 : len);
    off += len;
    if (h & 0x80)
      fz_expire(ep);
    else
      fz_loop();
  }

  /* the timers, deadline by deadline, over 60 s of the fake clock */
  end = S.now + 60 * NAT_SECONDS;
  for (int i = 0; i < 200 && nat_quic_endpoint_get_expiry(ep) <= end; i++)
    fz_expire(ep);
  fz_loop();
  nat_quic_endpoint_stats(ep, &st);
  CHECK(st.accepted == S.accepts + S.refused);
  CHECK(st.conns == 0 && st.closing == 0);
  CHECK(S.closed == S.accepts);
  CHECK(st.datagrams_in == st.stun_in + st.quic_in + st.undecodable +
                               st.unknown_cid + st.version_negotiation);

  nat_quic_endpoint_close(ep, fz_on_ep_closed, NULL);
  for (int i = 0; i < 16 && !S.ep_closed; i++)
    fz_loop();
  CHECK(S.ep_closed);
  return 0;
}
