/* punch connect / punch ticket -- the front end of libnat's agent
 * (nat/agent.h): options, the ticket exchange on stdin (ticket mode; the
 * agent talks to the rendezvous itself), and the end of a run: the report
 * (report.c), after the agent's pipe with --pipe. See punch(1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
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
    "  -j, --json                  the report as JSON (schema_version 3)\n"
    "  -p, --pipe                  after connecting, stdin to the peer and\n"
    "                              the peer's bytes to stdout (report on\n"
    "                              stderr)\n"
    "  -L, --allow-loopback        accept loopback/link-local candidates\n"
    "  -l, --listen-port N         bind this UDP port (default: any)\n"
    "  -4, -6                      IPv4 or IPv6 only\n"
    "\n"
    "The birthday spray (when one peer's NAT maps per destination with\n"
    "unpredictable ports and the other's does not; birthday(1)):\n"
    "  -B, --no-birthday           never spray (punch only)\n"
    "      --sockets K             sockets as the acceptor, 1..1024 (256)\n"
    "      --probes M              probes as the dialer, 1..16384 (2048)\n"
    "      --rate PPS              probes per second, 1..1000 (250)\n"
    "      --range LO-HI           the ports our NAT draws from, when known\n"
    "                              (default: estimated from our probes)\n"
    "      --role acceptor|dialer  force our role (ticket mode without an\n"
    "                              RFC 5780 --stun server has no verdicts;\n"
    "                              both peers must agree)\n"
    "      --ttl N                 the acceptor's keepalives' TTL, 1..64 (2:\n"
    "                              past a NAT one router away)\n"
    "      --allow-both-hard       spray even when both NATs map per\n"
    "                              destination (both peers must say so;\n"
    "                              same caps; see the estimate first)\n"
    "\n"
    "Port mapping (the gateway forwards a port to our socket: PCP, NAT-PMP\n"
    "or UPnP IGD, asked by default and deleted at every exit):\n"
    "  -M, --no-portmap            do not ask the gateway for a mapping\n"
    "\n"
    "HOST is a name or an IP address ([IPv6]:PORT in brackets).\n"
    "\n"
    "Exit status: 0 connected, 1 connection failed (or a name did not\n"
    "resolve), 2 usage error or malformed ticket, 3 environment error,\n"
    "129/130/143 stopped by SIGHUP/SIGINT/SIGTERM (the mapping deleted).\n";

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
      {"no-birthday", no_argument, NULL, 'B'},
      {"sockets", required_argument, NULL, 1001},
      {"probes", required_argument, NULL, 1002},
      {"rate", required_argument, NULL, 1003},
      {"range", required_argument, NULL, 1004},
      {"role", required_argument, NULL, 1005},
      {"allow-both-hard", no_argument, NULL, 1006},
      {"ttl", required_argument, NULL, 1007},
      {"no-portmap", no_argument, NULL, 'M'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  char cmd[32];
  unsigned v, v2;
  int ch;
  snprintf(cmd, sizeof cmd, "%s %s", o->prog,
           o->ticket_mode ? "ticket" : "connect");
  o->timeout_s = 10;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, ":r:c:P:s:t:jpLl:46hBM", longs, NULL)) !=
         -1) {
    switch (ch) {
    case 'B':
      if (o->spray_only)
        return nat_cli_usage_error(cmd, "%s",
                                   "--no-birthday: the birthday tool only "
                                   "sprays (use punch)");
      o->bday.disabled = true;
      break;
    case 1001:
      if (nat_cli_uint(optarg, 1, NAT_BDAY_SOCKETS_MAX, &v) != 0)
        return nat_cli_usage_error(cmd, "bad --sockets '%s': expected 1..%d",
                                   optarg, NAT_BDAY_SOCKETS_MAX);
      o->bday.sockets = v;
      break;
    case 1002:
      if (nat_cli_uint(optarg, 1, NAT_BDAY_PROBES_MAX, &v) != 0)
        return nat_cli_usage_error(cmd, "bad --probes '%s': expected 1..%d",
                                   optarg, NAT_BDAY_PROBES_MAX);
      o->bday.probes = v;
      break;
    case 1003:
      if (nat_cli_uint(optarg, 1, NAT_BDAY_RATE_MAX, &v) != 0)
        return nat_cli_usage_error(
            cmd, "bad --rate '%s': expected 1..%d probes per second", optarg,
            NAT_BDAY_RATE_MAX);
      o->bday.rate = v;
      break;
    case 1004:
      if (nat_cli_range(optarg, 1, &v, &v2) != 0)
        return nat_cli_usage_error(
            cmd, "bad --range '%s': expected LO-HI with 1 <= LO <= HI <= 65535",
            optarg);
      o->bday.lo = (uint16_t)v;
      o->bday.hi = (uint16_t)v2;
      break;
    case 1005:
      if (strcmp(optarg, "acceptor") == 0)
        o->bday.role = NAT_BDAY_ACCEPTOR;
      else if (strcmp(optarg, "dialer") == 0)
        o->bday.role = NAT_BDAY_DIALER;
      else if (strcmp(optarg, "auto") == 0)
        o->bday.role = NAT_BDAY_NONE;
      else
        return nat_cli_usage_error(
            cmd, "bad --role '%s': expected acceptor, dialer or auto", optarg);
      break;
    case 1007:
      if (nat_cli_uint(optarg, 1, 64, &v) != 0)
        return nat_cli_usage_error(cmd, "bad --ttl '%s': expected 1..64",
                                   optarg);
      o->bday.ttl = (uint8_t)v;
      break;
    case 1006:
      o->bday.allow_both_hard = true;
      break;
    case 'M':
      o->no_portmap = true;
      break;
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
      fputs(o->usage != NULL ? o->usage : connect_usage, stdout);
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
  if (o->bday.disabled && o->bday.role != NAT_BDAY_NONE)
    return nat_cli_usage_error(cmd, "%s",
                               "--no-birthday and --role contradict");
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
  uv_signal_t sig[3]; /* SIGINT, SIGTERM, SIGHUP */
  bool sig_on;
  nat_agent *agent;
  nat_agent_info info; /* at the end */
  bool finished;
  int exit_code, hint, phase;
  bool report_due; /* printed when the agent has closed */
  char reason[320];
} punch_run;

