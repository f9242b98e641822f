/* punch -- the command line tool's shared declarations. See punch(1). */
#ifndef PUNCH_H
#define PUNCH_H

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

#endif
