/* punch -- two peers behind NATs meet through a rendezvous, punch a UDP
 * path and run an authenticated QUIC handshake over it.
 * This file: subcommand dispatch. See punch(1). */
#include <stdio.h>
#include <string.h>

#include <nat/common.h>

#include "punch.h"

static const char usage_text[] =
    "usage: punch connect --rendezvous HOST:PORT --room CODE [options]\n"
    "       punch ticket [--stun HOST:PORT] [options]\n"
    "       punch serve --listen ADDR:PORT [--room-ttl SEC] [--max-rooms N]\n"
    "                   [--json-log] [--cert FILE --key FILE]\n"
    "       punch --help | --version\n"
    "\n"
    "  connect meet the peer through a rendezvous under a shared room code,\n"
    "          punch a UDP path and open an authenticated QUIC connection\n"
    "          (--pipe: then carry stdin/stdout; punch connect --help)\n"
    "  ticket  the same with pasted tickets instead of a rendezvous\n"
    "  serve   run a rendezvous: on one UDP port, answer STUN Binding\n"
    "          requests and pair peers that share a room code over QUIC\n"
    "          (punch serve --help for its options)\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 internal or\n"
    "environment error.\n";

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : NULL;
  if (cmd == NULL) {
    fprintf(stderr,
            "punch: missing command: expected 'connect', 'ticket' or 'serve' "
            "(see punch --help)\n");
    return PUNCH_EXIT_USAGE;
  }
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
    fputs(usage_text, stdout);
    return PUNCH_EXIT_OK;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("punch %s (libnat %s)\n", nat_version_string(),
           nat_version_string());
    return PUNCH_EXIT_OK;
  }
  if (strcmp(cmd, "serve") == 0)
    return punch_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "connect") == 0)
    return punch_connect(argc - 1, argv + 1);
  if (strcmp(cmd, "ticket") == 0)
    return punch_ticket(argc - 1, argv + 1);
  fprintf(stderr,
          "punch: unknown command '%s': expected 'connect', 'ticket' or "
          "'serve' (see punch --help)\n",
          cmd);
  return PUNCH_EXIT_USAGE;
}
