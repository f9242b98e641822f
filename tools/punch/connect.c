/* punch connect / punch ticket -- options and names (--rendezvous and
 * --stun as HOST:PORT, resolved through nat_resolve), the socket, our
 * candidates (host, srflx, and predicted ones from allocation probes that
 * run alongside the registration: nat_cand_predict) and identity, the
 * rendezvous (or the ticket exchange on stdin), and the end of a run. The
 * check and QUIC phases are in session.c. See punch(1). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nat/error.h>
#include <nat/resolve.h>
#include <nat/verdict.h>

#include "../common/cli.h"
#include "punch.h"
#include "session.h"

static const char connect_usage[] =
    "usage: punch connect --rendezvous HOST:PORT --room CODE\n"
    "                     [--rendezvous-pin PIN] [--stun HOST:PORT]\n"
    "                     [--timeout SEC] [--json] [--pipe]\n"
    "                     [--allow-loopback] [--listen-port N] [-4|-6]\n"
    "       punch ticket [--stun HOST:PORT] [--listen-port N] [--timeout SEC]\n"
    "                    [--json] [--pipe] [--allow-loopback] [-4|-6]\n"
    "\n"
    "Both peers run the same command. connect meets the peer through a\n"
    "rendezvous (punch serve) under a shared room code; ticket prints this\n"
    "run's ticket on stdout, reads the peer's ticket (one line) on stdin.\n"
    "Then both run connectivity checks on one UDP socket and an\n"
    "authenticated QUIC handshake over the pair they agree on.\n"
    "\n"
    "  -r, --rendezvous HOST:PORT  the rendezvous server (connect)\n"
    "  -c, --room CODE             the room code both peers share (connect)\n"
    "  -P, --rendezvous-pin PIN    the server's certificate pin (default:\n"
    "                              accept any; blobs are sealed end to end)\n"
    "  -s, --stun HOST:PORT        a STUN server for our server-reflexive\n"
    "                              address (with --rendezvous it also tells\n"
    "                              whether our NAT maps per destination, and\n"
    "                              enables predicted candidates)\n"
    "  -t, --timeout SEC           give up after SEC seconds, 1..600\n"
    "                              (default 10)\n"
    "  -j, --json                  the report as JSON (schema_version 1)\n"
    "  -p, --pipe                  after connecting, stdin to the peer and\n"
    "                              the peer's bytes to stdout (report on\n"
    "                              stderr)\n"
    "  -L, --allow-loopback        accept loopback/link-local candidates\n"
    "  -l, --listen-port N         bind this UDP port (default: any)\n"
    "  -4, -6                      IPv4 or IPv6 only\n"
    "\n"
    "HOST is a name or an IP address ([IPv6]:PORT in brackets).\n"
    "\n"
    "Exit status: 0 connected, 1 connection failed (or a name did not\n"
    "resolve), 2 usage error or malformed ticket, 3 environment error.\n";

static int parse_opts(punch_opts *o, int argc, char **argv) {
  static const struct option longs[] = {
      {"rendezvous", required_argument, NULL, 'r'},
      {"room", required_argument, NULL, 'c'},
      {"rendezvous-pin", required_argument, NULL, 'P'},
      {"stun", required_argument, NULL, 's'},
      {"timeout", required_argument, NULL, 't'},
      {"json", no_argument, NULL, 'j'},
      {"pipe", no_argument, NULL, 'p'},
      {"allow-loopback", no_argument, NULL, 'L'},
      {"listen-port", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *cmd = o->ticket_mode ? "punch ticket" : "punch connect";
  unsigned v;
  int ch;
  o->timeout_s = 10;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, ":r:c:P:s:t:jpLl:46h", longs, NULL)) !=
         -1) {
    switch (ch) {
    case 'r':
      o->rdv = optarg;
      break;
    case 'c':
      o->room = optarg;
      break;
    case 'P':
      o->rdv_pin = optarg;
      break;
    case 's':
      o->stun = optarg;
      break;
    case 't':
      if (nat_cli_uint(optarg, 1, 600, &v) != 0)
        return nat_cli_usage_error(
            cmd, "bad --timeout '%s': expected 1..600 seconds", optarg);
      o->timeout_s = (unsigned)v;
      break;
    case 'j':
      o->json = true;
      break;
    case 'p':
      o->pipe = true;
      break;
    case 'L':
      o->allow_loopback = true;
      break;
    case 'l':
      if (nat_cli_uint(optarg, 1, 65535, &v) != 0)
        return nat_cli_usage_error(
            cmd, "bad --listen-port '%s': expected 1..65535", optarg);
      o->listen_port = (uint16_t)v;
      break;
    case '4':
      o->family = NAT_AF_INET;
      break;
    case '6':
      o->family = NAT_AF_INET6;
      break;
    case 'h':
      fputs(connect_usage, stdout);
      return -1;
    case ':':
      return nat_cli_usage_error(cmd, "option '%s' needs a value",
                                 argv[optind - 1]);
    default:
      return nat_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return nat_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!o->ticket_mode && (o->rdv == NULL || o->room == NULL))
    return nat_cli_usage_error(cmd, "%s",
                               "--rendezvous HOST:PORT and --room CODE "
                               "are required");
  if (o->ticket_mode && (o->rdv != NULL || o->room != NULL))
    return nat_cli_usage_error(cmd, "%s",
                               "ticket mode takes no --rendezvous/--room");
  return 0;
}

/* ------------------------------------------------------------ the end */

