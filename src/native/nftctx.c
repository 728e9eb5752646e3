// One libnftables context kept alive across transactions, for a caller that runs many small ones
// on a large table (kube-proxy's partial syncs): one process's nft state rather than a new `nft`
// each time. nft still reads from the kernel what each transaction needs (its cache lasts only
// while the ruleset's generation id is unchanged, and every commit changes it); the caller keeps
// that small by what it writes (src/knftables/cachefree.ts).
//
// Each context has its own thread, joined to the given network namespace for its life, which
// runs every nft call of the context (libnftables is not thread-safe per context; its netlink
// socket and the interface lookups it makes then belong to that namespace). The JavaScript side
// waits for each call's answer.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct nftctx {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct nft_ctx *nft;
  int nsfd;         // the namespace to join (-1: the process's)
  int srcfd;        // a memfd holding the call's text, which nft reads as a file
  char srcpath[64]; // its name, /proc/self/fd/N, as nft's error locations give it
  int open_err;     // errno of joining the namespace or making the context
  bool ready;       // the thread has made its context (or failed to)
  bool busy;        // a call is running
  bool has_job;     // a call waits for the thread
  bool done;        // the call's answer is there
  bool quit;
  char *job;        // the call's nft text, or (del_count > 0) the table of the deletes
  // a batch of deletes by name, sent as netlink messages of our own: family, kinds (0 chain,
  // 1 set or map) and names; the answer is rc (0, or the kernel's errno) and del_failed
  int del_family;
  int del_count;
  int *del_kinds;
  char **del_names;
  int del_failed;   // the first refused delete's index, -1 for none
  // a count of one chain's rules (job: the table, del_names[0]: the chain), by a netlink dump of
  // that chain alone; the answer is rc and count
  bool count_rules;
  int count;
  int rc;
  char *out, *err;
};

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static struct nft_ctx *new_context(void) {
  struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
  if (nft && (nft_ctx_buffer_output(nft) != 0 || nft_ctx_buffer_error(nft) != 0)) {
    nft_ctx_free(nft);
    return NULL;
  }
  return nft;
}

