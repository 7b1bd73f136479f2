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
#include <ctime>

namespace bdl::cpu {

namespace {

// The claim word: run counter (bits 32..63), task count (16..31), next task
// index (0..15). Claiming is a compare-and-swap of the whole word, so a
// thread still looking at an old run can never take a task of a new one.
constexpr uint64_t kField = 0xffff;
uint64_t runOf(uint64_t word) { return word >> 32; }
int tasksOf(uint64_t word) { return int((word >> 16) & kField); }
int nextOf(uint64_t word) { return int(word & kField); }

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
    workers.emplace_back([this] { work(); });
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

// Contention seen again this soon after the last block-out ended is the same
// busy spell.
constexpr int64_t kRecentNanoseconds = 5'000'000;
// How often the caller compares its CPU time with the wall clock.
constexpr int64_t kCoreCheckNanoseconds = 2'000'000;

void ThreadPool::sawContention(int64_t now) {
  // Threads may race here; each writes a sensible state.
  int64_t last = lastContention.exchange(now), block = blockNanoseconds.load();
  block = last > 0 && now - (last + block) < kRecentNanoseconds
              ? std::min(2 * block, waiting.maxBlockMicroseconds * 1000)
              : waiting.minBlockMicroseconds * 1000;
  blockNanoseconds.store(block);
  pollingResumesAt.store(now + block);
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

void ThreadPool::checkCallerCore(int64_t now) {
  if (now < nextCoreCheck)
    return;
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  int64_t cpu = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  if (coreCheckWall > 0 && (cpu - coreCheckCpu) * 10 < (now - coreCheckWall) * 8)
    sawContention(now);
  coreCheckCpu = cpu, coreCheckWall = now;
  nextCoreCheck = now + kCoreCheckNanoseconds;
}

int ThreadPool::runClaimed(uint64_t run) {
  int ran = 0;
  uint64_t word = claims.load();
  while (runOf(word) == run && nextOf(word) < tasksOf(word)) {
    if (!claims.compare_exchange_weak(word, word + 1))
      continue; // `word` now holds the current value
    // The caller cannot start another run before this task is done, so
    // `job` still belongs to the run claimed from.
    (*job.load(std::memory_order_relaxed))(nextOf(word));
    ++ran;
    if (remaining.fetch_sub(1) == 1 && sleepingCaller.load() > 0) {
      { std::lock_guard lock(mutex); }
      finished.notify_one();
    }
    word = claims.load();
  }
  return ran;
}

void ThreadPool::run(int tasks, const std::function<void(int)> &task) {
  int64_t start = nanosecondsNow();
  checkCallerCore(start);
  // While the machine is oversubscribed the workers sleep, and the caller
  // runs every task itself: a worker woken now would only take the time
  // slices the caller needs.
  if (tasks <= 1 || workers.empty() || start < pollingResumesAt.load()) {
    for (int i = 0; i < tasks; ++i)
      task(i);
    return;
  }
  job.store(&task, std::memory_order_relaxed);
  remaining.store(tasks, std::memory_order_relaxed);
  claims.store(++runs << 32 | uint64_t(tasks) << 16); // publishes job and remaining
  bool allPolling = sleepingWorkers.load() == 0;
  if (!allPolling) {
    { std::lock_guard lock(mutex); }
    wake.notify_all();
  }
  int ran = runClaimed(runs);
  int64_t finishedOwn = nanosecondsNow();
  bool polled = await([&] { return remaining.load() == 0; }, waiting.callerPollMicroseconds,
                      finished, sleepingCaller);
  // Workers that were polling claim their tasks at once and finish about
  // when the caller does; one that finishes much later lost its core on the
  // way. (A worker woken from its sleep may be slow to start without that:
  // a VM can take hundreds of microseconds to wake an idle virtual CPU; its
  // task is then left to the caller.)
  int64_t end = nanosecondsNow(), late = end - finishedOwn;
  if (polled && allPolling && ran < tasks &&
      late > std::max(waiting.preemptedMicroseconds * 1000, (finishedOwn - start) / 4))
    sawContention(end);
}

void ThreadPool::work() {
  uint64_t seen = 0;
  for (;;) {
    await([&] { return stopping.load() || runOf(claims.load()) != seen; },
          waiting.workerPollMicroseconds, wake, sleepingWorkers);
    if (stopping.load())
      return;
    // A worker that missed runs simply joins the latest; there may be
    // nothing left to claim in it.
    seen = runOf(claims.load());
    runClaimed(seen);
  }
}

} // namespace bdl::cpu
