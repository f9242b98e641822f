/* natlab -- `down` and `status`: everything a lab recorded in its state
 * file (processes, namespaces), plus any namespace named "<prefix>-*". */
#include "natlab.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Stop a recorded daemon, only if that pid still runs the same program. */
static void stop_pid(const char *comm, int pid) {
  if (!nl_pid_alive(pid, comm))
    return;
  kill(pid, SIGTERM);
  double deadline = nl_now_ms() + 2000;
  while (nl_pid_alive(pid, comm) && nl_now_ms() < deadline)
    usleep(10000); /* bounded polling for the process to exit */
  if (nl_pid_alive(pid, comm))
    kill(pid, SIGKILL);
}

static void stop_processes(const char *prefix) {
  char v[128], comm[64];
  int pid;
  for (int i = 0; nl_state_get(prefix, "pid", i, v, sizeof v) == 0; i++)
    if (sscanf(v, "%63s %d", comm, &pid) == 2)
      stop_pid(comm, pid);
}

static int delete_ns(const char *ns, bool quiet) {
  if (!nl_netns_exists(ns))
    return 0;
  int r = nl_runf(NULL, NULL, "ip", "netns", "del", ns, NULL);
  if (r == 0 && !quiet)
    fprintf(stderr, "natlab: deleted namespace %s\n", ns);
  return r;
}

/* Namespaces recorded in the state file, then any "<prefix>-<node>". */
static int delete_namespaces(const char *prefix, bool quiet) {
  char v[128];
  int r = 0;
  size_t pl = strlen(prefix);
  for (int i = 0; nl_state_get(prefix, "ns", i, v, sizeof v) == 0; i++)
    if (strncmp(v, prefix, pl) == 0 && v[pl] == '-')
      r |= delete_ns(v, quiet);
  DIR *d = opendir("/run/netns");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, prefix, pl) == 0 && e->d_name[pl] == '-')
      r |= delete_ns(e->d_name, quiet);
  }
  if (d)
    closedir(d);
  return r ? NL_ERR_ENV : 0;
}

static int remove_dir(const char *prefix) {
  char dir[256], path[600];
  struct dirent *e;
  nl_state_path(prefix, NULL, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : NL_ERR_ENV;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  return rmdir(dir) == 0 ? 0 : NL_ERR_ENV;
}

/** Tear lab @p prefix down. 0 when nothing of it remains. */
int nl_lab_down(const char *prefix, bool quiet) {
  char dir[256];
  nl_state_path(prefix, NULL, dir, sizeof dir);
  bool known = access(dir, F_OK) == 0;
  stop_processes(prefix);
  int r = delete_namespaces(prefix, quiet);
  if (r == 0)
    r = remove_dir(prefix);
  if (r)
    fprintf(stderr, "natlab: lab %s not fully removed\n", prefix);
  else if (!quiet)
    printf("lab %s down%s\n", prefix, known ? "" : " (was not recorded)");
  return r;
}

/** Tear down every lab recorded under /run/natlab. */
int nl_lab_down_all(void) {
  char list[256][NL_PREFIX_MAX];
  int n = nl_state_prefixes(list, 256), r = 0;
  for (int i = 0; i < n; i++)
    r |= nl_lab_down(list[i], false);
  if (n == 0)
    printf("no lab is up\n");
  return r ? NL_ERR_ENV : 0;
}

static void status_processes(const char *prefix) {
  char v[128], comm[64];
  int pid;
  for (int i = 0; nl_state_get(prefix, "pid", i, v, sizeof v) == 0; i++)
    if (sscanf(v, "%63s %d", comm, &pid) == 2)
      printf("  process %-10s pid %-7d %s\n", comm, pid,
             nl_pid_alive(pid, comm) ? "alive" : "DEAD");
}

static void status_nodes(const char *prefix) {
  static struct nl_topo t;
  struct nl_params params = {0};
  char path[300], v[128], a[20];
  nl_state_path(prefix, "topology.topo", path, sizeof path);
  for (int i = 0;
       i < NL_MAX_PARAMS && nl_state_get(prefix, "set", i, v, sizeof v) == 0;
       i++) {
    char *eq = strchr(v, '=');
    if (!eq)
      continue;
    *eq = '\0';
    snprintf(params.name[params.n], 24, "%.23s", v);
    snprintf(params.value[params.n++], 40, "%.39s", eq + 1);
  }
  if (nl_topo_load(&t, path, &params) != 0)
    return;
  for (int i = 0; i < t.nnodes; i++) {
    char ns[64];
    snprintf(ns, sizeof ns, "%.6s-%s", prefix, t.nodes[i].name);
    if (i == 0)
      snprintf(a, sizeof a, "%s", NL_STUN_IP1);
    else
      nl_ip_str(t.nodes[i].up_addr, a, sizeof a);
    printf("  node %-12s %-5s ns %-20s %-15s %s\n", t.nodes[i].name,
           t.nodes[i].kind == NL_NAT    ? "nat"
           : t.nodes[i].kind == NL_HOST ? "host"
                                        : "wan",
           ns, a, nl_netns_exists(ns) ? "" : "MISSING");
  }
}

/** Print the labs that are up (all, or only @p prefix). */
int nl_lab_status(const char *prefix) {
  char list[256][NL_PREFIX_MAX], topo[128];
  int n = nl_state_prefixes(list, 256), shown = 0;
  for (int i = 0; i < n; i++) {
    if (prefix && strcmp(prefix, list[i]) != 0)
      continue;
    if (nl_state_get(list[i], "topology", 0, topo, sizeof topo) != 0)
      snprintf(topo, sizeof topo, "?");
    printf("lab %s: topology %s\n", list[i], topo);
    status_nodes(list[i]);
    status_processes(list[i]);
    shown++;
  }
  if (!shown) {
    if (prefix)
      fprintf(stderr, "natlab: no lab with prefix %s is up\n", prefix);
    else
      printf("no lab is up\n");
    return prefix ? NL_ERR_USAGE : 0;
  }
  return 0;
}
