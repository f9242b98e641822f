/* punch connect / punch ticket -- the front end of libnat's agent
 * (nat/agent.h): options, the ticket exchange on stdin (ticket mode; the
 * agent talks to the rendezvous itself), and the end of a run: the report
 * (report.c), after the agent's pipe with --pipe. See punch(1). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <nat/error.h>
#include <nat/rdv.h>

#include "../common/cli.h"
#include "punch.h"

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

/* ------------------------------------------------------------- a run */

typedef struct punch_run {
  punch_opts opt;
  uv_loop_t loop;
  nat_agent *agent;
  nat_agent_info info; /* at the end */
  bool finished;
  int exit_code, hint, phase;
  char reason[320];
} punch_run;

static void finish(punch_run *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The end of a run: the reason on stderr, the report, then the agent
 * closes (its sockets, the QUIC connection). */
static void finish(punch_run *r, int code, const char *fmt, ...) {
  punch_outcome o;
  va_list ap;
  if (r->finished)
    return;
  r->finished = true;
  r->exit_code = code;
  if (fmt != NULL) {
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
  }
  if (code != PUNCH_EXIT_OK && (!r->opt.json || code == PUNCH_EXIT_USAGE))
    fprintf(stderr, "punch: %s\n", r->reason);
  memset(&o, 0, sizeof o);
  if (r->agent != NULL)
    nat_agent_info_get(r->agent, &r->info);
  o.opt = &r->opt;
  o.agent = r->agent;
  o.info = r->info;
  o.exit_code = code;
  o.hint = r->hint;
  o.reason = r->reason;
  o.phase = code == PUNCH_EXIT_OK ? "done"
            : r->phase == NAT_AGENT_PH_CONNECTED
                ? "quic"
                : nat_agent_phase_name(r->phase);
  if (code != PUNCH_EXIT_USAGE || r->opt.json)
    punch_report(&o, r->opt.pipe ? stderr : stdout);
  nat_agent_close(r->agent);
}

/* One line from stdin, read byte by byte so that what follows it stays
 * for --pipe. */
static int read_line(char *buf, size_t cap) {
  size_t n = 0;
  char ch;
  for (;;) {
    ssize_t k = read(STDIN_FILENO, &ch, 1);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0 || ch == '\n')
      break;
    if (n + 1 < cap)
      buf[n++] = ch;
  }
  buf[n] = '\0';
  return n > 0 ? 0 : -1;
}

/* Ticket mode: our ticket out, the peer's in (stdin). */
static void ticket_exchange(punch_run *r, nat_agent *a, const char *blob) {
  char text[NAT_AGENT_BLOB_MAX];
  FILE *out = r->opt.pipe ? stderr : stdout;
  fprintf(out, "%s\n", blob);
  fflush(out);
  if (read_line(text, sizeof text) != 0) {
    finish(r, PUNCH_EXIT_USAGE,
           "no peer ticket on stdin: paste the peer's ticket line");
    return;
  }
  (void)nat_agent_set_peer_blob(a, text, strlen(text)); /* or FAILED */
}

static void on_event(nat_agent *a, void *arg, const nat_agent_event *ev) {
  punch_run *r = arg;
  r->phase = ev->phase;
  switch (ev->type) {
  case NAT_AGENT_EV_WARNING:
    fprintf(stderr, "punch: %s\n", ev->text);
    break;
  case NAT_AGENT_EV_BLOB:
    if (r->opt.ticket_mode)
      ticket_exchange(r, a, ev->text);
    break;
  case NAT_AGENT_EV_CONNECTED:
    /* The accepting side waits for the client's close: the client is
     * "connected" only once our HANDSHAKE_DONE reached it. */
    if (ev->controlling && !r->opt.pipe)
      finish(r, PUNCH_EXIT_OK, NULL);
    break;
  case NAT_AGENT_EV_CONN_CLOSED: /* without --pipe */
  case NAT_AGENT_EV_PIPE_DONE:
    finish(r, PUNCH_EXIT_OK, NULL);
    break;
  case NAT_AGENT_EV_FAILED:
    r->hint = ev->hint;
    finish(r,
           ev->error == NAT_ETICKET || ev->error == NAT_EBADFAMILY
               ? PUNCH_EXIT_USAGE
           : ev->local ? PUNCH_EXIT_ENV
                       : PUNCH_EXIT_FAIL,
           "%s", ev->text);
    break;
  case NAT_AGENT_EV_CLOSED:
    r->agent = NULL;
    break;
  default:
    break;
  }
}

