/* punch_echo -- two peers behind NATs connect through libnat's agent
 * (nat/agent.h) and echo one line over a QUIC stream.
 *
 *   punch_echo [--stun HOST:PORT] LINE
 *       prints this peer's blob, reads the peer's blob from stdin
 *   punch_echo --rendezvous HOST:PORT --room CODE [--stun HOST:PORT] LINE
 *       exchanges the blobs through a rendezvous (punch serve)
 *
 * Run the same command on both peers. The QUIC client (the controlling
 * peer) sends LINE; the other peer sends back what it got; the client
 * prints "echo: LINE" and both exit 0. */
#include <stdio.h>
#include <string.h>

#include <nat/nat.h>

typedef struct echo {
  const char *line;
  char got[512];
  size_t ngot;
  bool ticket_mode;
  int rc;
} echo;

static void on_event(nat_agent *a, void *arg, const nat_agent_event *ev) {
  echo *e = arg;
  char peer[NAT_AGENT_BLOB_MAX];
  int64_t sid;
  switch (ev->type) {
  case NAT_AGENT_EV_BLOB: /* our blob: the peer needs it */
    if (!e->ticket_mode)
      break; /* the rendezvous carries it */
    printf("%s\n", ev->text);
    fflush(stdout);
    if (fgets(peer, sizeof peer, stdin) == NULL) {
      fprintf(stderr, "punch_echo: no peer blob on stdin\n");
      nat_agent_close(a);
      break;
    }
    peer[strcspn(peer, "\r\n")] = '\0';
    (void)nat_agent_set_peer_blob(a, peer, strlen(peer)); /* or FAILED */
    break;
  case NAT_AGENT_EV_CONNECTED: /* the client speaks first */
    if (ev->controlling &&
        (nat_quic_stream_open(ev->conn, &sid) != 0 ||
         nat_quic_stream_write(ev->conn, sid, (const uint8_t *)e->line,
                               strlen(e->line), true) < 0))
      nat_agent_close(a);
    break;
  case NAT_AGENT_EV_STREAM_DATA:
    if (!ev->controlling) { /* echo it back, FIN with FIN */
      (void)nat_quic_stream_write(ev->conn, ev->sid, ev->data, ev->len,
                                  ev->fin);
      break;
    }
    if (ev->len > sizeof e->got - 1 - e->ngot)
      break;
    memcpy(e->got + e->ngot, ev->data, ev->len);
    e->ngot += ev->len;
    if (ev->fin) {
      printf("echo: %.*s\n", (int)e->ngot, e->got);
      e->rc = 0;
      nat_agent_close(a); /* closes the connection too */
    }
    break;
  case NAT_AGENT_EV_CONN_CLOSED: /* the server: the client is done */
    e->rc = 0;
    nat_agent_close(a);
    break;
  case NAT_AGENT_EV_FAILED:
    fprintf(stderr, "punch_echo: %s\n", ev->text);
    nat_agent_close(a);
    break;
  default:
    break;
  }
}

int main(int argc, char **argv) {
  nat_agent_config cfg;
  echo e = {.rc = 1};
  uv_loop_t loop;
  nat_agent *a;
  char diag[256] = "";
  int i, rc;
  memset(&cfg, 0, sizeof cfg);
  for (i = 1; i + 2 < argc; i += 2) {
    if (strcmp(argv[i], "--rendezvous") == 0)
      cfg.rendezvous = argv[i + 1];
    else if (strcmp(argv[i], "--room") == 0)
      cfg.room = argv[i + 1];
    else if (strcmp(argv[i], "--stun") == 0)
      cfg.stun = argv[i + 1];
    else
      break;
  }
  if (i != argc - 1) {
    fprintf(stderr, "usage: punch_echo [--rendezvous HOST:PORT --room CODE]"
                    " [--stun HOST:PORT] LINE\n");
    return 2;
  }
  e.line = argv[i];
  e.ticket_mode = cfg.rendezvous == NULL;
  cfg.timeout = 10 * NAT_SECONDS;
  uv_loop_init(&loop);
  rc = nat_agent_new(&a, &loop, &cfg, on_event, &e, diag, sizeof diag);
  if (rc != 0) {
    fprintf(stderr, "punch_echo: %s\n", diag[0] ? diag : nat_strerror(rc));
    return 2;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? e.rc : 3;
}
