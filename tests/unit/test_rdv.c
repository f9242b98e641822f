/* The rendezvous end to end on loopback (port 0), server and clients in one
 * loop: two peers with the same code exchange blobs and each learns its own
 * SEEN address (its socket's address on loopback) and the other's blob; a
 * pinned server; a wrong server pin; different codes land in different
 * rooms and time out; a forger who knows the room ID and join secret but
 * not K is caught by the honest peer; a third peer is refused; garbage on a
 * QUIC stream and junk datagrams are refused while the server keeps
 * serving; STUN Binding requests are answered on the same port. No sleeps:
 * the loop runs until callbacks fire, a guard timer turns a hang into a
 * failure. */
#include "quic_fixture.h"
#include "test_slow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nat/error.h"
#include "nat/quic.h"
#include "nat/rdv.h"
#include "nat/udp.h"

#define MAXCLI 6

typedef struct fx fx;

typedef struct cli {
  fx *f;
  nat_udp *udp;
  nat_addr local;
  nat_rdv_client *c;
  int done, status, seen_calls;
  nat_addr seen;
  uint8_t peer[NAT_RDV_MAX_BLOB];
  size_t peer_len;
  int peer_calls;
  nat_rdv_client_info info;
} cli;

struct fx {
  qfx q; /* the loop and its guard (no identities, no endpoints) */
  nat_rdv_server *srv;
  nat_addr srv_addr;
  uint8_t srv_pin[NAT_QUIC_PIN_LEN];
  cli cl[MAXCLI];
  int ncl, done, closed, udp_closed, srv_closed;
  int ev[16];     /* server log events by kind */
  int ev_refused; /* REFUSED / MALFORMED codes seen, or-ed as bits */
};

static void on_log(void *arg, const nat_rdv_action *a) {
  fx *f = arg;
  assert_int_equal(a->kind, NAT_RDV_ACT_LOG);
  assert_true(a->event >= 1 && a->event < 16);
  f->ev[a->event]++;
  if (a->event == NAT_RDV_EV_REFUSED || a->event == NAT_RDV_EV_MALFORMED)
    f->ev_refused |= 1 << a->code;
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  nat_rdv_server_config sc;
  assert_non_null(f);
  qfx_init(&f->q, 10000);
  memset(&sc, 0, sizeof sc);
  assert_int_equal(nat_addr_parse(&sc.bind, "127.0.0.1:0", 0), 0);
  sc.on_log = on_log;
  sc.log_arg = f;
  sc.software = "libnat-test-rdv";
  assert_int_equal(nat_rdv_server_new(&f->srv, &f->q.loop, &sc), 0);
  assert_int_equal(nat_rdv_server_local_addr(f->srv, &f->srv_addr), 0);
  assert_int_not_equal(f->srv_addr.port, 0);
  nat_rdv_server_pin(f->srv, f->srv_pin);
  *state = f;
  return 0;
}

static void on_cli_closed(nat_rdv_client *c, void *arg) {
  cli *k = arg;
  (void)c;
  k->c = NULL;
  k->f->closed++;
}

static void on_udp_closed(nat_udp *u, void *arg) {
  (void)u;
  ((fx *)arg)->udp_closed++;
}

static void on_srv_closed(nat_rdv_server *s, void *arg) {
  (void)s;
  ((fx *)arg)->srv_closed++;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  int n = 0;
  for (int i = 0; i < f->ncl; i++)
    if (f->cl[i].c) {
      nat_rdv_client_close(f->cl[i].c, on_cli_closed, &f->cl[i]);
      n++;
    }
  run_until(f, &f->closed, f->closed + n);
  for (int i = 0; i < f->ncl; i++)
    nat_udp_close(f->cl[i].udp, on_udp_closed, f);
  run_until(f, &f->udp_closed, f->ncl);
  nat_rdv_server_close(f->srv, on_srv_closed, f);
  run_until(f, &f->srv_closed, 1);
  qfx_fini(&f->q);
  free(f);
  return 0;
}

