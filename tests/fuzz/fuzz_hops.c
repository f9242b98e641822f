/* Fuzz target: the hop probe's matching (nat/hops.h) of what comes back:
 * server answers and ICMP reports, in any order, with any bytes. The
 * input is a list of records: an opcode byte (low 2 bits: an answer from
 * the target, an answer from elsewhere, a time-exceeded report, an
 * unreachable report; the rest: milliseconds to move the clock first), a
 * length byte, then that many bytes (the datagram or the quote). The
 * probe's prefix is 0xA5 bytes, so inputs can carry its transaction IDs.
 * The hop list must stay consistent whatever comes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/hops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fixed(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  memset(buf, 0xA5, len);
}

static void check(const nat_hops *h) {
  nat_hop_list l;
  size_t i;
  nat_hops_get(h, &l);
  if (l.n == 0 || l.n > l.max_ttl || l.reached_ttl > l.max_ttl ||
      (l.reached_ttl != 0 && l.n != l.reached_ttl))
    abort();
  for (i = 0; i < NAT_HOPS_MAX; i++)
    if (l.hop[i].ttl != i + 1 || (l.hop[i].kind == NAT_HOP_SILENT) !=
                                     (l.hop[i].addr.family == NAT_AF_NONE))
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nat_hops_config c;
  nat_hops *h;
  nat_hops_send s;
  nat_hops_report r;
  nat_addr other;
  nat_tstamp now = NAT_SECONDS;
  size_t i = 0;
  memset(&c, 0, sizeof c);
  nat_addr_set_v4(&c.target, 0xCB007101u, 3478); /* 203.0.113.1 */
  nat_addr_set_v4(&other, 0xCB007102u, 3478);
  c.rand = fixed;
  c.max_ttl = 8;
  if (nat_hops_new(&h, &c, now) != 0)
    return 0;
  while (i + 2 <= size) {
    uint8_t op = data[i], len = data[i + 1];
    const uint8_t *p = data + i + 2;
    if ((size_t)len > size - i - 2)
      len = (uint8_t)(size - i - 2);
    i += 2u + len;
    now += (nat_tstamp)(op >> 2) * NAT_MILLISECONDS;
    nat_hops_handle_expiry(h, now);
    while (nat_hops_next_send(h, now, &s) == 1)
      if (s.ttl < 1 || s.ttl > 8 || s.len == 0)
        abort();
    switch (op & 3) {
    case 0:
      (void)nat_hops_recv(h, now, &c.target, p, len);
      break;
    case 1:
      (void)nat_hops_recv(h, now, &other, p, len);
      break;
    default:
      memset(&r, 0, sizeof r);
      r.kind = (op & 3) == 2 ? NAT_HOP_TIME_EXCEEDED : NAT_HOP_UNREACHABLE;
      nat_addr_set_v4(&r.offender, 0x0A000001u + (op >> 2), 0);
      r.dst = (op & 0x80) ? other : c.target;
      r.quote = p;
      r.quote_len = len;
      (void)nat_hops_report_icmp(h, now, &r);
      break;
    }
    check(h);
    if (nat_hops_get_expiry(h) != NAT_TSTAMP_MAX &&
        nat_hops_get_expiry(h) + NAT_SECONDS < now)
      abort(); /* an expiry long past that nothing ran */
  }
  nat_hops_cancel(h);
  check(h);
  nat_hops_free(h);
  return 0;
}
