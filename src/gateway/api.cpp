// The control API under /api/v1/ on the bare host: thin JSON calls onto the
// SiteService. The pre-routing check in server.cpp has already refused a
// caller without the token or a dashboard session key.
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

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
                       std::initializer_list<const char*> fields) -> std::optional<json> {
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

  s.Post("/api/v1/publish", [this, parse_body](const httplib::Request& req,
                                               httplib::Response& res) {
    auto body = parse_body(req, res, {"folder", "key"});
    if (!body) return;
    WebSeedsChange web_seeds;
    if (body->contains("web_seeds")) {
      const json& ws = (*body)["web_seeds"];
      if (!ws.is_array() ||
          !std::all_of(ws.begin(), ws.end(), [](const json& u) { return u.is_string(); })) {
        return send_error(res, 400, "\"web_seeds\" must be a list of URLs");
      }
      web_seeds = ws.get<std::vector<std::string>>();
    }
    auto id = service_.start_publish(body->value("folder", ""), body->value("key", ""), web_seeds);
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/get", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address", "outdir", "info_hash"});
    if (!body) return;
    auto id = service_.start_get(body->value("address", ""), body->value("outdir", ""),
                                 body->value("info_hash", ""));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/export", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address", "outdir"});
    if (!body) return;
    auto id = service_.start_export(body->value("address", ""), body->value("outdir", ""));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/mirror", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address"});
    if (!body) return;
    auto id = service_.start_mirror(body->value("address", ""));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/unmirror",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"address"});
           if (!body) return;
           auto r = service_.unmirror(body->value("address", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  s.Post("/api/v1/follow", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address", "handle"});
    if (!body) return;
    if (body->contains("media") && !(*body)["media"].is_boolean()) {
      return send_error(res, 400, "\"media\" must be true or false");
    }
    auto id = service_.start_follow(body->value("address", ""), body->value("handle", ""),
                                    body->value("media", false));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/post", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"folder", "address", "key", "text", "delete", "reply_to"});
    if (!body) return;
    PostRequest r;
    r.folder = body->value("folder", "");
    r.address = body->value("address", "");
    r.key_name = body->value("key", "");
    r.text = body->value("text", "");
    r.delete_id = body->value("delete", "");
    r.reply_to = body->value("reply_to", "");
    if (body->contains("attach")) {
      const json& attach = (*body)["attach"];
      if (!attach.is_array() ||
          !std::all_of(attach.begin(), attach.end(), [](const json& a) { return a.is_string(); })) {
        return send_error(res, 400, "\"attach\" must be a list of file paths");
      }
      r.attach = attach.get<std::vector<std::string>>();
    }
    // Only the file token names a folder, a key or files to attach: a
    // dashboard session must not read the user's files into a public site.
    if (caller(detail::bearer(req)) != Caller::kToken &&
        (!r.folder.empty() || !r.key_name.empty() || !r.attach.empty())) {
      return send_error(res, 403,
                        "a dashboard session posts to a feed by its address, without "
                        "attachments; use `hostless post DIR` for those");
    }
    auto id = service_.start_post(r);
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Get("/api/v1/names", [this](const httplib::Request&, httplib::Response& res) {
    auto r = service_.names();
    if (!r) return send_error(res, r.error(), 500);
    send_json(res, 200, *r);
  });
  s.Post("/api/v1/names/set",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"name", "address"});
           if (!body) return;
           if (body->contains("force") && !(*body)["force"].is_boolean()) {
             return send_error(res, 400, "\"force\" must be true or false");
           }
           auto r = service_.set_name(body->value("name", ""), body->value("address", ""),
                                      body->value("force", false));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
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
  s.Post("/api/v1/names/remove",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"name"});
           if (!body) return;
           auto r = service_.remove_name(body->value("name", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  s.Post("/api/v1/unfollow",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"feed"});
           if (!body) return;
           auto r = service_.unfollow(body->value("feed", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  for (const bool blocking : {true, false}) {
    s.Post(blocking ? "/api/v1/block" : "/api/v1/unblock",
           [this, parse_body, blocking](const httplib::Request& req, httplib::Response& res) {
             auto body = parse_body(req, res, {"address"});
             if (!body) return;
             const std::string address = body->value("address", "");
             auto r = blocking ? service_.block(address) : service_.unblock(address);
             if (!r) return send_error(res, r.error(), 400);
             send_json(res, 200, *r);
           });
  }
  s.Post("/api/v1/subscribe",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"address"});
           if (!body) return;
           auto id = service_.start_subscribe(body->value("address", ""));
           if (!id) return send_error(res, id.error(), 400);
           send_json(res, 202, json{{"job", *id}});
         });
  s.Post("/api/v1/unsubscribe",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"address"});
           if (!body) return;
           auto r = service_.unsubscribe(body->value("address", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
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
