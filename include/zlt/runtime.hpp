// The runtime: one libuv loop on its own thread, where every tunnel object lives. Calls from
// other threads go through Runtime::invoke; LoopOwned<T> holds an object from another thread
// and destroys it on the loop.
#pragma once

#include "core/runtime/loop_owned.hpp"
#include "core/runtime/runtime.hpp"
