/*
 * The C half of the callback bridge. The library's callback types take `const` strings and a
 * `void*` user pointer; Go's exported functions cannot be declared with either, so these shims
 * sit between them. The user pointer always carries a runtime/cgo.Handle as an integer: C never
 * holds a Go pointer.
 *
 * Declarations only: this header is part of the preamble of the file with the //export
 * functions, whose preamble is copied into _cgo_export.h.
 */
#ifndef ZLT_GO_BRIDGE_H
#define ZLT_GO_BRIDGE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlayer_tunnel.h>

/* Routes the object's callbacks to the Go value behind `handle` (0: unregisters, where the
 * library gives NULL a meaning of its own). */
int zltgo_registry_on_event(zlt_registry* reg, uintptr_t handle);
int zltgo_registry_set_token_validator(zlt_registry* reg, uintptr_t handle);
int zltgo_agent_on_event(zlt_agent* agent, uintptr_t handle);
int zltgo_agent_on_connection(zlt_agent* agent, uintptr_t handle);
int zltgo_access_on_event(zlt_access* access, uintptr_t handle);
int zltgo_node_manager_on_event(zlt_node_manager* mgr, uintptr_t handle);
int zltgo_node_manager_set_overlay_resolver(zlt_node_manager* mgr, uintptr_t handle);
int zltgo_set_log_callback(uintptr_t handle);

/* A close-on-exec duplicate of fd, or -1 with errno set. */
int zltgo_dup_cloexec(int fd);

#endif
