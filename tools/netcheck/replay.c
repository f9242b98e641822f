/* netcheck -- replays: stream a pcap/pcapng capture through libnat's
 * capture reader, rebuild the observation log with the replay module and
 * run the same verdict a live run uses (nat_replay_verdict: the verdicts
 * the capture cannot support, nat_replay_diag.measurable, are withheld
 * and shown as unknown / "not measurable from this capture").
 * Memory stays flat: one record at a time, and the replay module bounds
 * its tables and its log. See netcheck(1) and docs/replay.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nat/error.h>

#include "netcheck.h"

/* Report rows: the NAT_REPLAY_M_* bits in report order (their JSON keys
 * are nat_replay_bit_name()'s). */
static const uint32_t rows[NC_REPLAY_NBITS] = {
    NAT_REPLAY_M_BASIC,     NAT_REPLAY_M_NAT,     NAT_REPLAY_M_MAPPING,
    NAT_REPLAY_M_FILTERING, NAT_REPLAY_M_HAIRPIN, NAT_REPLAY_M_ALLOCATION,
    NAT_REPLAY_M_LIFETIME,
};

/* The bit each nat_obs_test needs. */
static const uint32_t test_bit[6] = {
    NAT_REPLAY_M_BASIC,   NAT_REPLAY_M_MAPPING,    NAT_REPLAY_M_FILTERING,
    NAT_REPLAY_M_HAIRPIN, NAT_REPLAY_M_ALLOCATION, NAT_REPLAY_M_LIFETIME,
};

uint32_t nc_replay_bit(size_t i) {
  return i < NC_REPLAY_NBITS ? rows[i] : 0;
}

const char *nc_replay_key(size_t i) {
  return nat_replay_bit_name(nc_replay_bit(i));
}

const char *nc_point_name(const nat_replay_diag *d) {
  if (d->capture_point == NAT_REPLAY_OUTSIDE)
    return "outside";
  if (d->capture_point == NAT_REPLAY_AT_CLIENT || d->inside)
    return "client";
  return "unknown";
}

const char *nc_capture_point_name(const nc_replay_info *info) {
  return nc_point_name(&info->diag);
}

const char *nc_point_reason(const nat_replay_diag *d, char *buf, size_t len) {
  if (d->capture_point == NAT_REPLAY_AUTO)
    snprintf(buf, len, "%s", d->point_reason);
  else
    snprintf(buf, len, "given with --capture-point (the capture itself: %s)",
             d->point_reason);
  return buf;
}

bool nc_masked(const nc_result *res, uint32_t bit) {
  return res->replay != NULL && (res->replay->masked & bit) != 0;
}

/* Exit code of a reader error: the capture given is unusable (missing,
 * unreadable, not a capture, damaged, unsupported link type) -> 2, like
 * any other bad input named on the command line; out of memory and I/O
 * errors -> 3. */
static int open_exit(int rv) {
  switch (rv) {
  case NAT_ENOMEM:
  case -EIO:
  case -EMFILE:
  case -ENFILE:
    return NC_EXIT_ENV;
  default:
    return NC_EXIT_USAGE;
  }
}

static int open_reader(const nc_options *opt, nat_capture_reader **rd) {
  char err[NAT_CAPTURE_ERRLEN];
  int rv;
  err[0] = '\0';
  if (strcmp(opt->replay, "-") == 0)
    rv = nat_capture_reader_open_fp(rd, stdin, "-", err, sizeof err);
  else
    rv = nat_capture_reader_open(rd, opt->replay, err, sizeof err);
  if (rv == 0)
    return 0;
  if (err[0] != '\0')
    fprintf(stderr, "netcheck: %s\n", err);
  else
    fprintf(stderr, "netcheck: cannot replay %s: %s\n", opt->replay,
            nat_strerror(rv));
  return open_exit(rv);
}

/* The client's requests are what a replay rests on: none -> exit 1 with
 * what the capture did hold. */
