/* birthday -- the command line tool's shared declarations: main.c
 * dispatches to one function per subcommand (simulate.c, front.c). See
 * birthday(1). */
#ifndef BIRTHDAY_H
#define BIRTHDAY_H

/* Exit statuses (birthday(1), EXIT STATUS). */
#define BDAY_EXIT_OK    0
#define BDAY_EXIT_FAIL  1
#define BDAY_EXIT_USAGE 2
#define BDAY_EXIT_ENV   3

/* `birthday simulate ARGS...`: argv[0] is "simulate" (simulate.c). */
int birthday_simulate(int argc, char **argv);

/* `birthday connect ARGS...` / `birthday ticket ARGS...`: punch's front
 * end with the spray only (front.c, over tools/punch's punch_front). */
int birthday_connect(int argc, char **argv);
int birthday_ticket(int argc, char **argv);

#endif
