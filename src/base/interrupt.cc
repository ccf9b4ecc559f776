#include "base/interrupt.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace distill {

namespace {

std::mutex g_mutex;
std::multiset<std::string> g_paths;

/// The signals to watch: those not ignored when distill started. An
/// inherited SIG_IGN is the caller's wish (nohup for SIGHUP, a shell's
/// background job for SIGINT) and stays.
sigset_t interrupt_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) sigaddset(&set, sig);
  }
  return set;
}

/// Other threads go on writing while this runs; a directory that gains a
/// file during remove_all fails, so it is tried again.
void remove_registered() {
  for (const std::string& path : g_paths) {
    std::error_code ec;
    for (int attempt = 0; attempt < 5 && std::filesystem::exists(std::filesystem::symlink_status(path, ec)); ++attempt)
      std::filesystem::remove_all(path, ec);
  }
}

[[noreturn]] void watch(sigset_t set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  std::lock_guard lock(g_mutex);  // held until _exit: no new temporaries
  remove_registered();
  std::string message = std::string("distill: interrupted (SIG") + sigabbrev_np(sig) + "); temporary files removed\n";
  ssize_t ignored = ::write(STDERR_FILENO, message.data(), message.size());
  (void)ignored;
  ::_exit(128 + sig);
}

}  // namespace

void install_interrupt_cleanup() {
  sigset_t set = interrupt_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(watch, set).detach();
}

void remove_on_interrupt(const std::filesystem::path& path) {
  std::lock_guard lock(g_mutex);
  g_paths.insert(path.string());
}

void forget_on_interrupt(const std::filesystem::path& path) {
  std::lock_guard lock(g_mutex);
  auto it = g_paths.find(path.string());
  if (it != g_paths.end()) g_paths.erase(it);
}

}  // namespace distill
