/* udpblast: UDP traffic for tests/bench/natbox_bench.sh.
 *
 *   udpblast send SRC_IP DST_IP PORT SECONDS [SIZE]
 *       sends SIZE-byte datagrams (default 64) as fast as sendmmsg allows
 *       for SECONDS; prints "sent N".
 *   udpblast recv BIND_IP PORT SECONDS
 *       counts datagrams until SECONDS after the first one, or 1 s of
 *       silence; prints "received N pps R" (R over first..last packet).
 *   udpblast echo BIND_IP PORT SECONDS
 *       answers every datagram to its source, for SECONDS.
 *   udpblast ping SRC_IP DST_IP PORT COUNT INTERVAL_MS
 *       COUNT probes INTERVAL_MS apart, 1 s for the last answer; prints
 *       "received N min_ms A median_ms B mean_ms C max_ms D p99_ms E".
 * Benchmark helper only: traffic stays in the bench's own namespaces. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int udp_socket(const char *ip, int port) {
  struct sockaddr_in sa;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
      bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    perror("udpblast: socket/bind");
    exit(3);
  }
  /* Root (the bench runs as root) may exceed rmem_max: the receiver should
   * not be the one dropping, neither on veth nor through natbox. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  return fd;
}

static struct sockaddr_in dest(const char *ip, int port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
    fprintf(stderr, "udpblast: bad address %s\n", ip);
    exit(2);
  }
  return sa;
}

static int do_send(char **argv, int argc) {
  int fd = udp_socket(argv[2], 0);
  struct sockaddr_in to = dest(argv[3], atoi(argv[4]));
  double end = now_s() + atof(argv[5]);
  size_t size = argc > 6 ? (size_t)atoi(argv[6]) : 64;
  static uint8_t payload[1500];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  unsigned long long sent = 0;
  if (size < 8 || size > sizeof payload)
    size = 64;
  if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
    perror("udpblast: connect");
    return 3;
  }
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  while (now_s() < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0)
      sent += (unsigned long long)n;
  }
  printf("sent %llu\n", sent);
  return 0;
}

static int do_recv(char **argv) {
  int fd = udp_socket(argv[2], atoi(argv[3]));
  double dur = atof(argv[4]), first = 0, last = 0;
  static uint8_t bufs[BATCH][2048];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  unsigned long long count = 0;
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n, wait_ms = count ? 1000 : 10000;
    if (count && now_s() - first > dur)
      break;
    if (poll(&p, 1, wait_ms) <= 0)
      break;
    n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      continue;
    last = now_s();
    if (!count)
      first = last;
    count += (unsigned long long)n;
  }
  printf("received %llu pps %.0f\n", count,
         last > first ? (double)count / (last - first) : 0.0);
  return 0;
}

static int do_echo(char **argv) {
  int fd = udp_socket(argv[2], atoi(argv[3]));
  double end = now_s() + atof(argv[4]);
  uint8_t buf[2048];
  while (now_s() < end) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n;
    if (poll(&p, 1, 100) <= 0)
      continue;
    n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n > 0)
      sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int do_ping(char **argv) {
  int fd = udp_socket(argv[2], 0);
  struct sockaddr_in to = dest(argv[3], atoi(argv[4]));
  int count = atoi(argv[5]), got = 0, sent = 0;
  double interval = atof(argv[6]) / 1000.0, start = now_s(), sum = 0;
  double *sent_at = calloc((size_t)count, sizeof(double));
  double *rtt = calloc((size_t)count, sizeof(double));
  if (!sent_at || !rtt || count <= 0)
    return 2;
  for (;;) {
    double t = now_s(), next = start + sent * interval;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    double until = sent < count ? next : sent_at[count - 1] + 1.0;
    if (sent < count && t >= next) {
      uint32_t seq = (uint32_t)sent;
      sent_at[sent++] = t;
      sendto(fd, &seq, sizeof seq, 0, (struct sockaddr *)&to, sizeof to);
      continue;
    }
    if (sent == count && (got == count || t >= until))
      break;
    if (poll(&p, 1, (int)((until - t) * 1000.0) + 1) > 0) {
      uint32_t seq;
      if (recv(fd, &seq, sizeof seq, 0) == sizeof seq && seq < (uint32_t)sent &&
          sent_at[seq] > 0) {
        rtt[got++] = (now_s() - sent_at[seq]) * 1000.0;
        sent_at[seq] = -1;
      }
    }
  }
  qsort(rtt, (size_t)got, sizeof rtt[0], cmp_double);
  for (int i = 0; i < got; i++)
    sum += rtt[i];
  printf("received %d min_ms %.3f median_ms %.3f mean_ms %.3f max_ms %.3f "
         "p99_ms %.3f\n",
         got, got ? rtt[0] : 0, got ? rtt[got / 2] : 0, got ? sum / got : 0,
         got ? rtt[got - 1] : 0, got ? rtt[(got * 99) / 100] : 0);
  free(sent_at);
  free(rtt);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && !strcmp(argv[1], "send"))
    return do_send(argv, argc);
  if (argc == 5 && !strcmp(argv[1], "recv"))
    return do_recv(argv);
  if (argc == 5 && !strcmp(argv[1], "echo"))
    return do_echo(argv);
  if (argc == 7 && !strcmp(argv[1], "ping"))
    return do_ping(argv);
  fprintf(stderr, "usage: udpblast send|recv|echo|ping ... (see source)\n");
  return 2;
}
