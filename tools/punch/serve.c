/* punch serve -- the rendezvous: one UDP port answering STUN Binding
 * requests and pairing peers by room code over QUIC (nat_rdv_server).
 * One log line per event on stderr, text or JSON. See punch(1) and
 * docs/rendezvous.md. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include <nat/addr.h>
#include <nat/error.h>
#include <nat/quic.h>
#include <nat/rdv.h>

#include "punch.h"
#include "../common/cli.h"

typedef struct serve_opts {
  nat_addr listen;
  bool has_listen, json;
  unsigned ttl_s, max_rooms;
  const char *cert, *key;
} serve_opts;

typedef struct serve_ctx {
  serve_opts opt;
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  nat_rdv_server *srv;
  int stop_signal;
} serve_ctx;

static const char serve_usage[] =
    "usage: punch serve --listen ADDR:PORT [--room-ttl SEC] [--max-rooms N]\n"
    "                   [--json-log] [--cert FILE --key FILE]\n"
    "\n"
    "Runs a rendezvous on one UDP port: answers STUN Binding requests and\n"
    "accepts QUIC connections (ALPN natpunch-rdv) from peers; tells each\n"
    "peer the address it sees, pairs the first two peers with the same room\n"
    "ID and forwards each one's sealed blob to the other. It never learns\n"
    "the room code and cannot read or forge the blobs.\n"
    "\n"
    "  -l, --listen ADDR:PORT  address and UDP port to serve on (required;\n"
    "                          [IPv6]:PORT for IPv6)\n"
    "  -t, --room-ttl SEC      a room's lifetime from its first peer,\n"
    "                          1..3600 (default 60)\n"
    "  -m, --max-rooms N       rooms at once, 1..65536 (default 1024);\n"
    "                          connections at once: 2 * N\n"
    "  -j, --json-log          one JSON object per log line\n"
    "      --cert FILE, --key FILE\n"
    "                          a PEM certificate and key to serve with, so\n"
    "                          that clients can pin it (default: a fresh\n"
    "                          identity per run; its pin is logged)\n"
    "  -h, --help              this help\n"
    "\n"
    "Exit status: 0 stopped by SIGINT or SIGTERM, 2 usage error, 3 cannot\n"
    "serve (address in use, unreadable certificate, ...).\n";

static int parse_opt(serve_opts *o, int ch, const char *arg) {
  switch (ch) {
  case 'l':
    if (nat_addr_parse(&o->listen, arg, 0) != 0 || o->listen.port == 0)
      return nat_cli_usage_error(
          "punch serve",
          "bad --listen '%s': expected IP:PORT with PORT in "
          "1..65535, e.g. 0.0.0.0:3478 or [::]:3478",
          arg);
    o->has_listen = true;
    return 0;
  case 't':
    if (nat_cli_uint(arg, 1, 3600, &o->ttl_s) != 0)
      return nat_cli_usage_error(
          "punch serve",
          "bad --room-ttl '%s': expected seconds, an integer "
          "in 1..3600",
          arg);
    return 0;
  case 'm':
    if (nat_cli_uint(arg, 1, 65536, &o->max_rooms) != 0)
      return nat_cli_usage_error("punch serve",
                                 "bad --max-rooms '%s': expected an integer in "
                                 "1..65536",
                                 arg);
    return 0;
  case 'j':
    o->json = true;
    return 0;
  case 'c':
    o->cert = arg;
    return 0;
  case 'k':
    o->key = arg;
    return 0;
  default:
    return PUNCH_EXIT_USAGE;
  }
}

static int parse_args(serve_opts *o, int argc, char **argv, bool *help) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"room-ttl", required_argument, NULL, 't'},
      {"max-rooms", required_argument, NULL, 'm'},
      {"json-log", no_argument, NULL, 'j'},
      {"cert", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int ch, rc;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, ":l:t:m:jh", longopts, NULL)) != -1) {
    if (ch == 'h') {
      *help = true;
      return 0;
    }
    if (ch == '?')
      return nat_cli_usage_error("punch serve", "unknown option '%s'",
                                 argv[optind - 1]);
    if (ch == ':')
      return nat_cli_usage_error("punch serve", "option '%s' needs a value",
                                 argv[optind - 1]);
    if ((rc = parse_opt(o, ch, optarg)) != 0)
      return rc;
  }
  if (optind < argc)
    return nat_cli_usage_error("punch serve", "unexpected argument '%s'",
                               argv[optind]);
  if (!o->has_listen)
    return nat_cli_usage_error("punch serve", "%s",
                               "missing --listen ADDR:PORT");
  if ((o->cert == NULL) != (o->key == NULL))
    return nat_cli_usage_error("punch serve", "%s",
                               "--cert and --key go together");
  return 0;
}

/* ------------------------------------------------------------------ log */

static void log_json(const nat_rdv_action *a, const char *room,
                     const char *peer) {
  struct timespec ts;
  json_t *o = json_object();
  char *s;
  clock_gettime(CLOCK_REALTIME, &ts);
  json_object_set_new(o, "time",
                      json_real((double)ts.tv_sec + (double)ts.tv_nsec / 1e9));
  json_object_set_new(o, "event",
                      json_string(nat_rdv_event_name((int)a->event)));
  if (a->has_room) {
    json_object_set_new(o, "room", json_string(room));
    json_object_set_new(o, "peers", json_integer(a->count));
  }
  if (a->addr.family != NAT_AF_NONE)
    json_object_set_new(o, "peer", json_string(peer));
  if (a->code != 0) {
    json_object_set_new(o, "code", json_integer(a->code));
    json_object_set_new(
        o, "reason",
        json_string(a->text != NULL ? a->text : nat_rdv_strerror(a->code)));
  }
  s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (s != NULL)
    fprintf(stderr, "%s\n", s);
  free(s);
  json_decref(o);
}

