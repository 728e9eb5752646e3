// The built-in image podpath/echo as a small native program (build/echo, compiled by
// scripts/build.js): the same answers, headers and log lines as src/images/echo.ts — which
// `podpath image echo` runs where no compiler built this — in about a MiB instead of a Node
// process's fifty. GET /health answers {"status":"healthy","uptime":"5m30s"}; /api/v1/*
// answers with who served it and who asked; /metrics is Prometheus text; every other path is
// a JSON 404. Each --port serves HTTP/1.1 as Node's server does (keep-alive with a 5 s idle
// timeout, 10 s to send the headers, 16 KiB of them at most, request bodies read and dropped,
// Expect: 100-continue answered); each --udp-port answers every datagram with who served it and
// who sent it. One thread, poll(2); SIGTERM and SIGINT end it with status 0, as Node's does.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 64
#define MAX_CONNS 1024
#define MAX_HEADER 16384
#define HEADERS_TIMEOUT_MS 10000
#define REQUEST_TIMEOUT_MS 30000
#define KEEPALIVE_TIMEOUT_MS 5000
#define MAX_COUNTS 256

static const char *sa_namespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/* ---- growable byte strings ---- */
typedef struct {
  char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void putf(buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* Bytes an HTTP request carried are Latin-1 to Node; it writes them out as UTF-8. */
static void put_latin1(buf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) put(b, (const char *)&c, 1);
    else {
      char u[2] = {(char)(0xc0 | (c >> 6)), (char)(0x80 | (c & 0x3f))};
      put(b, u, 2);
    }
  }
}
/* A JSON string as JSON.stringify writes it; `latin1` for text from the request. */
static void put_json(buf *b, const char *s, size_t n, int latin1) {
  put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': puts_(b, "\\\""); break;
      case '\\': puts_(b, "\\\\"); break;
      case '\b': puts_(b, "\\b"); break;
      case '\f': puts_(b, "\\f"); break;
      case '\n': puts_(b, "\\n"); break;
      case '\r': puts_(b, "\\r"); break;
      case '\t': puts_(b, "\\t"); break;
      default:
        if (c < 0x20) putf(b, "\\u%04x", c);
        else if (latin1) put_latin1(b, (const char *)&c, 1);
        else put(b, (const char *)&c, 1);
    }
  }
  put(b, "\"", 1);
}
static void put_jsons(buf *b, const char *s) { put_json(b, s, strlen(s), 0); }

