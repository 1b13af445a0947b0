#include "gateway/errors.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace hostless {
using json = nlohmann::json;

int http_status(ErrorKind kind, int fallback) {
  switch (kind) {
    case ErrorKind::kInvalid:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kRefused:
      return 403;
    case ErrorKind::kUnavailable:
      return 504;
    case ErrorKind::kShuttingDown:
      return 503;
    case ErrorKind::kIo:
      return 500;
    case ErrorKind::kOther:
      break;
  }
  return fallback;
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Bodies echo request bytes (a path, an address as typed) that need not be
  // UTF-8; dump() would throw on them, so they are replaced (U+FFFD).
  res.set_content(body.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

void send_error(httplib::Response& res, const Error& error, int fallback) {
  json body{{"error", error.message}};
  if (*kind_name(error.kind) != '\0') body["kind"] = kind_name(error.kind);
  send_json(res, http_status(error.kind, fallback), body);
}

}  // namespace hostless
