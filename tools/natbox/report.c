/* natbox: the ready file and the stats file, each written atomically
 * (a temporary file in the same directory, then rename). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natbox_prog.h"

typedef void (*nb_writer)(FILE *f, const void *arg);

/* Write through @p fn into "@p path.tmp.PID", then rename over @p path. */
static int write_atomic(const char *path, nb_writer fn, const void *arg) {
  char tmp[4096];
  FILE *f;
  int e;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
      sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  f = fopen(tmp, "w");
  if (!f)
    return -1;
  fn(f, arg);
  if (fflush(f) != 0 || ferror(f)) {
    e = errno;
    fclose(f);
    unlink(tmp);
    errno = e;
    return -1;
  }
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

static void ready_writer(FILE *f, const void *arg) {
  (void)arg;
  fprintf(f, "ready\n%ld\n", (long)getpid());
}

/** Write the ready file; see natbox_prog.h. */
int nb_write_ready(const char *path) {
  return write_atomic(path, ready_writer, NULL);
}

static void link_json(FILE *f, const char *name, const nat_link_stats *s,
                      bool last) {
  fprintf(f,
          "    \"%s\": {\"submitted\": %" PRIu64 ", \"delivered\": %" PRIu64
          ", \"lost\": %" PRIu64 ", \"duplicated\": %" PRIu64
          ", \"reordered\": %" PRIu64 ", \"overflow\": %" PRIu64
          ", \"queued\": %" PRIu64 ", \"queue_max\": %" PRIu64 "}%s\n",
          name, s->submitted, s->delivered, s->lost, s->duplicated,
          s->reordered, s->overflow, s->queue_len, s->queue_max,
          last ? "" : ",");
}

static void stats_writer(FILE *f, const void *arg) {
  const nb_report *r = arg;
  const nat_box_stats *b = &r->box;
  fprintf(f, "{\n  \"natbox_stats_version\": 1,\n  \"nat\": \"%s\",\n",
          r->nat ? "box" : "none");
  fprintf(f, "  \"uptime_s\": %.3f,\n", r->uptime_s);
  fprintf(f,
          "  \"packets_out\": %" PRIu64 ",\n  \"packets_in\": %" PRIu64
          ",\n  \"hairpinned\": %" PRIu64 ",\n  \"icmp_errors_in\": %" PRIu64
          ",\n",
          b->packets_out, b->packets_in, b->hairpinned, b->icmp_errors_in);
  fprintf(f,
          "  \"mappings_created\": %" PRIu64
          ",\n  \"mappings_expired\": %" PRIu64
          ",\n  \"mappings_live\": %" PRIu64 ",\n",
          b->mappings_created, b->mappings_expired, b->mappings_live);
  fputs("  \"drops\": {", f);
  for (int i = 0; i < NAT_BOX_DROP_REASONS; i++) {
    const char *name = nat_box_verdict_name(-(i + 1));
    fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", name ? name : "unknown",
            b->drops[i]);
  }
  fputs("},\n  \"links\": {\n", f);
  link_json(f, "up", &r->link[0], false);
  link_json(f, "down", &r->link[1], false);
  link_json(f, "hairpin", &r->link[2], true);
  fprintf(f,
          "  },\n  \"io\": {\"lan_rx\": %" PRIu64 ", \"lan_tx\": %" PRIu64
          ", \"wan_rx\": %" PRIu64 ", \"wan_tx\": %" PRIu64
          ", \"read_errors\": %" PRIu64 ", \"write_errors\": %" PRIu64
          ", \"eagain\": %" PRIu64 "},\n",
          r->io.lan_rx, r->io.lan_tx, r->io.wan_rx, r->io.wan_tx,
          r->io.read_errors, r->io.write_errors, r->io.eagain);
  fprintf(f,
          "  \"release_late_us\": {\"count\": %" PRIu64
          ", \"median\": %.1f, \"p99\": %.1f, \"max\": %.1f}\n}\n",
          r->late.count, r->late.median_us, r->late.p99_us, r->late.max_us);
}

/** Write the stats file; see natbox_prog.h. */
int nb_write_stats(const char *path, const nb_report *r) {
  return write_atomic(path, stats_writer, r);
}
