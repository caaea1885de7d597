// Batched UDP receive (recvmmsg) and send (sendmmsg) for Node, over N-API.
//
// Why: node:dgram reads one datagram per syscall and builds a Buffer and an rinfo object per
// datagram (~6 us of CPU each). Here the addon owns the sockets, watches them with uv_poll on the
// calling thread's loop, drains each readable socket with recvmmsg and hands JS ONE call per
// event-loop turn for all sockets of the thread: every datagram back to back in a staging buffer
// plus a metadata table (socket id, offset, length, source address), both ArrayBuffers made once
// and read by the JS side in place (a new buffer per turn would be an external allocation per turn,
// which V8 pays for with full collections). Context-aware (one state per Node environment, so it works in worker threads); sockets
// are closed by an async cleanup hook when the environment goes away.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Metadata per datagram, uint32 each: socket id, offset, length, port | flags << 16, 4 address
// words (the raw network-order bytes: 4 for IPv4, 16 for IPv6).
#define META_FIELDS 8
#define META_CAP 4096
#define FLAG_TRUNCATED 1u
#define FLAG_IPV6 2u
#define DEAD_SOCKET 0xffffffffu

// Datagrams asked for per recvmmsg call.
#define SLOTS 64
// Datagrams read from one socket per readiness callback: fairness between sockets; a socket with
// more waiting stays readable and is served again in the next loop turn.
#define WAKEUP_CAP 256
// Bytes collected per event-loop turn before an early hand-over to JS.
#define STAGING_BYTES (1u << 20)
// sendmmsg chunk.
#define SEND_CHUNK 256

typedef struct Env Env;

typedef struct Sock {
  uv_poll_t poll;
  Env* env;
  int fd;
  uint32_t id;
  uint32_t max_datagram;
  int closing;
  napi_ref on_closed;  // called once the fd is closed (the port is free again)
} Sock;

struct Env {
  napi_env env;
  uv_loop_t* loop;
  uv_check_t check;
  int check_started;
  napi_ref on_batch;
  napi_ref meta_ref;
  uint32_t* meta;
  napi_ref staging_ref;
  napi_async_context async_context;
  uint8_t* staging;
  size_t used;
  uint32_t count;
  int in_flush;
  Sock** table;
  uint32_t table_cap;
  uint32_t* free_ids;
  uint32_t free_count;
  uint32_t next_id;
  uint32_t open_handles;
  int torn_down;
  napi_async_cleanup_hook_handle cleanup_handle;
  struct mmsghdr msgs[SLOTS];
  struct iovec iov[SLOTS];
  struct sockaddr_storage addrs[SLOTS];
};

static void env_maybe_free(Env* e);

static napi_value throw_errno(napi_env env, int err, const char* what) {
  char msg[256];
  const char* code = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s %s: %s", what, code, strerror(err));
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static Env* get_env(napi_env env) {
  Env* e = NULL;
  napi_get_instance_data(env, (void**)&e);
  return e;
}

// ---------------------------------------------------------------- hand-over to JS

static void flush(Env* e) {
  if (e->count == 0 || e->in_flush || e->torn_down || e->on_batch == NULL) return;
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[2], cb, recv, result;
  int ok = napi_create_uint32(env, e->count, &argv[0]) == napi_ok && napi_create_uint32(env, (uint32_t)e->used, &argv[1]) == napi_ok &&
           napi_get_reference_value(env, e->on_batch, &cb) == napi_ok && napi_get_global(env, &recv) == napi_ok;
  if (ok) {
    e->in_flush = 1;
    napi_status st = napi_make_callback(env, e->async_context, recv, cb, 2, argv, &result);
    e->in_flush = 0;
    if (st != napi_ok) {
      // The JS dispatcher catches its handlers' exceptions; anything left is reported, never fatal.
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
      }
      fprintf(stderr, "udp-batch: batch callback failed (status %d); datagrams dropped\n", (int)st);
    }
  }
  e->used = 0;
  e->count = 0;
  napi_close_handle_scope(env, scope);
}

static void on_check(uv_check_t* h) {
  flush((Env*)h->data);
}

// ---------------------------------------------------------------- receive

