/* natbox: a userspace NAT and link emulator between two TUN devices in
 * network namespaces, for natlab. See docs/man/natbox.1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../common/cli.h"
#include "nat/error.h"
#include "natbox_prog.h"

static int env_error(const char *msg) {
  fprintf(stderr, "natbox: %s\n", msg);
  return NB_EXIT_ENV;
}

/* Check the NAT configuration before touching the system. */
static int check_nat_config(const nb_opts *o, char *err, size_t cap) {
  nat_box *b = NULL;
  int rv;
  if (!o->nat)
    return 0;
  rv = nat_box_new(&b, &o->box);
  if (rv == 0) {
    nat_box_free(b);
    return 0;
  }
  snprintf(err, cap, "invalid NAT configuration: %s", nat_strerror(rv));
  return -1;
}

int main(int argc, char **argv) {
  static nb_opts o;
  nb_report r;
  char err[512] = "";
  sigset_t sigs;
  int rv = nb_parse_args(argc, argv, &o, err, sizeof err);
  if (rv > 0)
    return NB_EXIT_OK;
  if (rv < 0 || check_nat_config(&o, err, sizeof err) < 0) {
    nat_cli_usage_error("natbox", "%s", err);
    return NB_EXIT_USAGE;
  }
  /* Signals are taken through a signalfd in the loop; block them now so a
   * SIGTERM during setup is not lost either. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Timer slack of 1 ns: release times are kept to the microsecond. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  if (geteuid() != 0)
    return env_error("must run as root (creating TUN devices in network "
                     "namespaces needs CAP_NET_ADMIN and CAP_SYS_ADMIN)");
  if (nb_tun_open(&o.lan, o.tun_queue, err, sizeof err) < 0 ||
      nb_tun_open(&o.wan, o.tun_queue, err, sizeof err) < 0)
    return env_error(err);
  if (o.ready_file && nb_write_ready(o.ready_file) < 0) {
    snprintf(err, sizeof err, "cannot write ready file %s: %s", o.ready_file,
             strerror(errno));
    return env_error(err);
  }
  if (nb_run(&o, &r, err, sizeof err) < 0)
    return env_error(err);
  close(o.lan.fd);
  close(o.wan.fd);
  if (o.stats_file && nb_write_stats(o.stats_file, &r) < 0) {
    snprintf(err, sizeof err, "cannot write stats file %s: %s", o.stats_file,
             strerror(errno));
    return env_error(err);
  }
  return NB_EXIT_OK;
}
