// The things Node cannot do with sockets: for the userspace proxy, open a socket with
// IP_TRANSPARENT, so a connection to an endpoint can carry the client's own address
// (externalTrafficPolicy: Local); for the node agent's port-forward, open a socket inside a pod's
// network namespace (as the kubelet's runtime does, switching the calling thread's namespace for
// the socket() call only); for the agent's LoadBalancer speaker, read a link and add, renew and
// remove an address over rtnetlink (what `ip link show` / `ip addr replace|del` send), twice a
// second, without starting an `ip` process each time. Node-API, so it loads into any Node >= 20
// without rebuilding. Sockets are returned as file descriptors for net.Socket({ fd }) / dgram's
// bind({ fd }) to take over.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
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

// A socket made in the network namespace at nspath (NULL: the thread's own), as -errno on failure;
// what for says which step failed. A socket keeps the namespace it was made in.
static int socket_in(const char *nspath, int domain, int type, int protocol, const char **what) {
  if (!nspath) {
    int fd = socket(domain, type, protocol);
    *what = "socket";
    return fd < 0 ? -errno : fd;
  }
  int target = open(nspath, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    *what = "open network namespace";
    return -errno;
  }
  // The process's own namespace, opened once (every thread is in it between calls), not again
  // for each of port-forward's connections.
  static int self = -1;
  if (self < 0) self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int e = errno;
    close(target);
    *what = "open /proc/thread-self/ns/net";
    return -e;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(target);
    *what = "setns";
    return -e;
  }
  int fd = socket(domain, type, protocol);
  int socketErr = errno;
  // Back to our own namespace; a thread left in the pod's would make every later socket there.
  if (setns(self, CLONE_NEWNET) < 0) {
    perror("sockopt.node: setns back to the process's network namespace");
    abort();
  }
  close(target);
  *what = "socket";
  return fd < 0 ? -socketErr : fd;
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
  const char *what;
  int fd = socket_in(nspath, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &what);
  if (fd < 0) return fail(env, what, -fd);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// ---- rtnetlink: one request, its answer, on a socket made for it ----

struct nlreq {
  struct nlmsghdr h;
  union {
    struct ifinfomsg link;
    struct ifaddrmsg addr;
  } u;
  char attrs[256];
};

static void add_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

// Sends req in the namespace at nspath (NULL: ours) and reads until its answer: 0 for an ack, the
// message's length when the kernel answered with a message (copied to reply), -errno otherwise
// (with *step naming what failed when it was not the kernel's answer).
static int nl_call(const char *nspath, struct nlmsghdr *req, char *reply, size_t cap, const char **step) {
  int fd = socket_in(nspath, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, step);
  if (fd < 0) return fd;
  *step = NULL;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  req->nlmsg_seq = 1;
  int ret = -EIO;
  if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    ret = -errno;
    *step = "send to rtnetlink";
    goto out;
  }
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      ret = -errno;
      *step = "receive from rtnetlink";
      goto out;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != req->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        goto out;
      }
      if (h->nlmsg_len > cap) {
        ret = -EMSGSIZE;
        goto out;
      }
      memcpy(reply, h, h->nlmsg_len);
      ret = (int)h->nlmsg_len;
      goto out;
    }
  }
out:
  close(fd);
  return ret;
}

// Error texts as ip's: the kernel's refusal after "RTNETLINK answers: ", a missing device by name;
// a step of our own that failed by its name.
static napi_value nl_fail(napi_env env, int err, const char *dev, const char *step) {
  if (step) return fail(env, step, err);
  char msg[200];
  if (err == ENODEV && dev) snprintf(msg, sizeof msg, "Device \"%s\" does not exist.", dev);
  else snprintf(msg, sizeof msg, "RTNETLINK answers: %s", strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

// The link named dev: its index and flags (IFF_UP, IFF_LOWER_UP, ...), as RTM_GETLINK answers.
static int link_of(const char *nspath, const char *dev, int *index, unsigned *flags, const char **step) {
  struct nlreq req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.u.link);
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.u.link.ifi_family = AF_UNSPEC;
  add_attr(&req.h, IFLA_IFNAME, dev, strlen(dev) + 1);
  char reply[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  int r = nl_call(nspath, &req.h, reply, sizeof reply, step);
  if (r < 0) return r;
  if (r == 0 || ((struct nlmsghdr *)reply)->nlmsg_type != RTM_NEWLINK) return -EPROTO;
  struct ifinfomsg *ifi = NLMSG_DATA((struct nlmsghdr *)reply);
  *index = ifi->ifi_index;
  *flags = ifi->ifi_flags;
  return 0;
}

// The arguments every rtnetlink call starts with: the namespace's path ("" for ours) and the device.
static bool ns_and_dev(napi_env env, napi_value *argv, char *nspath, size_t nscap, char *dev, size_t devcap) {
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], nspath, nscap, &len) != napi_ok || len >= nscap - 1) return false;
  if (napi_get_value_string_utf8(env, argv[1], dev, devcap, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) return false;
  return true;
}