/* The agent's settings from the options; a usage error names what was
 * wrong. @return 0 or an exit status. */
static int start(punch_run *r, uint8_t *pin) {
  const char *cmd = r->opt.ticket_mode ? "punch ticket" : "punch connect";
  nat_agent_config cfg;
  char diag[320];
  nat_rdv_keys k;
  int rc;
  if (r->opt.rdv_pin != NULL && nat_quic_pin_parse(pin, r->opt.rdv_pin) != 0)
    return nat_cli_usage_error(cmd,
                               "bad --rendezvous-pin '%s': expected "
                               "sha256/BASE64 or 64 hex digits",
                               r->opt.rdv_pin);
  if (r->opt.room != NULL && nat_rdv_keys_derive(&k, r->opt.room) != 0)
    return nat_cli_usage_error(cmd,
                               "bad --room '%s': expected 8..128 characters "
                               "(e.g. k3v9q-7xm2d)",
                               r->opt.room);
  memset(&cfg, 0, sizeof cfg);
  cfg.rendezvous = r->opt.rdv;
  cfg.room = r->opt.room;
  cfg.rendezvous_pin = r->opt.rdv_pin != NULL ? pin : NULL;
  cfg.stun = r->opt.stun;
  cfg.rendezvous_label = "--rendezvous";
  cfg.stun_label = "--stun";
  cfg.family = r->opt.family;
  cfg.port = r->opt.listen_port;
  cfg.allow_loopback = r->opt.allow_loopback;
  cfg.timeout = (nat_tstamp)r->opt.timeout_s * NAT_SECONDS;
  cfg.pipe = r->opt.pipe;
  cfg.pipe_in = STDIN_FILENO;
  cfg.pipe_out = STDOUT_FILENO;
  rc = nat_agent_new(&r->agent, &r->loop, &cfg, on_event, r, diag, sizeof diag);
  if (rc == NAT_EBADADDR || rc == NAT_EBADFAMILY || rc == NAT_EINVAL)
    return nat_cli_usage_error(cmd, "%s", diag);
  if (rc != 0) {
    r->agent = NULL;
    fprintf(stderr, "%s: cannot start: %s\n", cmd, nat_strerror(rc));
    return PUNCH_EXIT_ENV;
  }
  return 0;
}

static int run_cmd(int argc, char **argv, bool ticket_mode) {
  static punch_run run, *r = &run; /* large: not on the stack */
  uint8_t pin[NAT_QUIC_PIN_LEN];
  int rc;
  memset(r, 0, sizeof *r);
  r->opt.ticket_mode = ticket_mode;
  r->info.local_mapping = r->info.remote_mapping = -1;
  rc = parse_opts(&r->opt, argc, argv);
  if (rc != 0)
    return rc < 0 ? PUNCH_EXIT_OK : rc;
  if (uv_loop_init(&r->loop) != 0) {
    fprintf(stderr, "punch: cannot create an event loop\n");
    return PUNCH_EXIT_ENV;
  }
  if ((rc = start(r, pin)) != 0) {
    (void)uv_loop_close(&r->loop);
    return rc;
  }
  while (uv_run(&r->loop, UV_RUN_ONCE) != 0)
    if (r->finished && r->agent == NULL && r->opt.pipe) {
      fflush(NULL); /* what is left is a blocked stdin read: exit() waits */
      _exit(r->exit_code);
    }
  fflush(stdout);
  (void)uv_loop_close(&r->loop);
  return r->exit_code;
}

int punch_connect(int argc, char **argv) {
  return run_cmd(argc, argv, false);
}

int punch_ticket(int argc, char **argv) {
  return run_cmd(argc, argv, true);
}
