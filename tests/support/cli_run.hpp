// tests/support/cli_run: runs the built `teemm` binary as a user does and captures its exit status,
// stdout and stderr (one stderr file per process: CTest runs tests in parallel processes).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace teemm::testing {

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

inline std::string cli_temp_path(const std::string& name) {
  return ::testing::TempDir() + "teemm_cli_" + std::to_string(getpid()) + "_" + name;
}

inline CliRun run_cli(const std::string& arguments) {
  const std::string err_file = cli_temp_path("stderr.txt");
  const std::string command = std::string(TEEMM_CLI_PATH) + " " + arguments + " 2>" + err_file;
  CliRun result{};
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "", "popen failed"};
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* f = fopen(err_file.c_str(), "r")) {
    while ((n = fread(buffer.data(), 1, buffer.size(), f)) > 0) result.err.append(buffer.data(), n);
    fclose(f);
  }
  std::remove(err_file.c_str());
  return result;
}

}  // namespace teemm::testing
