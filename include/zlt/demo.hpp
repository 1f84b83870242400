// DemoHttpService: the small web service `zlt quickstart` publishes through a tunnel.
#pragma once

#include "core/transport/demo_http.hpp"