/* ------------------------------------------------------------- clients */

static void c_seen(nat_rdv_client *c, void *arg, const nat_addr *seen) {
  cli *k = arg;
  (void)c;
  k->seen = *seen;
  k->seen_calls++;
}

static void c_peer(nat_rdv_client *c, void *arg, const uint8_t *blob,
                   size_t len) {
  cli *k = arg;
  (void)c;
  assert_true(len <= sizeof k->peer);
  memcpy(k->peer, blob, len);
  k->peer_len = len;
  k->peer_calls++;
}

static void c_done(nat_rdv_client *c, void *arg, int status) {
  cli *k = arg;
  assert_int_equal(k->done, 0);
  k->done++;
  k->status = status;
  nat_rdv_client_info_get(c, &k->info);
  k->f->done++;
}

/* A socket on 127.0.0.1:0 for a new client slot. */
static cli *cli_socket(fx *f) {
  nat_udp_config uc;
  cli *k;
  assert_true(f->ncl < MAXCLI);
  k = &f->cl[f->ncl++];
  memset(k, 0, sizeof *k);
  k->f = f;
  memset(&uc, 0, sizeof uc);
  assert_int_equal(nat_addr_parse(&uc.bind, "127.0.0.1:0", 0), 0);
  assert_int_equal(nat_udp_new(&k->udp, &f->q.loop, &uc), 0);
  assert_int_equal(nat_udp_local_addr(k->udp, &k->local), 0);
  return k;
}

static void cfg_base(fx *f, cli *k, nat_rdv_client_config *cc) {
  memset(cc, 0, sizeof *cc);
  cc->udp = k->udp;
  cc->server = f->srv_addr;
  cc->any_server_pin = true;
  cc->timeout = 5 * NAT_SECONDS;
  cc->cb.on_seen = c_seen;
  cc->cb.on_peer = c_peer;
  cc->cb.on_done = c_done;
  cc->arg = k;
}

static cli *cli_start(fx *f, const char *code, const char *blob) {
  nat_rdv_client_config cc;
  cli *k = cli_socket(f);
  cfg_base(f, k, &cc);
  cc.code = code;
  cc.blob = (const uint8_t *)blob;
  cc.blob_len = blob ? strlen(blob) : 0;
  assert_int_equal(nat_rdv_client_new(&k->c, &f->q.loop, &cc), 0);
  return k;
}

/* ---------------------------------------------------------------- tests */

static void test_pair_exchange(void **state) {
  fx *f = *state;
  nat_rdv_client_config cc;
  nat_rdv_server_stats st;
  cli *a = cli_start(f, "tiger-lamp-river", "blob of A: cands+pin");
  cli *b = cli_socket(f);
  cfg_base(f, b, &cc); /* B pins the server */
  cc.any_server_pin = false;
  cc.server_pin = f->srv_pin;
  cc.code = "TIGER LAMP RIVER";
  cc.blob = (const uint8_t *)"blob of B";
  cc.blob_len = 9;
  assert_int_equal(nat_rdv_client_new(&b->c, &f->q.loop, &cc), 0);
  run_until(f, &f->done, 2);
  assert_int_equal(a->status, 0);
  assert_int_equal(b->status, 0);
  assert_int_equal(a->seen_calls, 1);
  assert_true(nat_addr_equal(&a->seen, &a->local));
  assert_true(nat_addr_equal(&b->seen, &b->local));
  assert_true(nat_addr_equal(&a->info.seen, &a->local));
  assert_int_equal(a->peer_calls, 1);
  assert_int_equal(a->peer_len, 9);
  assert_memory_equal(a->peer, "blob of B", 9);
  assert_int_equal(b->peer_len, strlen("blob of A: cands+pin"));
  assert_memory_equal(b->peer, "blob of A: cands+pin", b->peer_len);
  /* time from both HELLOs sent to both blobs received */
  nat_tstamp hello =
      a->info.t_hello > b->info.t_hello ? a->info.t_hello : b->info.t_hello;
  nat_tstamp peer =
      a->info.t_peer > b->info.t_peer ? a->info.t_peer : b->info.t_peer;
  assert_true(hello > 0 && peer >= hello);
  print_message("rendezvous: both HELLOs sent -> both blobs received: "
                "%.3f ms (start -> done %.3f ms)\n",
                (double)(peer - hello) / 1e6,
                (double)(peer - a->info.t_start) / 1e6);
  assert_int_equal(f->ev[NAT_RDV_EV_JOINED], 2);
  assert_int_equal(f->ev[NAT_RDV_EV_PAIRED], 1);
  nat_rdv_server_stats_get(f->srv, &st);
  assert_int_equal(st.rooms.paired, 1);
  assert_int_equal(st.rooms.rooms, 0);
}

