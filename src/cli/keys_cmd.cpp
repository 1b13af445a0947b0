// hostless keys list|export|import|new
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "protocol/keys.hpp"
#include "store/home.hpp"

namespace hostless::cli {

void add_keys_commands(CLI::App& app, const Globals& g, int& result) {
  auto* keys = app.add_subcommand("keys", "Manage site keys (list, export, import, new)");
  keys->require_subcommand(1);
  keys->footer(
      "Example:\n  hostless keys export blog -o blog.key   # back up the key of site 'blog'");

  auto* list = keys->add_subcommand("list", "List the site keys in <home>/keys");
  auto json = std::make_shared<bool>(false);
  list->add_flag("--json", *json, "Print JSON");
  list->footer("Example:\n  hostless keys list --json");
  list->callback([&g, &result, json] {
    auto home = open_home(g);
    if (!home) return void(result = kExitFailure);
    KeyStore store(*home / "keys");
    auto entries = store.list();
    if (!entries) return void(result = fail(entries.error().message));
    if (*json) {
      auto arr = nlohmann::json::array();
      for (const auto& e : *entries)
        arr.push_back({{"name", e.name}, {"address", e.address.str()}});
      std::cout << arr.dump(2) << "\n";
    } else if (entries->empty()) {
      std::cout << "no keys yet; `hostless publish DIR` or `hostless keys new NAME` creates one\n";
    } else {
      for (const auto& e : *entries) std::cout << e.name << "\t" << e.address.str() << "\n";
    }
    result = kExitOk;
  });

  auto* create = keys->add_subcommand("new", "Create a new site key and print its address");
  auto new_name = std::make_shared<std::string>();
  create->add_option("NAME", *new_name, "Key name")->required();
  create->footer("Example:\n  hostless keys new blog");
  create->callback([&g, &result, new_name] {
    auto home = open_home(g);
    if (!home) return void(result = kExitFailure);
    KeyStore store(*home / "keys");
    auto addr = store.create(*new_name);
    if (!addr) return void(result = fail(addr.error().message));
    std::cout << addr->str() << "\n";
    result = kExitOk;
  });

  auto* exp =
      keys->add_subcommand("export", "Write a key to a file, for backup or another machine");
  auto exp_name = std::make_shared<std::string>();
  auto exp_out = std::make_shared<std::string>();
  exp->add_option("NAME", *exp_name, "Key name (see `hostless keys list`)")->required();
  exp->add_option("-o,--output", *exp_out, "File to write (mode 0600, never overwritten)")
      ->required();
  exp->footer("Example:\n  hostless keys export blog -o ~/backup/blog.key");
  exp->callback([&g, &result, exp_name, exp_out] {
    auto home = open_home(g);
    if (!home) return void(result = kExitFailure);
    KeyStore store(*home / "keys");
    if (auto s = store.export_key(*exp_name, *exp_out); !s) {
      return void(result = fail(s.error().message));
    }
    std::cerr << "wrote " << *exp_out << "; keep it secret: it can publish as this site\n";
    result = kExitOk;
  });

  auto* imp = keys->add_subcommand("import", "Add a key exported by `hostless keys export`");
  auto imp_file = std::make_shared<std::string>();
  auto imp_name = std::make_shared<std::string>();
  imp->add_option("FILE", *imp_file, "Key file")->required();
  imp->add_option("--name", *imp_name, "Name to store it under (default: the file's stem)");
  imp->footer("Example:\n  hostless keys import blog.key --name blog");
  imp->callback([&g, &result, imp_file, imp_name] {
    auto home = open_home(g);
    if (!home) return void(result = kExitFailure);
    std::string name =
        imp_name->empty() ? std::filesystem::path(*imp_file).stem().string() : *imp_name;
    KeyStore store(*home / "keys");
    auto addr = store.import_key(*imp_file, name);
    if (!addr) return void(result = fail(addr.error().message));
    std::cout << addr->str() << "\n";
    std::cerr << "imported as '" << name << "'\n";
    result = kExitOk;
  });
}

}  // namespace hostless::cli