static void on_log(void *arg, const nat_rdv_action *a) {
  serve_ctx *x = arg;
  char room[9] = "", peer[NAT_ADDR_STRLEN], line[512];
  if (!x->opt.json) {
    if (nat_rdv_action_format(a, line, sizeof line) != NAT_EINVAL)
      fprintf(stderr, "%s\n", line);
    return;
  }
  if (a->has_room)
    for (int i = 0; i < 4; i++)
      snprintf(room + 2 * i, 3, "%02x", a->room_id[i]);
  nat_addr_format(&a->addr, peer, sizeof peer);
  log_json(a, room, peer);
}

/* ---------------------------------------------------------------- serve */

static void on_srv_closed(nat_rdv_server *s, void *arg) {
  serve_ctx *x = arg;
  (void)s;
  uv_close((uv_handle_t *)&x->sigint, NULL);
  uv_close((uv_handle_t *)&x->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  serve_ctx *x = h->data;
  if (x->stop_signal != 0)
    return;
  x->stop_signal = signum;
  nat_rdv_server_close(x->srv, on_srv_closed, x);
}

static void log_start(serve_ctx *x, const nat_rdv_server_config *sc) {
  uint8_t pin[NAT_QUIC_PIN_LEN];
  char addr[NAT_ADDR_STRLEN], b64[NAT_QUIC_PIN_B64_LEN];
  nat_addr local;
  nat_rdv_server_local_addr(x->srv, &local);
  nat_rdv_server_pin(x->srv, pin);
  nat_quic_pin_to_base64(pin, b64, sizeof b64);
  nat_addr_format(&local, addr, sizeof addr);
  if (x->opt.json) {
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "event", "listening", "addr",
                  addr, "alpn", NAT_RDV_ALPN, "pin", b64, "room_ttl",
                  (json_int_t)(sc->rooms.room_ttl / NAT_SECONDS), "max_rooms",
                  (json_int_t)sc->rooms.max_rooms);
    char *s =
        o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL)
      fprintf(stderr, "%s\n", s);
    free(s);
    json_decref(o);
  } else {
    fprintf(stderr,
            "punch serve: listening on %s (STUN + QUIC ALPN %s), pin "
            "sha256/%s, room ttl %llu s, max rooms %zu\n",
            addr, NAT_RDV_ALPN, b64,
            (unsigned long long)(sc->rooms.room_ttl / NAT_SECONDS),
            sc->rooms.max_rooms);
  }
}

static int serve_run(serve_ctx *x) {
  nat_rdv_server_config sc;
  nat_quic_identity *id = NULL;
  char addr[NAT_ADDR_STRLEN];
  int rc;
  memset(&sc, 0, sizeof sc);
  sc.bind = x->opt.listen;
  sc.rooms.room_ttl =
      (nat_tstamp)(x->opt.ttl_s ? x->opt.ttl_s : 60) * NAT_SECONDS;
  sc.rooms.max_rooms = x->opt.max_rooms ? x->opt.max_rooms : 1024;
  sc.software = "punch-rendezvous";
  sc.on_log = on_log;
  sc.log_arg = x;
  if (x->opt.cert != NULL) {
    rc = nat_quic_identity_load(&id, x->opt.cert, x->opt.key);
    if (rc != 0) {
      fprintf(stderr, "punch serve: cannot load --cert %s / --key %s: %s\n",
              x->opt.cert, x->opt.key, nat_strerror(rc));
      return PUNCH_EXIT_ENV;
    }
    sc.identity = id;
  }
  rc = nat_rdv_server_new(&x->srv, &x->loop, &sc);
  nat_quic_identity_free(id);
  if (rc != 0) {
    fprintf(stderr, "punch serve: cannot serve on %s: %s\n",
            nat_addr_format(&x->opt.listen, addr, sizeof addr),
            nat_strerror(rc));
    uv_run(&x->loop, UV_RUN_NOWAIT);
    return PUNCH_EXIT_ENV;
  }
  log_start(x, &sc);
  uv_signal_init(&x->loop, &x->sigint);
  uv_signal_init(&x->loop, &x->sigterm);
  x->sigint.data = x->sigterm.data = x;
  uv_signal_start(&x->sigint, on_signal, SIGINT);
  uv_signal_start(&x->sigterm, on_signal, SIGTERM);
  uv_run(&x->loop, UV_RUN_DEFAULT);
  if (x->opt.json)
    fprintf(stderr, "{\"event\":\"stopped\",\"signal\":\"%s\"}\n",
            x->stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
  else
    fprintf(stderr, "punch serve: stopped (%s)\n",
            x->stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
  return PUNCH_EXIT_OK;
}

int punch_serve(int argc, char **argv) {
  serve_ctx x;
  bool help = false;
  int rc;
  memset(&x, 0, sizeof x);
  rc = parse_args(&x.opt, argc, argv, &help);
  if (rc != 0)
    return rc;
  if (help) {
    fputs(serve_usage, stdout);
    return PUNCH_EXIT_OK;
  }
  if (uv_loop_init(&x.loop) != 0) {
    fprintf(stderr, "punch serve: cannot make an event loop\n");
    return PUNCH_EXIT_ENV;
  }
  rc = serve_run(&x);
  uv_run(&x.loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&x.loop);
  return rc;
}
