/* natbox -- a userspace NAT and link emulator on TUN devices (natlab).
 * Shared declarations of the program's files: options (cli.c), TUN devices
 * in network namespaces (tun.c), the event loop (loop.c), and the ready and
 * stats files (report.c). */
#ifndef NATBOX_PROG_H
#define NATBOX_PROG_H

#include <stdbool.h>
#include <stdio.h>

#include "nat/link.h"
#include "nat/natbox.h"

/* Exit codes (docs/man/natbox.1). */
#define NB_EXIT_OK    0
#define NB_EXIT_USAGE 2
#define NB_EXIT_ENV   3

#define NB_NAME_MAX  64   /* network namespace names */
#define NB_TUN_QUEUE 4096 /* default TUN transmit queue (--tun-queue) */
#define NB_IFNAME    16   /* IFNAMSIZ */

typedef enum nb_dir { NB_UP = 0, NB_DOWN = 1 } nb_dir;

/** One side of the box: a TUN device named ifname inside netns. */
typedef struct nb_side {
  char netns[NB_NAME_MAX];
  char ifname[NB_IFNAME];
  int fd; /* the TUN, non-blocking; -1 until opened */
} nb_side;

typedef struct nb_opts {
  nb_side lan, wan;
  bool nat;                /* --nat box */
  nat_box_config box;      /* with --nat box */
  nat_link_config link[2]; /* indexed by nb_dir */
  unsigned tun_queue;      /* TUN transmit queue length, packets */
  const char *stats_file;  /* NULL: none */
  const char *ready_file;  /* NULL: none */
} nb_opts;

/** Parse the command line into @p o. On a usage error, writes a one-line
 * message (without "natbox: " and newline) into @p err.
 * @return 0; 1 if --help or --version was printed; -1 on a usage error. */
int nb_parse_args(int argc, char **argv, nb_opts *o, char *err, size_t cap);

/** Print the usage text to @p f. */
void nb_usage(FILE *f);

/** Create the TUN device @p s->ifname inside network namespace @p s->netns,
 * set it up with MTU 1500 and a transmit queue of @p qlen packets (the
 * packets the kernel holds for natbox to read), and leave its fd in
 * @p s->fd. The calling thread returns to the network namespace it
 * started in.
 * @return 0, or -1 with a one-line reason in @p err. */
int nb_tun_open(nb_side *s, unsigned qlen, char *err, size_t cap);

/** Write "ready\n<pid>\n" to @p path atomically (temporary + rename).
 * @return 0 or -1 (errno set). */
int nb_write_ready(const char *path);

/** Counters of the event loop. */
typedef struct nb_io_stats {
  uint64_t lan_rx, lan_tx, wan_rx, wan_tx;
  uint64_t read_errors, write_errors, eagain;
} nb_io_stats;

/** How late the delay lines released their packets: the time from a
 * packet's release time to its write, over the packets of impaired links
 * (the fast path has no release time). Microseconds. */
typedef struct nb_late_stats {
  uint64_t count;
  double median_us, p99_us, max_us;
} nb_late_stats;

/** Everything the stats file reports. */
typedef struct nb_report {
  bool nat;
  nat_box_stats box;
  nat_link_stats link[3]; /* up, down, hairpin */
  nb_io_stats io;
  nb_late_stats late;
  double uptime_s;
} nb_report;

/** Write @p r as JSON to @p path atomically. @return 0 or -1 (errno). */
int nb_write_stats(const char *path, const nb_report *r);

/** Run the forwarding loop until SIGINT or SIGTERM (which the caller has
 * blocked). Fills @p r at the end.
 * @return 0, or -1 with a one-line reason in @p err. */
int nb_run(const nb_opts *o, nb_report *r, char *err, size_t cap);

#endif
