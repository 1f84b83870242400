// Secrets a host makes and stores: random tokens and their hashes for the token file.
#pragma once

#include "core/crypto/crypto.hpp"
