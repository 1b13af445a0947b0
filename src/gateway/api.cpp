// The control API under /api/v1/ on the bare host: thin JSON calls onto the
// SiteService. The pre-routing check in server.cpp has already refused a
// caller without the token or a dashboard session key.
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>
#include <vector>

#include "gateway/connections.hpp"
#include "gateway/dashboard.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_rules.hpp"
#include "gateway/server.hpp"
#include "protocol/address.hpp"

namespace hostless {
using json = nlohmann::json;

void Gateway::install_api() {
  auto& s = *server_;
  s.Get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.status());
  });
  s.Get("/api/v1/sites", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.sites());
  });

  // The body as a JSON object whose `fields`, where present, are strings (so
  // value(field, "") cannot throw); else a 400 and nullopt.
  auto parse_body = [](const httplib::Request& req, httplib::Response& res,
                       const std::vector<const char*>& fields) -> std::optional<json> {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      send_error(res, 400, "the request body must be a JSON object");
      return std::nullopt;
    }
    for (const char* field : fields) {
      if (body.contains(field) && !body[field].is_string()) {
        send_error(res, 400, std::string("\"") + field + "\" must be a string");
        return std::nullopt;
      }
    }
    return body;
  };

  // A POST of the API: its body (parse_body, with `fields`) goes to `call`,
  // whose answer is sent with `status`: 200 and the answer, or 202 and
  // {"job": id} for a job started. An error gets the status of its kind, or
  // 400. `call` takes the body, and the request where it needs more.
  const auto post = [&](const char* path, std::vector<const char*> fields, int status, auto call) {
    s.Post(path,
           [parse_body, fields, status, call](const httplib::Request& req, httplib::Response& res) {
             auto body = parse_body(req, res, fields);
             if (!body) return;
             auto r = [&] {
               if constexpr (std::is_invocable_v<decltype(call), const json&>) {
                 return call(*body);
               } else {
                 return call(*body, req);
               }
             }();
             if (!r) return send_error(res, r.error(), 400);
             send_json(res, status, status == 202 ? json{{"job", *r}} : json(*r));
           });
  };
  // A list of strings in the body, if there: else `problem` as an error.
  const auto strings = [](const json& body, const char* field,
                          const char* problem) -> Result<std::vector<std::string>> {
    if (!body.contains(field)) return std::vector<std::string>();
    const json& v = body[field];
    if (!v.is_array() ||
        !std::all_of(v.begin(), v.end(), [](const json& u) { return u.is_string(); })) {
      return make_error(problem);
    }
    return v.get<std::vector<std::string>>();
  };

  post("/api/v1/publish", {"folder", "key"}, 202,
       [this, strings](const json& body) -> Result<std::string> {
         auto ws = strings(body, "web_seeds", "\"web_seeds\" must be a list of URLs");
         if (!ws) return ws.error();
         WebSeedsChange web_seeds;
         if (body.contains("web_seeds")) web_seeds = *ws;
         return service_.start_publish(body.value("folder", ""), body.value("key", ""), web_seeds);
       });
  post("/api/v1/get", {"address", "outdir", "info_hash"}, 202, [this](const json& body) {
    return service_.start_get(body.value("address", ""), body.value("outdir", ""),
                              body.value("info_hash", ""));
  });
  post("/api/v1/export", {"address", "outdir"}, 202, [this](const json& body) {
    return service_.start_export(body.value("address", ""), body.value("outdir", ""));
  });
  post("/api/v1/mirror", {"address"}, 202,
       [this](const json& body) { return service_.start_mirror(body.value("address", "")); });
  post("/api/v1/unmirror", {"address"}, 200,
       [this](const json& body) { return service_.unmirror(body.value("address", "")); });
  post("/api/v1/follow", {"address", "handle"}, 202,
       [this](const json& body) -> Result<std::string> {
         if (body.contains("media") && !body["media"].is_boolean()) {
           return make_error("\"media\" must be true or false");
         }
         return service_.start_follow(body.value("address", ""), body.value("handle", ""),
                                      body.value("media", false));
       });
  post("/api/v1/post", {"folder", "address", "key", "text", "delete", "reply_to"}, 202,
       [this, strings](const json& body, const httplib::Request& req) -> Result<std::string> {
         PostRequest r;
         r.folder = body.value("folder", "");
         r.address = body.value("address", "");
         r.key_name = body.value("key", "");
         r.text = body.value("text", "");
         r.delete_id = body.value("delete", "");
         r.reply_to = body.value("reply_to", "");
         auto attach = strings(body, "attach", "\"attach\" must be a list of file paths");
         if (!attach) return attach.error();
         r.attach = *attach;
         // Only the file token names a folder, a key or files to attach: a
         // dashboard session must not read the user's files into a public site.
         if (caller(detail::bearer(req)) != Caller::kToken &&
             (!r.folder.empty() || !r.key_name.empty() || !r.attach.empty())) {
           return make_error(
               "a dashboard session posts to a feed by its address, without "
               "attachments; use `hostless post DIR` for those",
               ErrorKind::kRefused);
         }
         return service_.start_post(r);
       });
  s.Get("/api/v1/names", [this](const httplib::Request&, httplib::Response& res) {
    auto r = service_.names();
    if (!r) return send_error(res, r.error(), 500);
    send_json(res, 200, *r);
  });
  post("/api/v1/names/set", {"name", "address"}, 200, [this](const json& body) -> Result<json> {
    if (body.contains("force") && !body["force"].is_boolean()) {
      return make_error("\"force\" must be true or false");
    }
    return service_.set_name(body.value("name", ""), body.value("address", ""),
                             body.value("force", false));
  });
  s.Post("/api/v1/names/lookup",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"name"});
           if (!body) return;
           auto name = parse_site_name(body->value("name", ""));
           if (!name) return send_error(res, 400, "not a name: " + body->value("name", ""));
           auto r = service_.name_address(*name);
           if (!r) return send_error(res, r.error(), 404);
           send_json(res, 200, json{{"name", *name}, {"address", *r}});
         });
  post("/api/v1/names/remove", {"name"}, 200,
       [this](const json& body) { return service_.remove_name(body.value("name", "")); });
  post("/api/v1/unfollow", {"feed"}, 200,
       [this](const json& body) { return service_.unfollow(body.value("feed", "")); });
  post("/api/v1/block", {"address"}, 200,
       [this](const json& body) { return service_.block(body.value("address", "")); });
  post("/api/v1/unblock", {"address"}, 200,
       [this](const json& body) { return service_.unblock(body.value("address", "")); });
  post("/api/v1/subscribe", {"address"}, 202,
       [this](const json& body) { return service_.start_subscribe(body.value("address", "")); });
  post("/api/v1/unsubscribe", {"address"}, 200,
       [this](const json& body) { return service_.unsubscribe(body.value("address", "")); });
  s.Get("/api/v1/blocklists", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.blocklists());
  });
  s.Get("/api/v1/network", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.network());
  });
  s.Get("/api/v1/following", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.following());
  });
  s.Get("/api/v1/timeline", [this](const httplib::Request& req, httplib::Response& res) {
    std::size_t limit = 50;
    if (req.has_param("limit")) {
      const std::string v = req.get_param_value("limit");
      char* end = nullptr;
      const unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 1000) {
        return send_error(res, 400, "limit must be a number from 1 to 1000");
      }
      limit = n;
    }
    send_json(res, 200, service_.timeline(limit));
  });
  s.Get(R"(/api/v1/jobs/([A-Za-z0-9_-]+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          auto j = service_.job(req.matches[1]);
          if (!j) return send_error(res, 404, "no such job");
          send_json(res, 200, *j);
        });
  s.Get("/api/v1/resolve", [this](const httplib::Request& req, httplib::Response& res) {
    auto timeout = options_.timeout;
    if (req.has_param("timeout_ms")) {
      auto ms = parse_timeout_ms(req.get_param_value("timeout_ms"));
      if (!ms) return send_error(res, ms.error(), 400);
      timeout = std::chrono::milliseconds(*ms);
    }
    auto r = service_.resolve(req.get_param_value("address"), timeout);
    if (!r) return send_error(res, r.error(), 404);
    send_json(res, 200, *r);
  });
  s.Get("/api/v1/address", [this](const httplib::Request& req, httplib::Response& res) {
    auto parsed = parse_address_and_path(req.get_param_value("q"));
    if (!parsed) return send_error(res, parsed.error(), 400);
    std::string port = std::to_string(port_);
    send_json(
        res, 200,
        json{{"address", parsed->address.str()},
             {"path", parsed->path},
             {"url", "http://" + parsed->address.str() + ".localhost:" + port + parsed->path}});
  });
  s.Get("/api/v1/torrent", [this](const httplib::Request& req, httplib::Response& res) {
    // form=v1: the v1 twin; format=json: {"info_hash", "magnet"} instead of
    // the bytes.
    const std::string form = req.get_param_value("form");
    if (form != "" && form != "hybrid" && form != "v1") {
      return send_error(res, 400, "form must be hybrid or v1");
    }
    auto r = service_.torrent(req.get_param_value("address"),
                              form == "v1" ? TorrentForm::kV1 : TorrentForm::kHybrid);
    if (!r) return send_error(res, r.error(), 404);
    if (req.get_param_value("format") == "json") {
      return send_json(res, 200, json{{"info_hash", r->info_hash}, {"magnet", r->magnet}});
    }
    res.set_content(r->bytes, "application/x-bittorrent");
  });
}

}  // namespace hostless
