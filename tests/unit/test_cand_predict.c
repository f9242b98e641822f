/* Unit tests: predicted candidates (nat/cand.h, cand_predict.c): the
 * mapping behaviour from two mappings of one socket, which ports a
 * sequential NAT gives next (counted from the latest allocation, our own
 * probes and mappings included), when no prediction is made, and that
 * predicted candidates survive a ticket and a sealed rendezvous blob. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/cand.h"
#include "nat/error.h"
#include "nat/rdv.h"
#include "nat/ticket.h"

static nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* Samples from fresh sockets: local ports 40001.., mapped @p ports. */
static size_t samples(nat_port_sample *s, const uint16_t *ports, size_t n) {
  for (size_t i = 0; i < n; i++) {
    s[i].local_port = (uint16_t)(40001 + i);
    s[i].mapped_port = ports[i];
    s[i].at = (nat_tstamp)(i + 1) * NAT_MILLISECONDS;
  }
  return n;
}

static void assert_cand(const nat_cand *c, const char *addr, size_t idx) {
  char buf[NAT_ADDR_STRLEN];
  assert_int_equal(c->type, NAT_CAND_PREDICTED);
  assert_string_equal(nat_addr_format(&c->addr, buf, sizeof buf), addr);
  assert_int_equal(c->priority, nat_cand_priority(NAT_CAND_PREF_PREDICTED,
                                                  (uint16_t)(65535u - idx), 1));
}

static void test_mapping_of(void **state) {
  nat_addr rdv = A("203.0.113.1:4000"), stun = A("203.0.113.1:3478"),
           other = A("203.0.113.9:3478"), m1 = A("198.51.100.2:20001"),
           m2 = A("198.51.100.2:20000");
  (void)state;
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, &stun, &m1), NAT_BEH_EI);
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, &stun, &m2), NAT_BEH_APD);
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, &other, &m2), NAT_BEH_AD);
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, &other, &m1), NAT_BEH_EI);
  /* one destination twice tells nothing */
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, &rdv, &m2), NAT_BEH_UNKNOWN);
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, NULL, &m2), NAT_BEH_UNKNOWN);
  nat_addr none;
  memset(&none, 0, sizeof none);
  assert_int_equal(nat_cand_mapping_of(&rdv, &m1, &stun, &none),
                   NAT_BEH_UNKNOWN);
}

/* The lab's symmetric-sequential NAT (+1 from 20000): the socket's
 * mapping to the STUN server got 20000, to the rendezvous 20001, four
 * probes 20002..20005: the checks' mapping will be 20006. */
static void test_sequential(void **state) {
  static const uint16_t ports[] = {20002, 20003, 20004, 20005};
  nat_port_sample s[4];
  nat_addr mapped[2] = {A("198.51.100.2:20001"), A("198.51.100.2:20000")};
  nat_addr base = A("0.0.0.0:5000");
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n = 99;
  (void)state;
  memset(&in, 0, sizeof in);
  in.samples = s;
  in.nsamples = samples(s, ports, 4);
  in.mapped = mapped;
  in.nmapped = 2;
  in.mapping = NAT_BEH_APD;
  in.base = &base;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_MADE);
  assert_string_equal(nat_cand_predict_status_name(info.status), "predicted");
  assert_int_equal(info.alloc.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(info.alloc.delta, 1);
  assert_int_equal(info.alloc.samples, 4);
  assert_int_equal(info.last, 20005);
  assert_int_equal(n, NAT_CAND_PREDICT_DEFAULT);
  assert_int_equal(info.pred.n, 4);
  assert_cand(&out[0], "198.51.100.2:20006", 0);
  assert_cand(&out[1], "198.51.100.2:20007", 1);
  assert_cand(&out[2], "198.51.100.2:20008", 2);
  assert_cand(&out[3], "198.51.100.2:20009", 3);
  assert_true(nat_addr_equal(&out[0].base, &base));
  assert_true(info.pred.prob[0] > info.pred.prob[1]);
  assert_true(info.pred.prob[1] > info.pred.prob[3]);

  /* fewer wanted, less room */
  in.count = 2;
  assert_int_equal(nat_cand_predict(&in, NULL, out, 8, &n), 0);
  assert_int_equal(n, 2);
  assert_cand(&out[1], "198.51.100.2:20007", 1);
  in.count = 0;
  assert_int_equal(nat_cand_predict(&in, NULL, out, 3, &n), 0);
  assert_int_equal(n, 3);
  assert_cand(&out[2], "198.51.100.2:20008", 2);
}

/* The rendezvous mapping was made after the probes (20006): count from
 * it. A far port (25000) is another story and moves nothing. */
