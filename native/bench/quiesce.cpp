// Waiting for the process's other threads to sleep (see quiesce.h for why).
#include "quiesce.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace infeng::bench {
namespace {

// True when some thread other than `self` is running or runnable (state R in its stat line).
bool other_thread_running(long self) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return false;  // no procfs: nothing to wait for
  bool running = false;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (std::strtol(e->d_name, nullptr, 10) == self) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // the thread exited meanwhile
    char buf[512];
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "tid (comm) S ...": the state follows the last ')' (comm may itself contain ')').
    const char* close_paren = std::strrchr(buf, ')');
    if (close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] == 'R') {
      running = true;
      break;
    }
  }
  closedir(dir);
  return running;
}

}  // namespace

bool wait_quiescent(double timeout_ms) {
  const long self = static_cast<long>(syscall(SYS_gettid));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double, std::milli>(timeout_ms);
  while (other_thread_running(self)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Sleeping, not spinning: on a two-core machine the waiter must not hold the core the
    // spinning thread would give up.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

}  // namespace infeng::bench