static int write_source(int fd, const char *text) {
  size_t len = strlen(text), off = 0;
  if (ftruncate(fd, 0) != 0) return -1;
  while (off < len) {
    ssize_t n = pwrite(fd, text + off, len - off, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

static void put_attr(char *buf, size_t *off, unsigned short type, const char *str) {
  struct nlattr *a = (struct nlattr *)(buf + *off);
  size_t len = strlen(str) + 1;
  a->nla_type = type;
  a->nla_len = (unsigned short)(NLA_HDRLEN + len);
  memcpy(buf + *off + NLA_HDRLEN, str, len);
  memset(buf + *off + NLA_HDRLEN + len, 0, NLA_ALIGN(a->nla_len) - a->nla_len);
  *off += NLA_ALIGN(a->nla_len);
}

static void put_msg(char *buf, size_t *off, unsigned short type, unsigned short flags, int family, unsigned seq, unsigned short res_id) {
  struct nlmsghdr *h = (struct nlmsghdr *)(buf + *off);
  h->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  h->nlmsg_type = type;
  h->nlmsg_flags = flags;
  h->nlmsg_seq = seq;
  h->nlmsg_pid = 0;
  struct nfgenmsg *g = (struct nfgenmsg *)(buf + *off + NLMSG_HDRLEN);
  g->nfgen_family = (unsigned char)family;
  g->version = NFNETLINK_V0;
  g->res_id = htons(res_id);
  *off += h->nlmsg_len;
}

// Deletes chains and sets of one table by name in one nftables batch, as nft would send them,
// without the cache nft would read first (every chain of every table, for a delete). The kernel
// handles the batch within sendmsg: the errors it refused messages with are queued by the time
// that returns, and none means the batch was committed. 0, or the first refusal's errno (its
// index in *failed), or the errno of talking to the kernel at all (*failed -1).
static int nl_delete(int family, const char *table, int n, const int *kinds, char *const *names, int *failed) {
  *failed = -1;
  size_t cap = 2 * NLMSG_ALIGN(NLMSG_HDRLEN + sizeof(struct nfgenmsg)) + (size_t)n * (NLMSG_HDRLEN + 4 + 2 * (NLA_HDRLEN + 260));
  char *buf = calloc(1, cap);
  if (!buf) return ENOMEM;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    int e = errno;
    free(buf);
    return e;
  }
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  int err = 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) err = errno;
  unsigned seq0 = 1;
  size_t off = 0;
  put_msg(buf, &off, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, AF_UNSPEC, seq0, NFNL_SUBSYS_NFTABLES);
  for (int i = 0; i < n; i++) {
    size_t start = off;
    unsigned short type = (NFNL_SUBSYS_NFTABLES << 8) | (kinds[i] == 0 ? NFT_MSG_DELCHAIN : NFT_MSG_DELSET);
    put_msg(buf, &off, type, NLM_F_REQUEST, family, seq0 + 1 + (unsigned)i, 0);
    put_attr(buf, &off, kinds[i] == 0 ? NFTA_CHAIN_TABLE : NFTA_SET_TABLE, table);
    put_attr(buf, &off, kinds[i] == 0 ? NFTA_CHAIN_NAME : NFTA_SET_NAME, names[i]);
    ((struct nlmsghdr *)(buf + start))->nlmsg_len = (unsigned)(off - start);
  }
  put_msg(buf, &off, NFNL_MSG_BATCH_END, NLM_F_REQUEST, AF_UNSPEC, seq0 + 1 + (unsigned)n, NFNL_SUBSYS_NFTABLES);
  if (!err) {
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent = sendto(fd, buf, off, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (sent < 0) err = errno;
    else if ((size_t)sent != off) err = EMSGSIZE;
  }
  // What the kernel answered: only refusals, since no message asked for an ack. The first
  // refusal (lowest index) is the one to report, as nft reports its first error.
  int refused = 0;
  char rbuf[8192];
  while (!err) {
    ssize_t r = recv(fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: all read. ENOBUFS: more refusals than the buffer held: the batch was refused.
      if (errno == ENOBUFS && !refused) err = ENOBUFS;
      break;
    }
    int left = (int)r;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      const struct nlmsgerr *e = NLMSG_DATA(h);
      if (e->error == 0) continue;
      int idx = (int)(h->nlmsg_seq - seq0 - 1);
      if (idx < 0 || idx >= n) idx = -1;
      if (!refused || (idx >= 0 && (*failed < 0 || idx < *failed))) {
        refused = -e->error;
        *failed = idx;
      }
    }
  }
  if (!err) err = refused;
  close(fd);
  free(buf);
  return err;
}

// Counts the rules of one chain by a dump of that chain alone (NFT_MSG_GETRULE naming the table
// and chain): nft 1.0.x would read every chain of every table first. 0 with *count (0 for a chain
// or table that does not exist: the kernel's filtered dump is then empty), or an errno.
static int nl_count_rules(int family, const char *table, const char *chain, int *count) {
  *count = 0;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return errno;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  int err = 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) err = errno;
  char buf[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
  memset(buf, 0, sizeof buf);
  size_t off = 0;
  put_msg(buf, &off, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, family, 1, 0);
  put_attr(buf, &off, NFTA_RULE_TABLE, table);
  put_attr(buf, &off, NFTA_RULE_CHAIN, chain);
  ((struct nlmsghdr *)buf)->nlmsg_len = (unsigned)off;
  if (!err) {
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, buf, off, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) err = errno;
  }
  // A big chain's rules come in many datagrams; each rule is one NEWRULE message.
  const size_t cap = 65536;
  char *rbuf = malloc(cap);
  if (!rbuf && !err) err = ENOMEM;
  bool done = false;
  while (!err && !done) {
    ssize_t r = recv(fd, rbuf, cap, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    int left = (int)r;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        int e = -((const struct nlmsgerr *)NLMSG_DATA(h))->error;
        if (e) err = e;
        done = true;
        break;
      }
      if ((h->nlmsg_type & 0xff) == NFT_MSG_NEWRULE) (*count)++;
    }
  }
  free(rbuf);
  close(fd);
  return err;
}

