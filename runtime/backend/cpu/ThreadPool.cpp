//===- backend/cpu/ThreadPool.cpp -----------------------------------------===//
//
// Sleeping without missing a wake-up: a thread that gives up polling first
// counts itself in `sleepers`, then re-checks its condition under the mutex
// before it waits. The other side first publishes (the run, or the last
// `remaining` decrement), then reads `sleepers`, and notifies under the
// mutex when anyone sleeps. Both sides use sequentially consistent atomics,
// so at least one of them sees the other's write.
//
//===----------------------------------------------------------------------===//

#include "ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace bdl::cpu {

namespace {

// The current run is one word: a generation counter above the task count, so
// a worker reads both at once and never mixes two runs.
constexpr int kTaskBits = 16;
constexpr uint64_t kTaskMask = (uint64_t(1) << kTaskBits) - 1;

/// Tasks the kernel could run right now, machine-wide (the reader included),
/// from the fourth field of /proc/loadavg ("running/total"); -1 if unknown.
int runnableTasks() {
  std::FILE *f = std::fopen("/proc/loadavg", "r");
  if (!f)
    return -1;
  double load1, load5, load15;
  int running = -1, total;
  if (std::fscanf(f, "%lf %lf %lf %d/%d", &load1, &load5, &load15, &running, &total) != 5)
    running = -1;
  std::fclose(f);
  return running;
}

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

} // namespace

ThreadPool::ThreadPool(int threads, PoolWaiting waiting)
    : waiting(waiting), cores(int(std::max(1u, std::thread::hardware_concurrency()))) {
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  stopping.store(true);
  { std::lock_guard lock(mutex); }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

int64_t ThreadPool::nanosecondsNow() {
  return int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count());
}

void ThreadPool::sawContention(int64_t now) {
  pollingResumesAt.store(now + waiting.blockMicroseconds * 1000);
}

template <typename Done>
bool ThreadPool::await(Done done, int64_t pollMicroseconds, std::condition_variable &cv,
                       std::atomic<int> &sleepers) {
  int64_t start = nanosecondsNow();
  bool polled = pollMicroseconds > 0 && start >= pollingResumesAt.load();
  if (polled) {
    const int64_t deadline = start + pollMicroseconds * 1000;
    const int64_t preempted = waiting.preemptedMicroseconds * 1000;
    int64_t last = start;
    for (unsigned polls = 1; !done(); ++polls) {
      cpuRelax();
      if (polls % 64 != 0)
        continue;
      int64_t now = nanosecondsNow();
      if (now - last > preempted) {
        sawContention(now);
        break;
      }
      if (now >= deadline)
        break;
      last = now;
    }
  }
  if (done())
    return polled;
  std::unique_lock lock(mutex);
  sleepers.fetch_add(1);
  cv.wait(lock, done);
  sleepers.fetch_sub(1);
  return polled;
}

void ThreadPool::run(int tasks, const std::function<void(int)> &task) {
  if (tasks <= 1 || workers.empty()) {
    for (int i = 0; i < tasks; ++i)
      task(i);
    return;
  }
  int64_t start = nanosecondsNow();
  if (waiting.loadCheckMicroseconds > 0 && start >= nextLoadCheck) {
    nextLoadCheck = start + waiting.loadCheckMicroseconds * 1000;
    if (runnableTasks() > cores)
      sawContention(start);
  }
  job.store(&task, std::memory_order_relaxed);
  remaining.store(tasks - 1, std::memory_order_relaxed);
  uint64_t next = ((current >> kTaskBits) + 1) << kTaskBits | uint64_t(tasks);
  current = next;
  generation.store(next); // publishes job and remaining
  if (sleepingWorkers.load() > 0) {
    { std::lock_guard lock(mutex); }
    wake.notify_all();
  }
  task(0);
  int64_t finishedOwn = nanosecondsNow();
  bool polled = await([&] { return remaining.load() == 0; }, waiting.callerPollMicroseconds,
                      finished, sleepingCaller);
  // Workers that poll start at once and finish about when the caller does;
  // one that finishes much later lost its core on the way.
  int64_t end = nanosecondsNow(), late = end - finishedOwn;
  if (polled && late > std::max(waiting.preemptedMicroseconds * 1000, (finishedOwn - start) / 4))
    sawContention(end);
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    await([&] { return stopping.load() || generation.load() != seen; },
          waiting.workerPollMicroseconds, wake, sleepingWorkers);
    if (stopping.load())
      return;
    // A worker that missed runs it had no part in simply joins the latest.
    seen = generation.load();
    if (index >= int(seen & kTaskMask))
      continue;
    // The caller cannot start another run before this one's decrement, so
    // `job` still belongs to the run just read.
    (*job.load(std::memory_order_relaxed))(index);
    if (remaining.fetch_sub(1) == 1 && sleepingCaller.load() > 0) {
      { std::lock_guard lock(mutex); }
      finished.notify_one();
    }
  }
}

} // namespace bdl::cpu
