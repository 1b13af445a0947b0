// Small HTTP helpers shared by the gateway and the CLI's API client.
#pragma once

#include <string>

namespace hostless {

// The Host header value of a request to the daemon at `host:port`, with IPv6
// literals bracketed.
std::string host_header(const std::string& host, int port);

}  // namespace hostless
