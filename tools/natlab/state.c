/* natlab -- lab state under /run/natlab/<prefix>/: the topology copy, the
 * `state` file ("key value" lines, appended BEFORE each resource is made so
 * that `down` can always find it), logs. */
#include "natlab.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/** /run/natlab, or $NATLAB_STATE_DIR (tests isolate themselves with it). */
const char *nl_state_dir(void) {
  const char *env = getenv("NATLAB_STATE_DIR");
  return env && *env == '/' ? env : NL_STATE_DIR;
}

int nl_prefix_valid(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n >= NL_PREFIX_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]))
      return 0;
  return 1;
}

/* "nl" + 4 base-36 digits from the pid and the clock. */
void nl_prefix_default(char *buf, size_t len) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long v = (unsigned long)getpid() * 2654435761ul ^
                    (unsigned long)ts.tv_nsec ^ (unsigned long)ts.tv_sec;
  char id[5];
  for (int i = 0; i < 4; i++) {
    id[i] = digits[v % 36];
    v /= 36;
  }
  id[4] = '\0';
  snprintf(buf, len, "nl%s", id);
}

void nl_state_path(const char *prefix, const char *file, char *buf,
                   size_t len) {
  if (file)
    snprintf(buf, len, "%s/%s/%s", nl_state_dir(), prefix, file);
  else
    snprintf(buf, len, "%s/%s", nl_state_dir(), prefix);
}

int nl_state_add(const char *prefix, const char *key, const char *value) {
  char path[256];
  nl_state_path(prefix, "state", path, sizeof path);
  FILE *f = fopen(path, "a");
  if (!f) {
    fprintf(stderr, "natlab: cannot write %s: %s\n", path, strerror(errno));
    return NL_ERR_ENV;
  }
  fprintf(f, "%s %s\n", key, value);
  return fclose(f) == 0 ? 0 : NL_ERR_ENV;
}

/** The @p nth (0-based) value recorded under @p key. 0, or -1. */
int nl_state_get(const char *prefix, const char *key, int nth, char *value,
                 size_t len) {
  char path[256], line[512];
  size_t kl = strlen(key);
  int found = -1;
  nl_state_path(prefix, "state", path, sizeof path);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, kl) != 0 || line[kl] != ' ')
      continue;
    if (nth-- > 0)
      continue;
    line[strcspn(line, "\n")] = '\0';
    snprintf(value, len, "%s", line + kl + 1);
    found = 0;
    break;
  }
  fclose(f);
  return found;
}

static int cmp_prefix(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

/** The prefixes of the labs recorded under /run/natlab (sorted). */
int nl_state_prefixes(char list[][NL_PREFIX_MAX], int max) {
  DIR *d = opendir(nl_state_dir());
  struct dirent *e;
  int n = 0;
  if (!d)
    return 0;
  while ((e = readdir(d)) && n < max) {
    if (!nl_prefix_valid(e->d_name))
      continue;
    snprintf(list[n++], NL_PREFIX_MAX, "%.6s", e->d_name);
  }
  closedir(d);
  qsort(list, (size_t)n, NL_PREFIX_MAX, cmp_prefix);
  return n;
}

/** When exactly one lab is up, its prefix: commands may omit --prefix. */
int nl_state_single(char *prefix, size_t len) {
  char list[64][NL_PREFIX_MAX];
  int n = nl_state_prefixes(list, 64);
  if (n == 1) {
    snprintf(prefix, len, "%s", list[0]);
    return 0;
  }
  fprintf(stderr,
          n == 0 ? "natlab: no lab is up\n"
                 : "natlab: %d labs are up; choose one with --prefix P\n",
          n);
  return NL_ERR_USAGE;
}
