// Result<T>, Status and Error: how every call of the C++ API reports failure.
#pragma once

#include "core/common/error.hpp"
