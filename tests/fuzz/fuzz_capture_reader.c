/* libFuzzer target for the capture file reader: the input is a whole
 * capture file (classic pcap or pcapng framing), read from memory through
 * fmemopen() and nat_capture_reader_open_fp(), then every record to the
 * end or to the first error. Invariants that must hold abort() when
 * broken:
 * - open gives 0, NAT_ECAPTURE or NAT_EUNSUPPORTED (NAT_ENOMEM aside),
 *   and on failure a one-line message naming the stream;
 * - next gives 1, 0 or NAT_ECAPTURE; a packet's payload lies inside the
 *   input's bounds as the reader holds it (len <= 262144), its record
 *   number grows, its STUN message decodes to its length;
 * - NAT_ECAPTURE comes with a one-line message naming the stream, the
 *   record and the byte offset, and stays (the next call gives it again);
 * - the stats add up once the reader stopped (end or error): records +
 *   frag_reassembled = udp + refused frames + frag_used (each record is
 *   a whole datagram, a refused frame, or a fragment of a reassembled
 *   datagram, which then counts once in udp or refused), udp = stun +
 *   stun_malformed + not_stun, frag_dropped >= frag_timeout +
 *   frag_evicted + frag_bad.
 *
 * Seeds (corpus/capture_reader): the first records of fixtures (classic
 * pcap, Linux cooked v2, little-endian, microseconds), the same in
 * big-endian nanoseconds, pcapng from tshark (natdiscovery; and its -P
 * run, every message in two IPv4 fragments), the two-
 * interface pcapng variant of make-variants.py cut short, and hand-made
 * pcapng with several sections, SPB, the obsolete PB, unknown blocks and
 * if_tsresol 2^-20 (written by tests/fuzz/capture_reader_seeds.py).
 *
 * Run here (2026-12-07, clang 14, -fsanitize=fuzzer + NAT_SANITIZE=
 * address,undefined, one core of a shared 2-core machine, from the 5
 * seeds plus 348 units of a 20 s warm-up): -max_total_time=720: 29,259,762
 * runs in 721 s, 40,582 execs/s on average (55,000/s in the warm-up),
 * coverage 369 -> 399 edges, 1,600 features, corpus 637 units / 312 KB,
 * peak RSS 171 MB; no finding (no crash, leak, sanitizer report or broken
 * invariant).
 * Again with IP fragment reassembly (2026-12-07, same build options, the
 * 6 seeds with pcapng_fragments, -max_total_time=300): 11,065,295 runs
 * in 301 s, 36,761 execs/s on average, coverage 529 edges, 2,055
 * features, corpus 728 units / 1.2 MB, peak RSS 288 MB; no finding.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fmemopen */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/capture.h"
#include "nat/error.h"
#include "nat/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line_naming(const char *msg, const char *word) {
  if (msg[0] == '\0' || strchr(msg, '\n') != NULL || strstr(msg, word) == NULL)
    abort();
}

static void check_stats(const nat_capture_reader *r) {
  nat_capture_stats st;
  uint64_t refused = 0;
  nat_capture_reader_stats(r, &st);
  for (int i = 0; i < NAT_CAPR_COUNT; i++)
    refused += st.reason[i];
  if (st.records + st.frag_reassembled != st.udp + refused + st.frag_used ||
      st.udp != st.stun + st.stun_malformed + st.not_stun ||
      st.frag_dropped < st.frag_timeout + st.frag_evicted + st.frag_bad ||
      st.frag_reassembled > st.frag_used)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  char err[NAT_CAPTURE_ERRLEN] = "";
  nat_stun_msg m;
  uint64_t last = 0;
  int rv;
  if (size == 0)
    return 0; /* fmemopen wants a buffer */
  FILE *fp = fmemopen((void *)(uintptr_t)data, size, "rb");
  if (fp == NULL)
    return 0;
  rv = nat_capture_reader_open_fp(&r, fp, "fuzz-input", err, sizeof err);
  if (rv == NAT_ENOMEM)
    return 0;
  if (rv != 0) {
    if ((rv != NAT_ECAPTURE && rv != NAT_EUNSUPPORTED) || r != NULL)
      abort();
    one_line_naming(err, "fuzz-input");
    return 0;
  }
  for (;;) {
    rv = nat_capture_reader_next(r, &p);
    if (rv != 1)
      break;
    if (p.record <= last || p.len > 262144 || p.payload == NULL ||
        p.msg == NULL)
      abort();
    last = p.record;
    if (nat_stun_decode(&m, p.payload, p.len) != (ssize_t)p.len)
      abort();
  }
  if (rv == NAT_ECAPTURE) {
    const char *msg = nat_capture_reader_strerror(r);
    one_line_naming(msg, "fuzz-input");
    if (strstr(msg, "byte offset") == NULL || strstr(msg, "record") == NULL)
      abort();
    if (nat_capture_reader_next(r, &p) != NAT_ECAPTURE)
      abort();
  } else if (rv != 0) {
    abort();
  }
  check_stats(r);
  nat_capture_reader_close(r);
  return 0;
}