// linkFlags(nspath: string, dev: string) -> number: the link's flags (IFF_UP 0x1, IFF_LOWER_UP 0x10000).
static napi_value link_flags(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char nspath[512], dev[IFNAMSIZ + 1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !ns_and_dev(env, argv, nspath, sizeof nspath, dev, sizeof dev)) {
    napi_throw_type_error(env, NULL, "linkFlags(nspath: string, dev: string)");
    return NULL;
  }
  int index;
  unsigned flags;
  const char *step;
  int r = link_of(nspath[0] ? nspath : NULL, dev, &index, &flags, &step);
  if (r < 0) return nl_fail(env, -r, dev, step);
  napi_value out;
  napi_create_uint32(env, flags, &out);
  return out;
}

// addr(nspath, dev, ip, prefixLen, lifetimeSeconds | -1 to delete): `ip addr replace IP/LEN dev DEV
// valid_lft S preferred_lft S` (a lifetime of 0xffffffff is forever), or `ip addr del IP/LEN dev DEV`.
static napi_value addr(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  char nspath[512], dev[IFNAMSIZ + 1], ip[64];
  size_t len;
  int32_t prefix;
  int64_t lifetime;
  struct in_addr a;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || !ns_and_dev(env, argv, nspath, sizeof nspath, dev, sizeof dev) ||
      napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &len) != napi_ok || inet_pton(AF_INET, ip, &a) != 1 ||
      napi_get_value_int32(env, argv[3], &prefix) != napi_ok || prefix < 0 || prefix > 32 ||
      napi_get_value_int64(env, argv[4], &lifetime) != napi_ok || lifetime < -1 || lifetime > 0xffffffffLL) {
    napi_throw_type_error(env, NULL, "addr(nspath: string, dev: string, ipv4: string, prefixLen: 0-32, lifetimeSeconds: number, -1 to delete)");
    return NULL;
  }
  const char *ns = nspath[0] ? nspath : NULL;
  int index;
  unsigned flags;
  const char *step;
  int r = link_of(ns, dev, &index, &flags, &step);
  if (r < 0) return nl_fail(env, -r, dev, step);
  struct nlreq req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.u.addr);
  req.h.nlmsg_type = lifetime < 0 ? RTM_DELADDR : RTM_NEWADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (lifetime < 0 ? 0 : NLM_F_CREATE | NLM_F_REPLACE);
  req.u.addr.ifa_family = AF_INET;
  req.u.addr.ifa_prefixlen = (unsigned char)prefix;
  req.u.addr.ifa_scope = RT_SCOPE_UNIVERSE;
  req.u.addr.ifa_index = (unsigned)index;
  add_attr(&req.h, IFA_LOCAL, &a, sizeof a);
  add_attr(&req.h, IFA_ADDRESS, &a, sizeof a);
  if (lifetime >= 0) {
    struct ifa_cacheinfo ci = { .ifa_prefered = (uint32_t)lifetime, .ifa_valid = (uint32_t)lifetime };
    add_attr(&req.h, IFA_CACHEINFO, &ci, sizeof ci);
  }
  char reply[512] __attribute__((aligned(NLMSG_ALIGNTO)));
  r = nl_call(ns, &req.h, reply, sizeof reply, &step);
  if (r < 0) return nl_fail(env, -r, NULL, step);
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "transparentSocket", NAPI_AUTO_LENGTH, transparent_socket, NULL, &fn);
  napi_set_named_property(env, exports, "transparentSocket", fn);
  napi_create_function(env, "netnsSocket", NAPI_AUTO_LENGTH, netns_socket, NULL, &fn);
  napi_set_named_property(env, exports, "netnsSocket", fn);
  napi_create_function(env, "linkFlags", NAPI_AUTO_LENGTH, link_flags, NULL, &fn);
  napi_set_named_property(env, exports, "linkFlags", fn);
  napi_create_function(env, "addr", NAPI_AUTO_LENGTH, addr, NULL, &fn);
  napi_set_named_property(env, exports, "addr", fn);
  return exports;
}