const char *punch_mapping_name(int beh) {
  switch (beh) {
  case NAT_BEH_EI:
    return "endpoint-independent";
  case NAT_BEH_AD:
    return "address-dependent";
  case NAT_BEH_APD:
    return "address-and-port-dependent";
  default:
    return "unknown";
  }
}

static void teardown(punch_sess *s);
static void probes_close(punch_sess *s);

static void on_rdv_gone(nat_rdv_client *c, void *arg) {
  punch_sess *s = arg;
  (void)c;
  s->rdv = NULL;
  if (s->finished)
    teardown(s);
  else if (punch_quic_start(s) != 0)
    punch_finish(s, PUNCH_EXIT_ENV, "cannot start QUIC on the socket");
}

static void on_ep_gone(nat_quic_endpoint *ep, void *arg) {
  punch_sess *s = arg;
  (void)ep;
  s->ep = NULL;
  teardown(s);
}

static void on_udp_gone(nat_udp *u, void *arg) {
  punch_sess *s = arg;
  (void)u;
  s->udp = NULL;
  teardown(s);
}

/* Close what is open, one owner after the other: the rendezvous client
 * and the QUIC endpoint borrow the socket, so the socket goes last. */
static void teardown(punch_sess *s) {
  probes_close(s);
  if (s->rdv != NULL) {
    nat_rdv_client_close(s->rdv, on_rdv_gone, s);
    return;
  }
  if (s->ep != NULL) {
    nat_quic_endpoint_close(s->ep, on_ep_gone, s);
    return;
  }
  punch_pipe_close(s);
  if (s->udp != NULL) {
    nat_udp_close(s->udp, on_udp_gone, s);
    return;
  }
  if (s->timers_init) {
    s->timers_init = false;
    uv_close((uv_handle_t *)&s->chk_timer, NULL);
    uv_close((uv_handle_t *)&s->deadline, NULL);
    uv_close((uv_handle_t *)&s->start_timer, NULL);
    uv_close((uv_handle_t *)&s->gather_timer, NULL);
  }
}

void punch_finish(punch_sess *s, int code, const char *fmt, ...) {
  va_list ap;
  if (s->finished)
    return;
  s->finished = true;
  s->exit_code = code;
  if (fmt != NULL) {
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
  }
  if (code == PUNCH_EXIT_OK)
    s->phase = PUNCH_PH_DONE;
  else if (!s->opt.json || code == PUNCH_EXIT_USAGE)
    fprintf(stderr, "punch: %s\n", s->reason);
  if (code != PUNCH_EXIT_USAGE || s->opt.json)
    punch_report(s, s->opt.pipe ? stderr : stdout);
  if (s->timers_init) {
    uv_timer_stop(&s->chk_timer);
    uv_timer_stop(&s->start_timer);
    uv_timer_stop(&s->gather_timer);
  }
  teardown(s);
}

static void on_deadline(uv_timer_t *t) {
  punch_sess *s = t->data;
  unsigned to = s->opt.timeout_s;
  switch (s->phase) {
  case PUNCH_PH_RENDEZVOUS:
    if (s->has_seen)
      punch_finish(s, PUNCH_EXIT_FAIL,
                   "no peer joined the room within %u s: check that both "
                   "sides use the same room code and rendezvous",
                   to);
    else
      punch_finish(s, PUNCH_EXIT_FAIL,
                   "the rendezvous did not answer within %u s: check its "
                   "address and that UDP reaches it",
                   to);
    break;
  case PUNCH_PH_CHECKS:
    punch_finish(s, PUNCH_EXIT_FAIL,
                 "connectivity checks found no path within %u s", to);
    break;
  case PUNCH_PH_QUIC:
    punch_finish(s, PUNCH_EXIT_FAIL,
                 "the QUIC handshake did not complete within %u s", to);
    break;
  default:
    punch_finish(s, PUNCH_EXIT_FAIL, "timed out after %u s", to);
  }
}

/* ------------------------------------------------- candidates, blob */

