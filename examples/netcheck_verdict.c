/* Print netcheck's verdict through libnat: mapping, filtering, port
 * allocation and easy/hard, probed against one STUN server (an RFC 5780
 * server, such as coturn, for mapping and filtering).
 *   usage: netcheck_verdict HOST[:PORT] */
#include <stdio.h>
#include <uv.h>

#include <nat/error.h>
#include <nat/netcheck.h>

static int exit_code = 1;

static void on_done(nat_netcheck *nc, void *arg, nat_netcheck_result *res,
                    int status) {
  const nat_verdict *v = &res->verdict;
  (void)arg;
  if (status < 0)
    fprintf(stderr, "netcheck_verdict: %s\n", nat_strerror(status));
  else if (!v->basic.udp_reachable)
    fprintf(stderr, "netcheck_verdict: the server did not answer\n");
  else {
    printf("mapping: %s\nfiltering: %s\nallocation: %s\ndifficulty: %s\n",
           nat_beh_name(v->mapping), nat_beh_name(v->filtering),
           nat_pa_kind_name(v->alloc.kind), nat_difficulty_name(v->difficulty));
    exit_code = 0;
  }
  nat_netcheck_close(nc, NULL, NULL);
}

int main(int argc, char **argv) {
  nat_netcheck_server server = {0};
  nat_netcheck_config cfg = {
      .servers = &server, .nservers = 1, .done = on_done};
  nat_netcheck *nc;
  uv_loop_t loop;
  int rv;
  if (argc != 2) {
    fprintf(stderr, "usage: netcheck_verdict HOST[:PORT]\n");
    return 2;
  }
  server.name = argv[1];
  uv_loop_init(&loop);
  if ((rv = nat_netcheck_new(&nc, &loop, &cfg)) < 0) {
    fprintf(stderr, "netcheck_verdict: %s\n", nat_strerror(rv));
    return 3;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? exit_code : 3;
}
