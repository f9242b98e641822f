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

/* @p in for samples of @p ports in @p s, the socket's mappings and
 * mapping behaviour, no base, the default count. */
static void predict_in(nat_cand_predict_in *in, nat_port_sample *s,
                       const uint16_t *ports, size_t nports,
                       const nat_addr *mapped, size_t nmapped,
                       uint8_t mapping) {
  memset(in, 0, sizeof *in);
  in->samples = s;
  in->nsamples = samples(s, ports, nports);
  in->mapped = mapped;
  in->nmapped = nmapped;
  in->mapping = mapping;
}

/* What nat_cand_predict(in, &info, out, 8, &n) must give. */
typedef struct want {
  int status;          /* info.status */
  int kind;            /* info.alloc.kind */
  int delta;           /* info.alloc.delta, checked if kind sequential */
  uint16_t last;       /* info.last, checked if not 0 */
  size_t n;            /* candidates made */
  const char *addr[8]; /* out[i] for the first n (NULL: not checked) */
} want;

static void check_predict(const nat_cand_predict_in *in, const want *w,
                          nat_cand_predict_out *info, nat_cand *out) {
  size_t n = 99;
  assert_int_equal(nat_cand_predict(in, info, out, 8, &n), 0);
  assert_int_equal(info->status, w->status);
  assert_int_equal(info->alloc.kind, w->kind);
  if (w->kind == NAT_PA_SEQUENTIAL)
    assert_int_equal(info->alloc.delta, w->delta);
  if (w->last != 0)
    assert_int_equal(info->last, w->last);
  assert_int_equal(n, w->n);
  for (size_t i = 0; i < n; i++)
    if (w->addr[i])
      assert_cand(&out[i], w->addr[i], i);
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
  static const want w = {NAT_CAND_PREDICT_MADE,
                         NAT_PA_SEQUENTIAL,
                         1,
                         20005,
                         NAT_CAND_PREDICT_DEFAULT,
                         {"198.51.100.2:20006", "198.51.100.2:20007",
                          "198.51.100.2:20008", "198.51.100.2:20009"}};
  nat_port_sample s[4];
  nat_addr mapped[2] = {A("198.51.100.2:20001"), A("198.51.100.2:20000")};
  nat_addr base = A("0.0.0.0:5000");
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n = 99;
  (void)state;
  predict_in(&in, s, ports, 4, mapped, 2, NAT_BEH_APD);
  in.base = &base;
  check_predict(&in, &w, &info, out);
  assert_string_equal(nat_cand_predict_status_name(info.status), "predicted");
  assert_int_equal(info.alloc.samples, 4);
  assert_int_equal(info.pred.n, 4);
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
  static const uint16_t lost[] = {20002, 20003, 20005};
  static const want latest = {NAT_CAND_PREDICT_MADE,
                              NAT_PA_SEQUENTIAL,
                              1,
                              20006,
                              4,
                              {"198.51.100.2:20007", "198.51.100.2:20008",
                               "198.51.100.2:20009", "198.51.100.2:20010"}};
  static const want plus1 = {NAT_CAND_PREDICT_MADE,
                             NAT_PA_SEQUENTIAL,
                             1,
                             20005,
                             4,
                             {"198.51.100.2:20006", "198.51.100.2:20007"}};
  nat_port_sample s[4];
  nat_addr mapped[2] = {A("198.51.100.2:20006"), A("198.51.100.2:25000")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  (void)state;
  predict_in(&in, s, ports, 4, mapped, 2, NAT_BEH_AD);
  check_predict(&in, &latest, &info, out);
  assert_int_equal(out[0].base.family, NAT_AF_INET); /* NULL base */

  /* a probe whose answer was lost (20004 unseen): still +1 */
  mapped[0] = A("198.51.100.2:20001");
  in.nsamples = samples(s, lost, 3);
  check_predict(&in, &plus1, &info, out);
}

static void test_delta_and_direction(void **state) {
  static const uint16_t two[] = {30000, 30002, 30004, 30006};
  static const uint16_t down[] = {40010, 40009, 40008, 40007};
  static const want by2 = {NAT_CAND_PREDICT_MADE,
                           NAT_PA_SEQUENTIAL,
                           2,
                           30006,
                           4,
                           {"198.51.100.7:30008", "198.51.100.7:30010",
                            "198.51.100.7:30012", "198.51.100.7:30014"}};
  /* downwards; the socket's own mapping (40011) was made before */
  static const want by_minus1 = {NAT_CAND_PREDICT_MADE,
                                 NAT_PA_SEQUENTIAL,
                                 -1,
                                 40007,
                                 4,
                                 {"198.51.100.7:40006", "198.51.100.7:40005",
                                  "198.51.100.7:40004", "198.51.100.7:40003"}};
  nat_port_sample s[4];
  nat_addr mapped[1] = {A("198.51.100.7:40011")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  (void)state;
  predict_in(&in, s, two, 4, mapped, 1, NAT_BEH_APD);
  check_predict(&in, &by2, &info, out);
  in.nsamples = samples(s, down, 4);
  check_predict(&in, &by_minus1, &info, out);
}

/* Past 65535 the ports wrap to 1024; a port seen allocated is left out. */
static void test_wrap_and_seen(void **state) {
  static const uint16_t ports[] = {65532, 65533, 65534, 65535};
  static const want w = {
      NAT_CAND_PREDICT_MADE,
      NAT_PA_SEQUENTIAL,
      1,
      65535,
      3,
      {"198.51.100.2:1024", "198.51.100.2:1026", "198.51.100.2:1027"}};
  nat_port_sample s[4];
  nat_addr mapped[2] = {A("198.51.100.2:65531"), A("198.51.100.2:1025")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  (void)state;
  predict_in(&in, s, ports, 4, mapped, 2, NAT_BEH_APD);
  check_predict(&in, &w, &info, out);
}

static void test_no_prediction(void **state) {
  static const uint16_t seq[] = {20002, 20003, 20004, 20005};
  static const uint16_t rnd[] = {51234, 2871, 40100, 17777};
  static const uint16_t pres[] = {40001, 40002, 40003, 40004};
  /* the samples are still classified */
  static const want ei = {.status = NAT_CAND_PREDICT_MAPPING_EI,
                          .kind = NAT_PA_SEQUENTIAL,
                          .delta = 1};
  static const want unknown = {.status = NAT_CAND_PREDICT_MAPPING_UNKNOWN,
                               .kind = NAT_PA_SEQUENTIAL,
                               .delta = 1};
  static const want random = {.status = NAT_CAND_PREDICT_NOT_SEQUENTIAL,
                              .kind = NAT_PA_RANDOM};
  static const want preserving = {.status = NAT_CAND_PREDICT_NOT_SEQUENTIAL,
                                  .kind = NAT_PA_PRESERVING};
  static const want too_few = {.status = NAT_CAND_PREDICT_NOT_SEQUENTIAL,
                               .kind = NAT_PA_UNKNOWN};
  static const want no_address = {.status = NAT_CAND_PREDICT_NO_ADDRESS,
                                  .kind = NAT_PA_SEQUENTIAL,
                                  .delta = 1};
  nat_port_sample s[4];
  nat_addr mapped[1] = {A("198.51.100.2:20001")};
  nat_cand out[8];
  nat_cand_predict_out info;
  nat_cand_predict_in in;
  size_t n;
  (void)state;
  predict_in(&in, s, seq, 4, mapped, 1, NAT_BEH_EI);
  check_predict(&in, &ei, &info, out);
  assert_string_equal(nat_cand_predict_status_name(info.status),
                      "mapping-independent");
  in.mapping = NAT_BEH_UNKNOWN;
  check_predict(&in, &unknown, &info, out);

  in.mapping = NAT_BEH_APD;
  in.nsamples = samples(s, rnd, 4);
  check_predict(&in, &random, &info, out);
  in.nsamples = samples(s, pres, 4);
  check_predict(&in, &preserving, &info, out);
  /* two samples are too few to classify */
  in.nsamples = samples(s, seq, 2);
  check_predict(&in, &too_few, &info, out);
  /* no mapped address: no public IP */
  in.nsamples = samples(s, seq, 4);
  in.nmapped = 0;
  check_predict(&in, &no_address, &info, out);
  assert_string_equal(nat_cand_predict_status_name(77), "unknown");
  /* the reasons a report gives about our NAT */
  assert_string_equal(
      nat_cand_predict_status_strerror(NAT_CAND_PREDICT_MAPPING_EI),
      "our mapping is endpoint-independent");
  assert_string_equal(
      nat_cand_predict_status_strerror(NAT_CAND_PREDICT_MAPPING_UNKNOWN),
      "not known whether our mapping depends on the destination");
  assert_string_equal(
      nat_cand_predict_status_strerror(NAT_CAND_PREDICT_NOT_SEQUENTIAL),
      "our NAT's ports are not sequential");
  assert_string_equal(
      nat_cand_predict_status_strerror(NAT_CAND_PREDICT_NO_ADDRESS),
      "no public address");
  assert_string_equal(nat_cand_predict_status_strerror(NAT_CAND_PREDICT_MADE),
                      "predicted candidates made");
  assert_string_equal(nat_cand_predict_status_strerror(77), "unknown");

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
  predict_in(&in, s, ports, 4, mapped, 1, NAT_BEH_APD);
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
