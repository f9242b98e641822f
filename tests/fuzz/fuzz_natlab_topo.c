/* libFuzzer target for natlab's topology reader (tools/natlab/topo.c, the
 * format of docs/topology-format.md): nl_topo_parse() on any bytes, read
 * from memory through fmemopen(). Invariants that must hold abort() when
 * broken:
 * - an accepted topology passes nl_topo_check(), the parser's own rules
 *   applied to the whole tree (names valid and unique, parents declared
 *   before and not hosts, the engine's limits, every natbox.KEY=VALUE
 *   accepted by natbox's option parser, link options known and numeric,
 *   distinct addresses), and every host's effective expectation is in
 *   range;
 * - a refused topology returns NL_ERR_USAGE with one error line: not
 *   empty, shorter than NL_ERR_LINE, printable ASCII only (no newline, no
 *   raw byte of the input), starting with the file's name;
 * - nothing leaks (ASan's leak check).
 *
 * FIGURES: filled in after the 10-minute run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nl_topo topo;
static volatile unsigned sink;

#define NAME "fuzz.topo"

static void check_error(const char *err) {
  size_t n = strlen(err);
  if (n == 0 || n >= NL_ERR_LINE)
    abort();
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
      abort();
  if (strncmp(err, NAME ":", strlen(NAME) + 1) != 0 &&
      strncmp(err, "natlab: ", 8) != 0)
    abort();
}

static bool beh_ok(int b) {
  return b == -1 || b == NL_NO_NAT || (b >= NAT_BEH_EI && b <= NAT_BEH_APD);
}

static void check_topo(const struct nl_topo *t) {
  char err[NL_ERR_LINE];
  if (nl_topo_check(t, err, sizeof err) != 0) {
    fprintf(stderr, "accepted topology fails its check: %s\n", err);
    abort();
  }
  for (int h = 1; h < t->nnodes; h++) {
    struct nl_expect e;
    if (t->nodes[h].kind != NL_HOST)
      continue;
    nl_topo_effective(t, h, &e);
    if (!beh_ok(e.mapping) || !beh_ok(e.filtering) || e.alloc < -1 ||
        e.alloc > NL_ALLOC_RANDOM || e.hairpin < -1 || e.hairpin > 1 ||
        e.delta < 0 || e.delta > 1000)
      abort();
    sink += (unsigned)nl_beh_name(e.mapping)[0] +
            (unsigned)nl_alloc_name(e.alloc)[0];
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[NL_ERR_LINE];
  /* fmemopen() refuses a zero size: an empty file is one newline less */
  static const char empty[1] = {'\n'};
  FILE *f = size ? fmemopen((void *)(uintptr_t)data, size, "r")
                 : fmemopen((void *)(uintptr_t)empty, 1, "r");
  if (!f)
    abort();
  int r = nl_topo_parse(&topo, NAME, f, NULL, err, sizeof err);
  fclose(f);
  if (r == 0)
    check_topo(&topo);
  else if (r == NL_ERR_USAGE)
    check_error(err);
  else
    abort();
  return 0;
}