static void add_local(punch_sess *s, const nat_cand *c) {
  for (size_t i = 0; i < s->mine.ncands; i++)
    if (nat_addr_equal(&s->mine.cands[i].addr, &c->addr))
      return;
  (void)nat_ticket_add_cand(&s->mine, c);
}

static void add_srflx(punch_sess *s, const nat_addr *mapped,
                      const nat_addr *server) {
  nat_cand c;
  if (nat_cand_make_srflx(&c, mapped, &s->local, server) == 0)
    add_local(s, &c);
}

static int gather_host(punch_sess *s) {
  nat_cand hosts[NAT_TICKET_MAX_CANDS];
  size_t n = 0;
  int rc = nat_cand_gather_host(s->local.port, s->opt.allow_loopback, hosts,
                                NAT_TICKET_MAX_CANDS, &n, s->subnets,
                                PUNCH_MAX_SUBNETS, &s->nsubnets);
  if (rc != 0)
    return rc;
  /* room is left for two srflx and the predicted candidates */
  for (size_t i = 0;
       i < n && s->mine.ncands < NAT_TICKET_MAX_CANDS - 2 - PUNCH_PREDICT; i++)
    if (hosts[i].addr.family == s->local.family)
      add_local(s, &hosts[i]);
  return 0;
}

/* Our mapping behaviour from two mappings of one socket: towards the
 * rendezvous (SEEN) and towards the STUN server. */
static void guess_mapping(punch_sess *s) {
  uint8_t beh;
  if (!s->has_seen || !s->has_stun_mapped)
    return;
  beh = nat_cand_mapping_of(&s->rdv_addr, &s->seen, &s->stun_addr,
                            &s->stun_mapped);
  if (beh != NAT_BEH_UNKNOWN)
    s->local_mapping = beh;
}

/* Predicted candidates (nat_cand_predict): from the answered probes whose
 * public IP is SEEN's, counted from the latest of their ports and our
 * socket's own mappings. */
static void predict(punch_sess *s) {
  nat_port_sample smp[PUNCH_PROBES];
  nat_addr mapped[2];
  nat_cand pc[PUNCH_PREDICT];
  nat_cand_predict_in in;
  size_t n = 0, room = NAT_TICKET_MAX_CANDS - s->mine.ncands;
  if (s->nprobes == 0 || !s->has_seen || room == 0)
    return;
  memset(&in, 0, sizeof in);
  for (unsigned i = 0; i < s->nprobes; i++) {
    const punch_probe *p = &s->probes[i];
    if (!p->answered || !nat_addr_equal_ip(&p->mapped, &s->seen))
      continue;
    smp[in.nsamples].local_port = p->local_port;
    smp[in.nsamples].mapped_port = p->mapped.port;
    smp[in.nsamples].at = p->sent_at;
    in.nsamples++;
  }
  mapped[in.nmapped++] = s->seen;
  if (s->has_stun_mapped)
    mapped[in.nmapped++] = s->stun_mapped;
  in.samples = smp;
  in.mapped = mapped;
  in.mapping = s->local_mapping > 0 ? (uint8_t)s->local_mapping
                                    : (uint8_t)NAT_BEH_UNKNOWN;
  in.base = &s->local;
  in.count = (unsigned)(room < PUNCH_PREDICT ? room : PUNCH_PREDICT);
  if (nat_cand_predict(&in, &s->pred, pc, PUNCH_PREDICT, &n) != 0)
    return;
  s->predict_run = true;
  for (size_t i = 0; i < n; i++) {
    size_t before = s->mine.ncands;
    add_local(s, &pc[i]);
    s->npredicted += s->mine.ncands - before;
  }
}

/* The blob: our ticket's text, then " map=N" (our mapping behaviour),
 * then " rtt=N" (our HELLO -> SEEN time at the rendezvous in ms, rounded
 * up; only when known: the peer's check hold, session.c). An older peer
 * reads map= (atoi stops at the space) and ignores rtt=. */
static int make_blob(punch_sess *s, char *buf, size_t cap) {
  ssize_t n = nat_ticket_encode(&s->mine, buf, cap);
  int m;
  if (n < 0)
    return (int)n;
  m = snprintf(buf + n, cap - (size_t)n, " map=%d", s->local_mapping);
  if (m < 0 || (size_t)m >= cap - (size_t)n)
    return NAT_ENOBUFS;
  if (s->rdv_rtt != 0) {
    size_t k = (size_t)n + (size_t)m;
    m = snprintf(buf + k, cap - k, " rtt=%llu",
                 (unsigned long long)((s->rdv_rtt + NAT_MILLISECONDS - 1) /
                                      NAT_MILLISECONDS));
    if (m < 0 || (size_t)m >= cap - k)
      return NAT_ENOBUFS;
  }
  return 0;
}

/* The value of " KEY=N" among the fields after the ticket text (@p p at
 * the first space, up to @p end): N is 1 to 6 digits; -1 when absent or
 * malformed (an unknown field is skipped: later versions may add some). */
