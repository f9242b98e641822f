/* birthday connect / birthday ticket -- punch's front end (tools/punch:
 * connect.c, report.c) with the spray only: no plain checks, every knob
 * of the spray. See birthday(1). */
#include <stdbool.h>

#include "../punch/punch.h"
#include "birthday.h"

static const char front_usage[] =
    "usage: birthday connect --rendezvous HOST:PORT --room CODE\n"
    "                        [--stun HOST:PORT] [spray options] [options]\n"
    "       birthday ticket [--stun HOST:PORT] --role acceptor|dialer\n"
    "                       [spray options] [options]\n"
    "\n"
    "Both peers run the same command. The peer behind the NAT that maps per\n"
    "destination with unpredictable ports (the acceptor) opens K sockets\n"
    "towards the other's public address; the other (the dialer) sprays\n"
    "keyed checks at distinct ports of the acceptor's public IP. The first\n"
    "authenticated hit carries an authenticated QUIC handshake. Roles come\n"
    "from both peers' verdicts (a rendezvous and --stun on another address\n"
    "tell them; in ticket mode an RFC 5780 --stun server does, else give\n"
    "--role on both sides).\n"
    "\n"
    "Spray options:\n"
    "      --sockets K             sockets as the acceptor, 1..1024 (256)\n"
    "      --probes M              probes as the dialer, 1..16384 (2048)\n"
    "      --rate PPS              probes per second, 1..1000 (250)\n"
    "      --range LO-HI           the ports our NAT draws from, when known\n"
    "                              (default: estimated from our probes)\n"
    "      --role acceptor|dialer|auto\n"
    "                              force our role (the peer must take the\n"
    "                              other)\n"
    "      --ttl N                 the acceptor's keepalives' TTL, 1..64 (2:\n"
    "                              past a NAT one router away)\n"
    "      --allow-both-hard       spray even when both NATs map per\n"
    "                              destination (both peers must say so; the\n"
    "                              same caps; read the estimate first)\n"
    "Options (as punch connect):\n"
    "  -r, --rendezvous HOST:PORT  -c, --room CODE  -P, --rendezvous-pin PIN\n"
    "  -s, --stun HOST:PORT        -t, --timeout SEC (1..600, default 10;\n"
    "                              the run lasts at least the spray's window)\n"
    "  -j, --json (schema_version 3, \"tool\": \"birthday\")\n"
    "  -p, --pipe  -L, --allow-loopback  -l, --listen-port N  -4, -6\n"
    "  -M, --no-portmap (do not ask the gateway for a port mapping; with one,\n"
    "                    a peer is reachable and there is no spray)\n"
    "\n"
    "Exit status: 0 connected, 1 no hit or refused (both NATs hard, or a\n"
    "port mapping makes the spray needless), 2 usage error or malformed\n"
    "ticket, 3 environment error (too few file descriptors: RLIMIT_NOFILE),\n"
    "129/130/143 stopped by SIGHUP/SIGINT/SIGTERM.\n";

int birthday_connect(int argc, char **argv) {
  return punch_front("birthday", front_usage, true, false, argc, argv);
}

int birthday_ticket(int argc, char **argv) {
  return punch_front("birthday", front_usage, true, true, argc, argv);
}
