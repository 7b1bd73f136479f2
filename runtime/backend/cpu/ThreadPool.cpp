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

ThreadPool::ThreadPool(int threads, int64_t workerSpinMicroseconds, int64_t callerSpinMicroseconds)
    : workerSpin(workerSpinMicroseconds), callerSpin(callerSpinMicroseconds) {
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
void ThreadPool::await(Done done, int64_t spinMicroseconds, std::condition_variable &cv,
                       std::atomic<int> &sleepers) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::microseconds(spinMicroseconds);
  for (unsigned polls = 1; !done(); ++polls) {
    cpuRelax();
    if (polls % 64 == 0 && Clock::now() >= deadline) {
      std::unique_lock lock(mutex);
      sleepers.fetch_add(1);
      cv.wait(lock, done);
      sleepers.fetch_sub(1);
      return;
    }
  }
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
  await([&] { return remaining.load() == 0; }, callerSpin, finished, sleepingCaller);
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    await([&] { return stopping.load() || generation.load() != seen; }, workerSpin, wake,
          sleepingWorkers);
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
