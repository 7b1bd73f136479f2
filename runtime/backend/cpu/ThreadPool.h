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
// futex wake-up and the scheduler's latency, 5.7 us against 0.2 us for a
// polling worker on the idle development VM (bench/pool_breakeven, "empty
// run"), and a virtual CPU that went idle can take hundreds of microseconds
// to wake: with workers that blocked at once, two threads trained fa_mlp no
// faster than one. So an idle worker polls for the next run, and the caller
// for the workers to finish, long enough to bridge the serial stretches of
// a training step, and only then blocks.
//
// Polling only pays while every pool thread has a core to itself: on a
// machine running more threads than cores it burns the time slices the other
// threads need (two polling threads trained fa_mlp at a third of the speed
// of one on the loaded VM). Three signs say the pool's threads are losing
// their cores: the caller ran for less than 80% of the wall time over the
// last few milliseconds, a polling thread saw a long gap between two polls,
// or a worker that was polling finished its task far behind the caller.
// Then, for a while, the caller runs every task itself and the workers
// sleep; the while doubles each time a sign shows again right after it.
// Whoever runs a task, it computes the same thing: results never depend on
// this.
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
  int64_t workerPollMicroseconds = 300;
  /// How long the caller polls for the workers to finish before it blocks.
  int64_t callerPollMicroseconds = 300;
  /// A gap this long between two polls means the thread lost its core; so
  /// does a worker finishing this much (or a quarter of the caller's own
  /// task time, if longer) after the caller.
  int64_t preemptedMicroseconds = 200;
  /// After that, the caller runs every task itself for this long, twice as
  /// long each time the pool sees contention again right after (the machine
  /// stays busy), up to the maximum.
  int64_t minBlockMicroseconds = 1000;
  int64_t maxBlockMicroseconds = 200000;
};

class ThreadPool {
public:
  /// `threads` counts the calling thread, which takes part in every run.
  explicit ThreadPool(int threads, PoolWaiting waiting = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return int(workers.size()) + 1; }

  /// Calls task(i) once for every i in [0, tasks), tasks <= size(), and
  /// returns when all are done. The caller and the workers claim task
  /// indices in turn, so a worker that is slow to start (asleep, or
  /// without a core) leaves its share to the others; which thread runs which
  /// task never changes what a task computes. Tasks must not wait for each
  /// other: the caller may run them all, one after the other. One run at a
  /// time, always from the same thread.
  void run(int tasks, const std::function<void(int)> &task);

private:
  void work();
  /// Claims and runs tasks of run `generation` until none is left; returns
  /// how many it ran.
  int runClaimed(uint64_t generation);
  /// Returns once `done()` holds: polls first (see PoolWaiting), then sleeps on
  /// `cv`; `sleepers` counts the threads asleep on it, so that the other
  /// side knows to notify.
  /// Returns whether it polled.
  template <typename Done>
  bool await(Done done, int64_t pollMicroseconds, std::condition_variable &cv,
             std::atomic<int> &sleepers);
  /// Starts (or lengthens) a spell in which the caller runs every task.
  void sawContention(int64_t now);
  static int64_t nanosecondsNow();
  /// Every few milliseconds: a caller that ran for less than 80% of the wall
  /// time since the last check lost its core to something.
  void checkCallerCore(int64_t now);
  int64_t nextCoreCheck = 0, coreCheckCpu = 0, coreCheckWall = 0; // the caller's

  const PoolWaiting waiting;
  /// Steady-clock nanoseconds before which the caller runs every task and
  /// no wait polls.
  std::atomic<int64_t> pollingResumesAt{0};
  std::atomic<int64_t> blockNanoseconds{0}, lastContention{0};
  std::mutex mutex;
  std::condition_variable wake, finished;
  std::atomic<int> sleepingWorkers{0}, sleepingCaller{0};
  // The current run, one word: a run counter, its task count and the next
  // task index to claim (ThreadPool.cpp), so that a claim can never mix two
  // runs. `job` and `remaining` are written before the word changes to a
  // new run and read after.
  std::atomic<const std::function<void(int)> *> job{nullptr};
  std::atomic<int> remaining{0};
  std::atomic<uint64_t> claims{0};
  uint64_t runs = 0; // the caller's run counter
  std::atomic<bool> stopping{false};
  std::vector<std::thread> workers;
};

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_THREADPOOL_H
