// How a failure becomes an HTTP answer: one function maps every error kind to
// its status, and the control API answers in JSON bodies that name the
// failure. Safe to call from any thread.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "util/result.hpp"

namespace httplib {
struct Response;
}  // namespace httplib

namespace hostless {

// The one place a failure's kind becomes an HTTP status: invalid 400, not
// found 404, refused 403, unavailable 504 (the gateway waited on the
// network), shutting down 503, I/O 500; `fallback` for an unclassified one.
int http_status(ErrorKind kind, int fallback);

// `body` as the response, pretty-printed JSON with this status. Bytes in it
// that are not UTF-8 are replaced (U+FFFD) rather than thrown on.
void send_json(httplib::Response& res, int status, const nlohmann::json& body);

// {"error": message} with this status.
void send_error(httplib::Response& res, int status, const std::string& message);

// A failure from the service: its kind picks the status (`fallback` when
// unclassified) and is named in the body for clients ("kind").
void send_error(httplib::Response& res, const Error& error, int fallback);

}  // namespace hostless