static void test_counts_from_latest(void **state) {
  static const uint16_t ports[] = {20002, 20003, 20004, 20005};
  nat_port_sample s[4];
  nat_addr mapped[2] = {A("198.51.100.2:20006"), A("198.51.100.2:25000")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n;
  (void)state;
  memset(&in, 0, sizeof in);
  in.samples = s;
  in.nsamples = samples(s, ports, 4);
  in.mapped = mapped;
  in.nmapped = 2;
  in.mapping = NAT_BEH_AD;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_MADE);
  assert_int_equal(info.last, 20006);
  assert_int_equal(n, 4);
  assert_cand(&out[0], "198.51.100.2:20007", 0);
  assert_cand(&out[3], "198.51.100.2:20010", 3);
  assert_int_equal(out[0].base.family, NAT_AF_INET); /* NULL base */

  /* a probe whose answer was lost (20004 unseen): still +1 */
  static const uint16_t lost[] = {20002, 20003, 20005};
  mapped[0] = A("198.51.100.2:20001");
  in.nsamples = samples(s, lost, 3);
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.alloc.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(info.alloc.delta, 1);
  assert_int_equal(info.last, 20005);
  assert_int_equal(n, 4);
  assert_cand(&out[0], "198.51.100.2:20006", 0);
  assert_cand(&out[1], "198.51.100.2:20007", 1);
}

static void test_delta_and_direction(void **state) {
  static const uint16_t two[] = {30000, 30002, 30004, 30006};
  static const uint16_t down[] = {40010, 40009, 40008, 40007};
  nat_port_sample s[4];
  nat_addr mapped[1] = {A("198.51.100.7:40011")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n;
  (void)state;
  memset(&in, 0, sizeof in);
  in.samples = s;
  in.nsamples = samples(s, two, 4);
  in.mapped = mapped;
  in.nmapped = 1;
  in.mapping = NAT_BEH_APD;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.alloc.delta, 2);
  assert_int_equal(info.last, 30006);
  assert_int_equal(n, 4);
  assert_cand(&out[0], "198.51.100.7:30008", 0);
  assert_cand(&out[1], "198.51.100.7:30010", 1);
  assert_cand(&out[3], "198.51.100.7:30014", 3);

  /* downwards; the socket's own mapping (40011) was made before */
  in.nsamples = samples(s, down, 4);
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.alloc.delta, -1);
  assert_int_equal(info.last, 40007);
  assert_int_equal(n, 4);
  assert_cand(&out[0], "198.51.100.7:40006", 0);
  assert_cand(&out[3], "198.51.100.7:40003", 3);
}

/* Past 65535 the ports wrap to 1024; a port seen allocated is left out. */
static void test_wrap_and_seen(void **state) {
  static const uint16_t ports[] = {65532, 65533, 65534, 65535};
  nat_port_sample s[4];
  nat_addr mapped[2] = {A("198.51.100.2:65531"), A("198.51.100.2:1025")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n;
  (void)state;
  memset(&in, 0, sizeof in);
  in.samples = s;
  in.nsamples = samples(s, ports, 4);
  in.mapped = mapped;
  in.nmapped = 2;
  in.mapping = NAT_BEH_APD;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_MADE);
  assert_int_equal(info.last, 65535);
  assert_int_equal(n, 3);
  assert_cand(&out[0], "198.51.100.2:1024", 0);
  assert_cand(&out[1], "198.51.100.2:1026", 1);
  assert_cand(&out[2], "198.51.100.2:1027", 2);
}

static void test_no_prediction(void **state) {
  static const uint16_t seq[] = {20002, 20003, 20004, 20005};
  static const uint16_t rnd[] = {51234, 2871, 40100, 17777};
  static const uint16_t pres[] = {40001, 40002, 40003, 40004};
  nat_port_sample s[4];
  nat_addr mapped[1] = {A("198.51.100.2:20001")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n;
  (void)state;
  memset(&in, 0, sizeof in);
  in.samples = s;
  in.nsamples = samples(s, seq, 4);
  in.mapped = mapped;
  in.nmapped = 1;
  in.mapping = NAT_BEH_EI;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_MAPPING_EI);
  assert_string_equal(nat_cand_predict_status_name(info.status),
                      "mapping-independent");
  assert_int_equal(info.alloc.kind, NAT_PA_SEQUENTIAL); /* still classified */
  assert_int_equal(n, 0);
  in.mapping = NAT_BEH_UNKNOWN;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_MAPPING_UNKNOWN);
  assert_int_equal(n, 0);

  in.mapping = NAT_BEH_APD;
  in.nsamples = samples(s, rnd, 4);
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_NOT_SEQUENTIAL);
  assert_int_equal(info.alloc.kind, NAT_PA_RANDOM);
  assert_int_equal(n, 0);
  in.nsamples = samples(s, pres, 4);
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_NOT_SEQUENTIAL);
  assert_int_equal(info.alloc.kind, NAT_PA_PRESERVING);
  assert_int_equal(n, 0);
  /* two samples are too few to classify */
  in.nsamples = samples(s, seq, 2);
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_NOT_SEQUENTIAL);
  assert_int_equal(info.alloc.kind, NAT_PA_UNKNOWN);
  /* no mapped address: no public IP */
  in.nsamples = samples(s, seq, 4);
  in.nmapped = 0;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), 0);
  assert_int_equal(info.status, NAT_CAND_PREDICT_NO_ADDRESS);
  assert_int_equal(n, 0);
  assert_string_equal(nat_cand_predict_status_name(77), "unknown");

  /* bad arguments */
  in.nmapped = 1;
  assert_int_equal(nat_cand_predict(NULL, &info, out, 8, &n), NAT_EINVAL);
  assert_int_equal(nat_cand_predict(&in, &info, NULL, 8, &n), NAT_EINVAL);
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, NULL), NAT_EINVAL);
  in.count = NAT_PREDICT_MAX + 1;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), NAT_EINVAL);
  in.count = 0;
  in.samples = NULL;
  assert_int_equal(nat_cand_predict(&in, &info, out, 8, &n), NAT_EINVAL);
}

