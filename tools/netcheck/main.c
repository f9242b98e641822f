/* netcheck -- report on the network this host is in: UDP reachability,
 * public addresses, NAT presence and behaviour (mapping, filtering,
 * hairpinning, port allocation, lifetime), per-server latency, the verdict
 * and the traversal strategy.
 * This file: the command line. See netcheck(1). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <nat/common.h>
#include <nat/error.h>
#include <nat/resolve.h>

#include "netcheck.h"
#include "../common/cli.h"

/* Public STUN servers used when no --server is given (netcheck(1)). */
static const char *const default_servers[] = {
    "stun.l.google.com:19302",
    "stun1.l.google.com:19302",
    "stun.cloudflare.com:3478",
};

static const char usage_text[] =
    "usage: netcheck [--server HOST[:PORT]]... [--rfc5780-server "
    "HOST[:PORT]]...\n"
    "                [-4] [-6] [--json] [--timeout MS] [--lifetime[=MAXSEC]]\n"
    "                [--alloc-samples N] [--no-hairpin] [--no-alloc]\n"
    "                [--no-filtering] [--no-hops] [--no-portmap]\n"
    "                [--portmap-test] [--basic] [--software S] [--bind ADDR]\n"
    "                [--record FILE.pcap] [-v] [--help] [--version]\n"
    "       netcheck --replay FILE [--client ADDR]\n"
    "                [--capture-point host|outside|auto] [--json] [-v]\n"
    "\n"
    "Probes STUN servers and reports UDP reachability, the public IPv4/IPv6\n"
    "address, whether a NAT is in the path and how it behaves (RFC 5780\n"
    "mapping and filtering, hairpinning, port allocation and prediction),\n"
    "per-server round-trip time, an easy/hard verdict and the traversal\n"
    "strategy that works.\n"
    "\n"
    "  -s, --server HOST[:PORT]  STUN server (repeatable; port 3478 by\n"
    "                            default; [IPv6]:PORT for IPv6 literals)\n"
    "  -r, --rfc5780-server HOST[:PORT]\n"
    "                            STUN server to use for the behaviour tests\n"
    "                            (repeatable; also probed like --server)\n"
    "      --lifetime[=MAXSEC]   also measure the mapping lifetime, trying\n"
    "                            idle times up to MAXSEC (default 60, at\n"
    "                            most 600); the run takes about MAXSEC\n"
    "      --alloc-samples N     fresh sockets for the allocation test,\n"
    "                            6..32 (default 16)\n"
    "      --no-hairpin, --no-alloc, --no-filtering\n"
    "                            skip that test\n"
    "      --no-hops             no hop probe (Binding requests with rising\n"
    "                            TTL, read back from ICMP time-exceeded, that\n"
    "                            show a carrier or second NAT)\n"
    "      --no-portmap          do not probe PCP, NAT-PMP and UPnP IGD at\n"
    "                            the gateway\n"
    "      --portmap-test        also map the first socket's port at the\n"
    "                            gateway for 30 s, read it back, delete it\n"
    "      --basic               one Binding request per server only\n"
    "  -4, -6                    IPv4 only / IPv6 only (default: both)\n"
    "  -j, --json                JSON report (schema_version 3)\n"
    "  -t, --timeout MS          overall deadline, 1..60000 (default 3000;\n"
    "                            --lifetime adds MAXSEC)\n"
    "      --software S          SOFTWARE attribute sent (default\n"
    "                            \"netcheck/VERSION\"; \"\" for none)\n"
    "  -b, --bind ADDR           local IP[:PORT] to send from\n"
    "      --record FILE         write every STUN datagram sent or received\n"
    "                            to FILE (pcap, real addresses, timestamps)\n"
    "      --replay FILE         no probes: read a pcap/pcapng capture "
    "(\"-\":\n"
    "                            stdin) and report the verdict it supports\n"
    "      --client ADDR         replay: the client's IP[:PORT] (default:\n"
    "                            each client, the report about the one that\n"
    "                            sent most requests)\n"
    "      --capture-point P     replay: where the capture was taken: host\n"
    "                            (on the client host or its side of the NAT;\n"
    "                            \"client\" is the old name), outside (beyond\n"
    "                            the NAT) or auto (default: inferred per\n"
    "                            client from translations, TTLs, directions)\n"
    "  -v, --verbose             progress on stderr\n"
    "  -h, --help                this help\n"
    "  -V, --version             print the version\n"
    "\n"
    "Exit status: 0 a server answered, 1 no server answered (replay: no\n"
    "STUN or no answered request in the capture), 2 usage error or an\n"
    "unusable capture, 3 internal or environment error.\n";

