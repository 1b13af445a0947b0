// netsim-delayer: the network simulator's latency and loss (tests/support/netsim.py).
//
// This kernel has no netem, so the simulator's router namespace sends every
// forwarded packet to an NFQUEUE and this program, running in that namespace,
// holds each one for the one-way delay of its (source, destination) pair and
// then accepts it, or drops it with the pair's loss probability.
//
// Contract:
// - A packet's release time is arrival + delay, but never earlier than the
//   previous packet of the same (source, destination) pair: a pair's packets
//   leave in the order they came (as on a real path), also after the table
//   changed. Different pairs are independent.
// - Loss is decided when the packet arrives, with a PRNG seeded by --seed, so
//   a run with the same traffic drops the same packets.
// - The queue is fail-open and its netlink socket does not report overruns:
//   when this program cannot keep up, the kernel lets packets through
//   undelayed instead of stalling the whole network. `stats` lines (printed on
//   SIGUSR1 and at exit) say how late releases were, to tell when that began.
// - SIGHUP re-reads --table; SIGTERM/SIGINT release everything held, unbind
//   the queue and exit 0.
// - Only IPv4 addresses are matched; other packets get the default rule.
//
// Table file, one rule a line ('#' starts a comment):
//   default DELAY_MS LOSS
//   SRC DST DELAY_MS LOSS      (SRC or DST may be '*')
// DELAY_MS is the one-way delay (a decimal), LOSS a probability in [0, 1].
// Lookup order: exact pair, SRC *, * DST, default.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Nanos = std::int64_t;

Nanos now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Nanos{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct Rule {
  Nanos delay_ns = 0;
  double loss = 0.0;
};

// The rules of a table file. Addresses are IPv4 in host byte order; 0 stands
// for '*' (0.0.0.0 never appears as a forwarded packet's address).
class Table {
 public:
  Rule default_rule;

  void add(std::uint32_t src, std::uint32_t dst, Rule r) {
    if (src != 0 && dst != 0)
      pairs_[key(src, dst)] = r;
    else if (src != 0)
      from_[src] = r;
    else if (dst != 0)
      to_[dst] = r;
    else
      default_rule = r;
  }

  Rule lookup(std::uint32_t src, std::uint32_t dst) const {
    if (auto it = pairs_.find(key(src, dst)); it != pairs_.end()) return it->second;
    if (auto it = from_.find(src); it != from_.end()) return it->second;
    if (auto it = to_.find(dst); it != to_.end()) return it->second;
    return default_rule;
  }

  std::size_t size() const { return pairs_.size() + from_.size() + to_.size(); }

  static std::uint64_t key(std::uint32_t src, std::uint32_t dst) {
    return (std::uint64_t{src} << 32) | dst;
  }

 private:
  std::unordered_map<std::uint64_t, Rule> pairs_;
  std::unordered_map<std::uint32_t, Rule> from_;
  std::unordered_map<std::uint32_t, Rule> to_;
};

std::optional<std::uint32_t> parse_addr(const std::string& s) {
  if (s == "*") return 0;
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1 || a.s_addr == 0) return std::nullopt;
  return ntohl(a.s_addr);
}

