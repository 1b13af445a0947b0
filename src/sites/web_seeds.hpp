// Web seeds (BEP 19; sites/web_seeds.cpp, docs/protocol.md).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/pointer.hpp"
#include "sites/service.hpp"

namespace hostless {

// True for a URL whose host is this
// machine or the local network: localhost, *.localhost, a loopback,
// private, link-local, CGNAT or unspecified address (IPv4 or IPv6). Names
// that resolve to such addresses are not caught (docs/protocol.md).
bool local_web_seed(std::string_view url);
// The web seeds a publish asks for, as
// they go in the pointer (each a folder URL, '/' added; no duplicates;
// within BEP 44's size); nullopt stays nullopt.
Result<WebSeedsChange> checked_web_seeds(const WebSeedsChange& change);
// The info dictionary of version `ih`, from <url><ih hex>.torrent of the
// first web seed that has one whose SHA-1 is `ih`; at most `max` bytes each.
// Blocks up to `timeout` a web seed.
Result<std::string> fetch_metadata_from_web_seeds(const std::vector<std::string>& urls,
                                                  const InfoHash& ih, std::size_t max,
                                                  std::chrono::milliseconds timeout);

}  // namespace hostless
