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

#include <chrono>

namespace bdl::cpu {

namespace {

// The current run is one word: a generation counter above the task count, so
// a worker reads both at once and never mixes two runs.
constexpr int kTaskBits = 16;
constexpr uint64_t kTaskMask = (uint64_t(1) << kTaskBits) - 1;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

} // namespace

ThreadPool::ThreadPool(int threads, PoolWaiting waiting) : waiting(waiting) {
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

template <typename Done>
void ThreadPool::await(Done done, int64_t pollMicroseconds, std::condition_variable &cv,
                       std::atomic<int> &sleepers) {
  using Clock = std::chrono::steady_clock;
  auto nanos = [](Clock::time_point t) {
    return int64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  auto start = Clock::now();
  if (pollMicroseconds > 0 && nanos(start) >= pollingResumesAt.load()) {
    const auto deadline = start + std::chrono::microseconds(pollMicroseconds);
    const auto preempted = std::chrono::microseconds(waiting.preemptedMicroseconds);
    auto last = start;
    for (unsigned polls = 1; !done(); ++polls) {
      cpuRelax();
      if (polls % 64 != 0)
        continue;
      auto now = Clock::now();
      if (now - last > preempted) {
        pollingResumesAt.store(nanos(now) + waiting.blockMicroseconds * 1000);
        break;
      }
      if (now >= deadline)
        break;
      last = now;
    }
  }
  if (done())
    return;
  std::unique_lock lock(mutex);
  sleepers.fetch_add(1);
  cv.wait(lock, done);
  sleepers.fetch_sub(1);
}

void ThreadPool::run(int tasks, const std::function<void(int)> &task) {
  if (tasks <= 1 || workers.empty()) {
    for (int i = 0; i < tasks; ++i)
      task(i);
    return;
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
  await([&] { return remaining.load() == 0; }, waiting.callerPollMicroseconds, finished,
        sleepingCaller);
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
