// One libnftables context kept alive across transactions, for a caller that runs many small ones
// on a large table (kube-proxy's partial syncs). nft reads the table into its cache before each
// transaction that adds rules or elements; a new `nft` process reads it afresh every time, which
// at 100,000 chains is most of a second. A context keeps that cache for as long as the ruleset's
// generation id is unchanged (nft checks it before every use), but nft 1.0.x drops it after each
// commit, its own included. So after a successful commit the context's thread refills the cache
// at once, with a dry run of a caller-given command (`warmup`) that needs the same cache, while
// the caller goes on with its work: the next transaction finds it ready, unless someone changed
// the ruleset in between, and then nft reads it again as usual.
//
// Each context has its own thread, joined to the given network namespace for its life, which
// runs every nft call of the context (libnftables is not thread-safe per context; its netlink
// socket and the interface lookups it makes then belong to that namespace). The JavaScript side
// waits for each call's answer; a refill in progress only delays the next call.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
  bool busy;        // a call or a refill is running
  bool has_job;     // a call waits for the thread
  bool done;        // the call's answer is there
  bool quit;
  char *job;        // the call's nft text
  char *warmup;     // what to dry-run after a successful commit (NULL: nothing)
  int rc;
  char *out, *err;
  unsigned runs, refills;
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
    char *warmup = c->warmup ? strdup(c->warmup) : NULL;
    c->job = NULL;
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
    c->runs++;
    pthread_cond_broadcast(&c->cv);
    bool refill = rc == 0 && warmup && c->nft;
    pthread_mutex_unlock(&c->mu);

    if (refill) {
      nft_ctx_set_dry_run(c->nft, true);
      nft_ctx_buffer_output(c->nft);
      nft_ctx_buffer_error(c->nft);
      int wrc = nft_run_cmd_from_buffer(c->nft, warmup);
      nft_ctx_set_dry_run(c->nft, false);
      pthread_mutex_lock(&c->mu);
      if (wrc == 0) c->refills++;
      pthread_mutex_unlock(&c->mu);
    }
    free(warmup);

    pthread_mutex_lock(&c->mu);
    if (!c->nft) {
      // Could not make a new context: the next call says so.
      c->open_err = ENOMEM;
    }
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
  free(c->warmup);
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

// open(netnsPath: string | null, warmup: string | null) -> context
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "open(netnsPath: string | null, warmup: string | null)");
    return NULL;
  }
  napi_valuetype t0, t1;
  napi_typeof(env, argv[0], &t0);
  napi_typeof(env, argv[1], &t1);
  if ((t0 != napi_string && t0 != napi_null) || (t1 != napi_string && t1 != napi_null)) {
    napi_throw_type_error(env, NULL, "open(netnsPath: string | null, warmup: string | null)");
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
  if (t1 == napi_string && !get_string(env, argv[1], &c->warmup)) {
    if (c->nsfd >= 0) close(c->nsfd);
    free(c->warmup);
    free(c);
    napi_throw_type_error(env, NULL, "open: bad warmup");
    return NULL;
  }
  int e = pthread_create(&c->thread, NULL, worker, c);
  if (e) {
    if (c->nsfd >= 0) close(c->nsfd);
    free(c->warmup);
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
  pthread_mutex_lock(&c->mu);
  while (c->busy) pthread_cond_wait(&c->cv, &c->mu);
  if (c->open_err || c->quit) {
    int e = c->open_err ? c->open_err : EBADF;
    pthread_mutex_unlock(&c->mu);
    free(text);
    return throw_errno(env, "nft context", e);
  }
  c->job = text;
  c->has_job = true;
  c->busy = true;
  c->done = false;
  pthread_cond_broadcast(&c->cv);
  while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
  c->done = false;
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

// stats(context) -> { runs, refills }: calls answered, and cache refills that succeeded.
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct nftctx *c;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || !(c = get_ctx(env, argv[0]))) {
    napi_throw_type_error(env, NULL, "stats(context)");
    return NULL;
  }
  pthread_mutex_lock(&c->mu);
  while (c->busy) pthread_cond_wait(&c->cv, &c->mu);
  unsigned runs = c->runs, refills = c->refills;
  pthread_mutex_unlock(&c->mu);
  napi_value res, v;
  napi_create_object(env, &res);
  napi_create_uint32(env, runs, &v);
  set_prop(env, res, "runs", v);
  napi_create_uint32(env, refills, &v);
  set_prop(env, res, "refills", v);
  return res;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, js_run, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}
