// /proc figures the load generators print: a process's memory and the CPU
// time of the processes under test, per message.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace parley::bench {

inline long RssKb(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The machine's CPU time from /proc/stat: (all, stolen by the hypervisor), in
// clock ticks. On a shared VM the steal share says how much of the machine
// a run really had, so figures from different runs can be compared.
inline std::pair<uint64_t, uint64_t> CpuTicks() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return {user + nice + system + idle + iowait + irq + softirq + steal, steal};
}

// CPU time (user + system, clock ticks) of a process and its direct children:
// PostgreSQL does its work in backends forked from the postmaster.
inline uint64_t ProcessTreeTicks(int pid) {
  uint64_t ticks = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // Fields after the command name, which may hold spaces: state ppid ...
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    std::vector<std::string> fields;
    while (rest >> field) fields.push_back(field);
    if (fields.size() < 13) continue;
    int own_pid = std::atoi(entry.path().filename().c_str());
    int parent = std::atoi(fields[1].c_str());
    if (own_pid != pid && parent != pid) continue;
    ticks += std::stoull(fields[11]) + std::stoull(fields[12]);  // utime + stime
  }
  return ticks;
}

// --cpu "gateway=123,postgres=456": whose CPU to count per delivered message.
inline std::vector<std::pair<std::string, int>> ParseProcessList(const std::string& list) {
  std::vector<std::pair<std::string, int>> processes;
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos) continue;
    int pid = std::atoi(item.c_str() + eq + 1);
    if (pid > 0) processes.emplace_back(item.substr(0, eq), pid);
  }
  processes.emplace_back("loadgen", static_cast<int>(getpid()));
  return processes;
}

inline std::vector<uint64_t> TicksOf(const std::vector<std::pair<std::string, int>>& processes) {
  std::vector<uint64_t> ticks;
  for (const auto& [name, pid] : processes) ticks.push_back(ProcessTreeTicks(pid));
  return ticks;
}

}  // namespace parley::bench