static void write_meta(Env* e, Sock* s, const struct sockaddr_storage* from, uint32_t offset, uint32_t length, uint32_t flags) {
  uint32_t* m = e->meta + (size_t)e->count * META_FIELDS;
  uint16_t port = 0;
  m[4] = m[5] = m[6] = m[7] = 0;
  if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)from;
    port = ntohs(a->sin6_port);
    memcpy(&m[4], &a->sin6_addr, 16);
    flags |= FLAG_IPV6;
  } else if (from->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)from;
    port = ntohs(a->sin_port);
    memcpy(&m[4], &a->sin_addr, 4);
  }
  m[0] = s->id;
  m[1] = offset;
  m[2] = length;
  m[3] = (uint32_t)port | (flags << 16);
  e->count++;
}

static void on_readable(uv_poll_t* h, int status, int events) {
  (void)events;
  Sock* s = (Sock*)h->data;
  Env* e = s->env;
  if (status < 0 || s->closing || e->torn_down) return;
  int total = 0;
  while (total < WAKEUP_CAP && !s->closing) {
    size_t need = s->max_datagram;
    if (e->count >= META_CAP || STAGING_BYTES - e->used < need) {
      flush(e);
      if (s->closing || e->torn_down) break;
    }
    size_t slots = SLOTS;
    if (slots > META_CAP - e->count) slots = META_CAP - e->count;
    if (slots > (STAGING_BYTES - e->used) / need) slots = (STAGING_BYTES - e->used) / need;
    if (slots > (size_t)(WAKEUP_CAP - total)) slots = (size_t)(WAKEUP_CAP - total);
    if (slots == 0) break;  // the hand-over could not run (JS unavailable): leave the rest queued in the kernel
    uint8_t* base = e->staging + e->used;
    for (size_t i = 0; i < slots; i++) {
      e->iov[i].iov_base = base + i * need;
      e->iov[i].iov_len = need;
      struct msghdr* mh = &e->msgs[i].msg_hdr;
      memset(mh, 0, sizeof *mh);
      mh->msg_name = &e->addrs[i];
      mh->msg_namelen = sizeof e->addrs[i];
      mh->msg_iov = &e->iov[i];
      mh->msg_iovlen = 1;
      e->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(s->fd, e->msgs, (unsigned)slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: drained. Anything else (e.g. a queued ICMP error) is not a datagram: stop this turn.
      break;
    }
    for (int i = 0; i < n; i++) {
      uint32_t len = e->msgs[i].msg_len;
      if (e->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        // longer than a slot: never hand on a cut datagram as if it were whole
        write_meta(e, s, &e->addrs[i], (uint32_t)e->used, 0, FLAG_TRUNCATED);
        continue;
      }
      uint8_t* at = (uint8_t*)e->iov[i].iov_base;
      uint8_t* to = e->staging + e->used;
      if (at != to) memmove(to, at, len);  // pack: the slots were sized for the largest datagram
      write_meta(e, s, &e->addrs[i], (uint32_t)e->used, len, 0);
      e->used += len;
    }
    total += n;
    if ((size_t)n < slots) break;
  }
}

// ---------------------------------------------------------------- socket table

static int table_add(Env* e, Sock* s) {
  uint32_t id;
  if (e->free_count > 0) {
    id = e->free_ids[--e->free_count];
  } else {
    if (e->next_id == e->table_cap) {
      uint32_t cap = e->table_cap ? e->table_cap * 2 : 64;
      Sock** t = (Sock**)realloc(e->table, cap * sizeof *t);
      uint32_t* f = (uint32_t*)realloc(e->free_ids, cap * sizeof *f);
      if (t) e->table = t;
      if (f) e->free_ids = f;
      if (!t || !f) return -1;
      e->table_cap = cap;
    }
    id = e->next_id++;
  }
  e->table[id] = s;
  s->id = id;
  return 0;
}

static Sock* table_get(Env* e, uint32_t id) {
  return id < e->next_id ? e->table[id] : NULL;
}

static void on_sock_closed(uv_handle_t* h) {
  Sock* s = (Sock*)h->data;
  Env* e = s->env;
  close(s->fd);
  if (s->on_closed && !e->torn_down) {
    napi_env env = e->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_value cb, recv, result;
      if (napi_get_reference_value(env, s->on_closed, &cb) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
          napi_make_callback(env, e->async_context, recv, cb, 0, NULL, &result) != napi_ok) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (pending) {
          napi_value exc;
          napi_get_and_clear_last_exception(env, &exc);
        }
      }
      napi_close_handle_scope(env, scope);
    }
    napi_delete_reference(env, s->on_closed);
  }
  free(s);
  e->open_handles--;
  env_maybe_free(e);
}

