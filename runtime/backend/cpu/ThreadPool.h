//===- backend/cpu/ThreadPool.h - Workers that spin briefly, then sleep -*- C++ -*-===//
//
// The runtime owns the cores (docs/threads.md): OpenBLAS runs single-threaded
// inside this pool's slices, so one set of threads does all the parallel work.
//
// Why not OpenMP: libgomp's idle threads spin after each parallel region and
// then compete for the cores with other threads. A 784-500-10 MLP trained ten
// times slower on 2 threads than on 1 that way; OMP_WAIT_POLICY=passive cured
// it, but libgomp reads that variable only when it is loaded, before main
// could set it.
//
// Why spin at all: waking a worker blocked on a condition variable costs a
// futex round trip, about 7.5 us per run on the development VM, which made
// two threads slower than one on kernels of [32, 1000]. A training step hands
// out parallel work every few microseconds, so a worker first polls for the
// next run for kSpinMicroseconds and only then blocks. The pool never has more
// threads than --threads, so the spinning takes no core another thread of
// this process needs.
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

class ThreadPool {
public:
  /// How long an idle worker (or the caller waiting for the workers) polls
  /// before it blocks. Longer than the gap between two parallel ops of a
  /// training step (bench/pool_breakeven measures a few us), short enough
  /// that a pool between batches or epochs gives its cores back at once.
  static constexpr int64_t kSpinMicroseconds = 100;

  /// `threads` counts the calling thread, which takes part in every run.
  /// `spinMicroseconds` other than the default is for measurements
  /// (bench/pool_breakeven compares 0, i.e. blocking at once).
  explicit ThreadPool(int threads, int64_t workerSpinMicroseconds = kSpinMicroseconds,
                      int64_t callerSpinMicroseconds = kSpinMicroseconds);
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
  /// Polls `done` for spinMicroseconds, then sleeps on `cv` until it holds;
  /// `sleepers` counts the threads asleep so that the other side knows to
  /// notify.
  template <typename Done>
  void await(Done done, int64_t spinMicroseconds, std::condition_variable &cv,
             std::atomic<int> &sleepers);

  const int64_t workerSpin, callerSpin;
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