static void finish(punch_run *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The report, once the agent has closed (@p a: in its CLOSED event, or
 * NULL when there was none): the mapping's deletion is then known. */
static void report_now(punch_run *r, const nat_agent *a) {
  punch_outcome o;
  int code = r->exit_code;
  r->report_due = false;
  if (a != NULL) {
    nat_agent_info now;
    nat_agent_info_get(a, &now);
    r->info.pm_deleted = now.pm_deleted;
    r->info.pm_mapping = now.pm_mapping;
    r->info.pm_probe = now.pm_probe;
  }
  memset(&o, 0, sizeof o);
  o.opt = &r->opt;
  o.agent = a;
  o.info = r->info;
  o.exit_code = code;
  o.hint = r->hint;
  o.reason = r->reason;
  o.phase = code == PUNCH_EXIT_OK ? "done"
            : code > 128          ? "stopped"
            : r->phase == NAT_AGENT_PH_CONNECTED
                ? "quic"
                : nat_agent_phase_name(r->phase);
  if (code != PUNCH_EXIT_USAGE || r->opt.json)
    punch_report(&o, r->opt.pipe ? stderr : stdout);
}

/* The end of a run: the reason on stderr, then the agent closes (the
 * gateway's mapping deleted, its sockets, the QUIC connection), then the
 * report. */
static void finish(punch_run *r, int code, const char *fmt, ...) {
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
  if (r->opt.progress)
    fputs("\r\033[K", stderr); /* the progress line goes */
  if (code != PUNCH_EXIT_OK && (!r->opt.json || code == PUNCH_EXIT_USAGE))
    fprintf(stderr, "%s: %s\n", r->opt.prog, r->reason);
  if (r->agent == NULL) {
    report_now(r, NULL);
    return;
  }
  nat_agent_info_get(r->agent, &r->info);
  r->report_due = true;
  nat_agent_close(r->agent); /* the report comes with NAT_AGENT_EV_CLOSED */
}

/* ------------------------------------------------------------ signals */

static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};
static volatile sig_atomic_t read_stopped;   /* a signal during read_line */
static volatile sig_atomic_t read_wake = -1; /* read_line's self-pipe */