/* Characters of a DNS name (RFC 1123 host names, plus '_'). */
static bool hostname_ok(const char *h) {
  size_t i;
  for (i = 0; h[i] != '\0'; i++) {
    char ch = h[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
      return false;
  }
  return i > 0 && h[0] != '-' && h[0] != '.';
}

static bool all_digits_dots(const char *h) {
  for (; *h != '\0'; h++)
    if (!((*h >= '0' && *h <= '9') || *h == '.'))
      return false;
  return true;
}

/* A bare IPv6 literal whose last group could be a port ("::1:3478",
 * "::1:bad") is refused: the user must say which with brackets. */
static bool ambiguous_v6(const char *arg, const char *host) {
  char prefix[NC_HOST_LEN];
  const char *last = strrchr(host, ':');
  nat_addr a;
  size_t n;
  if (arg[0] == '[' || last == NULL)
    return false;
  n = (size_t)(last - host);
  if (n == 0 || n >= sizeof prefix)
    return false;
  memcpy(prefix, host, n);
  prefix[n] = '\0';
  return nat_addr_parse(&a, prefix, 0) == 0 && a.family == NAT_AF_INET6;
}

static int add_server(nc_options *opt, const char *arg) {
  nc_server *s;
  nat_addr a;
  const char *fmt = "bad --server '%s': expected HOST, HOST:PORT, IPv4:PORT or "
                    "[IPv6]:PORT with PORT in 1..65535";
  if (opt->nservers == NC_MAX_SERVERS)
    return nat_cli_usage_error(
        "netcheck",
        "too many --server options (at most 64); '%s' is "
        "one too many",
        arg);
  s = &opt->servers[opt->nservers];
  memset(s, 0, sizeof *s);
  if (nat_hostport_split(arg, s->host, sizeof s->host, &s->port,
                         NC_DEFAULT_PORT) != 0)
    return nat_cli_usage_error("netcheck", fmt, arg);
  if (strchr(s->host, ':') != NULL) {
    if (nat_addr_parse(&a, s->host, 0) != 0 || a.family != NAT_AF_INET6)
      return nat_cli_usage_error("netcheck", fmt, arg);
    if (ambiguous_v6(arg, s->host))
      return nat_cli_usage_error(
          "netcheck",
          "ambiguous --server '%s': an IPv6 address with a "
          "port needs brackets, [IPv6]:PORT (e.g. "
          "[::1]:3478); the address alone is [IPv6]",
          arg);
  } else if (all_digits_dots(s->host)) {
    if (nat_addr_parse(&a, s->host, 0) != 0)
      return nat_cli_usage_error("netcheck", fmt, arg);
  } else if (!hostname_ok(s->host)) {
    return nat_cli_usage_error("netcheck", fmt, arg);
  }
  s->name = arg;
  opt->nservers++;
  return 0;
}

static int parse_lifetime(nc_options *opt, const char *arg) {
  opt->tests |= NAT_PROBE_LIFETIME;
  opt->lifetime_max_s = 60;
  if (arg != NULL && nat_cli_uint(arg, 1, 600, &opt->lifetime_max_s) != 0)
    return nat_cli_usage_error(
        "netcheck",
        "bad --lifetime=%s: expected the longest idle time "
        "to try, in seconds, an integer in 1..600",
        arg);
  return 0;
}

static int parse_samples(nc_options *opt, const char *arg) {
  if (nat_cli_uint(arg, 6, NAT_PROBE_ALLOC_MAX, &opt->alloc_samples) != 0)
    return nat_cli_usage_error(
        "netcheck",
        "bad --alloc-samples '%s': expected an integer in "
        "6..32 (the classifier needs at least 6 samples)",
        arg);
  return 0;
}

static int parse_timeout(nc_options *opt, const char *arg) {
  if (nat_cli_uint(arg, 1, NC_MAX_TIMEOUT_MS, &opt->timeout_ms) != 0)
    return nat_cli_usage_error("netcheck",
                               "bad --timeout '%s': expected milliseconds, "
                               "an integer in 1..60000",
                               arg);
  return 0;
}

static int parse_bind(nc_options *opt, const char *arg) {
  if (nat_addr_parse(&opt->bind, arg, 0) != 0)
    return nat_cli_usage_error("netcheck",
                               "bad --bind '%s': expected a local IP address "
                               "with an optional port, e.g. 192.0.2.10, "
                               "192.0.2.10:4000 or [2001:db8::1]:4000",
                               arg);
  opt->has_bind = true;
  return 0;
}

static int parse_software(nc_options *opt, const char *arg) {
  if (strlen(arg) > 127)
    return nat_cli_usage_error(
        "netcheck",
        "bad --software '%.40s...': expected at most 127 "
        "bytes",
        arg);
  opt->software = arg[0] != '\0' ? arg : NULL;
  return 0;
}

/* Families after -4/-6/--bind. */
static int settle_families(nc_options *opt, bool only4, bool only6) {
  char ip[NAT_ADDR_STRLEN];
  opt->want_v4 = only4 || !only6;
  opt->want_v6 = only6 || !only4;
  if (!opt->has_bind)
    return 0;
  nat_addr_format_ip(&opt->bind, ip, sizeof ip);
  if (opt->bind.family == NAT_AF_INET && only6 && !only4)
    return nat_cli_usage_error(
        "netcheck",
        "--bind %s is an IPv4 address but -6 asks for IPv6 "
        "only; drop one of them",
        ip);
  if (opt->bind.family == NAT_AF_INET6 && only4 && !only6)
    return nat_cli_usage_error(
        "netcheck",
        "--bind %s is an IPv6 address but -4 asks for IPv4 "
        "only; drop one of them",
        ip);
  opt->want_v4 = opt->bind.family == NAT_AF_INET;
  opt->want_v6 = opt->bind.family == NAT_AF_INET6;
  return 0;
}

static int parse_client(nc_options *opt, const char *arg) {
  if (nat_addr_parse(&opt->client, arg, 0) != 0)
    return nat_cli_usage_error(
        "netcheck",
        "bad --client '%s': expected the client's IP address "
        "with an optional port, e.g. 192.168.1.2, "
        "192.168.1.2:40000 or [2001:db8::2]:40000",
        arg);
  opt->has_client = true;
  return 0;
}

static int parse_point(nc_options *opt, const char *arg) {
  if (strcmp(arg, "host") == 0 || strcmp(arg, "client") == 0)
    opt->capture_point = NAT_REPLAY_AT_CLIENT; /* client: the old name */
  else if (strcmp(arg, "outside") == 0)
    opt->capture_point = NAT_REPLAY_OUTSIDE;
  else if (strcmp(arg, "auto") == 0)
    opt->capture_point = NAT_REPLAY_AUTO;
  else
    return nat_cli_usage_error(
        "netcheck",
        "bad --capture-point '%s': expected host (or client), "
        "outside or auto",
        arg);
  return 0;
}

static int parse_file(const char **out, const char *opt, const char *arg) {
  if (arg[0] == '\0') {
    fprintf(stderr, "netcheck: %s needs a file name (see netcheck --help)\n",
            opt);
    return NC_EXIT_USAGE;
  }
  *out = arg;
  return 0;
}

static const struct option long_opts[] = {
    {"record", required_argument, NULL, 'R'},
    {"replay", required_argument, NULL, 'P'},
    {"client", required_argument, NULL, 'C'},
    {"capture-point", required_argument, NULL, 'W'},
    {"server", required_argument, NULL, 's'},
    {"rfc5780-server", required_argument, NULL, 'r'},
    {"lifetime", optional_argument, NULL, 'L'},
    {"alloc-samples", required_argument, NULL, 'A'},
    {"no-hairpin", no_argument, NULL, 'H'},
    {"no-alloc", no_argument, NULL, 'N'},
    {"no-filtering", no_argument, NULL, 'F'},
    {"basic", no_argument, NULL, 'B'},
    {"no-hops", no_argument, NULL, 'O'},
    {"no-portmap", no_argument, NULL, 'G'},
    {"portmap-test", no_argument, NULL, 'T'},
    {"json", no_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"software", required_argument, NULL, 'S'},
    {"bind", required_argument, NULL, 'b'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Unknown option or missing argument: name it. */
static int bad_option(char **argv, int c) {
  const char *arg = argv[optind - 1];
  if (c == ':')
    return nat_cli_usage_error("netcheck", "option '%s' needs an argument",
                               arg);
  if (optopt != 0 && strncmp(arg, "--", 2) != 0) {
    static char shortopt[3] = "-?";
    shortopt[1] = (char)optopt;
    arg = shortopt;
  }
  return nat_cli_usage_error("netcheck", "unknown option '%s'", arg);
}

static int parse_args(nc_options *opt, int argc, char **argv, bool *done) {
  bool only4 = false, only6 = false, seen_point = false, live_opt = false;
  int c, rv = 0;
  opterr = 0;
  while (rv == 0 && (c = getopt_long(argc, argv, ":s:r:46jt:b:vhV", long_opts,
                                     NULL)) != -1) {
    if (c > 0 && strchr("srLAHNFBOGT46tSbR", c) != NULL)
      live_opt = true; /* an option of live runs only */
    switch (c) {
    case 's':
      rv = add_server(opt, optarg);
      break;
    case 'r':
      rv = add_server(opt, optarg);
      if (rv == 0)
        opt->servers[opt->nservers - 1].rfc5780 = true;
      break;
    case 'L':
      rv = parse_lifetime(opt, optarg);
      break;
    case 'A':
      rv = parse_samples(opt, optarg);
      break;
    case 'H':
      opt->tests &= ~NAT_PROBE_HAIRPIN;
      break;
    case 'N':
      opt->tests &= ~NAT_PROBE_ALLOCATION;
      break;
    case 'F':
      opt->tests &= ~NAT_PROBE_FILTERING;
      break;
    case 'O':
      opt->no_hops = true;
      break;
    case 'G':
      opt->no_portmap = true;
      break;
    case 'T':
      opt->portmap_test = true;
      break;
    case 'B':
      opt->tests &= NAT_PROBE_LIFETIME;
      opt->tests |= NAT_PROBE_BASIC;
      break;
    case '4':
      only4 = true;
      break;
    case '6':
      only6 = true;
      break;
    case 'j':
      opt->json = true;
      break;
    case 't':
      rv = parse_timeout(opt, optarg);
      break;
    case 'S':
      rv = parse_software(opt, optarg);
      break;
    case 'b':
      rv = parse_bind(opt, optarg);
      break;
    case 'v':
      opt->verbose++;
      break;
    case 'R':
      rv = parse_file(&opt->record, "--record", optarg);
      break;
    case 'P':
      rv = parse_file(&opt->replay, "--replay", optarg);
      break;
    case 'C':
      rv = parse_client(opt, optarg);
      break;
    case 'W':
      rv = parse_point(opt, optarg);
      seen_point = true;
      break;
    case 'h':
      fputs(usage_text, stdout);
      *done = true;
      return 0;
    case 'V':
      printf("netcheck %s (libnat %s)\n", nat_version_string(),
             nat_version_string());
      *done = true;
      return 0;
    default:
      return bad_option(argv, c);
    }
  }
  if (rv != 0)
    return rv;
  if (optind < argc)
    return nat_cli_usage_error(
        "netcheck",
        "unexpected argument '%s': servers are given with "
        "--server HOST[:PORT]",
        argv[optind]);
  if (opt->replay != NULL && live_opt)
    return nat_cli_usage_error(
        "netcheck",
        "--replay %s reads a capture: it takes only --client, "
        "--capture-point, --json and -v, not the options of "
        "a live run",
        opt->replay);
  if (opt->portmap_test && opt->no_portmap)
    return nat_cli_usage_error("netcheck",
                               "--portmap-test maps a port by the protocol "
                               "the probe found: drop --no-portmap%s",
                               "");
  if (opt->replay == NULL && (opt->has_client || seen_point))
    return nat_cli_usage_error("netcheck", "%s only applies to --replay FILE",
                               opt->has_client ? "--client"
                                               : "--capture-point");
  return settle_families(opt, only4, only6);
}

static void add_defaults(nc_options *opt) {
  size_t i;
  for (i = 0; i < sizeof default_servers / sizeof *default_servers; i++)
    if (add_server(opt, default_servers[i]) != 0)
      abort(); /* the built-in list is valid */
}

/* netcheck --replay: the same reports, from a capture. */
static int replay_main(const nc_options *opt, nc_result *res) {
  static nc_replay_info info;
  int rv = nc_replay(opt, res, &info);
  if (rv == 0) {
    rv = opt->json ? nc_report_json(stdout, opt, res)
                   : nc_report_text(stdout, opt, res);
    if (rv == 0 && fflush(stdout) != 0) {
      fprintf(stderr, "netcheck: cannot write the report\n");
      rv = -1;
    }
    if (rv == 0)
      rv = res->verdict.basic.udp_reachable ? NC_EXIT_OK : NC_EXIT_FAIL;
    else
      rv = NC_EXIT_ENV;
  }
  nat_verdict_free(&res->verdict);
  nat_obslog_free(&res->log);
  return rv;
}

int main(int argc, char **argv) {
  static nc_options opt;
  static char software[64];
  nc_result res;
  bool done = false;
  int rv;

  snprintf(software, sizeof software, "netcheck/%s", nat_version_string());
  opt.timeout_ms = NC_DEFAULT_TIMEOUT_MS;
  opt.tests = NAT_PROBE_DEFAULT;
  opt.software = software;
  rv = parse_args(&opt, argc, argv, &done);
  if (rv != 0 || done)
    return rv;
  memset(&res, 0, sizeof res);
  nat_obslog_init(&res.log);
  nat_verdict_init(&res.verdict);
  if (opt.replay != NULL)
    return replay_main(&opt, &res);
  if (opt.nservers == 0)
    add_defaults(&opt);

  rv = nc_run(&opt, &res);
  if (rv == 0)
    rv = opt.json ? nc_report_json(stdout, &opt, &res)
                  : nc_report_text(stdout, &opt, &res);
  if (rv == 0 && fflush(stdout) != 0) {
    fprintf(stderr, "netcheck: cannot write the report\n");
    rv = -1;
  }
  if (rv == 0)
    rv = res.verdict.basic.udp_reachable ? NC_EXIT_OK : NC_EXIT_FAIL;
  else
    rv = NC_EXIT_ENV;
  nat_verdict_free(&res.verdict);
  nat_obslog_free(&res.log);
  return rv;
}
