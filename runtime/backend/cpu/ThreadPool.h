//===- backend/cpu/ThreadPool.h - The threads that own the cores -*- C++ -*-===//
//
// The runtime owns the cores (docs/threads.md): OpenBLAS runs single-threaded
// inside this pool's slices, so one set of threads does all parallel work.
//
// Why not OpenMP: libgomp's idle threads spin after each parallel region and
// then compete for the cores with other threads. A 784-500-10 MLP trained ten
// times slower on 2 threads than on 1 that way; OMP_WAIT_POLICY=passive cured
// it, but libgomp reads that variable only when it is loaded, before main
// could set it.
//
// Waiting: handing a run to a worker blocked on a condition variable costs a
// futex wake-up and the scheduler's latency (bench/pool_breakeven: "empty
// run, blocking at once"), so an idle worker first polls for the next run,
// and the caller polls for the workers to finish, for a short while. Polling
// only pays while every thread has a core to itself: on a machine running
// more threads than cores it burns the time slices the other threads need,
// and made two threads several times slower than one. A thread that finds
// it lost its core while polling (a gap between two polls) therefore makes
// every wait of the pool block at once for a while.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CPU_THREADPOOL_H
#define BDL_BACKEND_CPU_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bdl::cpu {

/// How a ThreadPool waits (see the top of this file).
struct PoolWaiting {
  /// How long an idle worker polls for the next run before it blocks.
  int64_t workerPollMicroseconds = 50;
  /// How long the caller polls for the workers to finish before it blocks.
  int64_t callerPollMicroseconds = 50;
  /// A gap this long between two polls means the thread lost its core; so
  /// does a worker finishing this much (or a quarter of the caller's own
  /// task time, if longer) after the caller.
  int64_t preemptedMicroseconds = 50;
  /// After that, every wait blocks at once for this long.
  int64_t blockMicroseconds = 200000;
  /// How often the caller looks at the machine's runnable tasks
  /// (/proc/loadavg): more than there are cores, and waits block at once
  /// too. 0: never.
  int64_t loadCheckMicroseconds = 20000;
};

class ThreadPool {
public:
  /// `threads` counts the calling thread, which takes part in every run.
  explicit ThreadPool(int threads, PoolWaiting waiting = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return int(workers.size()) + 1; }

  /// Calls task(i) for every i in [0, tasks), tasks <= size(), task 0 on
  /// the calling thread, and returns when all are done. One run at a time,
  /// always from the same thread.
  void run(int tasks, const std::function<void(int)> &task);

private:
  void work(int index);
  /// Returns once `done()` holds: polls first (see PoolWaiting), then sleeps on
  /// `cv`; `sleepers` counts the threads asleep on it, so that the other
  /// side knows to notify.
  /// Returns whether it polled.
  template <typename Done>
  bool await(Done done, int64_t pollMicroseconds, std::condition_variable &cv,
             std::atomic<int> &sleepers);
  /// Makes every wait block at once for waiting.blockMicroseconds.
  void sawContention(int64_t now);
  static int64_t nanosecondsNow();

  const PoolWaiting waiting;
  const int cores;
  int64_t nextLoadCheck = 0; // the caller's
  /// Steady-clock nanoseconds before which every wait blocks at once.
  std::atomic<int64_t> pollingResumesAt{0};
  std::mutex mutex;
  std::condition_variable wake, finished;
  std::atomic<int> sleepingWorkers{0}, sleepingCaller{0};
  // The current run: `generation` holds a run counter above its task count;
  // `job` and `remaining` are written before it changes and read after.
  std::atomic<const std::function<void(int)> *> job{nullptr};
  std::atomic<int> remaining{0};
  std::atomic<uint64_t> generation{0};
  uint64_t current = 0; // the caller's copy of `generation`
  std::atomic<bool> stopping{false};
  std::vector<std::thread> workers;
};

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_THREADPOOL_H