static void on_read_signal(int signum) {
  int saved = errno;
  read_stopped = signum;
  if (read_wake >= 0) /* wakes read_line's poll(), whichever thread runs */
    (void)!write(read_wake, "", 1);
  errno = saved;
}

/* While the ticket is read (a blocking read on the loop's thread), a stop
 * signal interrupts the read (no SA_RESTART) and is then handled as on the
 * loop: the agent closes, deleting the gateway's mapping. */
static void read_signals(bool on) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on ? on_read_signal : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; i++)
    (void)sigaction(stop_signals[i], &sa, NULL);
}

static void on_signal(uv_signal_t *h, int signum);

/* A stop signal ends the run as a failure would: the report, then the
 * agent closes (the gateway's mapping is deleted, the QUIC connection
 * closed). A second one exits at once. */
static void signals_start(punch_run *r) {
  for (int i = 0; i < 3; i++) {
    uv_signal_init(&r->loop, &r->sig[i]);
    r->sig[i].data = r;
    uv_signal_start(&r->sig[i], on_signal, stop_signals[i]);
  }
  r->sig_on = true;
}

/* Stop or start the handles again (the ticket's read takes the signals
 * meanwhile: read_signals). */
static void signals_pause(punch_run *r, bool pause) {
  if (!r->sig_on)
    return;
  for (int i = 0; i < 3; i++)
    if (pause)
      uv_signal_stop(&r->sig[i]);
    else
      uv_signal_start(&r->sig[i], on_signal, stop_signals[i]);
}

static void signals_close(punch_run *r) {
  if (!r->sig_on)
    return;
  r->sig_on = false;
  for (int i = 0; i < 3; i++)
    uv_close((uv_handle_t *)&r->sig[i], NULL);
}

static const char *signal_name(int signum) {
  return signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM" : "SIGHUP";
}

static void stopped(punch_run *r, int signum) {
  if (r->finished) {
    fflush(NULL);
    _exit(128 + signum);
  }
  finish(r, 128 + signum, "stopped by %s", signal_name(signum));
  if (r->agent == NULL)
    signals_close(r);
}

static void on_signal(uv_signal_t *h, int signum) {
  stopped(h->data, signum);
}

