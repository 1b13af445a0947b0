#include <exception>
#include <iostream>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  try {
    return hostless::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hostless: " << e.what() << "\n";
    return 1;
  }
}