static void test_wrong_server_pin(void **state) {
  fx *f = *state;
  nat_rdv_client_config cc;
  uint8_t pin[NAT_QUIC_PIN_LEN];
  cli *k = cli_socket(f);
  memcpy(pin, f->srv_pin, sizeof pin);
  pin[0] ^= 1;
  cfg_base(f, k, &cc);
  cc.any_server_pin = false;
  cc.server_pin = pin;
  cc.code = "pin-test-code";
  cc.blob = (const uint8_t *)"x";
  cc.blob_len = 1;
  assert_int_equal(nat_rdv_client_new(&k->c, &f->q.loop, &cc), 0);
  run_until(f, &f->done, 1);
  assert_int_equal(k->status, NAT_EPIN);
  /* neither a pin nor any_server_pin: refused at once */
  cc.server_pin = NULL;
  nat_rdv_client *c = NULL;
  assert_int_equal(nat_rdv_client_new(&c, &f->q.loop, &cc), NAT_EINVAL);
  cc.any_server_pin = true;
  cc.code = "short";
  assert_int_equal(nat_rdv_client_new(&c, &f->q.loop, &cc), NAT_EINVAL);
}

static void test_different_codes_time_out(void **state) {
  fx *f = *state;
  nat_rdv_client_config cc;
  nat_rdv_server_stats st;
  cli *k[2];
  const char *codes[2] = {"code-one-aaaa", "code-two-bbbb"};
  for (int i = 0; i < 2; i++) {
    k[i] = cli_socket(f);
    cfg_base(f, k[i], &cc);
    cc.code = codes[i];
    cc.blob = (const uint8_t *)"blob";
    cc.blob_len = 4;
    /* long enough to join a room (a QUIC handshake), even under
     * valgrind (NAT_TEST_SLOW, set by tests/valgrind/memcheck.sh) */
    cc.timeout = 400 * NAT_MILLISECONDS * test_slow();
    assert_int_equal(nat_rdv_client_new(&k[i]->c, &f->q.loop, &cc), 0);
  }
  run_until(f, &f->done, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(k[i]->status, NAT_ETIMEDOUT);
    assert_int_equal(k[i]->seen_calls, 1); /* each got into a room */
    assert_int_equal(k[i]->peer_calls, 0);
  }
  assert_int_equal(f->ev[NAT_RDV_EV_JOINED], 2);
  assert_int_equal(f->ev[NAT_RDV_EV_PAIRED], 0);
  nat_rdv_server_stats_get(f->srv, &st);
  assert_int_equal(st.rooms.joined, 2);
}

