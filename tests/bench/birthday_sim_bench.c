/* birthday simulate benchmark: simulated probes per second of CPU of
 * nat_bday_sim_run() (nat/birthday.h) on one core, for the default spray
 * and for the NAT models it covers, against a reference measured in the
 * same run: the bare loop of the same trials (the same PRNG, natbox_rng.h, K
 * random bits set in a bitmap, probes drawn without repetition from a second
 * bitmap until one hits, both cleared), without natbox's allocation rules,
 * tiers or timeouts. The issue asks for at least 1,000,000 simulated probes a
 * second; the ratio says what the model costs over the bare loop.
 * Best of several rounds; prints figures only and never fails on time. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nat/birthday.h"
#include "nat/error.h"
#include "nat/natbox.h"
#include "natbox/natbox_rng.h"

#define ROUNDS 5
#define TRIALS 20000

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the reference: the bare loop ----------------------------------- */

static uint64_t st[4];

static uint64_t next(void) {
  return nat__xoshiro256ss(st);
}

static uint32_t below(uint32_t n) {
  return (uint32_t)(((next() >> 32) * (uint64_t)n) >> 32);
}

/* Probes per CPU second of the bare loop over @p n ports from @p lo. */
static double reference(uint32_t lo, uint32_t n, uint32_t k, uint32_t m,
                        uint32_t *hits) {
  static uint64_t mapped[1024], sent[1024];
  uint64_t probes = 0;
  st[0] = 1, st[1] = 2, st[2] = 3, st[3] = 4;
  *hits = 0;
  double t0 = cpu_s();
  for (int t = 0; t < TRIALS; t++) {
    for (uint32_t j = 0; j < k; j++) {
      uint32_t p;
      do
        p = lo + below(n);
      while (mapped[p >> 6] >> (p & 63) & 1);
      mapped[p >> 6] |= (uint64_t)1 << (p & 63);
    }
    for (uint32_t i = 0; i < m; i++) {
      uint32_t p;
      do
        p = lo + below(n);
      while (sent[p >> 6] >> (p & 63) & 1);
      sent[p >> 6] |= (uint64_t)1 << (p & 63);
      probes++;
      if (mapped[p >> 6] >> (p & 63) & 1) {
        ++*hits;
        break;
      }
    }
    size_t w0 = lo >> 6, w1 = (lo + n - 1) >> 6; /* the words touched */
    memset(mapped + w0, 0, (w1 - w0 + 1) * sizeof mapped[0]);
    memset(sent + w0, 0, (w1 - w0 + 1) * sizeof sent[0]);
  }
  double dt = cpu_s() - t0;
  return dt > 0 ? (double)probes / dt : 0;
}

/* ---- the cases ------------------------------------------------------ */

typedef struct bench_case {
  const char *name;
  nat_bday_sim_config c;
} bench_case;

static nat_bday_sim_config base(void) {
  nat_bday_sim_config c;
  memset(&c, 0, sizeof c);
  c.sockets = NAT_BDAY_SOCKETS_DEFAULT;
  c.probes = NAT_BDAY_PROBES_DEFAULT;
  c.rate = NAT_BDAY_RATE_DEFAULT;
  c.alloc = NAT_ALLOC_RANDOM;
  c.dialer_knows_range = true;
  c.trials = TRIALS;
  c.seed = 1;
  return c;
}

int main(void) {
  bench_case cs[6];
  for (int i = 0; i < 6; i++)
    cs[i].c = base();
  cs[0].name = "default: K 256, m 2048, 1024-65535";
  cs[1].name = "sequential, jitter 0.3:3";
  cs[1].c.alloc = NAT_ALLOC_SEQUENTIAL;
  cs[1].c.interleave = 0.3;
  cs[2].name = "range 4096";
  cs[2].c.port_min = 20000;
  cs[2].c.port_max = 24095;
  cs[3].name = "block 4096, blind dialer";
  cs[3].c.block = 4096;
  cs[3].c.dialer_knows_range = false;
  cs[4].name = "table limit 64, timeout 4 s";
  cs[4].c.max_mappings = 64;
  cs[4].c.timeout = 4 * NAT_SECONDS;
  cs[5].name = "K 64, m 16384";
  cs[5].c.sockets = 64;
  cs[5].c.probes = 16384;

  printf("birthday simulation benchmark (best of %d x %d trials, one core, "
         "CPU time)\n",
         ROUNDS, TRIALS);
  printf("%-36s %10s %12s %8s\n", "case", "success", "M probes/s", "mean hit");
  double best0 = 0;
  for (int i = 0; i < 6; i++) {
    nat_bday_sim_result r, best;
    memset(&best, 0, sizeof best);
    for (int k = 0; k < ROUNDS; k++) {
      int rv = nat_bday_sim_run(&cs[i].c, &r);
      if (rv != 0) {
        fprintf(stderr, "bench: %s: %s\n", cs[i].name, nat_strerror(rv));
        return 3;
      }
      if (r.probes_per_sec > best.probes_per_sec)
        best = r;
    }
    if (i == 0)
      best0 = best.probes_per_sec;
    printf("%-36s %9.3f%% %12.1f %8.1f\n", cs[i].name, 100 * best.rate,
           best.probes_per_sec / 1e6, best.mean_probe);
  }
  double ref = 0;
  uint32_t hits = 0;
  for (int k = 0; k < ROUNDS; k++) {
    double v = reference(1024, 64512, 256, 2048, &hits);
    if (v > ref)
      ref = v;
  }
  printf("%-36s %9.3f%% %12.1f\n", "reference: bare loop, as default",
         100.0 * hits / TRIALS, ref / 1e6);
  printf("\nsimulation / bare loop (default case): %.2f; goal >= 1 M "
         "probes/s: %.0fx over it\n",
         ref > 0 ? best0 / ref : 0, best0 / 1e6);
  return 0;
}
