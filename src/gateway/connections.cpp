#include "gateway/connections.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hostless::detail {
namespace {

using Clock = std::chrono::steady_clock;

// How long a worker that just answered a request keeps the connection, for a
// client that sends its next request at once (a benchmark, a pipelining
// browser), before handing it back to the reader.
constexpr int kLingerMs = 5;

// Runs httplib's per-connection task right on its accept thread: our
// process_and_close_socket only hands the socket over, so it never blocks.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

bool wait_ready(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r >= 0) return r > 0;
    if (errno != EINTR) return false;
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

// cpp-httplib's view of a connection while a worker serves it: first the
// buffered bytes (a whole head, maybe more), then the socket, every wait
// bounded by the I/O timeout.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(Connection& c, std::chrono::milliseconds timeout) : c_(c), timeout_(timeout) {}
  // The buffered bytes httplib did not read belong to the next request.
  ~ConnectionStream() override { c_.in.erase(0, pos_); }

  bool is_readable() const override {
    return pos_ < c_.in.size() || wait_ready(c_.fd, POLLIN, timeout_);
  }
  bool is_writable() const override { return wait_ready(c_.fd, POLLOUT, timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < c_.in.size()) {
      std::size_t n = std::min(size, c_.in.size() - pos_);
      std::memcpy(ptr, c_.in.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    for (;;) {
      ssize_t n = ::recv(c_.fd, ptr, size, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_ready(c_.fd, POLLIN, timeout_)) {
        return -1;
      }
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    std::size_t done = 0;
    while (done < size) {
      ssize_t n = ::send(c_.fd, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_ready(c_.fd, POLLOUT, timeout_)) return -1;
      } else {
        return -1;
      }
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(c_.fd, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(c_.fd, false, ip, port);
  }
  socket_t socket() const override { return c_.fd; }

 private:
  Connection& c_;
  std::chrono::milliseconds timeout_;
  std::size_t pos_ = 0;
};

}  // namespace

GuardedServer::GuardedServer(ConnectionLimits limits) : limits_(std::move(limits)) {
  new_task_queue = [] { return new InlineQueue(); };
}

GuardedServer::~GuardedServer() {
  stop_connections();
}

void GuardedServer::start_connections() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  for (int fd : listeners_) {
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  reader_ = std::thread([this] { reader_loop(); });
  for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void GuardedServer::stop_connections() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(mutex_);
    // Wakes workers blocked on their client's socket.
    for (int fd : busy_) ::shutdown(fd, SHUT_RDWR);
  }
  ready_cv_.notify_all();
  if (wake_fd_ >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  }
  if (reader_.joinable()) reader_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  for (auto& c : ready_) ::close(c->fd);
  for (auto& c : incoming_) ::close(c->fd);
  ready_.clear();
  incoming_.clear();
  for (int fd : listeners_) ::close(fd);
  listeners_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
}

void GuardedServer::add_listener(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  listeners_.push_back(fd);
}

void GuardedServer::accept_all(int listener) {
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: no more for now; EMFILE and the like: next wakeup
    }
    process_and_close_socket(fd);
  }
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  if (stopping_) {
    ::close(sock);
    return false;
  }
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto c = std::make_unique<Connection>();
  c->fd = sock;
  c->since = Clock::now();
  wait_for_head(std::move(c));
  return true;
}

void GuardedServer::wait_for_head(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mutex_);
    busy_.erase(c->fd);
    incoming_.push_back(std::move(c));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void GuardedServer::hand_to_worker(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mutex_);
  busy_.insert(c->fd);
  ready_.push_back(std::move(c));
  ready_cv_.notify_one();
}

bool GuardedServer::receive(Connection& c) {
  char buf[16384];
  while (c.in.size() <= limits_.head.head + limits_.body_buffer) {
    ssize_t n = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return false;
    } else if (errno == EINTR) {
      continue;
    } else {
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }
  return true;
}

void GuardedServer::refuse(Connection& c, int status, const std::string& reason) {
  const char* phrase = status == 400   ? "Bad Request"
                       : status == 408 ? "Request Timeout"
                       : status == 411 ? "Length Required"
                       : status == 413 ? "Content Too Large"
                       : status == 414 ? "URI Too Long"
                                       : "Request Header Fields Too Large";
  std::string body = "hostless: " + reason + "\n";
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + phrase +
                         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                         std::to_string(body.size()) +
                         "\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: "
                         "default-src 'none'; frame-ancestors 'none'\r\nConnection: close\r\n\r\n" +
                         body;
  // Best effort, without blocking the reader: the socket buffer takes it.
  [[maybe_unused]] auto n =
      ::send(c.fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(c.fd, SHUT_WR);
}

RequestCheck GuardedServer::check(Connection& c) {
  RequestCheck r = check_request(c.in, limits_.head, limits_.max_body);
  if (r.expect_continue && !c.continued) {
    // The client waits for this before it sends the body we mean to read.
    // (cpp-httplib sends a second one later; RFC 9110 §15.2 lets a client
    // receive any number of 1xx responses.)
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    [[maybe_unused]] auto n =
        ::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    c.continued = true;
  }
  return r;
}

void GuardedServer::close_connection(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mutex_);
    busy_.erase(c->fd);
  }
  ::close(c->fd);
}

