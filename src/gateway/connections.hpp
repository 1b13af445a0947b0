// The gateway's connection handling: cpp-httplib parses requests and runs the
// handlers, but a worker thread is given to a connection only once a whole
// request (head and Content-Length body) has arrived within the limits. Until then (a new
// connection, a keep-alive connection between requests, a slow or hostile client) the connection
// waits in one epoll thread at the cost of its buffered bytes. So idle and slowloris connections
// cannot exhaust the workers, an oversized head is answered 414/431 after at most HeadLimits::head
// bytes, and a body is refused (411/413) before it is read when it is chunked or too large.
// Internal to the gateway (server.cpp); not a general-purpose server.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/http_rules.hpp"

namespace hostless::detail {

struct ConnectionLimits {
  HeadLimits head;
  // A connection with no request under way is closed after this long.
  std::chrono::milliseconds idle_timeout{10000};
  // A request, head and body, must be complete this long after its first
  // byte (408): one deadline per request, not one per read.
  std::chrono::milliseconds head_timeout{10000};
  // The largest request body taken for a Host (0: none). A body is read
  // whole, in the reader thread, before a worker takes the request, so a
  // stalled body holds no worker.
  std::function<std::size_t(std::string_view host)> max_body = [](std::string_view) {
    return std::size_t{0};
  };
  // The most max_body() returns: what a connection buffers beyond its head.
  std::size_t body_buffer = 0;
  // Writes of a response give up after this long without progress.
  std::chrono::milliseconds io_timeout{30000};
  // At most this many connections wait for a head; beyond it the longest idle
  // ones are closed first.
  std::size_t max_waiting = 4096;
  // Requests served on one connection before it is closed.
  std::size_t max_requests = 1000;
  int workers = 64;
};

// One client connection: its socket (non-blocking) and the bytes received but
// not yet consumed by cpp-httplib.
struct Connection {
  int fd = -1;
  std::string in;
  std::size_t served = 0;                       // requests answered so far
  std::chrono::steady_clock::time_point since;  // idle since, or head started at
  bool head_started = false;
  bool continued = false;  // "100 Continue" sent for the request under way
};

class GuardedServer final : public httplib::Server {
 public:
  explicit GuardedServer(ConnectionLimits limits);
  ~GuardedServer() override;
  // Starts the reader and worker threads; call before listen_after_bind.
  void start_connections();
  // After httplib::Server::stop(): closes every connection and joins threads.
  void stop_connections();
  // Accepts connections on another listening socket too (the gateway's second
  // loopback address), in the reader thread; takes ownership of `fd`. Call
  // before start_connections.
  void add_listener(int fd);

 private:
  // Called by httplib's accept loop (through an inline task queue) for each
  // accepted socket: hands it to the reader and returns at once.
  bool process_and_close_socket(socket_t sock) override;
  void reader_loop();
  void accept_all(int listener);
  void worker_loop();
  // Serves requests on c while their heads are already complete; then hands
  // c back to the reader or closes it.
  void serve(std::unique_ptr<Connection> c);
  // Reads what is available without blocking; false on EOF or error.
  bool receive(Connection& c);
  void wait_for_head(std::unique_ptr<Connection> c);
  void hand_to_worker(std::unique_ptr<Connection> c);
  void refuse(Connection& c, int status, const std::string& reason);
  // check_request on what c holds; sends "100 Continue" once when the client
  // waits for it.
  RequestCheck check(Connection& c);
  void close_connection(std::unique_ptr<Connection> c);

  ConnectionLimits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
  std::vector<std::thread> workers_;

  std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<std::unique_ptr<Connection>> ready_;      // heads complete, for workers
  std::vector<std::unique_ptr<Connection>> incoming_;  // for the reader to watch
  std::set<int> busy_;                                 // sockets a worker is serving
  std::vector<int> listeners_;  // from add_listener; fixed once the reader runs
  // Owned by the reader thread only.
  std::map<int, std::unique_ptr<Connection>> waiting_;
};

}  // namespace hostless::detail