static void sock_close(Sock* s) {
  if (s->closing) return;
  Env* e = s->env;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  // Datagrams of this socket still staged must not reach a socket that reuses its id.
  for (uint32_t i = 0; i < e->count; i++) {
    if (e->meta[(size_t)i * META_FIELDS] == s->id) e->meta[(size_t)i * META_FIELDS] = DEAD_SOCKET;
  }
  e->table[s->id] = NULL;
  e->free_ids[e->free_count++] = s->id;
  uv_close((uv_handle_t*)&s->poll, on_sock_closed);
}

// ---------------------------------------------------------------- environment lifetime

static void on_check_closed(uv_handle_t* h) {
  Env* e = (Env*)h->data;
  e->open_handles--;
  env_maybe_free(e);
}

static void env_maybe_free(Env* e) {
  if (!e->torn_down || e->open_handles > 0) return;
  napi_async_cleanup_hook_handle handle = e->cleanup_handle;
  free(e->table);
  free(e->free_ids);
  free(e);
  if (handle) napi_remove_async_cleanup_hook(handle);
}

// The environment (main thread or worker) is going away: close every handle, then let it finish.
static void env_cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  Env* e = (Env*)arg;
  e->torn_down = 1;
  e->cleanup_handle = handle;
  for (uint32_t i = 0; i < e->next_id; i++) {
    if (e->table[i]) sock_close(e->table[i]);
  }
  if (e->check_started) {
    uv_check_stop(&e->check);
    uv_close((uv_handle_t*)&e->check, on_check_closed);
  } else {
    e->open_handles--;  // the check handle was counted but never initialised
  }
  env_maybe_free(e);
}

// ---------------------------------------------------------------- JS functions

static int get_string(napi_env env, napi_value v, char* out, size_t cap) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, out, cap, &len) == napi_ok && len < cap - 1;
}

static int parse_address(const char* host, uint32_t port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* a4 = (struct sockaddr_in*)ss;
  struct sockaddr_in6* a6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 0;
  }
  return -1;
}

// init(onBatch(count: number, usedBytes: number)): [metadata table, staging buffer], read in place
// during onBatch (both are written again after it returns)
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_type(env, "init(onBatch) needs a function");
  Env* e = get_env(env);
  if (e->on_batch) napi_delete_reference(env, e->on_batch);
  napi_create_reference(env, argv[0], 1, &e->on_batch);
  napi_value out, v;
  napi_create_array_with_length(env, 2, &out);
  napi_get_reference_value(env, e->meta_ref, &v);
  napi_set_element(env, out, 0, v);
  napi_get_reference_value(env, e->staging_ref, &v);
  napi_set_element(env, out, 1, v);
  return out;
}

