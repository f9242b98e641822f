/* birthday -- the command line tool's shared declarations: main.c
 * dispatches to one function per subcommand. See birthday(1). */
#ifndef BIRTHDAY_H
#define BIRTHDAY_H

/* Exit statuses (birthday(1), EXIT STATUS). */
#define BDAY_EXIT_OK    0
#define BDAY_EXIT_FAIL  1
#define BDAY_EXIT_USAGE 2
#define BDAY_EXIT_ENV   3

/* `birthday simulate ARGS...`: argv[0] is "simulate". */
int bday_simulate(int argc, char **argv);

#endif