/* ---- time ---- */
static long long now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}
/* new Date().toISOString() */
static void iso_now(char out[96]) {
  long long ms = now_ms();
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
/* An HTTP Date header's value (IMF-fixdate). */
static void http_date(char out[40]) {
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
/* Go's time.Duration.String() at whole seconds: 5m30s, 1h2m3s, 45s. */
static void go_duration(long long ms, char out[64]) {
  long long s = ms / 1000, h = s / 3600;
  s -= h * 3600;
  long long m = s / 60;
  s -= m * 60;
  if (h) snprintf(out, 64, "%lldh%lldm%llds", h, m, s);
  else if (m) snprintf(out, 64, "%lldm%llds", m, s);
  else snprintf(out, 64, "%llds", s);
}

/* Lines to stdout (the container's log) as whole writes, so lines never interleave. */
static void log_line(buf *b) {
  size_t off = 0;
  while (off < b->n) {
    ssize_t w = write(1, b->p + off, b->n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
}

/* ---- the pod's identity ---- */
static const char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return v ? v : def;
}
static char hostname_[256];
static const char *message; /* --message */

/* The pod's namespace as a program finds it without the downward API: its service account's file. */
static void pod_namespace(buf *out) {
  const char *e = getenv("POD_NAMESPACE");
  if (e) {
    puts_(out, e);
    return;
  }
  FILE *f = fopen(sa_namespace, "r");
  if (!f) return;
  char tmp[256];
  size_t n = fread(tmp, 1, sizeof tmp, f);
  fclose(f);
  size_t a = 0;
  while (a < n && (tmp[a] == ' ' || tmp[a] == '\n' || tmp[a] == '\t' || tmp[a] == '\r')) a++;
  while (n > a && (tmp[n - 1] == ' ' || tmp[n - 1] == '\n' || tmp[n - 1] == '\t' || tmp[n - 1] == '\r')) n--;
  put(out, tmp + a, n - a);
}

/* ---- one HTTP server per --port: its own start time and request counts ---- */
typedef struct {
  int fd, port;
  long long started;
  int ncounts;
  struct {
    char *label;
    long long n;
  } counts[MAX_COUNTS];
} server;

static void count(server *s, const char *label) {
  for (int i = 0; i < s->ncounts; i++)
    if (!strcmp(s->counts[i].label, label)) {
      s->counts[i].n++;
      return;
    }
  if (s->ncounts == MAX_COUNTS) return;
  s->counts[s->ncounts].label = strdup(label);
  s->counts[s->ncounts++].n = 1;
}
static int by_label(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
  int fd;
  server *srv;
  char addr[INET_ADDRSTRLEN], local[INET_ADDRSTRLEN];
  int port;
  buf in, out;
  long long request_start; /* first byte of the request being read (0: idle) */
  long long idle_since;
  int close_after; /* close once `out` is written */
  /* a request body still being read and dropped */
  long long body_left; /* bytes of a Content-Length body */
  int chunked;         /* a chunked body: 1 size line, 2 data, 3 CRLF after data, 4 trailers */
} conn;

static conn *conns[MAX_CONNS];
static int nconns;

static void close_conn(int i) {
  conn *c = conns[i];
  close(c->fd);
  free(c->in.p);
  free(c->out.p);
  free(c);
  conns[i] = conns[--nconns];
}

/* Node's own answers to what its parser refuses: status line, Connection: close, nothing else. */
static void refuse(conn *c, const char *status) {
  c->out.n = 0;
  putf(&c->out, "HTTP/1.1 %s\r\nConnection: close\r\n\r\n", status);
  c->close_after = 1;
  c->in.n = 0;
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/*
 * The path of a request target as the front door parses it (src/util/httpserver.ts parseTarget):
 * 1, or -1 for a target the front door answers 400, or 0 for one Node's parser refuses outright.
 */
static int target_path(const char *t, size_t n, const char **path, size_t *plen) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] >= 0x7f) return 0;
  if (n == 1 && t[0] == '*') {
    *path = t;
    *plen = 1;
  } else if (n && t[0] == '/') {
    const char *q = memchr(t, '?', n);
    *path = t;
    *plen = q ? (size_t)(q - t) : n;
  } else {
    size_t i = 0;
    if (!n || !((t[0] >= 'A' && t[0] <= 'Z') || (t[0] >= 'a' && t[0] <= 'z'))) return 0;
    for (i = 1; i < n && (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '.' || t[i] == '-'); i++);
    if (n - i < 3 || memcmp(t + i, "://", 3)) return 0;
    i += 3;
    if (i == n || t[i] == '/' || t[i] == '?' || t[i] == '#') return -1; /* no host: new URL() throws */
    size_t j = i;
    while (j < n && t[j] != '/' && t[j] != '?' && t[j] != '#') j++;
    size_t end = j;
    while (end < n && t[end] != '#') end++;
    size_t q = j;
    while (q < end && t[q] != '?') q++;
    if (q == j) {
      *path = "/";
      *plen = 1;
    } else {
      *path = t + j;
      *plen = q - j;
    }
  }
  for (size_t i = 0; i < *plen; i++)
    if ((*path)[i] == '%' && !(i + 2 < *plen && is_hex((*path)[i + 1]) && is_hex((*path)[i + 2]))) return -1;
  return 1;
}

static const char *methods[] = {"DELETE", "GET", "HEAD", "POST", "PUT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR", "LINK", "UNLINK", "SOURCE", "QUERY", NULL};

static int known_method(const char *m, size_t n) {
  for (int i = 0; methods[i]; i++)
    if (strlen(methods[i]) == n && !memcmp(methods[i], m, n)) return 1;
  return 0;
}

/* A header's value (first occurrence), trimmed; NULL if absent. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen) {
  size_t nl = strlen(name);
  const char *p = h;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon && (size_t)(colon - p) == nl && !strncasecmp(p, name, nl)) {
      const char *v = colon + 1, *e = eol;
      while (v < e && (*v == ' ' || *v == '\t')) v++;
      while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
      *vlen = (size_t)(e - v);
      return v;
    }
    p = eol + 1;
  }
  return NULL;
}
static int has_token(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok);
  for (size_t i = 0; i + tl <= n; i++)
    if (!strncasecmp(v + i, tok, tl) && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') && (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' ')) return 1;
  return 0;
}

enum route { HEALTH, API, METRICS, OTHER };
static enum route route_of(const char *path, size_t plen) {
  if (plen == 7 && !memcmp(path, "/health", 7)) return HEALTH;
  if ((plen >= 8 && !memcmp(path, "/api/v1/", 8)) || (plen == 7 && !memcmp(path, "/api/v1", 7))) return API;
  if (plen == 8 && !memcmp(path, "/metrics", 8)) return METRICS;
  return OTHER;
}

/* The answer to one request (the handler of src/images/echo.ts). */
static void answer(conn *c, const char *method, size_t mlen, const char *path, size_t plen, const char *host, size_t hlen, int keep_alive, int head) {
  server *s = c->srv;
  enum route r = route_of(path, plen);
  int health = r == HEALTH, api = r == API, metrics = r == METRICS;
  const char *route = health ? "/health" : api ? "/api/v1/*" : metrics ? "/metrics" : "other";
  int code = health || api || metrics ? 200 : 404;
  buf label = {0};
  puts_(&label, "method=\"");
  put_latin1(&label, method, mlen);
  putf(&label, "\",path=\"%s\",code=\"%d\"", route, code);
  count(s, label.p);
  free(label.p);
  buf body = {0};
  const char *type = "application/json; charset=utf-8";
  if (health) {
    char d[64];
    go_duration(now_ms() - s->started, d);
    puts_(&body, "{\"status\":\"healthy\",\"uptime\":");
    put_jsons(&body, d);
    puts_(&body, "}");
  } else if (api) {
    buf ns = {0};
    pod_namespace(&ns);
    char client[64];
    snprintf(client, sizeof client, "%s:%d", c->addr, c->port);
    puts_(&body, "{\"pod\":");
    put_jsons(&body, env_or("POD_NAME", hostname_));
    puts_(&body, ",\"namespace\":");
    put_json(&body, ns.p ? ns.p : "", ns.n, 0);
    puts_(&body, ",\"podIP\":");
    put_jsons(&body, env_or("POD_IP", c->local));
    puts_(&body, ",\"node\":");
    put_jsons(&body, env_or("NODE_NAME", ""));
    puts_(&body, ",\"client\":");
    put_jsons(&body, client);
    puts_(&body, ",\"method\":");
    put_json(&body, method, mlen, 1);
    puts_(&body, ",\"path\":");
    put_json(&body, path, plen, 1);
    puts_(&body, ",\"host\":");
    put_json(&body, host ? host : "", host ? hlen : 0, 1);
    if (message) {
      puts_(&body, ",\"message\":");
      put_jsons(&body, message);
    }
    puts_(&body, "}");
    free(ns.p);
  } else if (metrics) {
    type = "text/plain; version=0.0.4; charset=utf-8";
    puts_(&body, "# HELP http_requests_total Requests served, by method, path and code.\n# TYPE http_requests_total counter\n");
    char *labels[MAX_COUNTS];
    for (int i = 0; i < s->ncounts; i++) labels[i] = s->counts[i].label;
    qsort(labels, (size_t)s->ncounts, sizeof labels[0], by_label);
    for (int i = 0; i < s->ncounts; i++)
      for (int j = 0; j < s->ncounts; j++)
        if (s->counts[j].label == labels[i]) putf(&body, "http_requests_total{%s} %lld\n", labels[i], s->counts[j].n);
    long long up = now_ms() - s->started;
    putf(&body, "# HELP process_uptime_seconds Seconds since the app started.\n# TYPE process_uptime_seconds gauge\nprocess_uptime_seconds %lld.%03lld\n", up / 1000, up % 1000);
  } else {
    puts_(&body, "{\"error\":\"not found\",\"path\":");
    put_json(&body, path, plen, 1);
    puts_(&body, "}");
  }
  char date[40];
  http_date(date);
  putf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nDate: %s\r\n", code, code == 200 ? "OK" : "Not Found", type, body.n, date);
  puts_(&c->out, keep_alive ? "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n" : "Connection: close\r\n\r\n");
  if (!head && body.n) put(&c->out, body.p, body.n);
  free(body.p);
}

/* The front door's 400 for a target it cannot parse (answerBadRequest). */
static void bad_target(conn *c) {
  char date[40];
  http_date(date);
  putf(&c->out, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 15\r\nDate: %s\r\n\r\n400 Bad Request", date);
  c->close_after = 1;
}

/* Reads and drops request body bytes from the front of `in`; 1 once the body is done, -1 on a malformed chunk. */
static int drop_body(conn *c) {
  while (c->in.n) {
    if (c->body_left > 0) {
      size_t k = (size_t)c->body_left < c->in.n ? (size_t)c->body_left : c->in.n;
      memmove(c->in.p, c->in.p + k, c->in.n - k);
      c->in.n -= k;
      c->in.p[c->in.n] = 0;
      c->body_left -= (long long)k;
      if (c->body_left == 0 && c->chunked == 2) c->chunked = 3;
      continue;
    }
    if (!c->chunked) return 1;
    char *eol = memchr(c->in.p, '\n', c->in.n);
    if (!eol) return c->in.n > 4096 ? -1 : 0;
    size_t line = (size_t)(eol - c->in.p) + 1;
    if (c->chunked == 1) {
      char *end;
      long long size = strtoll(c->in.p, &end, 16);
      if (end == c->in.p || size < 0) return -1;
      c->chunked = size ? 2 : 4;
      c->body_left = size;
    } else if (c->chunked == 3) {
      if (line > 2) return -1;
      c->chunked = 1;
    } else if (c->chunked == 4 && line <= 2) {
      c->chunked = 0;
    }
    memmove(c->in.p, c->in.p + line, c->in.n - line);
    c->in.n -= line;
    c->in.p[c->in.n] = 0;
    if (!c->chunked) return 1;
  }
  return c->body_left == 0 && !c->chunked;
}

/* Handles every complete request in `in`, one at a time (a pipelined one waits for the answer before it). */
static void serve(conn *c) {
  while (!c->close_after && c->out.n == 0) {
    if (c->body_left || c->chunked) {
      int r = drop_body(c);
      if (r < 0) {
        refuse(c, "400 Bad Request");
        return;
      }
      if (!r) return;
      c->idle_since = now_ms();
      c->request_start = 0;
    }
    /* blank lines between requests are skipped, as llhttp does */
    size_t skip = 0;
    while (skip < c->in.n && (c->in.p[skip] == '\r' || c->in.p[skip] == '\n')) skip++;
    if (skip) {
      memmove(c->in.p, c->in.p + skip, c->in.n - skip);
      c->in.n -= skip;
      c->in.p[c->in.n] = 0;
    }
    if (!c->in.n) return;
    if (!c->request_start) c->request_start = now_ms();
    char *end = c->in.p ? strstr(c->in.p, "\r\n\r\n") : NULL;
    size_t hlen = end ? (size_t)(end - c->in.p) + 4 : 0;
    /* Node's parser takes CRLF line ends only */
    for (size_t i = 0; i < (end ? hlen : c->in.n); i++)
      if (c->in.p[i] == '\n' && (i == 0 || c->in.p[i - 1] != '\r')) {
        refuse(c, "400 Bad Request");
        return;
      }
    if (memchr(c->in.p, 0, c->in.n)) {
      refuse(c, "400 Bad Request");
      return;
    }
    if (!end) {
      if (c->in.n > MAX_HEADER) refuse(c, "431 Request Header Fields Too Large");
      return;
    }
    if (hlen > MAX_HEADER) {
      refuse(c, "431 Request Header Fields Too Large");
      return;
    }
    /* the request line: METHOD SP target SP HTTP/x.y */
    char *req = c->in.p;
    char *eol = memchr(req, '\n', hlen);
    size_t rl = (size_t)(eol - req);
    if (rl && req[rl - 1] == '\r') rl--;
    char *sp1 = memchr(req, ' ', rl);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', rl - (size_t)(sp1 + 1 - req)) : NULL;
    if (!sp1 || !sp2 || sp2 == sp1 + 1 || !known_method(req, (size_t)(sp1 - req)) || req + rl - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/", 5) || sp2[7] != '.' || !((sp2[6] == '1' && (sp2[8] == '0' || sp2[8] == '1')) || (sp2[6] == '2' && sp2[8] == '0'))) {
      refuse(c, "400 Bad Request");
      return;
    }
    const char *path = "";
    size_t plen = 0;
    int target = target_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), &path, &plen);
    if (!target) {
      refuse(c, "400 Bad Request");
      return;
    }
    if (!memcmp(req, "CONNECT ", 8)) { /* Node drops a CONNECT nobody listens for */
      c->close_after = 1;
      return;
    }
    int http10 = sp2[8] == '0'; /* HTTP/1.0 and 2.0 keep the connection only when asked to */
    const char *hs = eol + 1, *he = req + hlen;
    size_t vl;
    const char *conn_h = header(hs, he, "connection", &vl);
    int keep_alive = http10 ? conn_h && has_token(conn_h, vl, "keep-alive") : !(conn_h && has_token(conn_h, vl, "close"));
    const char *te = header(hs, he, "transfer-encoding", &vl);
    int chunked = te && vl >= 7 && !strncasecmp(te + vl - 7, "chunked", 7);
    const char *cl = header(hs, he, "content-length", &vl);
    long long length = 0;
    if (cl) {
      char *e;
      length = strtoll(cl, &e, 10);
      if (e != cl + vl || length < 0 || chunked) {
        refuse(c, "400 Bad Request");
        return;
      }
    }
    size_t host_len = 0;
    const char *host = header(hs, he, "host", &host_len);
    if (!http10 && !host) { /* Node requires Host of HTTP/1.1 requests */
      char date[40];
      http_date(date);
      c->out.n = 0;
      putf(&c->out, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: %s\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", date);
      c->close_after = 1;
      return;
    }
    size_t ex_len;
    const char *expect = header(hs, he, "expect", &ex_len);
    if (expect && !http10 && ex_len == 12 && !strncasecmp(expect, "100-continue", 12)) puts_(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    if (target < 0) bad_target(c);
    else {
      size_t ua_len;
      const char *ua = header(hs, he, "user-agent", &ua_len);
      int probe = ua && ua_len >= 11 && !memcmp(ua, "kube-probe/", 11);
      if (!probe) {
        /* the access log: the client address the pod saw (SNAT is visible here) */
        char ts[96];
        iso_now(ts);
        buf line = {0};
        putf(&line, "%s %s:%d ", ts, c->addr, c->port);
        put_latin1(&line, req, (size_t)(sp1 - req));
        puts_(&line, " ");
        put_latin1(&line, path, plen);
        putf(&line, " %d\n", route_of(path, plen) == OTHER ? 404 : 200);
        log_line(&line);
        free(line.p);
      }
      answer(c, req, (size_t)(sp1 - req), path, plen, host, host_len, keep_alive, !memcmp(req, "HEAD ", 5));
      if (!keep_alive) c->close_after = 1;
    }
    memmove(c->in.p, c->in.p + hlen, c->in.n - hlen);
    c->in.n -= hlen;
    c->in.p[c->in.n] = 0;
    c->body_left = length;
    c->chunked = chunked ? 1 : 0;
    if (!c->body_left && !c->chunked) c->request_start = 0;
    c->idle_since = now_ms();
  }
}

/* Writes what is pending; 0 when the connection is to be closed. */
static int flush(conn *c) {
  while (c->out.n) {
    ssize_t w = send(c->fd, c->out.p, c->out.n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 1;
    if (w <= 0) return 0;
    memmove(c->out.p, c->out.p + w, c->out.n - (size_t)w);
    c->out.n -= (size_t)w;
  }
  return !c->close_after;
}

static int listen_on(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || (type == SOCK_STREAM && listen(fd, 511) < 0)) {
    fprintf(stderr, "Error: listen %s: address 0.0.0.0:%d: %s\n", errno == EADDRINUSE ? "EADDRINUSE" : "failed", port, strerror(errno));
    exit(1);
  }
  return fd;
}

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static int parse_port(const char *v, const char *flag) {
  char *e;
  long p = strtol(v, &e, 10);
  if (!*v || *e || p < 0 || p > 65535) {
    fprintf(stderr, "echo: %s must be a port number, not %s\n", flag, v);
    exit(1);
  }
  return (int)p;
}

static int add_port(int *ports, int n, int p) {
  for (int i = 0; i < n; i++)
    if (ports[i] == p) return n;
  if (n == MAX_PORTS) return n;
  ports[n] = p;
  return n + 1;
}

int main(int argc, char **argv) {
  int tcp[MAX_PORTS], udp[MAX_PORTS], ntcp = 0, nudp = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    size_t k = strcspn(a, "=");
    if (a[k] == '=') v = a + k + 1;
    else if (i + 1 < argc) v = argv[i + 1];
    int inline_v = a[k] == '=';
    if (!strncmp(a, "--port", k) && k == 6 && v) ntcp = add_port(tcp, ntcp, parse_port(v, "--port"));
    else if (!strncmp(a, "--udp-port", k) && k == 10 && v) nudp = add_port(udp, nudp, parse_port(v, "--udp-port"));
    else if (!strncmp(a, "--message", k) && k == 9 && v) message = v;
    else {
      fprintf(stderr, "error: unknown option '%s'\n", a);
      return 1;
    }
    if (!inline_v) i++;
  }
  if (!ntcp) tcp[ntcp++] = 8080;
  gethostname(hostname_, sizeof hostname_ - 1);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  static server servers[MAX_PORTS];
  int udpfd[MAX_PORTS];
  for (int i = 0; i < ntcp; i++) {
    servers[i].fd = listen_on(SOCK_STREAM, tcp[i]);
    servers[i].port = tcp[i];
    servers[i].started = now_ms();
    char ts[96];
    iso_now(ts);
    buf line = {0};
    putf(&line, "%s listening on :%d\n", ts, tcp[i]);
    log_line(&line);
    free(line.p);
  }
  for (int i = 0; i < nudp; i++) udpfd[i] = listen_on(SOCK_DGRAM, udp[i]);
  static struct pollfd pfd[MAX_PORTS * 2 + MAX_CONNS];
  for (;;) {
    int n = 0;
    for (int i = 0; i < ntcp; i++) pfd[n++] = (struct pollfd){.fd = servers[i].fd, .events = nconns < MAX_CONNS ? POLLIN : 0};
    for (int i = 0; i < nudp; i++) pfd[n++] = (struct pollfd){.fd = udpfd[i], .events = POLLIN};
    for (int i = 0; i < nconns; i++) pfd[n++] = (struct pollfd){.fd = conns[i]->fd, .events = conns[i]->out.n ? POLLOUT : POLLIN};
    int r = poll(pfd, (nfds_t)n, 1000);
    if (r < 0 && errno != EINTR) return 1;
    long long now = now_ms();
    /* connections first: the array changes as listeners accept */
    for (int i = nconns - 1; i >= 0; i--) {
      conn *c = conns[i];
      struct pollfd *p = &pfd[ntcp + nudp + i];
      int ok = 1;
      if (r > 0 && p->fd == c->fd && (p->revents & (POLLIN | POLLHUP | POLLERR)) && !c->out.n) {
        char tmp[8192];
        ssize_t got = recv(c->fd, tmp, sizeof tmp, 0);
        if (got > 0) {
          put(&c->in, tmp, (size_t)got);
          if (!c->request_start) c->request_start = now;
          serve(c);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) ok = 0;
      }
      if (ok && c->out.n) {
        ok = flush(c);
        if (ok && !c->out.n) serve(c), ok = c->out.n ? flush(c) : !c->close_after;
      } else if (ok && c->close_after) ok = 0;
      /* Node's timeouts: the headers within 10 s, the whole request within 30 s, 5 s idle between requests */
      if (ok && c->request_start && !c->body_left && !c->chunked && now - c->request_start > HEADERS_TIMEOUT_MS) refuse(c, "408 Request Timeout"), flush(c), ok = 0;
      else if (ok && c->request_start && now - c->request_start > REQUEST_TIMEOUT_MS) refuse(c, "408 Request Timeout"), flush(c), ok = 0;
      else if (ok && !c->request_start && !c->out.n && now - c->idle_since > KEEPALIVE_TIMEOUT_MS) ok = 0;
      if (!ok) close_conn(i);
    }
    if (r <= 0) continue;
    for (int i = 0; i < ntcp; i++) {
      if (!(pfd[i].revents & POLLIN)) continue;
      for (;;) {
        struct sockaddr_in peer, local;
        socklen_t pl = sizeof peer, ll = sizeof local;
        int fd = accept4(servers[i].fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (nconns == MAX_CONNS) {
          close(fd);
          break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->srv = &servers[i];
        inet_ntop(AF_INET, &peer.sin_addr, c->addr, sizeof c->addr);
        c->port = ntohs(peer.sin_port);
        getsockname(fd, (struct sockaddr *)&local, &ll);
        inet_ntop(AF_INET, &local.sin_addr, c->local, sizeof c->local);
        c->idle_since = now;
        conns[nconns++] = c;
      }
    }
    for (int i = 0; i < nudp; i++) {
      if (!(pfd[ntcp + i].revents & POLLIN)) continue;
      for (;;) {
        char tmp[65536];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t got = recvfrom(udpfd[i], tmp, sizeof tmp, 0, (struct sockaddr *)&from, &fl);
        if (got < 0) break;
        char addr[INET_ADDRSTRLEN], client[64];
        inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
        snprintf(client, sizeof client, "%s:%d", addr, ntohs(from.sin_port));
        buf b = {0};
        puts_(&b, "{\"pod\":");
        put_jsons(&b, env_or("POD_NAME", hostname_));
        puts_(&b, ",\"podIP\":");
        put_jsons(&b, env_or("POD_IP", ""));
        puts_(&b, ",\"client\":");
        put_jsons(&b, client);
        puts_(&b, "}");
        sendto(udpfd[i], b.p, b.n, 0, (struct sockaddr *)&from, fl);
        free(b.p);
      }
    }
  }
}