static long blob_field(const char *p, const char *end, const char *key) {
  size_t kl = strlen(key);
  while (p < end) {
    const char *f = p + 1, *sp = memchr(f, ' ', (size_t)(end - f));
    const char *fe = sp != NULL ? sp : end;
    if ((size_t)(fe - f) > kl + 1 && (size_t)(fe - f) <= kl + 7 &&
        memcmp(f, key, kl) == 0 && f[kl] == '=') {
      long v = 0;
      for (const char *d = f + kl + 1; d < fe; d++) {
        if (*d < '0' || *d > '9')
          return -1;
        v = v * 10 + (*d - '0');
      }
      return v;
    }
    p = fe;
  }
  return -1;
}

/* Take the peer's ticket text (a blob or a line from stdin). */
static int take_peer(punch_sess *s, const char *text, size_t len) {
  nat_ticket_diag diag;
  const char *sp = memchr(text, ' ', len);
  size_t tlen = sp != NULL ? (size_t)(sp - text) : len;
  if (sp != NULL && len - tlen > 5 && memcmp(sp, " map=", 5) == 0)
    s->remote_mapping = atoi(sp + 5);
  if (sp != NULL) {
    long rtt = blob_field(sp, text + len, "rtt");
    if (rtt > 0)
      s->peer_rdv_rtt = (nat_tstamp)rtt * NAT_MILLISECONDS;
  }
  if (nat_ticket_decode(&s->peer, text, tlen, &diag) != 0) {
    punch_finish(s, PUNCH_EXIT_USAGE, "%s", nat_ticket_strerror(&diag));
    return -1;
  }
  s->has_peer = true;
  return 0;
}

/* -------------------------------------------------------- rendezvous */

/* -------------------------------------------- gathering alongside SEEN
 *
 * In rendezvous mode the --stun Binding (from our socket) and the
 * allocation probes (fresh sockets, one Binding each to the rendezvous)
 * start together with the registration. The blob goes out when SEEN is in
 * and they have ended, but never later than GATHER_GRACE after SEEN: one
 * HELLO -> SEEN time (which covers their round trip), at least
 * GATHER_GRACE_MIN (a lost answer's first retransmission, PROBE_RTO, with
 * margin) and at most GATHER_GRACE_MAX. Unanswered probes are then
 * dropped and their sockets closed. */
#define PROBE_RTO        (100 * NAT_MILLISECONDS)
#define GATHER_GRACE_MIN (150 * NAT_MILLISECONDS)
#define GATHER_GRACE_MAX (500 * NAT_MILLISECONDS)

static bool gathering(const punch_sess *s) {
  if (s->stun_pending)
    return true;
  for (unsigned i = 0; i < s->nprobes; i++)
    if (!s->probes[i].done)
      return true;
  return false;
}

static void send_blob(punch_sess *s) {
  char blob[PUNCH_BLOB_MAX];
  nat_rdv_client_info info;
  s->blob_sent = true;
  /* our rendezvous RTT (HELLO -> SEEN) travels in the blob (rtt=N): the
   * peer's hold before its first check depends on it */
  nat_rdv_client_info_get(s->rdv, &info);
  if (info.t_seen > info.t_hello && info.t_hello != 0)
    s->rdv_rtt = info.t_seen - info.t_hello;
  s->t_blob = nat_udp_now();
  uv_timer_stop(&s->gather_timer);
  if (s->stun_pending) {
    s->stun_pending = false;
    fprintf(stderr, "punch: the STUN server did not answer: no "
                    "server-reflexive candidate from it\n");
  }
  guess_mapping(s);
  add_srflx(s, &s->seen, &s->rdv_addr);
  if (s->has_stun_mapped)
    add_srflx(s, &s->stun_mapped, &s->stun_addr);
  predict(s);
  probes_close(s);
  if (make_blob(s, blob, sizeof blob) != 0 ||
      nat_rdv_client_send_blob(s->rdv, (const uint8_t *)blob, strlen(blob)) !=
          0)
    punch_finish(s, PUNCH_EXIT_ENV, "cannot send our blob to the rendezvous");
}

static void maybe_send_blob(punch_sess *s) {
  if (s->blob_sent || s->finished || !s->has_seen || s->rdv == NULL)
    return;
  if (gathering(s) && !s->gather_expired)
    return;
  send_blob(s);
}

static void gather_timeout(uv_timer_t *t) {
  punch_sess *s = t->data;
  s->gather_expired = true;
  maybe_send_blob(s);
}