std::optional<Rule> parse_rule(const std::string& delay, const std::string& loss) {
  char* end = nullptr;
  double ms = std::strtod(delay.c_str(), &end);
  if (end == delay.c_str() || *end != '\0' || !std::isfinite(ms) || ms < 0 || ms > 600'000)
    return std::nullopt;
  double p = std::strtod(loss.c_str(), &end);
  if (end == loss.c_str() || *end != '\0' || !(p >= 0.0 && p <= 1.0)) return std::nullopt;
  return Rule{static_cast<Nanos>(std::llround(ms * 1e6)), p};
}

// Reads a table file on top of `base` (the command line's default); on a bad
// line returns nullopt and says which one on stderr.
std::optional<Table> read_table(const std::string& path, const Table& base) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "netsim-delayer: cannot read %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return std::nullopt;
  }
  Table t = base;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (w.empty()) continue;
    std::optional<Rule> r;
    std::optional<std::uint32_t> src, dst;
    if (w.size() == 3 && w[0] == "default") {
      r = parse_rule(w[1], w[2]);
      src = dst = 0;
    } else if (w.size() == 4) {
      src = parse_addr(w[0]);
      dst = parse_addr(w[1]);
      r = parse_rule(w[2], w[3]);
    }
    if (!r || !src || !dst) {
      std::fprintf(stderr,
                   "netsim-delayer: %s:%d: expected 'SRC DST DELAY_MS LOSS' or "
                   "'default DELAY_MS LOSS', got '%s'\n",
                   path.c_str(), n, line.c_str());
      return std::nullopt;
    }
    t.add(*src, *dst, *r);
  }
  return t;
}

struct Options {
  unsigned queue = 0;
  std::string table_path;
  Rule default_rule;
  std::uint64_t seed = 1;
  std::uint32_t maxlen = 65536;
  std::string ready_path;
};

void usage(FILE* to) {
  std::fprintf(to,
               "usage: netsim-delayer [--queue N] [--table FILE] [--delay MS] [--loss P]\n"
               "                      [--seed N] [--maxlen N] [--ready FILE]\n"
               "Holds packets of NFQUEUE N (default 0) for a one-way delay and drops some,\n"
               "per (source, destination) IPv4 pair as FILE says (lines 'SRC DST DELAY_MS "
               "LOSS',\n"
               "'*' for any, 'default DELAY_MS LOSS'); --delay/--loss give the default rule.\n"
               "--ready FILE is created once the queue is bound. SIGHUP re-reads FILE;\n"
               "SIGUSR1 prints statistics; SIGTERM releases what is held and exits.\n");
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  std::string delay = "0", loss = "0";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "netsim-delayer: %s needs a value\n", a.c_str());
      return std::nullopt;
    }
    std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--queue") {
      o.queue = static_cast<unsigned>(std::strtoul(v.c_str(), &end, 10));
    } else if (a == "--table") {
      o.table_path = v;
    } else if (a == "--delay") {
      delay = v;
    } else if (a == "--loss") {
      loss = v;
    } else if (a == "--seed") {
      o.seed = std::strtoull(v.c_str(), &end, 10);
    } else if (a == "--maxlen") {
      o.maxlen = static_cast<std::uint32_t>(std::strtoul(v.c_str(), &end, 10));
    } else if (a == "--ready") {
      o.ready_path = v;
    } else {
      std::fprintf(stderr, "netsim-delayer: unknown option %s\n", a.c_str());
      usage(stderr);
      return std::nullopt;
    }
    if (end != nullptr && (*end != '\0' || v.empty())) {
      std::fprintf(stderr, "netsim-delayer: %s wants a number, got '%s'\n", a.c_str(), v.c_str());
      return std::nullopt;
    }
  }
  auto r = parse_rule(delay, loss);
  if (!r) {
    std::fprintf(stderr, "netsim-delayer: bad --delay '%s' or --loss '%s'\n", delay.c_str(),
                 loss.c_str());
    return std::nullopt;
  }
  o.default_rule = *r;
  return o;
}

struct Held {
  Nanos release_ns;
  std::uint64_t seq;  // arrival order: ties leave in the order they came
  std::uint32_t id;
  bool operator>(const Held& o) const {
    return release_ns != o.release_ns ? release_ns > o.release_ns : seq > o.seq;
  }
};

struct Stats {
  std::uint64_t packets = 0;
  std::uint64_t dropped = 0;
  std::uint64_t released = 0;
  std::uint64_t overruns = 0;
  std::size_t max_held = 0;
  Nanos max_late_ns = 0;
  Nanos total_late_ns = 0;
};

