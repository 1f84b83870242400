// Plain values hosts pass in and read back: tunnel and grant ids (Uuid), RFC 3339 times, ASCII
// case folding, and JSON text made the way the rest of the API makes it.
#pragma once

#include "core/common/ascii.hpp"
#include "core/common/json_dump.hpp"
#include "core/common/rfc3339.hpp"
#include "core/common/uuid.hpp"