static void on_probe_done(nat_udp *u, void *arg, const nat_txn_result *r) {
  punch_sess *s = arg;
  for (unsigned i = 0; i < s->nprobes; i++) {
    punch_probe *p = &s->probes[i];
    if (p->udp != u || p->done)
      continue;
    p->done = true;
    if (r->status == 0 && r->response != NULL &&
        nat_stun_msg_get_mapped(r->response, &p->mapped) == 0)
      p->answered = true;
  }
  maybe_send_blob(s);
}

static void on_probe_gone(nat_udp *u, void *arg) {
  punch_sess *s = arg;
  for (unsigned i = 0; i < s->nprobes; i++)
    if (s->probes[i].udp == u)
      s->probes[i].udp = NULL;
}

static void probes_close(punch_sess *s) {
  for (unsigned i = 0; i < s->nprobes; i++) {
    punch_probe *p = &s->probes[i];
    if (p->udp == NULL || p->closing)
      continue;
    p->closing = true;
    p->done = true;
    nat_udp_close(p->udp, on_probe_gone, s);
  }
}

/* Sample our NAT's port allocation: only when a second destination (the
 * --stun server) can tell whether the mapping depends on the destination
 * (else predicted candidates are never made: nat_cand_predict()). */
static void probes_start(punch_sess *s) {
  nat_udp_config uc;
  nat_txn_opts o;
  if (!s->has_stun || nat_addr_equal(&s->stun_addr, &s->rdv_addr))
    return;
  memset(&uc, 0, sizeof uc);
  memset(&o, 0, sizeof o);
  uc.bind.family = s->local.family;
  uc.software = "libnat punch";
  o.rto = PROBE_RTO;
  for (unsigned i = 0; i < PUNCH_PROBES; i++) {
    punch_probe *p = &s->probes[i];
    nat_addr la;
    memset(p, 0, sizeof *p);
    if (nat_udp_new(&p->udp, s->loop, &uc) != 0) {
      p->udp = NULL;
      return; /* fewer samples: the classifier says so */
    }
    s->nprobes++;
    if (nat_udp_local_addr(p->udp, &la) == 0)
      p->local_port = la.port;
    p->sent_at = nat_udp_now();
    if (nat_udp_binding(p->udp, &s->rdv_addr, 0, &o, on_probe_done, s, NULL) !=
        0)
      p->done = true;
  }
}

static void on_stun_parallel(nat_udp *u, void *arg, const nat_txn_result *r) {
  punch_sess *s = arg;
  (void)u;
  if (!s->stun_pending)
    return; /* the blob went without it */
  s->stun_pending = false;
  if (r->status == 0 && r->response != NULL &&
      nat_stun_msg_get_mapped(r->response, &s->stun_mapped) == 0)
    s->has_stun_mapped = true;
  maybe_send_blob(s);
}

/* The --stun Binding from our socket, not waited for (rendezvous mode). */
static void stun_start(punch_sess *s) {
  nat_txn_opts o;
  memset(&o, 0, sizeof o);
  o.rto = PROBE_RTO;
  if (s->has_stun && nat_udp_binding(s->udp, &s->stun_addr, 0, &o,
                                     on_stun_parallel, s, NULL) == 0)
    s->stun_pending = true;
}

static nat_tstamp gather_grace(const punch_sess *s) {
  nat_tstamp g = s->t_seen > s->t0 ? s->t_seen - s->t0 : 0;
  if (g < GATHER_GRACE_MIN)
    g = GATHER_GRACE_MIN;
  if (g > GATHER_GRACE_MAX)
    g = GATHER_GRACE_MAX;
  return g;
}