void GuardedServer::reader_loop() {
  std::vector<epoll_event> events(128);
  auto last_sweep = Clock::now();
  while (!stopping_) {
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 250);
    std::vector<std::unique_ptr<Connection>> adopted;
    {
      std::lock_guard lock(mutex_);
      adopted.swap(incoming_);
    }
    for (auto& c : adopted) {
      int fd = c->fd;
      auto request = check(*c);
      if (request.kind == RequestCheck::Kind::kComplete) {
        hand_to_worker(std::move(c));
        continue;
      }
      if (request.kind == RequestCheck::Kind::kRefused) {
        refuse(*c, request.status, request.reason);
        close_connection(std::move(c));
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
      waiting_[fd] = std::move(c);
    }
    auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t value;
        [[maybe_unused]] auto r = ::read(wake_fd_, &value, sizeof(value));
        continue;
      }
      if (std::find(listeners_.begin(), listeners_.end(), fd) != listeners_.end()) {
        accept_all(fd);
        continue;
      }
      auto it = waiting_.find(fd);
      if (it == waiting_.end()) continue;
      Connection& c = *it->second;
      bool open = receive(c);
      if (!c.in.empty() && !c.head_started) {
        c.head_started = true;
        c.since = now;
      }
      auto request = check(c);
      if (request.kind == RequestCheck::Kind::kIncomplete && open) continue;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      auto conn = std::move(it->second);
      waiting_.erase(it);
      if (request.kind == RequestCheck::Kind::kComplete) {
        hand_to_worker(std::move(conn));
        continue;
      }
      if (request.kind == RequestCheck::Kind::kRefused) {
        refuse(*conn, request.status, request.reason);
      }
      ::close(fd);
    }
    if (now - last_sweep < std::chrono::milliseconds(250) &&
        waiting_.size() <= limits_.max_waiting) {
      continue;
    }
    last_sweep = now;
    std::vector<std::pair<Clock::time_point, int>> idle;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      Connection& c = *it->second;
      bool expired = c.head_started ? now - c.since > limits_.head_timeout
                                    : now - c.since > limits_.idle_timeout;
      if (expired) {
        if (c.head_started) refuse(c, 408, "the request took too long to arrive");
        ::close(it->first);
        it = waiting_.erase(it);
        continue;
      }
      if (!c.head_started) idle.emplace_back(c.since, it->first);
      ++it;
    }
    if (waiting_.size() > limits_.max_waiting) {
      std::sort(idle.begin(), idle.end());
      for (auto& [since, fd] : idle) {
        if (waiting_.size() <= limits_.max_waiting) break;
        ::close(fd);
        waiting_.erase(fd);
      }
    }
  }
  for (auto& [fd, c] : waiting_) ::close(fd);
  waiting_.clear();
}

void GuardedServer::worker_loop() {
  for (;;) {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock lock(mutex_);
      ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      c = std::move(ready_.front());
      ready_.pop_front();
    }
    serve(std::move(c));
  }
}

void GuardedServer::serve(std::unique_ptr<Connection> c) {
  for (;;) {
    bool close = ++c->served >= limits_.max_requests || stopping_;
    bool closed = false;
    bool ok;
    {
      ConnectionStream stream(*c, limits_.io_timeout);
      ok = process_request(stream, close, closed, nullptr);
    }
    if (!ok || closed || close || stopping_) return close_connection(std::move(c));
    c->head_started = false;
    c->continued = false;
    c->since = Clock::now();
    auto request = check(*c);
    if (request.kind == RequestCheck::Kind::kIncomplete &&
        wait_ready(c->fd, POLLIN, std::chrono::milliseconds(kLingerMs))) {
      if (!receive(*c) && c->in.empty()) return close_connection(std::move(c));
      request = check(*c);
    }
    switch (request.kind) {
      case RequestCheck::Kind::kComplete:
        continue;
      case RequestCheck::Kind::kIncomplete:
        if (!c->in.empty()) c->head_started = true;
        return wait_for_head(std::move(c));
      case RequestCheck::Kind::kRefused:
        refuse(*c, request.status, request.reason);
        return close_connection(std::move(c));
    }
  }
}

}  // namespace hostless::detail
