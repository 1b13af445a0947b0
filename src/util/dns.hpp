// DNS TXT lookups through the system's resolver (/etc/resolv.conf), for
// DNS names of sites (sites/names.hpp): one blocking query, with its TTL.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace hostless {

struct TxtAnswer {
  // Each TXT record's character-strings joined, as RFC 7208 reads them.
  std::vector<std::string> records;
  std::chrono::seconds ttl{0};  // the lowest TTL of the records
};

// The TXT records of `name`. A name that does not exist or has no TXT
// record is ErrorKind::kNotFound (an empty answer is never returned); a
// resolver that does not answer within about 4 s is kUnavailable.
Result<TxtAnswer> query_txt(const std::string& name);

}  // namespace hostless