static void rdv_seen(nat_rdv_client *c, void *arg, const nat_addr *seen) {
  punch_sess *s = arg;
  (void)c;
  s->seen = *seen;
  s->has_seen = true;
  s->t_seen = nat_udp_now();
  if (gathering(s))
    uv_timer_start(&s->gather_timer, gather_timeout,
                   (gather_grace(s) + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS,
                   0);
  maybe_send_blob(s);
}

static void rdv_peer(nat_rdv_client *c, void *arg, const uint8_t *blob,
                     size_t len) {
  punch_sess *s = arg;
  nat_rdv_client_info info;
  s->t_peer = nat_udp_now();
  nat_rdv_client_info_get(c, &info);
  if (info.t_seen > info.t_hello && info.t_hello != 0)
    s->rdv_rtt = info.t_seen - info.t_hello;
  if (take_peer(s, (const char *)blob, len) != 0)
    return;
  if (punch_checks_start(s) != 0 && !s->finished)
    punch_finish(s, PUNCH_EXIT_ENV, "cannot start connectivity checks");
}

static void rdv_done(nat_rdv_client *c, void *arg, int status) {
  punch_sess *s = arg;
  nat_rdv_client_info info;
  if (s->finished)
    return;
  if (status == 0) {
    nat_rdv_client_close(c, on_rdv_gone, s);
    return;
  }
  nat_rdv_client_info_get(c, &info);
  if (status == NAT_EROOMSECRET)
    punch_finish(s, PUNCH_EXIT_FAIL,
                 "the peer's data failed authentication: the peers used "
                 "different room codes (or the blob was forged)");
  else if (status == NAT_ETIMEDOUT)
    on_deadline(&s->deadline);
  else if (status == NAT_ERDVREFUSED || status == NAT_EROOMFULL)
    punch_finish(s, PUNCH_EXIT_FAIL, "the rendezvous refused us: %s",
                 info.error_text[0] ? info.error_text
                                    : nat_rdv_strerror(info.error_code));
  else
    punch_finish(s, PUNCH_EXIT_FAIL, "rendezvous failed: %s",
                 nat_strerror(status));
}

static void rdv_stun(nat_rdv_client *c, void *arg, const nat_addr *from,
                     const uint8_t *buf, size_t len) {
  (void)c;
  punch_checks_feed(arg, from, buf, len);
}

static int rdv_start(punch_sess *s) {
  nat_rdv_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.udp = s->udp;
  cfg.server = s->rdv_addr;
  cfg.server_pin = s->has_rdv_pin ? s->rdv_pin : NULL;
  cfg.any_server_pin = !s->has_rdv_pin;
  cfg.code = s->opt.room;
  cfg.timeout = (nat_tstamp)s->opt.timeout_s * NAT_SECONDS;
  cfg.cb.on_seen = rdv_seen;
  cfg.cb.on_peer = rdv_peer;
  cfg.cb.on_done = rdv_done;
  cfg.cb.on_stun = rdv_stun;
  cfg.arg = s;
  s->phase = PUNCH_PH_RENDEZVOUS;
  return nat_rdv_client_new(&s->rdv, s->loop, &cfg);
}

/* ------------------------------------------------------------ tickets */

/* One line from stdin, read byte by byte so that what follows it stays
 * for --pipe. */
static int read_line(char *buf, size_t cap) {
  size_t n = 0;
  char ch;
  for (;;) {
    ssize_t r = read(STDIN_FILENO, &ch, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0 || ch == '\n')
      break;
    if (n + 1 < cap)
      buf[n++] = ch;
  }
  buf[n] = '\0';
  return n > 0 ? 0 : -1;
}

static int ticket_exchange(punch_sess *s) {
  char text[NAT_TICKET_TEXT_MAX + 32];
  FILE *out = s->opt.pipe ? stderr : stdout;
  if (make_blob(s, text, sizeof text) != 0) {
    punch_finish(s, PUNCH_EXIT_ENV, "cannot encode our ticket");
    return -1;
  }
  fprintf(out, "%s\n", text);
  fflush(out);
  if (read_line(text, sizeof text) != 0) {
    punch_finish(s, PUNCH_EXIT_USAGE,
                 "no peer ticket on stdin: paste the peer's ticket line");
    return -1;
  }
  s->t_peer = nat_udp_now();
  if (take_peer(s, text, strlen(text)) != 0)
    return -1;
  if (punch_checks_start(s) != 0 || punch_quic_start(s) != 0) {
    punch_finish(s, PUNCH_EXIT_ENV, "cannot start checks or QUIC");
    return -1;
  }
  return 0;
}

static void on_stun_done(nat_udp *u, void *arg, const nat_txn_result *r) {
  punch_sess *s = arg;
  (void)u;
  if (r->status == 0 && r->response != NULL &&
      nat_stun_msg_get_mapped(r->response, &s->stun_mapped) == 0)
    s->has_stun_mapped = true;
  uv_stop(s->loop);
}

/* ------------------------------------------------------------- setup */

static int setup(punch_sess *s) {
  nat_udp_config uc;
  int rc;
  memset(&uc, 0, sizeof uc);
  uc.bind.family = s->opt.family ? s->opt.family : NAT_AF_INET;
  if (s->has_rdv)
    uc.bind.family = s->rdv_addr.family;
  uc.bind.port = s->opt.listen_port;
  uc.software = "libnat punch";
  rc = nat_udp_new(&s->udp, s->loop, &uc);
  if (rc != 0) {
    s->udp = NULL;
    punch_finish(s, PUNCH_EXIT_ENV, "cannot bind UDP port %u: %s",
                 (unsigned)uc.bind.port, nat_strerror(rc));
    return -1;
  }
  if (nat_udp_local_addr(s->udp, &s->local) != 0 ||
      nat_quic_identity_new(&s->id, "punch") != 0 ||
      nat_ticket_init_random(&s->mine, nat_rand_system, NULL) != 0) {
    punch_finish(s, PUNCH_EXIT_ENV, "cannot make this run's identity");
    return -1;
  }
  nat_quic_identity_pin(s->id, s->mine.pin);
  if (gather_host(s) != 0) {
    punch_finish(s, PUNCH_EXIT_ENV, "cannot list network interfaces");
    return -1;
  }
  return 0;
}

/* STUN Binding to --stun, waited for (it is at most a few RTOs). */
static void stun_first(punch_sess *s) {
  nat_txn_opts o;
  memset(&o, 0, sizeof o);
  if (!s->has_stun)
    return;
  if (nat_udp_binding(s->udp, &s->stun_addr, 0, NULL, on_stun_done, s, NULL) !=
      0)
    return;
  uv_run(s->loop, UV_RUN_DEFAULT);
  if (s->has_stun_mapped)
    add_srflx(s, &s->stun_mapped, &s->stun_addr);
  else
    fprintf(stderr, "punch: the STUN server did not answer: no "
                    "server-reflexive candidate from it\n");
}

/* ------------------------------------------------------------- names */

/* --rendezvous or --stun: an IP literal, or a name resolved on the loop
 * (nat_resolve: IPv4 addresses first). */
typedef struct punch_name {
  const char *opt, *arg;
  bool literal, pending;
  int status, uv_status;
  size_t naddrs;
  nat_addr addrs[NAT_RESOLVE_MAX];
} punch_name;

static void on_name(void *arg, const nat_resolve_result *r) {
  punch_name *n = arg;
  n->pending = false;
  n->status = r->status;
  n->uv_status = r->uv_status;
  n->naddrs = r->naddrs;
  memcpy(n->addrs, r->addrs, r->naddrs * sizeof r->addrs[0]);
}

/* Check the value's syntax (a usage error), take an IP literal as it is,
 * start resolving a name. @return 0 or an exit status. */
static int name_start(punch_sess *s, punch_name *n, const char *cmd) {
  char host[256];
  uint16_t port = 0;
  int rc;
  if (nat_addr_parse(&n->addrs[0], n->arg, 0) == 0 && n->addrs[0].port != 0) {
    n->literal = true;
    n->naddrs = 1;
    return 0;
  }
  if (nat_hostport_split(n->arg, host, sizeof host, &port, 0) != 0 || port == 0)
    return nat_cli_usage_error(cmd,
                               "bad %s '%s': expected HOST:PORT, IP:PORT or "
                               "[IPv6]:PORT",
                               n->opt, n->arg);
  rc = nat_resolve(s->loop, n->arg, 0, s->opt.family, on_name, n);
  if (rc == NAT_EBADADDR)
    return nat_cli_usage_error(cmd, "bad %s '%s': expected HOST:PORT", n->opt,
                               n->arg);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot resolve %s '%s': %s\n", cmd, n->opt, n->arg,
            nat_strerror(rc));
    return PUNCH_EXIT_ENV;
  }
  n->pending = true;
  return 0;
}

