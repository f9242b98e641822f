/* Replay benchmark helper (tests/bench/bench_replay.sh drives it; never
 * fails on time).
 *
 *   bench_replay gen FILE PACKETS [eth|raw]
 *       Write a pcap of at least PACKETS STUN datagrams with the public
 *       capture writer: netcheck-like runs captured on the client host
 *       behind a symmetric (address-and-port-dependent, sequential) NAT,
 *       each run from fresh sockets: basic requests to two servers, the
 *       RFC 5780 mapping test (3 destinations), the filtering test (an
 *       opening request, then change IP+port and change port, both
 *       unanswered and retransmitted), 8 allocation sockets, and a hairpin
 *       request that gets no answer. 36 packets a run.
 *
 *   bench_replay replay FILE
 *       Read FILE with nat_capture_reader, pair with nat_replay and run
 *       nat_verdict_compute, all through the public API; print the time
 *       of each phase, the verdict and the peak memory (VmHWM).
 *
 *   bench_replay run CMD [ARG...]
 *       Run CMD with stdout on /dev/null; print "seconds maxrss_kb exit"
 *       from wait4()'s rusage: the same measure for every tool compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nat/nat.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Peak resident memory of this process in KiB (VmHWM), 0 if unknown. */
static long vm_hwm_kb(void) {
  char line[256];
  long kb = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmHWM:", 6) == 0)
      kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static nat_addr addr(const char *s) {
  nat_addr a;
  if (nat_addr_parse(&a, s, 0) != 0) {
    fprintf(stderr, "bench_replay: bad address %s\n", s);
    exit(3);
  }
  return a;
}

/* ------------------------------------------------------------ generator
 */

typedef struct gen {
  nat_capture_writer *w;
  nat_tstamp t;      /* capture clock, ns since the epoch */
  uint64_t tid;      /* transaction counter */
  uint32_t nat_port; /* the NAT's next external port (sequential) */
  uint64_t packets;
  nat_addr pub;                        /* the NAT's public IP */
  nat_addr p1, p2, oa, p1p2, s2, host; /* servers, the client host */
} gen;

static void put(gen *g, const nat_addr *src, const nat_addr *dst,
                const uint8_t *buf, ssize_t len) {
  int rc;
  if (len < 0) {
    fprintf(stderr, "bench_replay: encode: %s\n", nat_strerror((int)len));
    exit(3);
  }
  rc = nat_capture_writer_write(g->w, g->t, src, dst, buf, (size_t)len);
  if (rc != 0) {
    fprintf(stderr, "bench_replay: write: %s\n", nat_strerror(rc));
    exit(3);
  }
  g->packets++;
}

static void next_tid(gen *g, uint8_t tid[NAT_STUN_TID_LEN]) {
  uint64_t x = ++g->tid * 0x9E3779B97F4A7C15ull;
  memcpy(tid, &x, 8);
  memcpy(tid + 8, &g->tid, 4);
}

/* A Binding request from @p src to @p dst, sent @p tx times (100 ms, then
 * 200 ms apart), answered (if @p answer) from @p from. */
static void txn(gen *g, const nat_addr *src, const nat_addr *dst,
                uint32_t change, unsigned tx, bool answer,
                const nat_addr *from) {
  uint8_t tid[NAT_STUN_TID_LEN], buf[256];
  nat_stun_builder b;
  nat_addr mapped = g->pub;
  unsigned i;
  next_tid(g, tid);
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  if (change != 0)
    nat_stun_add_change_request(&b, change);
  {
    ssize_t len = nat_stun_builder_finish(&b, true);
    for (i = 0; i < tx; i++) {
      put(g, src, dst, buf, len);
      g->t += (nat_tstamp)(i + 1) * 100 * NAT_MILLISECONDS;
    }
  }
  mapped.port = (uint16_t)g->nat_port;
  g->nat_port = g->nat_port >= 65535 ? 1024 : g->nat_port + 1;
  if (!answer)
    return;
  g->t += 18 * NAT_MILLISECONDS;
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &mapped);
  if (nat_addr_equal_ip(dst, &g->p1) || nat_addr_equal_ip(dst, &g->p2)) {
    nat_stun_add_addr(&b, NAT_ATTR_RESPONSE_ORIGIN, from);
    nat_stun_add_addr(&b, NAT_ATTR_OTHER_ADDRESS,
                      nat_addr_equal_ip(dst, &g->p1) ? &g->oa : &g->p1p2);
  }
  nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "bench-stund 1.0");
  put(g, from, src, buf, nat_stun_builder_finish(&b, true));
  g->t += 2 * NAT_MILLISECONDS;
}

/* One netcheck-like run from 16 fresh sockets: Linux ephemeral ports,
 * cycling through 32768..60991 so that each socket keeps its role from
 * run to run. */
