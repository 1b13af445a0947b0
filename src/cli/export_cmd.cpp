// hostless export ADDR DIR: a site's current version laid out as a web seed
// serves it (BEP 19; docs/protocol.md, "Web seeds").
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

void add_export_command(CLI::App& app, const Globals& g, int& result) {
  struct Args {
    std::string address, outdir;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "export", "Write a site's current version as a web seed serves it (for --web-seed)");
  cmd->add_option("ADDR", a->address, "Site address (any accepted form)")->required();
  cmd->add_option("DIR", a->outdir,
                  "New or empty folder, or one an earlier export of the site wrote (replaced)")
      ->required();
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->footer(
      "Writes DIR/<name>/<the site's files> and DIR/<info-hash>.torrent: upload DIR's\n"
      "contents to any static host and publish with --web-seed <its URL>. Export and\n"
      "upload again after each publish: visitors check every byte against the version\n"
      "they asked for, so a web seed holding another version serves them nothing.\n"
      "Example:\n  hostless export <address> ./webseed");
  cmd->callback([&g, &result, a] {
    auto target = connect_for(g, a->address);
    if (!target) return void(result = kExitFailure);
    std::error_code ec;
    fs::path out = fs::absolute(a->outdir, ec);
    auto started =
        target->api.post("/api/v1/export", {{"address", target->address}, {"outdir", out.string()}},
                         std::chrono::seconds(30));
    if (!started) return void(result = fail(started.error().message));
    auto r = target->api.wait_job((*started)["job"], !a->json);
    if (!r) return void(result = fail(r.error().message));
    if (a->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      std::cout << "wrote version " << (*r)["seq"] << " (" << (*r)["files"] << " files) to "
                << (out / (*r)["name"].get<std::string>()).string() << " and "
                << (out / ((*r)["info_hash"].get<std::string>() + ".torrent")).string() << "\n";
    }
    result = kExitOk;
  });
}

}  // namespace hostless::cli