/* The first address of family @p fam (NAT_AF_NONE: any) into @p out.
 * A literal of another family is a usage error; a name that did not
 * resolve, or has no address of that family, ends the run (exit 1).
 * @return 0, an exit status, or -1 (finished). */
static int name_pick(punch_sess *s, const punch_name *n, uint8_t fam,
                     const char *famwhy, nat_addr *out, const char *cmd) {
  for (size_t i = 0; i < n->naddrs; i++)
    if (fam == NAT_AF_NONE || n->addrs[i].family == fam) {
      *out = n->addrs[i];
      return 0;
    }
  if (n->literal)
    return nat_cli_usage_error(
        cmd, "bad %s '%s': expected an IPv%c address (%s)", n->opt, n->arg,
        fam == NAT_AF_INET6 ? '6' : '4', famwhy);
  if (n->status != 0)
    punch_finish(
        s, PUNCH_EXIT_FAIL,
        "cannot resolve %s '%s': %s (check the name, or give "
        "IP:PORT)",
        n->opt, n->arg,
        nat_strerror(n->status == NAT_ERESOLVE ? n->uv_status : n->status));
  else
    punch_finish(s, PUNCH_EXIT_FAIL, "%s '%s' has no IPv%c address (%s)",
                 n->opt, n->arg, fam == NAT_AF_INET6 ? '6' : '4', famwhy);
  return -1;
}

static int resolve_names(punch_sess *s, const char *cmd) {
  punch_name rdv = {.opt = "--rendezvous", .arg = s->opt.rdv};
  punch_name stun = {.opt = "--stun", .arg = s->opt.stun};
  int rc = 0;
  if (rdv.arg != NULL)
    rc = name_start(s, &rdv, cmd);
  if (rc == 0 && stun.arg != NULL)
    rc = name_start(s, &stun, cmd);
  /* lookups under way run to their end (they cannot be cancelled) */
  uv_run(s->loop, UV_RUN_DEFAULT);
  if (rc != 0)
    return rc;
  if (rdv.arg != NULL) {
    rc = name_pick(s, &rdv, s->opt.family,
                   s->opt.family == NAT_AF_INET6 ? "-6" : "-4", &s->rdv_addr,
                   cmd);
    if (rc != 0)
      return rc;
    s->has_rdv = true;
  }
  if (stun.arg != NULL) {
    uint8_t fam = s->has_rdv ? s->rdv_addr.family : s->opt.family;
    rc = name_pick(s, &stun, fam,
                   s->has_rdv                      ? "the rendezvous' family"
                   : s->opt.family == NAT_AF_INET6 ? "-6"
                                                   : "-4",
                   &s->stun_addr, cmd);
    if (rc != 0)
      return rc;
    s->has_stun = true;
  }
  return 0;
}