static void *worker(void *arg) {
  struct nftctx *c = arg;
  int err = 0;
  if (c->nsfd >= 0 && setns(c->nsfd, CLONE_NEWNET) != 0) err = errno;
  if (!err && !(c->nft = new_context())) err = errno ? errno : ENOMEM;
  // nft gives an error's line and column only for text it read from a file (from a buffer it
  // shows the first line of the buffer, whichever line was wrong).
  if (!err && (c->srcfd = memfd_create("nft-transaction", MFD_CLOEXEC)) < 0) err = errno;
  if (!err) snprintf(c->srcpath, sizeof c->srcpath, "/proc/self/fd/%d", c->srcfd);
  pthread_mutex_lock(&c->mu);
  c->open_err = err;
  c->ready = true;
  pthread_cond_broadcast(&c->cv);
  if (err) {
    pthread_mutex_unlock(&c->mu);
    return NULL;
  }
  for (;;) {
    while (!c->has_job && !c->quit) pthread_cond_wait(&c->cv, &c->mu);
    if (c->quit) break;
    c->has_job = false;
    char *job = c->job;
    c->job = NULL;
    if (c->count_rules || c->del_count > 0) {
      // netlink messages of our own, not nft: a count of a chain's rules, or deletes by name
      bool counting = c->count_rules;
      pthread_mutex_unlock(&c->mu);
      int value = -1;
      int rc = counting ? nl_count_rules(c->del_family, job, c->del_names[0], &value) : nl_delete(c->del_family, job, c->del_count, c->del_kinds, c->del_names, &value);
      free(job);
      pthread_mutex_lock(&c->mu);
      c->rc = rc;
      if (counting) c->count = value;
      else c->del_failed = value;
      c->done = true;
      c->busy = false;
      pthread_cond_broadcast(&c->cv);
      continue;
    }
    pthread_mutex_unlock(&c->mu);

    // Fresh buffers for this call (buffering again rewinds them).
    nft_ctx_buffer_output(c->nft);
    nft_ctx_buffer_error(c->nft);
    int rc = write_source(c->srcfd, job);
    char *out, *errtext;
    if (rc == 0) {
      rc = nft_run_cmd_from_filename(c->nft, c->srcpath);
      out = dup_or_empty(nft_ctx_get_output_buffer(c->nft));
      errtext = dup_or_empty(nft_ctx_get_error_buffer(c->nft));
    } else {
      char msg[160];
      snprintf(msg, sizeof msg, "nftctx: cannot write the transaction for nft: %s\n", strerror(errno));
      out = strdup("");
      errtext = strdup(msg);
    }
    free(job);
    if (rc != 0) {
      // nft has dropped its cache already; a new context also forgets anything else the failed
      // call left behind (a half-read input, scopes).
      nft_ctx_free(c->nft);
      c->nft = new_context();
    }

    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->out = out;
    c->err = errtext;
    c->done = true;
    // Could not make a new context: the next call says so.
    if (!c->nft) c->open_err = ENOMEM;
    c->busy = false;
    pthread_cond_broadcast(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static void shut(struct nftctx *c) {
  pthread_mutex_lock(&c->mu);
  c->quit = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  if (c->nft) nft_ctx_free(c->nft);
  if (c->nsfd >= 0) close(c->nsfd);
  if (c->srcfd >= 0) close(c->srcfd);
  free(c->job);
  free(c->out);
  free(c->err);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

// What JavaScript holds: the context until close() (or garbage collection) ends it.
struct handle {
  struct nftctx *c;
};

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct handle *h = data;
  if (h->c) shut(h->c);
  free(h);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static bool get_string(napi_env env, napi_value v, char **out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  *out = malloc(len + 1);
  if (!*out) return false;
  return napi_get_value_string_utf8(env, v, *out, len + 1, &len) == napi_ok;
}

// open(netnsPath: string | null) -> context
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_typeof(env, argv[0], &t0) != napi_ok || (t0 != napi_string && t0 != napi_null)) {
    napi_throw_type_error(env, NULL, "open(netnsPath: string | null)");
    return NULL;
  }
  struct nftctx *c = calloc(1, sizeof *c);
  if (!c) return throw_errno(env, "nftctx", ENOMEM);
  c->nsfd = -1;
  c->srcfd = -1;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  if (t0 == napi_string) {
    char *p = NULL;
    if (!get_string(env, argv[0], &p)) {
      free(p);
      pthread_mutex_destroy(&c->mu);
      pthread_cond_destroy(&c->cv);
      free(c);
      napi_throw_type_error(env, NULL, "open: bad netnsPath");
      return NULL;
    }
    c->nsfd = open(p, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (c->nsfd < 0) {
      char what[300];
      snprintf(what, sizeof what, "open %s", p);
      free(p);
      pthread_mutex_destroy(&c->mu);
      pthread_cond_destroy(&c->cv);
      free(c);
      return throw_errno(env, what, e);
    }
    free(p);
  }
  int e = pthread_create(&c->thread, NULL, worker, c);
  if (e) {
    if (c->nsfd >= 0) close(c->nsfd);
    free(c);
    return throw_errno(env, "pthread_create", e);
  }
  pthread_mutex_lock(&c->mu);
  while (!c->ready) pthread_cond_wait(&c->cv, &c->mu);
  int oe = c->open_err;
  pthread_mutex_unlock(&c->mu);
  if (oe) {
    shut(c);
    return throw_errno(env, "nft_ctx_new", oe);
  }
  struct handle *h = malloc(sizeof *h);
  napi_value ext;
  if (!h) {
    shut(c);
    return throw_errno(env, "nftctx", ENOMEM);
  }
  h->c = c;
  if (napi_create_external(env, h, finalize, NULL, &ext) != napi_ok) {
    shut(c);
    free(h);
    return NULL;
  }
  return ext;
}

static struct handle *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

// A context not closed yet (else a TypeError is pending and NULL returned).
static struct nftctx *get_ctx(napi_env env, napi_value v) {
  struct handle *h = get_handle(env, v);
  return h ? h->c : NULL;
}

// close(context): ends its thread and frees the context; later calls on it throw.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct handle *h;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || !(h = get_handle(env, argv[0]))) {
    napi_throw_type_error(env, NULL, "close(context)");
    return NULL;
  }
  if (h->c) shut(h->c);
  h->c = NULL;
  return NULL;
}

static napi_value set_prop(napi_env env, napi_value obj, const char *name, napi_value v) {
  napi_set_named_property(env, obj, name, v);
  return obj;
}

// { rc, <name>: value }: the answer of a call that is not nft's text.
static napi_value rc_and(napi_env env, int rc, const char *name, int value) {
  napi_value res, v;
  napi_create_object(env, &res);
  napi_create_int32(env, rc, &v);
  set_prop(env, res, "rc", v);
  napi_create_int32(env, value, &v);
  set_prop(env, res, name, v);
  return res;
}

// Waits until the context's thread is free and returns with c->mu held: 0, or (c->mu released)
// the errno the context failed with.
static int acquire(struct nftctx *c) {
  pthread_mutex_lock(&c->mu);
  while (c->busy) pthread_cond_wait(&c->cv, &c->mu);
  if (!c->open_err && !c->quit) return 0;
  int e = c->open_err ? c->open_err : EBADF;
  pthread_mutex_unlock(&c->mu);
  return e;
}

// Hands the job set up under c->mu to the thread and waits for its answer, c->mu held throughout.
static void hand_over(struct nftctx *c) {
  c->has_job = true;
  c->busy = true;
  c->done = false;
  pthread_cond_broadcast(&c->cv);
  while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
  c->done = false;
}

// Hands the context's thread (c->mu held, from acquire) a job of netlink messages of our own on
// `table`: deletes of n objects by kind and name, or with counting a count of the rules of chain
// names[0]. Releases c->mu; the answer's rc, and in *value the first refused delete's index or the
// count. The table is the thread's to free.
static int netlink_job(struct nftctx *c, int family, char *table, int n, int *kinds, char **names, bool counting, int *value) {
  c->job = table;
  c->del_family = family;
  c->del_count = n;
  c->del_kinds = kinds;
  c->del_names = names;
  c->count_rules = counting;
  hand_over(c);
  c->del_count = 0;
  c->del_kinds = NULL;
  c->del_names = NULL;
  c->count_rules = false;
  int rc = c->rc;
  *value = counting ? c->count : c->del_failed;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static void free_names(char **names, uint32_t n) {
  for (uint32_t i = 0; names && i < n; i++) free(names[i]);
  free(names);
}

// run(context, text: string) -> { rc, stdout, stderr, source }: the text as `nft -f` takes it;
// source is the file name nft's error locations give (where `nft -f -` says /dev/stdin).
static napi_value js_run(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct nftctx *c;
  char *text = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !(c = get_ctx(env, argv[0])) || !get_string(env, argv[1], &text)) {
    free(text);
    napi_throw_type_error(env, NULL, "run(context, text: string)");
    return NULL;
  }
  int e = acquire(c);
  if (e) {
    free(text);
    return throw_errno(env, "nft context", e);
  }
  c->job = text;
  hand_over(c);
  int rc = c->rc;
  char *out = c->out, *err = c->err;
  c->out = c->err = NULL;
  pthread_mutex_unlock(&c->mu);

  napi_value res, v;
  napi_create_object(env, &res);
  napi_create_int32(env, rc, &v);
  set_prop(env, res, "rc", v);
  napi_create_string_utf8(env, out ? out : "", NAPI_AUTO_LENGTH, &v);
  set_prop(env, res, "stdout", v);
  napi_create_string_utf8(env, err ? err : "", NAPI_AUTO_LENGTH, &v);
  set_prop(env, res, "stderr", v);
  napi_create_string_utf8(env, c->srcpath, NAPI_AUTO_LENGTH, &v);
  set_prop(env, res, "source", v);
  free(out);
  free(err);
  return res;
}

// remove(context, family: number, table: string, kinds: number[], names: string[]) -> { rc, failed }:
// deletes the chains (kind 0) and sets or maps (kind 1) by name in one batch of netlink messages
// of our own; rc is 0 or an errno, failed the index of the delete the kernel refused (-1: none).
static napi_value js_remove(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  struct nftctx *c;
  int32_t family;
  uint32_t n = 0, m = 0;
  bool arr1 = false, arr2 = false;
  char *table = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || !(c = get_ctx(env, argv[0])) || napi_get_value_int32(env, argv[1], &family) != napi_ok ||
      napi_is_array(env, argv[3], &arr1) != napi_ok || napi_is_array(env, argv[4], &arr2) != napi_ok || !arr1 || !arr2 || napi_get_array_length(env, argv[3], &n) != napi_ok ||
      napi_get_array_length(env, argv[4], &m) != napi_ok || n != m || n == 0 || !get_string(env, argv[2], &table)) {
    free(table);
    napi_throw_type_error(env, NULL, "remove(context, family: number, table: string, kinds: number[], names: string[])");
    return NULL;
  }
  int *kinds = calloc(n, sizeof *kinds);
  char **names = calloc(n, sizeof *names);
  bool ok = kinds && names;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value k, nm;
    ok = napi_get_element(env, argv[3], i, &k) == napi_ok && napi_get_value_int32(env, k, &kinds[i]) == napi_ok && (kinds[i] == 0 || kinds[i] == 1) &&
         napi_get_element(env, argv[4], i, &nm) == napi_ok && get_string(env, nm, &names[i]) && strlen(names[i]) < NFT_NAME_MAXLEN;
  }
  if (!ok || strlen(table) >= NFT_NAME_MAXLEN) {
    free_names(names, n);
    free(kinds);
    free(table);
    napi_throw_type_error(env, NULL, "remove: bad kinds or names");
    return NULL;
  }
  int e = acquire(c);
  if (e) {
    free_names(names, n);
    free(kinds);
    free(table);
    return throw_errno(env, "nft context", e);
  }
  int failed;
  int rc = netlink_job(c, family, table, (int)n, kinds, names, false, &failed);
  free_names(names, n);
  free(kinds);

  return rc_and(env, rc, "failed", failed);
}

// rules(context, family: number, table: string, chain: string) -> { rc, count }: how many rules
// the chain has (0 when it or its table does not exist), from a netlink dump of that chain alone.
static napi_value js_rules(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  struct nftctx *c;
  int32_t family;
  char *table = NULL, *chain = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || !(c = get_ctx(env, argv[0])) || napi_get_value_int32(env, argv[1], &family) != napi_ok ||
      !get_string(env, argv[2], &table) || !get_string(env, argv[3], &chain) || strlen(table) >= NFT_NAME_MAXLEN || strlen(chain) >= NFT_NAME_MAXLEN) {
    free(table);
    free(chain);
    napi_throw_type_error(env, NULL, "rules(context, family: number, table: string, chain: string)");
    return NULL;
  }
  int e = acquire(c);
  if (e) {
    free(table);
    free(chain);
    return throw_errno(env, "nft context", e);
  }
  int count;
  int rc = netlink_job(c, family, table, 0, NULL, &chain, true, &count);
  free(chain);

  return rc_and(env, rc, "count", count);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, js_run, NULL, NULL, NULL, napi_default, NULL},
      {"remove", NULL, js_remove, NULL, NULL, NULL, napi_default, NULL},
      {"rules", NULL, js_rules, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}
