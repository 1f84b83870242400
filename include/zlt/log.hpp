// The process-wide logger: level, format and sink a host chooses.
#pragma once

#include "core/runtime/log.hpp"
