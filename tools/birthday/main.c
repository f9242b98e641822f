/* birthday -- the hard-NAT spray: the acceptor opens many ports, the
 * dialer sprays, the first authenticated hit wins.
 * This file: subcommand dispatch (one row a subcommand). See birthday(1). */
#include <stdio.h>
#include <string.h>

#include <nat/common.h>

#include "birthday.h"

typedef struct bday_cmd {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help; /* one line for the usage text */
} bday_cmd;

static const bday_cmd cmds[] = {
    {"connect", birthday_connect,
     "meet the peer through a rendezvous, then spray (only): the first\n"
     "           authenticated hit carries QUIC; birthday connect --help"},
    {"ticket", birthday_ticket,
     "the same with pasted tickets (--role on both sides)"},
    {"simulate", birthday_simulate,
     "Monte Carlo of the spray over natbox's NAT model: measured success\n"
     "           with its 95 % interval against the formula (--sweep: the\n"
     "           table for several K and ranges); birthday simulate --help"},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f) {
  fputs("usage: birthday COMMAND [options]\n"
        "       birthday --help | --version\n\n",
        f);
  for (size_t i = 0; i < NCMDS; i++)
    fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
  fputs("\nExit status: 0 success, 1 failure, 2 usage error, 3 internal or\n"
        "environment error.\n",
        f);
}

/* "'a', 'b' or 'c'" into @p buf. */
static const char *cmd_list(char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < NCMDS && len < cap; i++) {
    const char *sep = i == 0 ? "" : (i + 1 == NCMDS ? " or " : ", ");
    int k = snprintf(buf + len, cap - len, "%s'%s'", sep, cmds[i].name);
    if (k < 0)
      break;
    len += (size_t)k;
  }
  return buf;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : NULL;
  char names[128];
  if (cmd == NULL) {
    fprintf(stderr,
            "birthday: missing command: expected %s (see birthday --help)\n",
            cmd_list(names, sizeof names));
    return BDAY_EXIT_USAGE;
  }
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
    usage(stdout);
    return BDAY_EXIT_OK;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("birthday %s (libnat %s)\n", nat_version_string(),
           nat_version_string());
    return BDAY_EXIT_OK;
  }
  for (size_t i = 0; i < NCMDS; i++)
    if (strcmp(cmd, cmds[i].name) == 0)
      return cmds[i].run(argc - 1, argv + 1);
  fprintf(stderr,
          "birthday: unknown command '%s': expected %s (see birthday "
          "--help)\n",
          cmd, cmd_list(names, sizeof names));
  return BDAY_EXIT_USAGE;
}