static void one_run(gen *g, uint64_t run) {
  nat_addr s[16], hp = g->pub;
  unsigned k;
  for (k = 0; k < 16; k++) {
    s[k] = g->host;
    s[k].port = (uint16_t)(32768 + (run * 16 + k) % 28224);
  }
  txn(g, &s[0], &g->p1, 0, 1, true, &g->p1); /* basic */
  txn(g, &s[0], &g->s2, 0, 1, true, &g->s2);
  txn(g, &s[1], &g->p1, 0, 1, true, &g->p1); /* mapping: IP1:P1 */
  hp.port = (uint16_t)(g->nat_port - 1);     /* s[1]'s mapping */
  {
    nat_addr ip2p1 = g->oa;
    ip2p1.port = g->p1.port;
    txn(g, &s[1], &ip2p1, 0, 1, true, &ip2p1);
  }
  txn(g, &s[1], &g->oa, 0, 1, true, &g->oa);
  txn(g, &s[2], &g->p1, 0, 1, true, &g->p1); /* filtering */
  txn(g, &s[2], &g->p1, NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT, 3, false,
      NULL);
  txn(g, &s[2], &g->p1, NAT_STUN_CHANGE_PORT, 3, false, NULL);
  for (k = 0; k < 8; k++) /* allocation */
    txn(g, &s[4 + k], &g->p1, 0, 1, true, &g->p1);
  txn(g, &s[3], &hp, 0, 2, false, NULL); /* hairpin to s[1]'s mapping */
  g->t += 20 * NAT_MILLISECONDS;
}

static int gen_main(const char *path, unsigned long long packets,
                    const char *link) {
  gen g;
  uint64_t run = 0;
  int rc;
  memset(&g, 0, sizeof g);
  g.pub = addr("198.51.100.2:0");
  g.p1 = addr("203.0.113.1:3478");
  g.p2 = addr("203.0.113.2:3478");
  g.oa = addr("203.0.113.2:3479");
  g.p1p2 = addr("203.0.113.1:3479");
  g.s2 = addr("192.0.2.10:3478");
  g.host = addr("10.0.0.2:0");
  g.t = (nat_tstamp)1700000000 * NAT_SECONDS;
  g.nat_port = 30000;
  rc = nat_capture_writer_open(
      &g.w, path, strcmp(link, "raw") == 0 ? NAT_LINK_RAW : NAT_LINK_ETHERNET);
  if (rc != 0) {
    fprintf(stderr, "bench_replay: %s: %s\n", path, nat_strerror(rc));
    return 3;
  }
  while (g.packets < packets)
    one_run(&g, run++);
  rc = nat_capture_writer_close(g.w);
  if (rc != 0) {
    fprintf(stderr, "bench_replay: %s: %s\n", path, nat_strerror(rc));
    return 3;
  }
  printf("packets=%llu runs=%llu\n", (unsigned long long)g.packets,
         (unsigned long long)run);
  return 0;
}

/* --------------------------------------------------------------- replay
 */

static int replay_main(const char *path) {
  char err[NAT_CAPTURE_ERRLEN];
  nat_capture_reader *rd;
  nat_capture_pkt pkt;
  nat_replay *rp;
  nat_replay_diag d;
  nat_obslog log;
  nat_verdict v;
  double t0 = now_s(), t1, t2, t3;
  uint64_t n = 0;
  int rc = nat_capture_reader_open(&rd, path, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "bench_replay: %s\n", err);
    return 3;
  }
  if (nat_replay_new(&rp, NULL) != 0)
    return 3;
  while ((rc = nat_capture_reader_next(rd, &pkt)) == 1) {
    nat_replay_feed_msg(rp, pkt.ts, &pkt.src, &pkt.dst, pkt.msg);
    n++;
  }
  nat_capture_reader_close(rd);
  if (rc != 0) {
    fprintf(stderr, "bench_replay: %s\n", nat_strerror(rc));
    return 3;
  }
  t1 = now_s();
  nat_obslog_init(&log);
  if (nat_replay_finish(rp, &log) != 0)
    return 3;
  nat_replay_get_diag(rp, &d);
  nat_replay_free(rp);
  t2 = now_s();
  nat_verdict_init(&v);
  if (nat_verdict_compute(&v, &log) != 0)
    return 3;
  t3 = now_s();
  printf("stun_packets=%llu observations=%zu obs_dropped=%llu "
         "read_pair_s=%.3f finish_s=%.3f verdict_s=%.3f total_s=%.3f "
         "vmhwm_kb=%ld\n",
         (unsigned long long)n, nat_obslog_count(&log),
         (unsigned long long)d.obs_dropped, t1 - t0, t2 - t1, t3 - t2, t3 - t0,
         vm_hwm_kb());
  printf("verdict: mapping=%s filtering=%s allocation=%s(%+d) hairpin=%s "
         "pooling=%s class=%s\n",
         nat_beh_name(v.mapping), nat_beh_name(v.filtering),
         nat_pa_kind_name(v.alloc.kind), v.alloc.delta,
         nat_tri_name(v.hairpinning), nat_pooling_name(v.pooling),
         nat_classic_name(&v));
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  return 0;
}

/* ------------------------------------------------------------------ run
 */

static int run_main(char **argv) {
  struct rusage ru;
  int status, fd;
  double t0 = now_s(), secs;
  pid_t pid = fork();
  if (pid < 0) {
    perror("bench_replay: fork");
    return 3;
  }
  if (pid == 0) {
    fd = open("/dev/null", O_WRONLY);
    if (fd >= 0)
      dup2(fd, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "bench_replay: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) {
      perror("bench_replay: wait4");
      return 3;
    }
  secs = now_s() - t0;
  printf("%.3f %ld %d\n", secs, ru.ru_maxrss,
         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "gen") == 0)
    return gen_main(argv[2], strtoull(argv[3], NULL, 10),
                    argc >= 5 ? argv[4] : "eth");
  if (argc == 3 && strcmp(argv[1], "replay") == 0)
    return replay_main(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "run") == 0)
    return run_main(argv + 2);
  fprintf(stderr, "usage: bench_replay gen FILE PACKETS [eth|raw]\n"
                  "       bench_replay replay FILE\n"
                  "       bench_replay run CMD [ARG...]\n");
  return 2;
}
