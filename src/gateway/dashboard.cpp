// The dashboard on the bare host: its embedded files, and signing in: a
// one-time code (`hostless dashboard`) traded for a session key that can do
// only what the dashboard does.
#include <httplib.h>
#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "gateway/connections.hpp"
#include "gateway/dashboard.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_rules.hpp"
#include "gateway/server.hpp"
#include "util/encoding.hpp"

namespace hostless {
using json = nlohmann::json;

namespace {

bool token_matches(const std::string& given, const std::string& expected) {
  if (given.size() != expected.size() || expected.empty()) return false;
  return sodium_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

// 128 random bits, hex.
std::string random_key() {
  std::uint8_t bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return to_hex(bytes);
}

constexpr auto kLoginCodeLifetime = std::chrono::minutes(2);

}  // namespace

namespace detail {

bool dashboard_call(const std::string& method, const std::string& path) {
  if (method == "GET") {
    return path == "/api/v1/status" || path == "/api/v1/sites" || path == "/api/v1/address" ||
           path == "/api/v1/following" || path == "/api/v1/timeline" || path == "/api/v1/network" ||
           path == "/api/v1/names" || path.rfind("/api/v1/jobs/", 0) == 0;
  }
  return method == "POST" &&
         (path == "/api/v1/mirror" || path == "/api/v1/unmirror" || path == "/api/v1/follow" ||
          path == "/api/v1/unfollow" || path == "/api/v1/block" || path == "/api/v1/unblock" ||
          path == "/api/v1/post");
}

std::string bearer(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  return auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : "";
}

}  // namespace detail

Gateway::Caller Gateway::caller(const std::string& bearer) {
  if (token_matches(bearer, options_.api_token)) return Caller::kToken;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(auth_mutex_);
  std::erase_if(sessions_, [&](const auto& s) { return now - s.second > options_.session_idle; });
  for (auto& [key, last_used] : sessions_) {
    if (token_matches(bearer, key)) {
      last_used = now;
      return Caller::kSession;
    }
  }
  return Caller::kNobody;
}

void Gateway::install_dashboard() {
  auto& s = *server_;
  for (const auto& file : dashboard_files()) {
    s.Get(std::string(file.path), [file](const httplib::Request&, httplib::Response& res) {
      // Only its own files, never framed (no clickjacking of its buttons by a
      // site), nothing cached, no referrer.
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; "
                     "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'none'");
      res.set_header("X-Frame-Options", "DENY");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-store");
      res.set_content(std::string(file.body), std::string(file.content_type));
    });
  }

  // A one-time code for `hostless dashboard` (the API token is required).
  s.Post("/api/v1/login-codes", [this](const httplib::Request&, httplib::Response& res) {
    std::string code = random_key();
    {
      std::lock_guard lock(auth_mutex_);
      auto now = std::chrono::steady_clock::now();
      std::erase_if(login_codes_, [now](const auto& c) { return c.second < now; });
      login_codes_[code] = now + kLoginCodeLifetime;
    }
    send_json(res, 201,
              json{{"code", code},
                   {"url", "http://localhost:" + std::to_string(port_) + "/#login=" + code},
                   {"expires_in", std::chrono::seconds(kLoginCodeLifetime).count()}});
  });
  // The dashboard trades the code for a session key (no token needed: the
  // code is the credential, and it works once).
  s.Post("/api/v1/session", [this](const httplib::Request& req, httplib::Response& res) {
    // Only the dashboard's own page trades a code: a form or a no-cors POST
    // from another page (which could spend the user's code) sends another
    // Origin, Sec-Fetch-Site or Content-Type.
    std::string origin = ascii_lower(req.get_header_value("Origin"));
    std::string site = req.get_header_value("Sec-Fetch-Site");
    if ((!origin.empty() && origin != "http://" + ascii_lower(req.get_header_value("Host"))) ||
        (!site.empty() && site != "same-origin")) {
      return send_error(res, 403, "sign in from the dashboard's own page");
    }
    if (ascii_lower(req.get_header_value("Content-Type")).rfind("application/json", 0) != 0) {
      return send_error(res, 415, "the body must be JSON (Content-Type: application/json)");
    }
    auto body = json::parse(req.body, nullptr, false);
    std::string code = body.is_object() && body.contains("code") && body["code"].is_string()
                           ? body["code"].get<std::string>()
                           : "";
    std::string key;
    {
      std::lock_guard lock(auth_mutex_);
      auto it = login_codes_.find(code);
      auto now = std::chrono::steady_clock::now();
      if (it != login_codes_.end() && it->second >= now) {
        key = random_key();
        std::erase_if(sessions_,
                      [&](const auto& s) { return now - s.second > options_.session_idle; });
        while (sessions_.size() >= kMaxSessions) {
          sessions_.erase(
              std::min_element(sessions_.begin(), sessions_.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; }));
        }
        sessions_[key] = now;
      }
      if (it != login_codes_.end()) login_codes_.erase(it);
    }
    if (key.empty()) {
      return send_error(res, 403,
                        "this login code is unknown, used or expired: run `hostless dashboard` "
                        "again");
    }
    send_json(res, 201, json{{"token", key}});
  });
}

}  // namespace hostless
