// LD_PRELOAD shim for the S3 server under bench (s3s-fs): every accepted TCP socket gets
// TCP_NODELAY. s3s-fs does not set it, so a GET's body, written after its headers, waits
// for the client's delayed ACK: ~40 ms a GET on loopback (1.2 ms with this), a stall real
// S3 does not have. Built by bench/lib.sh with the system's cc.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int accept(int fd, struct sockaddr *a, socklen_t *l) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "accept");
  int c = real(fd, a, l);
  nodelay(c);
  return c;
}

int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = dlsym(RTLD_NEXT, "accept4");
  int c = real(fd, a, l, flags);
  nodelay(c);
  return c;
}
