// Shims from the library's callback signatures to the functions exported in callbacks.go.
#define _GNU_SOURCE
#include <fcntl.h>

#include "_cgo_export.h"
#include "bridge.h"

static void event_shim(void* user, const zlt_event* ev) {
  zltgoEvent((uintptr_t)user, (char*)ev->name, (char*)ev->json);
}

static int validator_shim(void* user, const char* token, const char* token_hash,
                          zlt_token_verdict* verdict) {
  return zltgoValidate((uintptr_t)user, (char*)token, (char*)token_hash, verdict);
}

static int connection_shim(void* user, const char* service_id, const char* connection_id,
                           const char* client_addr) {
  return zltgoConnection((uintptr_t)user, (char*)service_id, (char*)connection_id,
                         (char*)client_addr);
}

static int resolver_shim(void* user, const char* node, char* address_out, size_t address_size) {
  return zltgoResolve((uintptr_t)user, (char*)node, address_out, address_size);
}

static void log_shim(void* user, int level, const char* component, const char* message,
                     const char* fields_json) {
  zltgoLog((uintptr_t)user, level, (char*)component, (char*)message, (char*)fields_json);
}

int zltgo_registry_on_event(zlt_registry* reg, uintptr_t handle) {
  return zlt_registry_on_event(reg, handle != 0 ? event_shim : NULL, (void*)handle);
}

int zltgo_registry_set_token_validator(zlt_registry* reg, uintptr_t handle) {
  return zlt_registry_set_token_validator(reg, handle != 0 ? validator_shim : NULL,
                                          (void*)handle);
}

int zltgo_agent_on_event(zlt_agent* agent, uintptr_t handle) {
  return zlt_agent_on_event(agent, handle != 0 ? event_shim : NULL, (void*)handle);
}

int zltgo_agent_on_connection(zlt_agent* agent, uintptr_t handle) {
  return zlt_agent_on_connection(agent, handle != 0 ? connection_shim : NULL, (void*)handle);
}

int zltgo_access_on_event(zlt_access* access, uintptr_t handle) {
  return zlt_access_on_event(access, handle != 0 ? event_shim : NULL, (void*)handle);
}

int zltgo_node_manager_on_event(zlt_node_manager* mgr, uintptr_t handle) {
  return zlt_node_manager_on_event(mgr, handle != 0 ? event_shim : NULL, (void*)handle);
}

int zltgo_node_manager_set_overlay_resolver(zlt_node_manager* mgr, uintptr_t handle) {
  return zlt_node_manager_set_overlay_resolver(mgr, handle != 0 ? resolver_shim : NULL,
                                               (void*)handle);
}

int zltgo_set_log_callback(uintptr_t handle) {
  return zlt_set_log_callback(handle != 0 ? log_shim : NULL, (void*)handle);
}

int zltgo_dup_cloexec(int fd) {
  return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}
