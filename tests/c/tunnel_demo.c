/*
 * A whole tunnel driven from C through zlayer_tunnel.h alone: a runtime, a registry listening
 * on loopback, an agent exposing a small echo service this program runs itself, and bytes
 * pushed through the tunnel and checked on the way back. Prints what it checked; exits 0 when
 * everything worked.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlayer_tunnel.h>

#define CHECK(cond, ...)                            \
  do {                                              \
    if (!(cond)) {                                  \
      fprintf(stderr, "FAIL: " __VA_ARGS__);        \
      fprintf(stderr, " (%s)\n", zlt_last_error()); \
      exit(1);                                      \
    }                                               \
  } while (0)

/* ---- the local service: echoes every connection until end-of-file ---- */

static int listen_loopback(int* port_out) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr*)&a, &len) != 0) {
    close(fd);
    return -1;
  }
  *port_out = ntohs(a.sin_port);
  return fd;
}

static void* echo_service(void* arg) {
  int listener = *(int*)arg;
  for (;;) {
    char buf[4096];
    ssize_t n;
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) return NULL; /* the listener was shut down */
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w <= 0) break;
        off += w;
      }
    }
    close(fd);
  }
}

/* ---- events: wait for the public port ---- */

struct demo_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int public_port;
  int registry_events;
};

static void on_agent_event(void* user, const zlt_event* ev) {
  struct demo_state* s = user;
  const char* p;
  if (strcmp(ev->name, "service_registered") != 0) return;
  p = strstr(ev->json, "\"public_port\":");
  if (p == NULL) return;
  pthread_mutex_lock(&s->mu);
  s->public_port = atoi(p + strlen("\"public_port\":"));
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void on_registry_event(void* user, const zlt_event* ev) {
  struct demo_state* s = user;
  (void)ev;
  pthread_mutex_lock(&s->mu);
  s->registry_events++;
  pthread_mutex_unlock(&s->mu);
}

static int wait_public_port(struct demo_state* s, int seconds) {
  struct timespec deadline;
  int port;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  pthread_mutex_lock(&s->mu);
  while (s->public_port == 0) {
    if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) break;
  }
  port = s->public_port;
  pthread_mutex_unlock(&s->mu);
  return port;
}

/* ---- a public client ---- */

static int round_trip(int port, const char* msg, size_t len) {
  struct sockaddr_in a;
  struct timeval tv = {5, 0};
  char* back = malloc(len);
  size_t got = 0;
  int ok = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || back == NULL) goto out;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)port);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) goto out;
  if (write(fd, msg, len) != (ssize_t)len) goto out;
  while (got < len) {
    ssize_t n = read(fd, back + got, len - got);
    if (n <= 0) goto out;
    got += (size_t)n;
  }
  ok = memcmp(back, msg, len) == 0;
out:
  if (fd >= 0) close(fd);
  free(back);
  return ok;
}

int main(void) {
  static const char* server_config =
      "{\"listen\":\"127.0.0.1:0\",\"public_bind\":\"127.0.0.1\",\"data_port_range\":[0,0],"
      "\"tokens\":[{\"token\":\"demo-token\"}]}";
  struct demo_state state;
  zlt_runtime* rt = NULL;
  zlt_registry* reg = NULL;
  zlt_agent* agent = NULL;
  char agent_config[512];
  char big[100000];
  char* status = NULL;
  char* hash = NULL;
  pthread_t echo_thread;
  int control_port = 0, echo_port = 0, public_port, listener, rc;
  size_t i;

  memset(&state, 0, sizeof state);
  pthread_mutex_init(&state.mu, NULL);
  pthread_cond_init(&state.cv, NULL);

  CHECK(strcmp(zlt_version(), ZLT_VERSION_STRING) == 0, "library %s, header %s", zlt_version(),
        ZLT_VERSION_STRING);
  printf("ok: library version %s matches the header\n", zlt_version());

  CHECK(zlt_set_log_level("warn") == ZLT_OK, "zlt_set_log_level");
  CHECK(zlt_set_log_level("chatty") == ZLT_EINVAL, "an unknown log level is refused");
  printf("ok: log level set to warn; unknown levels are refused\n");

  CHECK(zlt_hash_token("test", &hash) == ZLT_OK, "zlt_hash_token");
  CHECK(strcmp(hash, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") == 0,
        "hash of \"test\" is %s", hash);
  zlt_free(hash);
  printf("ok: zlt_hash_token(\"test\")\n");

  CHECK(zlt_registry_new(NULL, NULL, &reg) == ZLT_EINVAL && reg == NULL, "NULL runtime");
  printf("ok: a NULL runtime is refused: %s\n", zlt_last_error());

  listener = listen_loopback(&echo_port);
  CHECK(listener >= 0, "echo service listener");
  CHECK(pthread_create(&echo_thread, NULL, echo_service, &listener) == 0, "echo thread");

  CHECK(zlt_runtime_new(&rt) == ZLT_OK, "zlt_runtime_new");
  CHECK(zlt_registry_new(rt, server_config, &reg) == ZLT_OK, "zlt_registry_new");
  CHECK(zlt_registry_on_event(reg, on_registry_event, &state) == ZLT_OK, "zlt_registry_on_event");
  CHECK(zlt_registry_listen(reg, "127.0.0.1", 0, &control_port) == ZLT_OK, "zlt_registry_listen");
  printf("ok: registry listening on 127.0.0.1:%d\n", control_port);

  snprintf(agent_config, sizeof agent_config,
           "{\"server_url\":\"ws://127.0.0.1:%d/tunnel/v1\",\"token\":\"demo-token\","
           "\"services\":[{\"name\":\"echo\",\"protocol\":\"tcp\",\"local_port\":%d}]}",
           control_port, echo_port);
  CHECK(zlt_agent_new(rt, agent_config, &agent) == ZLT_OK, "zlt_agent_new");
  CHECK(zlt_agent_on_event(agent, on_agent_event, &state) == ZLT_OK, "zlt_agent_on_event");
  CHECK(zlt_agent_start(agent) == ZLT_OK, "zlt_agent_start");
  public_port = wait_public_port(&state, 10);
  CHECK(public_port > 0, "no service_registered event within 10 s");
  printf("ok: service \"echo\" registered on public port %d\n", public_port);

  CHECK(round_trip(public_port, "hello from C", 12), "small echo through the tunnel");
  for (i = 0; i < sizeof big; i++) big[i] = (char)('a' + (i * 7) % 26);
  CHECK(round_trip(public_port, big, sizeof big), "100000-byte echo through the tunnel");
  printf("ok: 12 and 100000 bytes went through the tunnel and came back intact\n");

  CHECK(zlt_agent_status(agent, &status) == ZLT_OK, "zlt_agent_status");
  CHECK(strstr(status, "\"state\":\"connected\"") != NULL, "agent status: %s", status);
  zlt_free(status);
  printf("ok: agent status says connected\n");

  zlt_agent_free(agent);
  zlt_registry_free(reg);
  rc = zlt_runtime_free(rt);
  CHECK(rc == ZLT_OK, "zlt_runtime_free");
  pthread_mutex_lock(&state.mu);
  CHECK(state.registry_events > 0, "the registry reported no events");
  pthread_mutex_unlock(&state.mu);
  printf("ok: everything freed cleanly\n");

  shutdown(listener, SHUT_RDWR);
  pthread_join(echo_thread, NULL);
  close(listener);
  return 0;
}
