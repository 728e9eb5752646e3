// The things Node cannot do with sockets: for the userspace proxy, open a socket with
// IP_TRANSPARENT, so a connection to an endpoint can carry the client's own address
// (externalTrafficPolicy: Local); for the node agent's port-forward, open a socket inside a pod's
// network namespace (as the kubelet's runtime does, switching the calling thread's namespace for
// the socket() call only). Node-API, so it loads into any Node >= 20 without rebuilding. Sockets
// are returned as file descriptors for net.Socket({ fd }) / dgram's bind({ fd }) to take over.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

// transparentSocket(udp: boolean, ip: string, port: number) -> fd, bound to ip:port (port 0: any).
// A TCP socket whose port is taken falls back to a port of the kernel's choosing.
static napi_value transparent_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, NULL, "transparentSocket(udp, ip, port)");
    return NULL;
  }
  bool udp;
  char ip[64];
  size_t len;
  int32_t port;
  if (napi_get_value_bool(env, argv[0], &udp) != napi_ok || napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "transparentSocket(udp: boolean, ip: string, port: 0-65535)");
    return NULL;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "transparentSocket: not an IPv4 address");
    return NULL;
  }
  int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(env, "socket", errno);
  int one = 1;
  if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return fail(env, "setsockopt IP_TRANSPARENT", e);
  }
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    if (udp || e != EADDRINUSE || port == 0) {
      close(fd);
      return fail(env, "bind", e);
    }
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      e = errno;
      close(fd);
      return fail(env, "bind", e);
    }
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// netnsSocket(path: string) -> fd: an unconnected non-blocking TCP/IPv4 socket that belongs to the
// network namespace at path (/run/netns/NAME). A socket keeps the namespace it was made in, so
// connecting it later from Node reaches that namespace's 127.0.0.1.
static napi_value netns_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char nspath[512];
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], nspath, sizeof nspath, &len) != napi_ok || len == 0 || len >= sizeof nspath - 1) {
    napi_throw_type_error(env, NULL, "netnsSocket(path: string)");
    return NULL;
  }
  int target = open(nspath, O_RDONLY | O_CLOEXEC);
  if (target < 0) return fail(env, "open network namespace", errno);
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int e = errno;
    close(target);
    return fail(env, "open /proc/thread-self/ns/net", e);
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(target);
    close(self);
    return fail(env, "setns", e);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int socketErr = errno;
  // Back to our own namespace; a thread left in the pod's would make every later socket there.
  if (setns(self, CLONE_NEWNET) < 0) {
    perror("sockopt.node: setns back to the process's network namespace");
    abort();
  }
  close(target);
  close(self);
  if (fd < 0) return fail(env, "socket", socketErr);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "transparentSocket", NAPI_AUTO_LENGTH, transparent_socket, NULL, &fn);
  napi_set_named_property(env, exports, "transparentSocket", fn);
  napi_create_function(env, "netnsSocket", NAPI_AUTO_LENGTH, netns_socket, NULL, &fn);
  napi_set_named_property(env, exports, "netnsSocket", fn);
  return exports;
}
