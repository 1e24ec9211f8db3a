// Reading a server's Prometheus metrics in end-to-end tests.
#pragma once

#include <string>
#include <vector>

namespace firstsip::testing {

// GET http://127.0.0.1:port/path: the body ("" when the connection fails).
std::string HttpGet(int port, const std::string& path);

// The metrics port a server logged ("metrics on http://127.0.0.1:PORT/metrics"), or 0.
int MetricsPort(const std::string& server_output);

// The value of the first metric line that contains every one of `parts`, or -1.
double MetricValue(const std::string& body, const std::vector<std::string>& parts);

}  // namespace firstsip::testing
