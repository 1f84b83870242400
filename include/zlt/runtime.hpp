// The runtime: one libuv loop on its own thread, where every tunnel object lives. Calls from
// other threads go through Runtime::invoke; LoopOwned<T> holds an object from another thread
// and destroys it on the loop; DeferredDelete runs work and frees objects at the loop's next
// turn, once the callback on the stack has unwound.
#pragma once

#include "core/runtime/deferred_delete.hpp"
#include "core/runtime/loop_owned.hpp"
#include "core/runtime/runtime.hpp"
