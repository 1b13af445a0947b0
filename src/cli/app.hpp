// The hostless command line: builds the CLI11 app and runs one command.
#pragma once

#include <string>
#include <vector>

namespace hostless::cli {

// Runs the command line `args` (without argv[0]) and returns the process
// exit code: 0 success, 1 failure, 2 usage. Errors go to stderr.
int run(int argc, char** argv);

}  // namespace hostless::cli