static int no_requests(const nc_options *opt, const nc_replay_info *info) {
  const nat_replay_diag *d = &info->diag;
  char a[NAT_ADDR_STRLEN], b[NAT_ADDR_STRLEN]; /* two: argument order */
  if (opt->has_client && d->nclients > 0) {
    fprintf(stderr,
            "netcheck: %s: no Binding request from --client %s in the "
            "capture (%zu other requesting address%s, e.g. %s)\n",
            opt->replay, nat_addr_format(&opt->client, a, sizeof a),
            d->nclients, d->nclients == 1 ? "" : "es",
            nat_addr_format_ip(&d->clients[0], b, sizeof b));
    return NC_EXIT_FAIL;
  }
  fprintf(stderr,
          "netcheck: %s: %llu STUN datagrams but no Binding request from "
          "a client: nothing to replay (capture the client's requests "
          "too)\n",
          opt->replay, (unsigned long long)info->cap.stun);
  return NC_EXIT_FAIL;
}

static int read_all(const nc_options *opt, nat_capture_reader *rd,
                    nat_replay *rp, nc_replay_info *info) {
  nat_capture_pkt pkt;
  int rv;
  while ((rv = nat_capture_reader_next(rd, &pkt)) == 1) {
    if (info->cap.stun == 0 || pkt.ts < info->first)
      info->first = pkt.ts;
    if (info->cap.stun == 0 || pkt.ts > info->last)
      info->last = pkt.ts;
    info->cap.stun++; /* a running count; the reader's stats replace it */
    if (nat_replay_feed_pkt(rp, &pkt) < 0) {
      fprintf(stderr, "netcheck: internal error feeding the replay\n");
      return NC_EXIT_ENV;
    }
  }
  nat_capture_reader_stats(rd, &info->cap);
  if (rv < 0) {
    const char *e = nat_capture_reader_strerror(rd);
    if (e[0] != '\0')
      fprintf(stderr, "netcheck: %s\n", e);
    else
      fprintf(stderr, "netcheck: cannot read %s: %s\n", opt->replay,
              nat_strerror(rv));
    return open_exit(rv);
  }
  if (info->cap.stun == 0) {
    fprintf(stderr,
            "netcheck: %s: no STUN datagrams in the capture (%llu records, "
            "%llu UDP datagrams, %llu damaged STUN messages)\n",
            opt->replay, (unsigned long long)info->cap.records,
            (unsigned long long)info->cap.udp,
            (unsigned long long)info->cap.stun_malformed);
    return NC_EXIT_FAIL;
  }
  return 0;
}

/* tests[]: counts and capture-time starts from the log; durations are not
 * measured in a replay (the report prints null). */
static void fill_tests(nc_result *res, nc_replay_info *info) {
  size_t i;
  uint8_t t;
  for (i = 0; i < res->log.n; i++) {
    const nat_obs *o = &res->log.v[i];
    nat_probe_test_info *ti;
    if (o->test >= 6)
      continue;
    ti = &res->tests[o->test];
    if (ti->transactions == 0 || o->sent_at < ti->start)
      ti->start = o->sent_at;
    if (o->sent_at + o->rtt > ti->end)
      ti->end = o->sent_at + o->rtt;
    ti->transactions++;
  }
  for (t = 0; t < 6; t++) {
    if (!(info->masked & test_bit[t]) && (info->diag.measurable & test_bit[t]))
      continue;
    snprintf(info->skipped[t], sizeof info->skipped[t],
             "not measurable from this capture: %s",
             nat_replay_strerror(&info->diag, test_bit[t]));
    res->tests[t].skipped = info->skipped[t];
  }
}

static void client_from(nc_replay_client *c, const nat_verdict *v,
                        const nat_replay_diag *d, size_t i) {
  c->diag = *d;
  c->idx = i;
  c->requests = d->client_requests[i];
  c->udp = v->basic.udp_reachable;
  c->nat_present = v->basic.nat_present;
  c->mapping = v->mapping;
  c->filtering = v->filtering;
  c->hairpinning = v->hairpinning;
  c->alloc_kind = v->alloc.kind;
  c->v4 = v->basic.v4;
  c->v6 = v->basic.v6;
}

/* One client of the capture: its own log and verdict. @return 0, 1 if
 * requester @p i is not a client, or NC_EXIT_ENV after a message. */
