// The whole gateway over the wire: the input is sent as raw bytes to a real
// Gateway (cpp-httplib server, Host check, control API with its token, /s/
// redirects, site serving) listening on a loopback port in this process, with
// the fake SiteService of fake_site.hpp. The gateway's routes are only
// reachable through its own httplib::Server, hence the socket.
//
// One connection per input: send, half-close, read until the gateway closes.
// FUZZ_WIRE_DUMP=1 in the environment prints each answer (for replays).
//
// Properties: the gateway answers within 60 s (answers over 5 s are logged as
// "slow answer"); what it sends starts with a well-formed status line; no
// request makes a handler throw (status 500); a redirect never leaves
// <address>.localhost or this origin; the answer's head carries no raw
// control byte.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fake_site.hpp"
#include "fuzz_check.hpp"
#include "gateway/server.hpp"

using namespace hostless;
using hostless::fuzz::printable;

namespace {

constexpr const char* kToken = "fuzz-token";
// An answer that takes this long is a hang. Generous: on a loaded machine a
// niced run waits seconds for the CPU, and the gateway closes a stalled
// connection itself after its 10 s idle timeout.
constexpr int kAnswerTimeoutMs = 60000;
// An answer slower than this is reported (not failed): on a quiet machine it
// points at a connection the gateway lost until a timeout.
constexpr auto kSlowAnswer = std::chrono::seconds(5);
constexpr std::size_t kKeep = 64 * 1024;  // bytes of the answer kept for checks

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    fuzz::check_failed(__FILE__, __LINE__, "free_port", std::strerror(errno));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// The gateway under test, started once and kept for the whole run.
struct Wire {
  fuzz::FakeSiteService service;
  std::unique_ptr<Gateway> gateway;
  int port = 0;
};

Wire& wire() {
  static Wire* w = [] {
    auto* made = new Wire;
    for (int attempt = 0; attempt < 20 && made->port == 0; ++attempt) {
      GatewayOptions options;
      options.port = free_port();
      options.api_token = kToken;
      options.timeout = std::chrono::milliseconds(1);
      options.threads = 4;
      auto gateway = std::make_unique<Gateway>(made->service, options);
      if (gateway->start()) {
        made->gateway = std::move(gateway);
        made->port = options.port;
      }
    }
    FUZZ_CHECK(made->port != 0, "could not start the gateway on a loopback port");
    return made;
  }();
  return *w;
}

// Sends `request` on a fresh connection and returns (the start of) the answer.
std::string exchange(int port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0, std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Close with a reset: a million connections must not leave a million
  // TIME_WAIT sockets holding the loopback's ephemeral ports.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  sockaddr_in a = loopback(port);
  int connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (connected != 0 && errno == EINTR) {
    // The connection goes on in the background: wait until it is writable.
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, kAnswerTimeoutMs) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    connected = error == 0 ? 0 : -1;
    errno = error;
  }
  FUZZ_CHECK(connected == 0, std::string("connect: ") + std::strerror(errno));

  std::string answer;
  std::size_t sent = 0;
  bool writing = true;
  char buf[16384];
  // libFuzzer's -timeout alarm (SIGALRM, no SA_RESTART) interrupts calls in
  // whichever thread it lands on: EINTR is retried everywhere here.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerTimeoutMs);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    FUZZ_CHECK(left.count() > 0, "the gateway did not answer within 60 s: " + printable(request));
    pollfd p{fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    FUZZ_CHECK(ready >= 0, std::string("poll: ") + std::strerror(errno));
    if (writing && (p.revents & POLLOUT)) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      // The gateway may answer and close before reading everything.
      if ((n < 0 && errno != EINTR) || sent == request.size()) {
        writing = false;
        ::shutdown(fd, SHUT_WR);
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (answer.size() < kKeep) answer.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

std::string header_value(std::string_view head, std::string_view name) {
  std::size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    const std::string_view line = head.substr(at, head.find("\r\n", at) - at);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char x, char y) { return std::tolower(x) == std::tolower(y); })) {
      std::string_view value = line.substr(name.size() + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
  }
  return "";
}

void check_answer(std::string_view request, std::string_view answer) {
  if (answer.empty()) return;  // closed without a word: allowed for garbage
  const std::string what = printable(request) + " -> " + printable(answer.substr(0, 200));
  FUZZ_CHECK(answer.size() >= 12 && answer.starts_with("HTTP/1.1 ") &&
                 std::isdigit(static_cast<unsigned char>(answer[9])) &&
                 std::isdigit(static_cast<unsigned char>(answer[10])) &&
                 std::isdigit(static_cast<unsigned char>(answer[11])),
             "malformed status line: " + what);
  const int status = std::stoi(std::string(answer.substr(9, 3)));
  FUZZ_CHECK(status != 500, "a handler threw: " + what);
  const std::string_view head = answer.substr(0, answer.find("\r\n\r\n"));
  // Header values never carry raw control bytes (RFC 9110 section 5.5),
  // whatever the request reflected into them.
  for (std::size_t i = 0; i < head.size(); ++i) {
    const auto b = static_cast<unsigned char>(head[i]);
    const bool line_end =
        head.compare(i, 2, "\r\n") == 0 || (i > 0 && head[i - 1] == '\r' && b == '\n');
    FUZZ_CHECK((b >= 0x20 && b != 0x7f) || b == '\t' || line_end,
               "a control byte in the answer's head: " + what);
  }
  if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
    const std::string location = header_value(head, "Location");
    // Either a path on this origin (directory redirect) or a site's origin
    // (/s/<address>/ redirect) on this gateway's port.
    const bool same_origin =
        location.size() >= 2 && location[0] == '/' && location[1] != '/' && location[1] != '\\';
    bool site_origin = false;
    if (location.starts_with("http://") && location.size() > 7 + 52 + 11) {
      const std::string_view rest = std::string_view(location).substr(7 + 52);
      if (rest.starts_with(".localhost:")) {
        std::size_t i = 11;
        while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
        site_origin = i > 11 && i < rest.size() && rest[i] == '/';
      }
    }
    FUZZ_CHECK(same_origin || site_origin, "redirect to " + printable(location) + ": " + what);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = exchange(wire().port, request);
  const auto took = std::chrono::steady_clock::now() - start;
  if (took > kSlowAnswer) {
    std::fprintf(
        stderr, "slow answer: %lld ms for %s\n",
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
        printable(request).c_str());
  }
  // To see what the gateway answered when replaying an input.
  static const bool dump = std::getenv("FUZZ_WIRE_DUMP") != nullptr;
  if (dump) std::fprintf(stderr, "%zu bytes: %s\n", answer.size(), printable(answer).c_str());
  check_answer(request, answer);
  return 0;
}
