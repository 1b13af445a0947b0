#include "cli/app.hpp"

#include <iostream>

#include "cli/context.hpp"

namespace hostless::cli {

int run(int argc, char** argv) {
  CLI::App app{"hostless: publish and browse websites with no server, over BitTorrent"};
  app.set_version_flag("--version", "hostless 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("--home", g.home_flag,
                 "State directory (default: $HOSTLESS_HOME, else $XDG_DATA_HOME/hostless)");
  app.footer(
      "Examples:\n"
      "  hostless daemon &\n"
      "  hostless new ./mysite --template blog\n"
      "  hostless publish ./mysite\n"
      "  hostless get <address> ./copy\n"
      "Run `hostless COMMAND --help` for a command's options.");

  int result = kExitOk;
  add_daemon_command(app, g, result);
  // `hostless --help` lists the commands in the order they are added.
  add_publish_commands(app, g, result);
  add_mirror_commands(app, g, result);
  add_follow_commands(app, g, result);
  add_blocklist_command(app, g, result);
  add_timeline_commands(app, g, result);
  add_torrent_command(app, g, result);
  add_status_commands(app, g, result);
  add_name_commands(app, g, result);
  add_export_command(app, g, result);
  add_keys_commands(app, g, result);
  add_new_command(app, result);
  add_post_command(app, g, result);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return result;
}

}  // namespace hostless::cli
