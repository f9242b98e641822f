/* punch -- the command line tool's shared declarations: main.c calls
 * serve.c and connect.c, the front end of libnat's agent (nat/agent.h,
 * which also runs --pipe), which calls report.c. See punch(1). */
#ifndef PUNCH_H
#define PUNCH_H

#include <stdbool.h>
#include <stdio.h>

#include <nat/agent.h>

typedef struct punch_opts {
  const char *prog;  /* "punch" or "birthday" (spray only) */
  const char *usage; /* --help's text; NULL: punch's */
  bool spray_only;   /* the birthday tool */
  bool ticket_mode;
  const char *rdv, *room, *rdv_pin, *stun;
  unsigned timeout_s;
  bool json, pipe, allow_loopback;
  uint8_t family; /* NAT_AF_NONE: from the server's address (IPv4 first) */
  uint16_t listen_port;
  nat_agent_bday bday; /* --no-birthday, --sockets, --probes, ... */
  bool progress;       /* the spray's progress line (stderr is a tty) */
  bool no_portmap;     /* --no-portmap */
} punch_opts;

/* What a run ended with, for the report. */
typedef struct punch_outcome {
  const punch_opts *opt;
  const nat_agent *agent; /* its pairs; NULL: none */
  nat_agent_info info;
  int exit_code, hint;
  const char *phase, *reason;
} punch_outcome;

void punch_report(const punch_outcome *o, FILE *out);
/* A port-mapping event of the agent, as a line on stderr (text reports
 * only: the JSON report has the outcome). */
void punch_portmap_event(const punch_opts *opt, const nat_portmap_event *ev);

/* Exit statuses (punch(1), EXIT STATUS). */
#define PUNCH_EXIT_OK    0
#define PUNCH_EXIT_FAIL  1
#define PUNCH_EXIT_USAGE 2
#define PUNCH_EXIT_ENV   3

/* `punch serve ARGS...`: argv[0] is "serve". */
int punch_serve(int argc, char **argv);

/* `punch connect ARGS...` and `punch ticket ARGS...`: argv[0] is the
 * command's name (connect.c). */
int punch_connect(int argc, char **argv);
int punch_ticket(int argc, char **argv);
/* The same front end for @p prog ("punch" or "birthday": spray only),
 * @p usage its --help (NULL: punch's). */
int punch_front(const char *prog, const char *usage, bool spray_only,
                bool ticket_mode, int argc, char **argv);

#endif