// open(host, port, recvBufferBytes, sendBufferBytes, maxDatagramBytes): [id, port]
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Env* e = get_env(env);
  char host[64];
  uint32_t port, rcvbuf, sndbuf, maxd;
  if (argc < 5 || !get_string(env, argv[0], host, sizeof host) || napi_get_value_uint32(env, argv[1], &port) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &rcvbuf) != napi_ok || napi_get_value_uint32(env, argv[3], &sndbuf) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &maxd) != napi_ok) {
    return throw_type(env, "open(host, port, recvBufferBytes, sendBufferBytes, maxDatagramBytes)");
  }
  if (port > 65535) return throw_type(env, "port out of range");
  if (maxd < 1 || maxd > 65536) return throw_type(env, "maxDatagramBytes must be 1..65536");
  struct sockaddr_storage ss;
  socklen_t sl;
  if (parse_address(host, port, &ss, &sl) != 0) return throw_type(env, "host must be an IPv4 or IPv6 address");
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);  // capped by net.core.rmem_max
  if (sndbuf) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (bind(fd, (struct sockaddr*)&ss, sl) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  getsockname(fd, (struct sockaddr*)&bound, &bl);
  uint32_t bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6*)&bound)->sin6_port : ((struct sockaddr_in*)&bound)->sin_port);
  Sock* s = (Sock*)calloc(1, sizeof *s);
  if (!s || table_add(e, s) != 0) {
    free(s);
    close(fd);
    return throw_errno(env, ENOMEM, "open");
  }
  s->env = e;
  s->fd = fd;
  s->max_datagram = maxd;
  s->poll.data = s;
  int r = uv_poll_init(e->loop, &s->poll, fd);
  if (r != 0) {
    e->table[s->id] = NULL;
    e->free_ids[e->free_count++] = s->id;
    close(fd);
    free(s);
    return throw_errno(env, -r, "uv_poll_init");
  }
  e->open_handles++;
  r = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (r != 0) {
    sock_close(s);  // an initialised handle is closed through libuv
    return throw_errno(env, -r, "uv_poll_start");
  }
  napi_value out, v;
  napi_create_array_with_length(env, 2, &out);
  napi_create_uint32(env, s->id, &v);
  napi_set_element(env, out, 0, v);
  napi_create_uint32(env, bound_port, &v);
  napi_set_element(env, out, 1, v);
  return out;
}

static Sock* arg_sock(napi_env env, napi_value v) {
  uint32_t id;
  if (napi_get_value_uint32(env, v, &id) != napi_ok) return NULL;
  return table_get(get_env(env), id);
}

// The destination of a send from its JS arguments: 0, or -1 with a TypeError thrown.
static int arg_destination(napi_env env, napi_value port_v, napi_value host_v, struct sockaddr_storage* to, socklen_t* tl) {
  uint32_t port;
  char host[64];
  if (napi_get_value_uint32(env, port_v, &port) != napi_ok || port > 65535 || !get_string(env, host_v, host, sizeof host)) {
    throw_type(env, "port must be 0..65535 and host a string");
    return -1;
  }
  if (parse_address(host, port, to, tl) != 0) {
    throw_type(env, "host must be an IPv4 or IPv6 address");
    return -1;
  }
  return 0;
}

// close(id, onClosed?): stops delivery now; onClosed runs once the fd is closed. Idempotent.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock* s = argc ? arg_sock(env, argv[0]) : NULL;
  if (!s) return NULL;
  napi_valuetype t;
  if (argc > 1 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_function) napi_create_reference(env, argv[1], 1, &s->on_closed);
  sock_close(s);
  return NULL;
}

// ref(id, on): whether the socket keeps the event loop alive (default yes, like dgram)
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock* s = argc == 2 ? arg_sock(env, argv[0]) : NULL;
  bool on = true;
  if (!s) return throw_type(env, "ref(id, on): no such socket");
  napi_get_value_bool(env, argv[1], &on);
  if (on) uv_ref((uv_handle_t*)&s->poll);
  else uv_unref((uv_handle_t*)&s->poll);
  return NULL;
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

// sendSegmented(id, data: Uint8Array, segmentBytes, port, host): true when sent, false when the
// send buffer is full. UDP GSO (Linux >= 4.18): the kernel cuts `data` into datagrams of
// segmentBytes (the last may be shorter), so a run of equal-sized datagrams to one destination
// goes down the stack once instead of once per datagram. At most 64 segments and 65,507 bytes.
static napi_value js_send_segmented(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock* s = argc == 5 ? arg_sock(env, argv[0]) : NULL;
  if (!s) return throw_type(env, "sendSegmented(id, data, segmentBytes, port, host): no such socket");
  napi_typedarray_type tt;
  size_t len, off;
  void* data;
  napi_value ab;
  bool is_ta = false;
  uint32_t seg;
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta || napi_get_typedarray_info(env, argv[1], &tt, &len, &data, &ab, &off) != napi_ok ||
      tt != napi_uint8_array || napi_get_value_uint32(env, argv[2], &seg) != napi_ok) {
    return throw_type(env, "sendSegmented(id, data: Uint8Array, segmentBytes, port, host)");
  }
  if (seg == 0 || seg > 65507 || len > 65507 || (len + seg - 1) / seg > 64) return throw_type(env, "sendSegmented: 1..64 segments, 65,507 bytes at most");
  struct sockaddr_storage to;
  socklen_t tl;
  if (arg_destination(env, argv[3], argv[4], &to, &tl) != 0) return NULL;
  struct iovec iov = {data, len};
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &to;
  msg.msg_namelen = tl;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (len > seg) {
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t gso = (uint16_t)seg;
    memcpy(CMSG_DATA(cm), &gso, sizeof gso);
  }
  ssize_t r;
  do r = sendmsg(s->fd, &msg, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) return throw_errno(env, errno, "sendmsg");
  napi_value out;
  napi_get_boolean(env, r >= 0, &out);
  return out;
}

