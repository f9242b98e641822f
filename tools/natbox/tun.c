/* natbox: TUN devices created inside network namespaces.
 * The thread enters the namespace (setns), opens /dev/net/tun and creates
 * the device there; the fd stays bound to that device after the thread
 * switches back. The link is brought up with MTU 1500 through a socket
 * opened in the same namespace, with a transmit queue deeper than the
 * kernel's default of 500: that queue is all that holds packets while
 * natbox waits for a CPU, and a short one loses bursts when natbox shares
 * its CPUs with the traffic's senders and receivers. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "natbox_prog.h"

#define NB_MTU 1500

static int fail_errno(char *err, size_t cap, const char *what, const nb_side *s,
                      int e) {
  snprintf(err, cap, "%s (netns %s, device %s): %s", what, s->netns, s->ifname,
           strerror(e));
  return -1;
}

/* In the current namespace: bring @p ifname up with MTU 1500 and a
 * transmit queue of @p qlen packets. */
static int link_up(const nb_side *s, unsigned qlen, char *err, size_t cap) {
  struct ifreq ifr;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int e;
  if (sock < 0)
    return fail_errno(err, cap, "cannot open a control socket", s, errno);
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", s->ifname);
  ifr.ifr_mtu = NB_MTU;
  if (ioctl(sock, SIOCSIFMTU, &ifr) < 0)
    goto fail;
  ifr.ifr_qlen = (int)qlen;
  if (ioctl(sock, SIOCSIFTXQLEN, &ifr) < 0)
    goto fail;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    goto fail;
  ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
    goto fail;
  close(sock);
  return 0;
fail:
  e = errno;
  close(sock);
  return fail_errno(err, cap, "cannot set the TUN device up", s, e);
}

/* In the current namespace: create the TUN device. @return fd or -1. */
static int tun_create(const nb_side *s, char *err, size_t cap) {
  struct ifreq ifr;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return fail_errno(err, cap, "TUN unavailable: cannot open /dev/net/tun", s,
                      errno);
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", s->ifname);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return fail_errno(err, cap, "cannot create the TUN device", s, e);
  }
  return fd;
}

/** Create a TUN device in a network namespace; see natbox_prog.h. */
int nb_tun_open(nb_side *s, unsigned qlen, char *err, size_t cap) {
  char path[128];
  int self, target, fd, rv = -1;
  self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return fail_errno(err, cap, "cannot open /proc/self/ns/net", s, errno);
  snprintf(path, sizeof path, "/var/run/netns/%s", s->netns);
  target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    if (errno == ENOENT)
      snprintf(err, cap, "network namespace '%s' not found (%s missing)",
               s->netns, path);
    else
      fail_errno(err, cap, "cannot open the network namespace", s, errno);
    close(self);
    return -1;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    fail_errno(err, cap, "cannot enter the network namespace", s, errno);
    goto out;
  }
  fd = tun_create(s, err, cap);
  if (fd >= 0 && link_up(s, qlen, err, cap) < 0) {
    close(fd);
    fd = -1;
  }
  if (setns(self, CLONE_NEWNET) < 0) {
    fail_errno(err, cap, "cannot return to the original namespace", s, errno);
    if (fd >= 0)
      close(fd);
    goto out;
  }
  if (fd >= 0) {
    s->fd = fd;
    rv = 0;
  }
out:
  close(target);
  close(self);
  return rv;
}