/* Predicted candidates travel in a ticket (punch ticket) and in the sealed
 * rendezvous blob (the ticket's text plus " map=N"), and the peer
 * validates them like any other. */
static void rand_fn(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 31 + 7);
}

static void test_survive_ticket_and_blob(void **state) {
  static const uint16_t ports[] = {20002, 20003, 20004, 20005};
  nat_port_sample s[4];
  nat_addr mapped[1] = {A("198.51.100.2:20001")};
  nat_addr host = A("192.168.1.2:5000");
  nat_cand out[8], c;
  nat_cand_predict_in in;
  nat_ticket t, u;
  nat_ticket_diag d;
  nat_rdv_keys k;
  nat_cand_policy pol;
  char text[NAT_TICKET_TEXT_MAX + 16], a[NAT_ADDR_STRLEN];
  uint8_t nonce[NAT_RDV_NONCE_LEN] = {1, 2, 3};
  uint8_t sealed[NAT_RDV_MAX_SEALED], opened[NAT_RDV_MAX_BLOB];
  ssize_t tn, sn, on;
  size_t n;
  (void)state;
  memset(&in, 0, sizeof in);
  in.samples = s;
  in.nsamples = samples(s, ports, 4);
  in.mapped = mapped;
  in.nmapped = 1;
  in.mapping = NAT_BEH_APD;
  in.base = &host;
  assert_int_equal(nat_cand_predict(&in, NULL, out, 8, &n), 0);
  assert_int_equal(n, 4);
  assert_int_equal(nat_ticket_init_random(&t, rand_fn, NULL), 0);
  nat_cand_make(&c, NAT_CAND_HOST, &host, &host, NULL, 65535);
  assert_int_equal(nat_ticket_add_cand(&t, &c), 0);
  nat_cand_make_srflx(&c, &mapped[0], &host, NULL);
  assert_int_equal(nat_ticket_add_cand(&t, &c), 0);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(nat_ticket_add_cand(&t, &out[i]), 0);
  tn = nat_ticket_encode(&t, text, sizeof text);
  assert_true(tn > 0);
  snprintf(text + tn, sizeof text - (size_t)tn, " map=%d", NAT_BEH_APD);

  assert_int_equal(nat_rdv_keys_derive(&k, "ABCDE-12345"), 0);
  sn = nat_rdv_seal(&k, nonce, (const uint8_t *)text, strlen(text), sealed,
                    sizeof sealed);
  assert_true(sn > 0);
  on = nat_rdv_open(&k, sealed, (size_t)sn, opened, sizeof opened, NULL);
  assert_int_equal(on, (ssize_t)strlen(text));
  assert_memory_equal(opened, text, (size_t)on);
  assert_memory_equal(opened + tn, " map=3", 6);

  assert_int_equal(nat_ticket_decode(&u, (const char *)opened, (size_t)tn, &d),
                   0);
  assert_int_equal(u.ncands, 6);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(u.cands[2 + i].type, NAT_CAND_PREDICTED);
    assert_true(nat_addr_equal(&u.cands[2 + i].addr, &out[i].addr));
  }
  assert_string_equal(nat_addr_format(&u.cands[5].addr, a, sizeof a),
                      "198.51.100.2:20009");
  memset(&pol, 0, sizeof pol);
  assert_int_equal(nat_ticket_validate(&u, &pol, false, &d), 0);
  assert_int_equal(u.ncands, 6);
  for (size_t i = 0; i < u.ncands; i++)
    assert_int_equal(nat_cand_validate_remote(&u.cands[i].addr, &pol),
                     NAT_CAND_OK);

  /* a predicted candidate with a bad address is refused like others */
  nat_addr bad = A("198.51.100.255:0");
  u.cands[5].addr = bad;
  assert_int_equal(nat_cand_validate_remote(&u.cands[5].addr, &pol),
                   NAT_CAND_REJECT_PORT_ZERO);
  assert_int_equal(nat_ticket_validate(&u, &pol, true, &d), 0);
  assert_int_equal(u.ncands, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mapping_of),
      cmocka_unit_test(test_sequential),
      cmocka_unit_test(test_counts_from_latest),
      cmocka_unit_test(test_delta_and_direction),
      cmocka_unit_test(test_wrap_and_seen),
      cmocka_unit_test(test_no_prediction),
      cmocka_unit_test(test_survive_ticket_and_blob),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