class Delayer {
 public:
  Delayer(Options o, Table t) : opt_(std::move(o)), table_(std::move(t)), rng_(opt_.seed) {}

  ~Delayer() {
    if (qh_ != nullptr) nfq_destroy_queue(qh_);
    if (h_ != nullptr) nfq_close(h_);
  }

  // Binds the queue; false (with a reason on stderr) when the kernel refuses.
  bool bind() {
    h_ = nfq_open();
    if (h_ == nullptr) return fail("nfq_open (not root, or no nfnetlink_queue?)");
    qh_ = nfq_create_queue(h_, static_cast<std::uint16_t>(opt_.queue), &Delayer::on_packet, this);
    if (qh_ == nullptr) return fail("nfq_create_queue (queue already bound by another process?)");
    // The IPv4 header is all a decision needs (IPv6's is 40 bytes).
    if (nfq_set_mode(qh_, NFQNL_COPY_PACKET, 40) < 0) return fail("nfq_set_mode");
    if (nfq_set_queue_maxlen(qh_, opt_.maxlen) < 0) return fail("nfq_set_queue_maxlen");
    if (nfq_set_queue_flags(qh_, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0)
      return fail("nfq_set_queue_flags(FAIL_OPEN)");
    fd_ = nfq_fd(h_);
    // A deep socket buffer absorbs bursts; if it overflows anyway the
    // kernel fails open instead of telling us (ENOBUFS would only say that
    // some packets were let through undelayed).
    nfnl_rcvbufsiz(nfq_nfnlh(h_), 32 << 20);
    int one = 1;
    setsockopt(fd_, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    if (fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK) < 0) return fail("fcntl");
    return true;
  }

  int fd() const { return fd_; }

  void set_table(Table t) { table_ = std::move(t); }

  // Reads what the kernel queued, up to a batch, so that releases stay timely.
  void receive() {
    alignas(nlmsghdr) static thread_local char buf[1 << 16];
    for (int i = 0; i < 256; ++i) {
      ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ENOBUFS) {
          ++stats_.overruns;
          continue;
        }
        return;  // EAGAIN, or an error the next poll will show again
      }
      nfq_handle_packet(h_, buf, static_cast<int>(n));
    }
  }

  // Accepts every held packet whose time has come (all of them if `all`);
  // returns the release time of the next one, or -1.
  Nanos release(bool all) {
    Nanos now = now_ns();
    while (!held_.empty() && (all || held_.top().release_ns <= now)) {
      const Held h = held_.top();
      held_.pop();
      if (!all) {
        Nanos late = now - h.release_ns;
        stats_.total_late_ns += late;
        stats_.max_late_ns = std::max(stats_.max_late_ns, late);
      }
      nfq_set_verdict(qh_, h.id, NF_ACCEPT, 0, nullptr);
      ++stats_.released;
      if (held_.size() % 64 == 0) now = now_ns();
    }
    return held_.empty() ? -1 : held_.top().release_ns;
  }

  void print_stats(const char* when) const {
    double mean_late_us =
        stats_.released ? static_cast<double>(stats_.total_late_ns) / stats_.released / 1e3 : 0.0;
    std::fprintf(stderr,
                 "netsim-delayer stats (%s): packets %llu dropped %llu released %llu held %zu "
                 "max_held %zu late_mean_us %.1f late_max_us %.1f overruns %llu rules %zu\n",
                 when, static_cast<unsigned long long>(stats_.packets),
                 static_cast<unsigned long long>(stats_.dropped),
                 static_cast<unsigned long long>(stats_.released), held_.size(), stats_.max_held,
                 mean_late_us, static_cast<double>(stats_.max_late_ns) / 1e3,
                 static_cast<unsigned long long>(stats_.overruns), table_.size());
    std::fflush(stderr);
  }

 private:
  static int on_packet(nfq_q_handle* qh, nfgenmsg*, nfq_data* nfa, void* self) {
    auto* d = static_cast<Delayer*>(self);
    nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
    if (ph == nullptr) return 0;
    std::uint32_t id = ntohl(ph->packet_id);
    unsigned char* data = nullptr;
    int len = nfq_get_payload(nfa, &data);
    std::uint32_t src = 0, dst = 0;
    if (len >= 20 && (data[0] >> 4) == 4) {
      std::memcpy(&src, data + 12, 4);
      std::memcpy(&dst, data + 16, 4);
      src = ntohl(src);
      dst = ntohl(dst);
    }
    d->decide(qh, id, src, dst);
    return 0;
  }

  void decide(nfq_q_handle* qh, std::uint32_t id, std::uint32_t src, std::uint32_t dst) {
    ++stats_.packets;
    const Rule r = (src != 0) ? table_.lookup(src, dst) : table_.default_rule;
    if (r.loss > 0.0 && uniform_(rng_) < r.loss) {
      ++stats_.dropped;
      nfq_set_verdict(qh, id, NF_DROP, 0, nullptr);
      return;
    }
    Nanos now = now_ns();
    Nanos at = now + r.delay_ns;
    Nanos& last = last_release_[Table::key(src, dst)];
    at = std::max(at, last);
    last = at;
    if (at <= now && held_.empty()) {
      nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
      ++stats_.released;
      return;
    }
    held_.push(Held{at, seq_++, id});
    stats_.max_held = std::max(stats_.max_held, held_.size());
  }

  bool fail(const char* what) {
    std::fprintf(stderr, "netsim-delayer: %s failed: %s\n", what, std::strerror(errno));
    return false;
  }

  Options opt_;
  Table table_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  nfq_handle* h_ = nullptr;
  nfq_q_handle* qh_ = nullptr;
  int fd_ = -1;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held_;
  std::unordered_map<std::uint64_t, Nanos> last_release_;
  std::uint64_t seq_ = 0;
  Stats stats_;
};

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_options(argc, argv);
  if (!opt) return 2;

  Table base;
  base.default_rule = opt->default_rule;
  Table table = base;
  if (!opt->table_path.empty()) {
    auto t = read_table(opt->table_path, base);
    if (!t) return 2;
    table = std::move(*t);
  }

  // Signals arrive through a signalfd polled with the queue: no handler
  // races with the event loop.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&mask, s);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) return 1;
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    std::perror("netsim-delayer: signalfd");
    return 1;
  }

  Delayer d(*opt, std::move(table));
  if (!d.bind()) return 1;
  if (!opt->ready_path.empty()) {
    FILE* f = std::fopen(opt->ready_path.c_str(), "w");
    if (f == nullptr) {
      std::perror("netsim-delayer: --ready");
      return 1;
    }
    std::fprintf(f, "%d\n", static_cast<int>(getpid()));
    std::fclose(f);
  }

  pollfd fds[2] = {{d.fd(), POLLIN, 0}, {sfd, POLLIN, 0}};
  bool running = true;
  while (running) {
    Nanos next = d.release(false);
    timespec timeout{};
    timespec* tp = nullptr;
    if (next >= 0) {
      Nanos wait = std::max<Nanos>(0, next - now_ns());
      timeout.tv_sec = wait / 1'000'000'000;
      timeout.tv_nsec = wait % 1'000'000'000;
      tp = &timeout;
    }
    int n = ppoll(fds, 2, tp, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("netsim-delayer: ppoll");
      break;
    }
    if (fds[0].revents & POLLIN) d.receive();
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si{};
      while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGHUP && !opt->table_path.empty()) {
          if (auto t = read_table(opt->table_path, base)) {
            d.set_table(std::move(*t));
            std::fprintf(stderr, "netsim-delayer: reloaded %s\n", opt->table_path.c_str());
          }
        } else if (si.ssi_signo == SIGUSR1) {
          d.print_stats("now");
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          running = false;
        }
      }
    }
  }
  d.release(true);
  d.print_stats("exit");
  close(sfd);
  return 0;
}