/* What read_line() found besides a line (0) or a stop signal (> 0). */
enum {
  LINE_EOF = -1,     /* end of input before any byte */
  LINE_LONG = -2,    /* no newline within the buffer */
  LINE_NUL = -3,     /* a NUL byte */
  LINE_TIMEOUT = -4, /* nothing complete before the deadline */
  LINE_ERROR = -5    /* read() or poll() failed: errno */
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line from stdin before @p deadline (mono_ms()), read byte by byte so
 * that what follows it stays for --pipe: poll() bounds the wait, and a
 * stop signal wakes it through a self-pipe. Reading stops at the first
 * byte that cannot belong to a line of at most @p cap - 1 bytes (a NUL,
 * or one byte too many): `< /dev/zero` ends at once. @p *col: the column
 * of a NUL. @return 0, a stop signal's number, or a LINE_* code. */
static int read_line(char *buf, size_t cap, int64_t deadline, size_t *col) {
  size_t n = 0;
  int wake[2], rc = LINE_EOF;
  char ch;
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
    return LINE_ERROR;
  read_wake = wake[1];
  for (;;) {
    struct pollfd pfd[2] = {{STDIN_FILENO, POLLIN, 0}, {wake[0], POLLIN, 0}};
    int64_t left = deadline - mono_ms();
    ssize_t k;
    if (read_stopped != 0) {
      rc = read_stopped;
      break;
    }
    if (left <= 0) {
      rc = LINE_TIMEOUT;
      break;
    }
    k = poll(pfd, 2, left > 60000 ? 60000 : (int)left);
    if (k < 0 && errno != EINTR) {
      rc = LINE_ERROR;
      break;
    }
    if (k <= 0 || pfd[0].revents == 0)
      continue; /* a signal (checked above) or the deadline */
    k = read(STDIN_FILENO, &ch, 1);
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (k < 0) {
      rc = LINE_ERROR;
      break;
    }
    if (k == 0 || ch == '\n') {
      rc = n > 0 ? 0 : LINE_EOF;
      break;
    }
    if (ch == '\0') {
      *col = n + 1;
      rc = LINE_NUL;
      break;
    }
    if (n + 1 >= cap) {
      rc = LINE_LONG;
      break;
    }
    buf[n++] = ch;
  }
  read_wake = -1;
  int saved = errno;
  close(wake[0]);
  close(wake[1]);
  errno = saved;
  buf[n] = '\0';
  return rc;
}

/* Ticket mode: our ticket out, the peer's in (stdin), within --timeout. */
static void ticket_exchange(punch_run *r, nat_agent *a, const char *blob) {
  char text[NAT_AGENT_BLOB_MAX];
  FILE *out = r->opt.pipe ? stderr : stdout;
  size_t col = 0;
  int rc;
  /* the read below takes the stop signals, from before the ticket is out:
   * one sent as soon as the ticket is seen must interrupt the wait (it
   * used to fall between the loop's handlers and the read's, and was
   * lost) */
  signals_pause(r, true);
  read_signals(true);
  fprintf(out, "%s\n", blob);
  fflush(out);
  rc = read_line(text, sizeof text,
                 mono_ms() + (int64_t)r->opt.timeout_s * 1000, &col);
  read_signals(false);
  signals_pause(r, false);
  switch (rc) {
  case 0:
    (void)nat_agent_set_peer_blob(a, text, strlen(text)); /* or FAILED */
    return;
  case LINE_EOF:
    finish(r, PUNCH_EXIT_USAGE,
           "no peer ticket on stdin: paste the peer's ticket line");
    return;
  case LINE_LONG:
    finish(r, PUNCH_EXIT_USAGE,
           "the peer's ticket line is longer than %zu bytes: not a ticket",
           sizeof text - 1);
    return;
  case LINE_NUL:
    finish(r, PUNCH_EXIT_USAGE,
           "the peer's ticket line holds a NUL byte (column %zu): not a "
           "ticket",
           col);
    return;
  case LINE_TIMEOUT:
    finish(r, PUNCH_EXIT_FAIL, "no peer ticket on stdin within --timeout %u s",
           r->opt.timeout_s);
    return;
  case LINE_ERROR:
    finish(r, PUNCH_EXIT_ENV, "cannot read the peer's ticket from stdin: %s",
           strerror(errno));
    return;
  default:
    stopped(r, rc);
    return;
  }
}

/* On a tty: probes sent, rate, the odds so far, time left. */
static void progress(punch_run *r) {
  nat_agent_info *i = &r->info;
  nat_tstamp now = nat_udp_now(), el;
  double secs, left;
  nat_agent_info_get(r->agent, i);
  el = i->bstats.t_start != 0 && now > i->bstats.t_start
           ? now - i->bstats.t_start
           : 0;
  secs = (double)el / (double)NAT_SECONDS;
  left = (double)i->bday.t_expected / (double)NAT_SECONDS - secs;
  if (i->bday.role == NAT_BDAY_DIALER)
    fprintf(stderr,
            "\r\033[Kbirthday: %u of %u probes, %.0f/s, %.1f %% so far, "
            "%.1f s left",
            i->bstats.probes_sent, i->bday.probes,
            secs > 0 ? i->bstats.probes_sent / secs : 0.0,
            100.0 * i->bstats.p_now, left > 0 ? left : 0.0);
  else
    fprintf(stderr,
            "\r\033[Kbirthday: %u sockets waiting, the peer's probes "
            "%.1f %% likely to have hit by now, %.1f s left",
            i->bstats.sockets_open, 100.0 * i->bstats.p_now,
            left > 0 ? left : 0.0);
}

static void on_event(nat_agent *a, void *arg, const nat_agent_event *ev) {
  punch_run *r = arg;
  char x[NAT_ADDR_STRLEN];
  r->phase = ev->phase;
  switch (ev->type) {
  case NAT_AGENT_EV_WARNING:
    fprintf(stderr, "%s: %s\n", r->opt.prog, ev->text);
    break;
  case NAT_AGENT_EV_BIRTHDAY_PLAN:
    if (!r->opt.json)
      fprintf(stderr, "%s: %s\n", r->opt.prog, ev->text);
    break;
  case NAT_AGENT_EV_BIRTHDAY_PROGRESS:
    if (r->opt.progress)
      progress(r);
    break;
  case NAT_AGENT_EV_BIRTHDAY_HIT:
    if (r->opt.progress)
      fputs("\r\033[K", stderr);
    if (!r->opt.json) {
      nat_agent_info_get(a, &r->info);
      if (r->info.bstats.hit_probe != 0)
        fprintf(stderr, "%s: birthday: hit %s at probe %u\n", r->opt.prog,
                nat_addr_format(&ev->pair->remote.addr, x, sizeof x),
                r->info.bstats.hit_probe);
      else
        fprintf(stderr, "%s: birthday: hit from %s\n", r->opt.prog,
                nat_addr_format(&ev->pair->remote.addr, x, sizeof x));
    }
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
    if (r->report_due)
      report_now(r, a);
    r->agent = NULL;
    signals_close(r);
    break;
  case NAT_AGENT_EV_PORTMAP:
    punch_portmap_event(&r->opt, ev->portmap);
    break;
  default:
    break;
  }
}

/* The agent's settings from the options; a usage error names what was
 * wrong. @return 0 or an exit status. */
static int start(punch_run *r, uint8_t *pin) {
  char cmd[32];
  nat_agent_config cfg;
  char diag[320];
  nat_rdv_keys k;
  int rc;
  snprintf(cmd, sizeof cmd, "%s %s", r->opt.prog,
           r->opt.ticket_mode ? "ticket" : "connect");
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
  cfg.birthday = r->opt.bday;
  cfg.birthday.only = r->opt.spray_only;
  cfg.no_portmap = r->opt.no_portmap;
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

int punch_front(const char *prog, const char *usage, bool spray_only,
                bool ticket_mode, int argc, char **argv) {
  static punch_run run, *r = &run; /* large: not on the stack */
  uint8_t pin[NAT_QUIC_PIN_LEN];
  int rc;
  memset(r, 0, sizeof *r);
  r->opt.prog = prog;
  r->opt.usage = usage;
  r->opt.spray_only = spray_only;
  r->opt.ticket_mode = ticket_mode;
  r->info.local_mapping = r->info.remote_mapping = -1;
  rc = parse_opts(&r->opt, argc, argv);
  if (rc != 0)
    return rc < 0 ? PUNCH_EXIT_OK : rc;
  r->opt.progress = !r->opt.json && isatty(STDERR_FILENO);
  if (uv_loop_init(&r->loop) != 0) {
    fprintf(stderr, "%s: cannot create an event loop\n", prog);
    return PUNCH_EXIT_ENV;
  }
  signals_start(r);
  if ((rc = start(r, pin)) != 0) {
    signals_close(r);
    (void)uv_run(&r->loop, UV_RUN_DEFAULT);
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
  return punch_front("punch", NULL, false, false, argc, argv);
}

int punch_ticket(int argc, char **argv) {
  return punch_front("punch", NULL, false, true, argc, argv);
}
