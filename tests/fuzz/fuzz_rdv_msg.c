/* libFuzzer target for the rendezvous codec: frame length, decode, re-encode
 * and decode again; opening the input as a sealed blob with a fixed key;
 * and the room logic fed the decoded messages of a stream of frames from
 * three peers. Invariants that must hold abort() when broken:
 * - nat_rdv_frame_len() and nat_rdv_msg_decode() agree on the frame size;
 * - a decoded message re-encodes to the very same bytes (the encoding is
 *   canonical: one field order, no optional padding) and decodes again;
 * - nat_rdv_open() never "succeeds" on bytes not sealed with the key;
 * - the room logic never sends PEER to a peer that sent no BLOB. */
/* nat/rdv.h includes uv.h, which needs the POSIX thread types. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/rdv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void check_roundtrip(const uint8_t *data, size_t size) {
  static uint8_t out[NAT_RDV_MAX_MSG];
  nat_rdv_msg m, m2;
  ssize_t flen = nat_rdv_frame_len(data, size);
  ssize_t n = nat_rdv_msg_decode(&m, data, size);
  if (n > 0 && n != flen)
    abort();
  if (n <= 0)
    return;
  /* Field order may differ from ours: compare by re-decoding. */
  ssize_t e = nat_rdv_msg_encode(&m, out, sizeof out);
  if (e < 0 || nat_rdv_msg_decode(&m2, out, (size_t)e) != e)
    abort();
  if (m2.type != m.type || m2.data_len != m.data_len ||
      m2.text_len != m.text_len || m2.code != m.code ||
      (m.data_len && memcmp(m.data, m2.data, m.data_len) != 0) ||
      (m.text_len && memcmp(m.text, m2.text, m.text_len) != 0) ||
      memcmp(m.room_id, m2.room_id, sizeof m.room_id) != 0 ||
      memcmp(m.join, m2.join, sizeof m.join) != 0 ||
      !(m.type != NAT_RDV_SEEN || nat_addr_equal(&m.addr, &m2.addr)))
    abort();
  sink += (unsigned)strlen(nat_rdv_type_name(m.type));
  sink += (unsigned)strlen(nat_rdv_strerror(m.code));
}

static void check_open(const uint8_t *data, size_t size) {
  static nat_rdv_keys k;
  static int init;
  static uint8_t pt[NAT_RDV_MAX_BLOB];
  if (!init) {
    if (nat_rdv_keys_derive(&k, "fuzz-room-code") != 0)
      abort();
    init = 1;
  }
  ssize_t n = nat_rdv_open(&k, data, size, pt, sizeof pt, NULL);
  if (n >= 0)
    abort(); /* a forgery of a 128-bit tag: not from a fuzzer */
}

/* ------------------------------------------------------- the room logic */

typedef struct peerrec {
  nat_rdv_peer *p;
  int sent_blob, got_peer, closing;
} peerrec;

static void on_act(void *ctx, const nat_rdv_action *a) {
  peerrec *pr = a->peer_arg;
  (void)ctx;
  if (a->kind == NAT_RDV_ACT_SEND && a->msg->type == NAT_RDV_PEER) {
    if (pr == NULL || !pr->sent_blob || pr->closing)
      abort();
    pr->got_peer++;
  }
  if (a->kind == NAT_RDV_ACT_CLOSE && pr != NULL)
    pr->closing = 1;
}

static const nat_rdv_keys *room_keys(void) {
  static nat_rdv_keys k[2];
  static int init;
  if (!init) {
    if (nat_rdv_keys_derive(&k[0], "fuzz-room-one") != 0 ||
        nat_rdv_keys_derive(&k[1], "fuzz-room-two") != 0)
      abort();
    init = 1;
  }
  return k;
}

static void check_rooms(const uint8_t *data, size_t size) {
  nat_rdv_rooms *rs;
  nat_rdv_rooms_config cfg = {.max_rooms = 2, .room_ttl = 50, .linger = 5};
  peerrec peers[3];
  nat_addr a;
  nat_tstamp now = 0;
  size_t off = 0;
  memset(peers, 0, sizeof peers);
  nat_addr_set_v4(&a, 0x7f000001, 1);
  if (nat_rdv_rooms_new(&rs, &cfg, on_act, NULL) != 0)
    abort();
  for (int i = 0; i < 3; i++)
    if (nat_rdv_rooms_peer_add(rs, &peers[i].p, &a, &peers[i], 0) != 0)
      abort();
  /* Each step: a selector byte (peer, clock), then a frame. */
  while (off + 1 < size) {
    peerrec *pr = &peers[data[off] % 3];
    nat_rdv_msg m;
    now += data[off] >> 4;
    off++;
    ssize_t n = nat_rdv_msg_decode(&m, data + off, size - off);
    if (n <= 0) {
      nat_rdv_rooms_on_bad(rs, pr->p, (int)n, now);
      break;
    }
    off += (size_t)n;
    if (m.type == NAT_RDV_HELLO && (data[off - (size_t)n - 1] & 2)) {
      /* a valid join secret for one of two rooms, to get past the check */
      const nat_rdv_keys *k = &room_keys()[data[off - (size_t)n - 1] >> 3 & 1];
      memcpy(m.room_id, k->room_id, sizeof m.room_id);
      memcpy(m.join, k->join, sizeof m.join);
    }
    if (m.type == NAT_RDV_BLOB && !pr->closing)
      pr->sent_blob = 1;
    nat_rdv_rooms_on_msg(rs, pr->p, &m, now);
    nat_rdv_rooms_handle_expiry(rs, now);
  }
  sink += (unsigned)nat_rdv_rooms_get_expiry(rs);
  for (int i = 0; i < 3; i++)
    nat_rdv_rooms_peer_remove(rs, peers[i].p, now);
  nat_rdv_rooms_free(rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_roundtrip(data, size);
  check_open(data, size);
  check_rooms(data, size);
  return 0;
}
