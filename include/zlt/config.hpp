// The configurations of the tunnel objects, their validation, and their JSON form (the config
// file and the C ABI's JSON options): ServerConfig, ClientConfig, AccessConfig, NodeConfig and
// the readers that parse them.
#pragma once

#include "core/config/allow_target.hpp"
#include "core/config/config.hpp"
#include "core/config/config_check.hpp"
#include "core/config/json_reader.hpp"
#include "core/config/json_text.hpp"
#include "core/config/secret.hpp"
