// hostless new DIR [--template NAME] | new --list: starter sites from
// site-templates/, found next to an installed binary or in the source tree.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "cli/context.hpp"
#include "feed/feed.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;

namespace {

// Where the templates are: $HOSTLESS_TEMPLATES, then beside the binary
// (<prefix>/bin/hostless -> <prefix>/share/hostless/site-templates), then the
// configured install directory, then the source tree the binary was built
// from.
std::optional<fs::path> templates_dir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("HOSTLESS_TEMPLATES"); env && *env)
    candidates.emplace_back(env);
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share/hostless/site-templates");
  candidates.emplace_back(HOSTLESS_INSTALLED_TEMPLATES);
  candidates.emplace_back(HOSTLESS_SOURCE_TEMPLATES);
  for (const auto& c : candidates) {
    if (fs::is_directory(c, ec)) return c;
  }
  return std::nullopt;
}

// The template's one-line description: its index.html's meta description.
std::string describe(const fs::path& dir) {
  std::ifstream in(dir / "index.html");
  std::stringstream ss;
  ss << in.rdbuf();
  static const std::regex meta(R"re(<meta\s+name="description"\s+content="([^"]*)")re",
                               std::regex::icase);
  std::smatch m;
  std::string html = ss.str();
  if (std::regex_search(html, m, meta)) return m[1].str();
  return "";
}

std::vector<std::pair<std::string, std::string>> list_templates(const fs::path& root) {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory(ec) && fs::exists(e.path() / "index.html", ec)) {
      out.emplace_back(e.path().filename().string(), describe(e.path()));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void add_new_command(CLI::App& app, int& result) {
  struct Args {
    std::string dir;
    std::string name = "minimal";
    bool list = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("new", "Start a site in a new folder from a starter template");
  cmd->add_option("DIR", args->dir, "Folder to create (must be new or empty)");
  cmd->add_option("--template,-t", args->name, "Template to copy (see --list)")
      ->capture_default_str();
  cmd->add_flag("--list", args->list, "List the templates");
  cmd->add_flag("--json", args->json, "With --list: print JSON");
  cmd->footer(
      "Examples:\n"
      "  hostless new --list\n"
      "  hostless new ./myblog --template blog && hostless publish ./myblog");
  cmd->callback([args, &result] {
    auto root = templates_dir();
    if (!root) {
      result = fail(
          "cannot find the site templates (site-templates/); set HOSTLESS_TEMPLATES to their "
          "folder");
      return;
    }
    auto templates = list_templates(*root);
    if (args->list) {
      if (args->json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& [name, text] : templates) {
          j.push_back({{"name", name}, {"description", text}, {"path", (*root / name).string()}});
        }
        std::cout << j.dump(2) << "\n";
      } else {
        for (const auto& [name, text] : templates)
          std::printf("%-10s %s\n", name.c_str(), text.c_str());
      }
      result = kExitOk;
      return;
    }
    if (args->dir.empty()) {
      std::cerr << "hostless: give the folder to create, e.g. `hostless new ./mysite`\n";
      result = kExitUsage;
      return;
    }
    bool known = false;
    for (const auto& t : templates) known = known || t.first == args->name;
    if (!known) {
      std::string names;
      for (const auto& t : templates) names += (names.empty() ? "" : ", ") + t.first;
      result = fail("no template named '" + args->name + "'; the templates are: " + names);
      return;
    }
    fs::path dir(args->dir);
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
      result = fail(dir.string() + " already exists and is not empty; give a new folder");
      return;
    }
    fs::create_directories(dir, ec);
    if (!ec) fs::copy(*root / args->name, dir, fs::copy_options::recursive, ec);
    if (ec) {
      result = fail("cannot create " + dir.string() + ": " + ec.message());
      return;
    }
    if (args->name == "feed") {
      // A feed's pages are rendered by hostless, not copied.
      auto name = fs::absolute(dir, ec).lexically_normal().filename().string();
      if (name.empty()) name = fs::absolute(dir, ec).lexically_normal().parent_path().filename();
      if (auto s = feed::initialize(dir, name); !s) return void(result = fail(s.error().message));
      std::cout << "created the feed " << dir.string() << "\n"
                << "next: edit profile.json, then `hostless post " << dir.string()
                << " \"hello\"`\n";
      result = kExitOk;
      return;
    }
    std::cout << "created " << dir.string() << " from the '" << args->name << "' template\n"
              << "next: edit it, then `hostless publish " << dir.string() << "`\n";
    result = kExitOk;
  });
}

}  // namespace hostless::cli
