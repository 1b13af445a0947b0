// hostless mirror | unmirror | block | unblock | blocklist: which sites this
// node keeps whole and seeds, and which it refuses.
#include <functional>
#include <iostream>
#include <memory>

#include "cli/context.hpp"

namespace hostless::cli {
using json = nlohmann::json;

namespace {

// A command that takes one site address and POSTs it to /api/v1/<path>;
// with `job`, waits for the job that starts. Prints the answer (the job's
// result) as JSON with --json, else through `print`.
void add_address_command(CLI::App& app, const Globals& g, int& result, const std::string& name,
                         const std::string& description, const std::string& footer,
                         const std::string& path, bool job,
                         std::function<void(const std::string&, const json&)> print) {
  struct Args {
    std::string address;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_option("ADDR", a->address, "Site address (any accepted form)")->required();
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->footer(footer);
  cmd->callback([&g, &result, a, path, job, print = std::move(print)] {
    auto target = connect_for(g, a->address);
    if (!target) return void(result = kExitFailure);
    auto r = target->api.post("/api/v1/" + path, {{"address", target->address}},
                              std::chrono::seconds(30));
    if (r && job) r = target->api.wait_job((*r)["job"], !a->json);
    if (!r) return void(result = fail(r.error().message));
    if (a->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      print(target->address, *r);
    }
    result = kExitOk;
  });
}

// add_address_command for a call that answers at once: prints `done` and
// the address.
void add_address_action(CLI::App& app, const Globals& g, int& result, const std::string& name,
                        const std::string& description, const std::string& footer,
                        const std::string& done) {
  add_address_command(
      app, g, result, name, description, footer, name, false,
      [done](const std::string& address, const json&) { std::cout << done << address << "\n"; });
}

}  // namespace

void add_mirror_commands(CLI::App& app, const Globals& g, int& result) {
  add_address_command(
      app, g, result, "mirror",
      "Keep a whole copy of a site, seed it, follow its updates, keep its name alive",
      "The site keeps resolving and loading from this node while its publisher is offline.\n"
      "Example:\n  hostless mirror <address>",
      "mirror", true, [](const std::string& address, const json& r) {
        std::cout << "mirroring " << address << " (version " << r["seq"] << ")\n";
      });
  add_address_action(app, g, result, "unmirror", "Stop mirroring a site and free its data",
                     "Example:\n  hostless unmirror <address>", "no longer mirroring ");
  add_address_action(app, g, result, "block",
                     "Block a site: free its data; never visit, follow or mirror it",
                     "Its posts leave the timeline and this node stops seeding it. Undo with\n"
                     "`hostless unblock`.\nExample:\n  hostless block <address>",
                     "blocked ");
  add_address_action(app, g, result, "unblock", "Allow a blocked site again",
                     "Example:\n  hostless unblock <address>", "unblocked ");
}

void add_blocklist_command(CLI::App& app, const Globals& g, int& result) {
  {
    auto* lists = app.add_subcommand(
        "blocklist", "Subscribe to blocklists: sites whose blocklist.json names sites to block");
    lists->require_subcommand(1);
    lists->footer(
        "What a subscribed list names is not visited, seeded or suggested by this node,\n"
        "unless you follow or mirror it. The format: docs/microblog.md, \"Blocklists\".\n"
        "Example:\n  hostless blocklist subscribe <address>");
    add_address_command(
        *lists, g, result, "subscribe", "Keep a blocklist and block what it lists",
        "The list is kept like a mirror (within --follow-max-mib) and checked for new\n"
        "versions every --mirror-interval.\nExample:\n  hostless blocklist subscribe <address>",
        "subscribe", true, [](const std::string& address, const json& r) {
          std::cout << "subscribed to " << address << " (version " << r["seq"] << ", "
                    << r["entries"] << " sites listed)\n";
        });
    add_address_action(*lists, g, result, "unsubscribe", "Stop using a blocklist and free its data",
                       "Example:\n  hostless blocklist unsubscribe <address>",
                       "unsubscribed from ");
    add_listing(*lists, g, result, "list", "List the blocklists this node subscribes to",
                "Example:\n  hostless blocklist list", "/api/v1/blocklists", [](const json& r) {
                  if (r.empty()) {
                    std::cout << "no blocklists (hostless blocklist subscribe <address>)\n";
                    return;
                  }
                  for (const auto& l : r) {
                    std::cout << l["address"].get<std::string>() << "  version " << l["seq"];
                    if (l.contains("error")) {
                      std::cout << "  not read: " << l["error"].get<std::string>() << "\n";
                    } else {
                      std::cout << "  " << l["entries"] << " sites\n";
                    }
                  }
                });
  }
}

}  // namespace hostless::cli
