#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace zlt::cli {
namespace {

// The wake-up signal stays blocked for the life of the process, so a wake() that arrives
// after the main thread stopped waiting is simply never delivered.
constexpr int kWakeSignal = SIGUSR1;

sigset_t waited_signals(bool reload) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kWakeSignal);
  if (reload) sigaddset(&set, SIGHUP);
  return set;
}

void exit_now(int sig) {
  static const char kMessage[] = "\nzlt: second signal, exiting at once\n";
  // Only async-signal-safe calls here.
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
  _exit(128 + sig);
}

}  // namespace

SignalWaiter::SignalWaiter(bool reload) : main_thread_(pthread_self()), reload_(reload) {
  sigset_t set = waited_signals(reload_);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int SignalWaiter::wait(std::chrono::milliseconds timeout) {
  sigset_t set = waited_signals(reload_);
  if (timeout.count() < 0) timeout = std::chrono::milliseconds(0);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1'000'000);
  int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig == kWakeSignal) return kWoken;
  if (sig > 0) return sig;
  // EINTR: a signal outside the set (a debugger's, say) cut the wait short; callers re-check
  // their state and wait again, so reporting a wake-up is harmless.
  return errno == EINTR ? kWoken : kTimeout;
}

void SignalWaiter::wake() {
  pthread_kill(main_thread_, kWakeSignal);
}

void SignalWaiter::exit_on_next_signal() {
  struct sigaction action {};
  action.sa_handler = exit_now;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // Only the main thread unblocks them: the loop thread must never run the handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace zlt::cli