static void test_forger_is_caught(void **state) {
  fx *f = *state;
  nat_rdv_client_config cc;
  nat_rdv_keys forged;
  cli *honest = cli_start(f, "secret-room-code", "honest blob");
  cli *fk = cli_socket(f);
  /* knows the room ID and join secret (say from the server), not K */
  assert_int_equal(nat_rdv_keys_derive(&forged, "secret-room-code"), 0);
  memset(forged.key, 0x42, sizeof forged.key);
  cfg_base(f, fk, &cc);
  cc.keys = &forged;
  cc.blob = (const uint8_t *)"evil candidates, evil pin";
  cc.blob_len = 25;
  assert_int_equal(nat_rdv_client_new(&fk->c, &f->q.loop, &cc), 0);
  run_until(f, &f->done, 2);
  assert_int_equal(honest->status, NAT_EROOMSECRET);
  assert_int_equal(honest->peer_calls, 0);
  assert_int_equal(fk->status, NAT_EROOMSECRET);
  assert_int_equal(fk->peer_calls, 0);
  assert_string_equal(nat_strerror(honest->status),
                      "wrong room secret: the peer's data failed "
                      "authentication");
}

static void test_third_peer_refused(void **state) {
  fx *f = *state;
  cli *k[3];
  for (int i = 0; i < 2; i++)
    k[i] = cli_start(f, "three-is-a-crowd", NULL); /* wait after SEEN */
  int seen = 0;
  qfx_guard_start(&f->q);
  while (seen < 2 && !f->q.expired) {
    uv_run(&f->q.loop, UV_RUN_ONCE);
    seen = k[0]->seen_calls + k[1]->seen_calls;
  }
  qfx_guard_stop(&f->q, __LINE__, "SEEN", (uint64_t)seen, 2);
  assert_int_equal(seen, 2);
  k[2] = cli_start(f, "three-is-a-crowd", "late");
  run_until(f, &f->done, 1);
  assert_int_equal(k[2]->status, NAT_EROOMFULL);
  assert_int_equal(k[2]->info.error_code, NAT_RDV_ERR_ROOM_FULL);
  assert_non_null(strstr(k[2]->info.error_text, "room full"));
  assert_true(f->ev_refused & 1 << NAT_RDV_ERR_ROOM_FULL);
  /* the two inside still pair */
  assert_int_equal(nat_rdv_client_send_blob(k[0]->c, (const uint8_t *)"A", 1),
                   0);
  assert_int_equal(nat_rdv_client_send_blob(k[0]->c, (const uint8_t *)"A", 1),
                   NAT_EBUSY);
  assert_int_equal(nat_rdv_client_send_blob(k[1]->c, (const uint8_t *)"B", 1),
                   0);
  run_until(f, &f->done, 3);
  assert_int_equal(k[0]->status, 0);
  assert_int_equal(k[1]->status, 0);
  assert_memory_equal(k[0]->peer, "B", 1);
  assert_memory_equal(k[1]->peer, "A", 1);
}

/* ------------------------------------------------- hostile raw clients */

typedef struct raw {
  fx *f;
  int connected, closed;
  nat_quic_close_info ci;
  const uint8_t *send;
  size_t send_len;
} raw;

static bool raw_any(nat_quic_conn *c, void *arg, const uint8_t *pin) {
  (void)c;
  (void)arg;
  (void)pin;
  return true;
}

static void raw_connected(nat_quic_conn *c, void *arg) {
  raw *r = arg;
  int64_t sid;
  r->connected++;
  assert_int_equal(nat_quic_stream_open(c, &sid), 0);
  assert_int_equal(nat_quic_stream_write(c, sid, r->send, r->send_len, false),
                   (ssize_t)r->send_len);
}

static void raw_closed(nat_quic_conn *c, void *arg,
                       const nat_quic_close_info *info) {
  raw *r = arg;
  (void)c;
  r->ci = *info;
  r->ci.reason = NULL;
  r->closed++;
}

static void raw_ep_closed(nat_quic_endpoint *ep, void *arg) {
  (void)ep;
  ((raw *)arg)->closed++;
}

/* Connect with ALPN natpunch-rdv, send @p bytes, wait for the server to
 * close the connection. @return the close code. */
