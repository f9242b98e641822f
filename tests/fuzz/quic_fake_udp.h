/* A nat_udp without a socket, for fuzz_quic_demux.c and quic_seeds.c:
 * these programs define the nat_udp_* functions the QUIC endpoint calls
 * (the linker then never takes io/udp.c out of libnat.a), so that
 * datagrams enter the endpoint's receive callback straight from memory,
 * with the source address the program chooses, and every datagram the
 * endpoint sends is handed to the program (send_fn) instead of a socket.
 * The endpoint must be given the socket (nat_quic_config.udp) and a clock
 * of its own (nat_quic_config.clock): it never opens, closes or asks the
 * time of a nat_udp here.
 *
 * fake_udp_deliver() passes a datagram on as io/udp.c does for a socket
 * with no live STUN transaction: everything reaches the receive callback,
 * with the decoded STUN view when nat_stun_is_stun() holds and the
 * message decodes (io/udp.c would drop a malformed STUN response and give
 * the callback no classic RFC 3489 view; the endpoint sees a superset
 * here). Each program includes this file once. */
#ifndef NAT_FUZZ_QUIC_FAKE_UDP_H
#define NAT_FUZZ_QUIC_FAKE_UDP_H

#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/udp.h"

typedef void (*fake_udp_send_fn)(void *ctx, const nat_addr *dst,
                                 const uint8_t *buf, size_t len);

struct nat_udp {
  nat_addr local;
  nat_udp_recv_cb recv_cb;
  void *recv_arg;
  fake_udp_send_fn send_fn;
  void *send_ctx;
  unsigned ecn; /* the codepoint nat_udp_recv_ecn() gives (NAT_ECN_*) */
};

static inline void fake_udp_init(nat_udp *u, const nat_addr *local,
                                 fake_udp_send_fn fn, void *ctx) {
  memset(u, 0, sizeof *u);
  u->local = *local;
  u->send_fn = fn;
  u->send_ctx = ctx;
}

static inline void fake_udp_deliver(nat_udp *u, const nat_addr *from,
                                    const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  const nat_stun_msg *view = NULL;
  if (nat_stun_is_stun(buf, len) && nat_stun_decode(&m, buf, len) >= 0)
    view = &m;
  if (u->recv_cb)
    u->recv_cb(u, u->recv_arg, from, buf, len, view);
}

int nat_udp_new(nat_udp **out, uv_loop_t *loop, const nat_udp_config *cfg) {
  (void)out, (void)loop, (void)cfg;
  abort(); /* the endpoint is always given its socket here */
}

void nat_udp_close(nat_udp *u, nat_udp_close_cb cb, void *arg) {
  (void)u, (void)cb, (void)arg;
  abort();
}

nat_tstamp nat_udp_now(void) {
  abort(); /* the endpoint has a clock of its own */
}

int nat_udp_local_addr(const nat_udp *u, nat_addr *out) {
  *out = u->local;
  return 0;
}

void nat_udp_set_recv_cb(nat_udp *u, nat_udp_recv_cb cb, void *arg) {
  u->recv_cb = cb;
  u->recv_arg = arg;
}

int nat_udp_send(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                 size_t len) {
  if (dst->family != u->local.family)
    return NAT_EBADFAMILY;
  u->send_fn(u->send_ctx, dst, buf, len);
  return 0;
}

/* The ECN mark is not carried: the program sees the datagram only. */
int nat_udp_send_ecn(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                     size_t len, unsigned ecn) {
  (void)ecn;
  return nat_udp_send(u, dst, buf, len);
}

unsigned nat_udp_recv_ecn(const nat_udp *u) {
  return u->ecn;
}

#endif