static int one_client(nat_replay *rp, size_t i, nc_replay_client *c) {
  nat_obslog log;
  nat_verdict v;
  nat_replay_diag d;
  int rv;
  nat_obslog_init(&log);
  nat_verdict_init(&v);
  rv = nat_replay_finish_client(rp, i, &log, &d);
  if (rv == 0 && (d.measurable & NAT_REPLAY_M_BASIC) && log.n > 0)
    rv = nat_replay_verdict(&v, &log, &d, NULL);
  if (rv == 0)
    client_from(c, &v, &d, i);
  nat_verdict_free(&v);
  nat_obslog_free(&log);
  if (rv == NAT_ENOTFOUND)
    return 1;
  if (rv < 0) {
    fprintf(stderr, "netcheck: out of memory\n");
    return NC_EXIT_ENV;
  }
  return 0;
}

/* Without --client: each requesting IP that is a client, in the order
 * they first asked. The main one's entry is filled later from the main
 * report (main_client: no second pass over its records), so that the
 * replay's records can be freed before the main verdict is computed. */
static int per_client(const nc_options *opt, nat_replay *rp,
                      nc_replay_info *info) {
  const nat_replay_diag *d = &info->diag;
  size_t i;
  int rv;
  if (opt->has_client)
    return 0;
  for (i = 0; i < d->nclients && i < NAT_REPLAY_MAX_CLIENTS; i++) {
    nc_replay_client *c = &info->clients[info->nclients];
    memset(c, 0, sizeof *c);
    if (nat_addr_equal_ip(&d->clients[i], &d->client)) {
      c->main = true;
      c->idx = i;
      info->nclients++;
      continue;
    }
    rv = one_client(rp, i, c);
    if (rv == 0)
      info->nclients++;
    else if (rv != 1)
      return rv;
  }
  return 0;
}

static void main_client(const nc_result *res, nc_replay_info *info) {
  size_t k;
  for (k = 0; k < info->nclients; k++)
    if (info->clients[k].main)
      client_from(&info->clients[k], &res->verdict, &info->diag,
                  info->clients[k].idx);
}

int nc_replay(const nc_options *opt, nc_result *res, nc_replay_info *info) {
  nat_capture_reader *rd = NULL;
  nat_replay *rp = NULL;
  nat_replay_config cfg;
  int rv;

  memset(info, 0, sizeof *info);
  info->file = opt->replay;
  rv = open_reader(opt, &rd);
  if (rv != 0)
    return rv;
  info->linktype = nat_capture_reader_linktype(rd);
  memset(&cfg, 0, sizeof cfg);
  if (opt->has_client)
    cfg.client = opt->client;
  cfg.capture_point = opt->capture_point;
  if (nat_replay_new(&rp, &cfg) < 0) {
    nat_capture_reader_close(rd);
    fprintf(stderr, "netcheck: out of memory\n");
    return NC_EXIT_ENV;
  }
  rv = read_all(opt, rd, rp, info);
  nat_capture_reader_close(rd);
  if (rv == 0 && nat_replay_finish(rp, &res->log) < 0) {
    fprintf(stderr, "netcheck: out of memory\n");
    rv = NC_EXIT_ENV;
  }
  nat_replay_get_diag(rp, &info->diag);
  if (rv == 0 &&
      (!(info->diag.measurable & NAT_REPLAY_M_BASIC) || res->log.n == 0))
    rv = no_requests(opt, info);
  if (rv == 0)
    rv = per_client(opt, rp, info);
  nat_replay_free(rp); /* before the main verdict: a lower peak */
  if (rv == 0 && nat_replay_verdict(&res->verdict, &res->log, &info->diag,
                                    &info->masked) < 0) {
    fprintf(stderr, "netcheck: out of memory\n");
    rv = NC_EXIT_ENV;
  }
  if (rv != 0)
    return rv;
  main_client(res, info);
  fill_tests(res, info);
  res->duration = info->last - info->first;
  res->diag.malformed = info->diag.malformed + info->cap.stun_malformed;
  res->diag.spoofed = info->diag.spoofed;
  res->diag.unmatched = info->diag.unmatched;
  res->diag.duplicates = info->diag.duplicates;
  res->diag.not_response = info->diag.ignored;
  res->probed = true;
  res->replay = info;
  if (opt->verbose) {
    size_t i;
    for (i = 0; i < res->log.n; i++)
      nc_obs_trace(&res->log.v[i]);
  }
  return 0;
}