// sendBatch(id, datagrams: Uint8Array[], port, host): number sent (fewer when the send buffer is full)
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock* s = argc == 4 ? arg_sock(env, argv[0]) : NULL;
  if (!s) return throw_type(env, "sendBatch(id, datagrams, port, host): no such socket");
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &n) != napi_ok) {
    return throw_type(env, "sendBatch(id, datagrams: Uint8Array[], port, host)");
  }
  struct sockaddr_storage to;
  socklen_t tl;
  if (arg_destination(env, argv[2], argv[3], &to, &tl) != 0) return NULL;
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  uint32_t sent = 0;
  while (sent < n) {
    uint32_t k = n - sent < SEND_CHUNK ? n - sent : SEND_CHUNK;
    for (uint32_t i = 0; i < k; i++) {
      napi_value el;
      napi_typedarray_type tt;
      size_t len;
      void* data;
      napi_value ab;
      size_t off;
      bool is_ta = false;
      if (napi_get_element(env, argv[1], sent + i, &el) != napi_ok || napi_is_typedarray(env, el, &is_ta) != napi_ok || !is_ta ||
          napi_get_typedarray_info(env, el, &tt, &len, &data, &ab, &off) != napi_ok || tt != napi_uint8_array) {
        return throw_type(env, "sendBatch: every datagram must be a Uint8Array/Buffer");
      }
      iov[i].iov_base = data;
      iov[i].iov_len = len;
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = tl;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint32_t done = 0;
    while (done < k) {
      int r = sendmmsg(s->fd, msgs + done, k - done, MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || sent + done > 0) goto out_partial;
        return throw_errno(env, errno, "sendmmsg");
      }
      done += (uint32_t)r;
    }
    sent += k;
    continue;
  out_partial:
    sent += done;
    break;
  }
  napi_value out;
  napi_create_uint32(env, sent, &out);
  return out;
}

NAPI_MODULE_INIT() {
  Env* e = (Env*)calloc(1, sizeof *e);
  if (!e) return NULL;
  e->env = env;
  napi_value meta, staging, resource, name;
  void* meta_data = NULL;
  void* staging_data = NULL;
  if (napi_get_uv_event_loop(env, &e->loop) != napi_ok ||
      napi_create_arraybuffer(env, (size_t)META_CAP * META_FIELDS * sizeof(uint32_t), &meta_data, &meta) != napi_ok ||
      napi_create_arraybuffer(env, STAGING_BYTES, &staging_data, &staging) != napi_ok) {
    free(e);
    napi_throw_error(env, NULL, "udp-batch: no event loop or memory");
    return NULL;
  }
  // the references keep both alive (and their memory in place) for the environment's lifetime
  e->meta = (uint32_t*)meta_data;
  napi_create_reference(env, meta, 1, &e->meta_ref);
  e->staging = (uint8_t*)staging_data;
  napi_create_reference(env, staging, 1, &e->staging_ref);
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "UdpBatch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &e->async_context);
  // freed by env_cleanup once every handle is closed, not by an instance-data finalizer
  napi_set_instance_data(env, e, NULL, NULL);
  e->open_handles = 1;  // the check handle
  e->check.data = e;
  if (uv_check_init(e->loop, &e->check) == 0) {
    e->check_started = 1;
    uv_check_start(&e->check, on_check);
    uv_unref((uv_handle_t*)&e->check);  // flushing alone must not keep the loop alive
  }
  napi_add_async_cleanup_hook(env, env_cleanup, e, NULL);

  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"sendSegmented", NULL, js_send_segmented, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