static uint64_t send_raw(fx *f, const uint8_t *bytes, size_t len) {
  nat_quic_identity *id;
  nat_quic_endpoint *ep;
  nat_quic_config q;
  raw r = {f, 0, 0, {0}, bytes, len};
  assert_int_equal(nat_quic_identity_new(&id, "raw"), 0);
  memset(&q, 0, sizeof q);
  assert_int_equal(nat_addr_parse(&q.bind, "127.0.0.1:0", 0), 0);
  q.identity = id;
  q.alpn = NAT_RDV_ALPN;
  q.verify_pin = raw_any;
  q.cb.on_connected = raw_connected;
  q.cb.on_closed = raw_closed;
  q.arg = &r;
  assert_int_equal(nat_quic_endpoint_new(&ep, &f->q.loop, &q), 0);
  nat_quic_identity_free(id);
  assert_int_equal(nat_quic_connect(ep, &f->srv_addr, NULL, &r, NULL), 0);
  run_until(f, &r.closed, 1);
  assert_int_equal(r.connected, 1);
  assert_true(r.ci.by_peer);
  assert_true(r.ci.app);
  nat_quic_endpoint_close(ep, raw_ep_closed, &r);
  run_until(f, &r.closed, 2);
  return r.ci.code;
}

static void test_garbage_then_serve(void **state) {
  fx *f = *state;
  nat_rdv_server_stats st;
  static const uint8_t junk[] = {0, 3, 0x77, 1, 2}; /* type 0x77 */
  static const uint8_t huge[] = {0xff, 0xff, 1, 2, 3};
  static const uint8_t seen[] = {0, 11, 2, 3, 0, 7, 1, 0, 80, 1, 2, 3, 4};
  assert_int_equal(send_raw(f, junk, sizeof junk), NAT_RDV_ERR_MALFORMED);
  assert_int_equal(send_raw(f, huge, sizeof huge), NAT_RDV_ERR_MALFORMED);
  assert_int_equal(send_raw(f, seen, sizeof seen), NAT_RDV_ERR_UNEXPECTED);
  /* junk datagrams on the port: neither STUN nor QUIC */
  cli *j = cli_socket(f);
  uint8_t dgram[64];
  for (int i = 0; i < 20; i++) {
    memset(dgram, i * 13, sizeof dgram);
    dgram[0] = (uint8_t)(i * 29);
    assert_int_equal(nat_udp_send(j->udp, &f->srv_addr, dgram, sizeof dgram),
                     0);
  }
  nat_rdv_server_stats_get(f->srv, &st);
  assert_int_equal(st.rooms.malformed, 2);
  assert_int_equal(st.rooms.unexpected, 1);
  /* still serving */
  cli *a = cli_start(f, "after-the-garbage", "A");
  cli *b = cli_start(f, "after-the-garbage", "B");
  run_until(f, &f->done, 2);
  assert_int_equal(a->status, 0);
  assert_int_equal(b->status, 0);
  assert_memory_equal(a->peer, "B", 1);
  nat_rdv_server_stats_get(f->srv, &st);
  assert_true(st.quic.datagrams_in > 20);
}

static int stun_done, stun_status;
static nat_addr stun_mapped;

static void on_stun_done(nat_udp *u, void *arg, const nat_txn_result *r) {
  (void)u;
  (void)arg;
  stun_status = r->status;
  if (r->status == 0)
    assert_int_equal(nat_stun_msg_get_mapped(r->response, &stun_mapped), 0);
  stun_done++;
}

static void test_stun_same_port(void **state) {
  fx *f = *state;
  nat_rdv_server_stats st;
  cli *k = cli_socket(f);
  stun_done = 0;
  assert_int_equal(
      nat_udp_binding(k->udp, &f->srv_addr, 0, NULL, on_stun_done, f, NULL), 0);
  run_until(f, &stun_done, 1);
  assert_int_equal(stun_status, 0);
  assert_true(nat_addr_equal(&stun_mapped, &k->local));
  nat_rdv_server_stats_get(f->srv, &st);
  assert_int_equal(st.stun_answered, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pair_exchange, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_wrong_server_pin, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_different_codes_time_out, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_forger_is_caught, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_third_peer_refused, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_garbage_then_serve, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_stun_same_port, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