/* Options checked before anything runs, then the names.
 * @return 0, an exit status, or -1 (the run finished: a name failed). */
static int resolve_all(punch_sess *s) {
  const char *cmd = s->opt.ticket_mode ? "punch ticket" : "punch connect";
  if (s->opt.rdv_pin != NULL) {
    if (nat_quic_pin_parse(s->rdv_pin, s->opt.rdv_pin) != 0)
      return nat_cli_usage_error(
          cmd,
          "bad --rendezvous-pin '%s': expected sha256/BASE64 "
          "or 64 hex digits",
          s->opt.rdv_pin);
    s->has_rdv_pin = true;
  }
  if (s->opt.room != NULL) {
    nat_rdv_keys k;
    if (nat_rdv_keys_derive(&k, s->opt.room) != 0)
      return nat_cli_usage_error(cmd,
                                 "bad --room '%s': expected 8..128 characters "
                                 "(e.g. k3v9q-7xm2d)",
                                 s->opt.room);
  }
  return resolve_names(s, cmd);
}

static int run(punch_sess *s) {
  int rc;
  s->local_mapping = s->remote_mapping = -1;
  rc = resolve_all(s);
  if (rc > 0)
    return rc;
  if (rc < 0)
    goto loop;
  s->t0 = nat_udp_now();
  if (setup(s) != 0)
    goto loop;
  uv_timer_init(s->loop, &s->chk_timer);
  uv_timer_init(s->loop, &s->deadline);
  uv_timer_init(s->loop, &s->start_timer);
  uv_timer_init(s->loop, &s->gather_timer);
  s->chk_timer.data = s->deadline.data = s->start_timer.data = s;
  s->gather_timer.data = s;
  s->timers_init = true;
  if (s->opt.ticket_mode)
    stun_first(s);
  s->t0 = nat_udp_now();
  s->end = s->t0 + (nat_tstamp)s->opt.timeout_s * NAT_SECONDS;
  if (s->opt.ticket_mode) {
    if (ticket_exchange(s) != 0)
      goto loop;
    s->t0 = s->t_peer; /* the timeout counts from the peer's ticket */
    s->end = s->t0 + (nat_tstamp)s->opt.timeout_s * NAT_SECONDS;
  } else {
    /* the --stun Binding, the registration and the allocation probes run
     * side by side; the blob waits for them (boundedly): rdv_seen() */
    stun_start(s);
    if (rdv_start(s) != 0) {
      punch_finish(s, PUNCH_EXIT_ENV, "cannot start the rendezvous session");
      goto loop;
    }
    probes_start(s);
  }
  uv_timer_start(&s->deadline, on_deadline, (uint64_t)s->opt.timeout_s * 1000,
                 0);
loop:
  while (uv_run(s->loop, UV_RUN_ONCE) != 0)
    if (s->finished && s->udp == NULL && s->pipe.reading)
      return s->exit_code; /* a blocked stdin read: leave it */
  return s->exit_code;
}

static int run_cmd(int argc, char **argv, bool ticket_mode) {
  static punch_sess sess; /* large (the pipe buffer): not on the stack */
  punch_sess *s = &sess;
  uv_loop_t loop;
  int rc;
  memset(s, 0, sizeof *s);
  s->opt.ticket_mode = ticket_mode;
  rc = parse_opts(&s->opt, argc, argv);
  if (rc != 0)
    return rc < 0 ? PUNCH_EXIT_OK : rc;
  if (uv_loop_init(&loop) != 0) {
    fprintf(stderr, "punch: cannot create an event loop\n");
    return PUNCH_EXIT_ENV;
  }
  s->loop = &loop;
  rc = run(s);
  fflush(stdout);
  if (s->pipe.reading)
    return rc; /* stdin is blocked in a read: exit without closing */
  if (s->chk != NULL)
    nat_check_free(s->chk);
  nat_quic_identity_free(s->id);
  uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&loop);
  return rc;
}

int punch_connect(int argc, char **argv) {
  return run_cmd(argc, argv, false);
}

int punch_ticket(int argc, char **argv) {
  return run_cmd(argc, argv, true);
}
