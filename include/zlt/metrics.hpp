// Metrics and readiness: the listener a host runs for `--metrics HOST:PORT` (GET /metrics,
// /healthz, /ready), what it asks the role it serves (MetricsSource: each role's metrics() and
// readiness()), and the Prometheus renderer's Readiness type.
#pragma once

#include "core/runtime/metrics_text.hpp"
#include "core/transport/metrics_listener.hpp"
