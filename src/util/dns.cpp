#include "util/dns.hpp"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace hostless {

Result<TxtAnswer> query_txt(const std::string& name) {
  // A resolver state of our own: res_nquery is thread-safe with it.
  struct __res_state state;
  std::memset(&state, 0, sizeof state);
  if (res_ninit(&state) != 0) {
    return make_error("cannot read the system's DNS settings (/etc/resolv.conf)",
                      ErrorKind::kUnavailable);
  }
  // Two tries of 2 s: a gateway worker waits on this for a visitor.
  state.retrans = 2;
  state.retry = 2;
  std::array<unsigned char, 4096> answer{};
  const int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_txt, answer.data(),
                           static_cast<int>(answer.size()));
  const int herr = state.res_h_errno;
  res_nclose(&state);
  if (n < 0) {
    if (herr == HOST_NOT_FOUND || herr == NO_DATA) {
      return make_error("DNS has no TXT record " + name, ErrorKind::kNotFound);
    }
    return make_error("DNS did not answer for " + name + " (" + hstrerror(herr) + ")",
                      ErrorKind::kUnavailable);
  }
  ns_msg msg;
  if (ns_initparse(answer.data(), std::min(n, static_cast<int>(answer.size())), &msg) != 0) {
    return make_error("DNS answered for " + name + " with a malformed message",
                      ErrorKind::kUnavailable);
  }
  TxtAnswer out;
  bool first = true;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) continue;
    if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in) continue;
    // RDATA: character-strings, each a length byte then that many bytes.
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    std::string text;
    while (p < end) {
      const std::size_t len = *p++;
      if (len > static_cast<std::size_t>(end - p)) break;
      text.append(reinterpret_cast<const char*>(p), len);
      p += len;
    }
    out.records.push_back(std::move(text));
    const std::chrono::seconds ttl(ns_rr_ttl(rr));
    out.ttl = first ? ttl : std::min(out.ttl, ttl);
    first = false;
  }
  if (out.records.empty()) return make_error("DNS has no TXT record " + name, ErrorKind::kNotFound);
  return out;
}

}  // namespace hostless
