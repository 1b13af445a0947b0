// hostless name set | list | rm: petnames, the user's own names for sites
// (sites/names.hpp), opened at http://<name>.localhost:8420/.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "protocol/address.hpp"

namespace hostless::cli {
using json = nlohmann::json;

void add_name_commands(CLI::App& app, const Globals& g, int& result) {
  auto* name =
      app.add_subcommand("name", "Your own names for sites: open them at <name>.localhost");
  name->require_subcommand(1);
  name->footer(
      "A name opens its site at http://<name>.localhost:8420/ and stands for its address\n"
      "in commands (hostless get blog DIR). Followed feeds' handles are names too. A\n"
      "DNS name whose TXT record _hostless.<name> holds hostless=<address> works without\n"
      "setting anything: http://example.org.localhost:8420/.");
  {
    struct Args {
      std::string name, address;
      bool force = false, json = false;
    };
    auto a = std::make_shared<Args>();
    auto* set = name->add_subcommand("set", "Name a site");
    set->add_option("NAME", a->name, "Letters, digits, '-' or '_', starting with a letter")
        ->required();
    set->add_option("ADDR", a->address, "The site's address (any accepted form)")->required();
    set->add_flag("--force", a->force, "Move the name from the site it names now");
    set->add_flag("--json", a->json, "Print the result as JSON");
    set->footer("Example:\n  hostless name set blog <address>");
    set->callback([&g, &result, a] {
      auto n = parse_handle(a->name);
      if (!n || n->empty()) {
        return void(result = fail(n ? "a name cannot be empty" : n.error().message));
      }
      auto addr = SiteAddress::parse(a->address);
      if (!addr) return void(result = fail(addr.error().message));
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      auto r = api->post("/api/v1/names/set",
                         {{"name", *n}, {"address", addr->str()}, {"force", a->force}},
                         std::chrono::seconds(10));
      if (!r) return void(result = fail(r.error().message));
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << *n << " -> " << addr->str() << "\n";
        if (r->contains("replaced")) {
          std::cerr << "note: " << *n << " named " << (*r)["replaced"].get<std::string>()
                    << " before\n";
        }
      }
      result = kExitOk;
    });
  }
  {
    struct Args {
      std::string name;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* rm = name->add_subcommand("rm", "Forget a name (the site stays)");
    rm->add_option("NAME", a->name, "The name")->required();
    rm->add_flag("--json", a->json, "Print the result as JSON");
    rm->callback([&g, &result, a] {
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      auto r = api->post("/api/v1/names/remove", {{"name", a->name}}, std::chrono::seconds(10));
      if (!r) return void(result = fail(r.error().message));
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << "forgot " << (*r)["name"].get<std::string>() << " ("
                  << (*r)["address"].get<std::string>() << ")\n";
      }
      result = kExitOk;
    });
  }
  {
    auto json_flag = std::make_shared<bool>(false);
    auto* list = name->add_subcommand("list", "List the names of sites (petnames and handles)");
    list->add_flag("--json", *json_flag, "Print JSON");
    list->callback([&g, &result, json_flag] {
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      auto r = api->get("/api/v1/names", std::chrono::seconds(10));
      if (!r) return void(result = fail(r.error().message));
      if (*json_flag) {
        std::cout << r->dump(2) << "\n";
      } else if (r->empty()) {
        std::cout << "no names yet (hostless name set <name> <address>)\n";
      } else {
        std::printf("%-20s %-8s %s\n", "NAME", "KIND", "ADDRESS");
        for (const auto& n : *r) {
          std::printf("%-20s %-8s %s\n", n["name"].get<std::string>().c_str(),
                      n["kind"].get<std::string>().c_str(),
                      n["address"].get<std::string>().c_str());
        }
      }
      result = kExitOk;
    });
  }
}

}  // namespace hostless::cli
