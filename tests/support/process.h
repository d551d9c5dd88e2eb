// Child processes for end-to-end tests: spawned with extra environment,
// output to a log file, terminated (SIGTERM, then SIGKILL) when destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace parley::testing {

// A port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Whether process `pid` holds a listening TCP socket on `port` (from
// /proc/net/tcp{,6} and the process's descriptors). A health check that got
// its answer from another test's process on a port this one failed to bind
// must not count.
bool ListensOn(pid_t pid, int port);

// Environment variable from the test runner; fails the test when unset.
std::string RequireEnv(const char* name);

class Process {
 public:
  Process() = default;
  Process(const std::string& binary, const std::map<std::string, std::string>& env,
          const std::string& log_path, const std::vector<std::string>& args = {});
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `timeout` for exit; returns the exit status
  // (as from waitpid) or -1 if it is still running.
  int Stop(int signal, std::chrono::milliseconds timeout);
  const std::string& log_path() const { return log_path_; }
  std::string LogTail(size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

}  // namespace parley::testing
