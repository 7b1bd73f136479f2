//===- backend/cpu/ThreadPool.h - Workers that sleep when idle --*- C++ -*-===//
//
// Why not OpenMP: libgomp's idle threads spin after each parallel region and
// then compete for the cores with OpenBLAS's own threads in the GEMM that
// follows. A 784-500-10 MLP trained ten times slower on 2 threads than on 1
// that way; OMP_WAIT_POLICY=passive cured it, but libgomp reads that
// variable only when it is loaded, before main could set it. These workers
// block on a condition variable as soon as their slice is done.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CPU_THREADPOOL_H
#define BDL_BACKEND_CPU_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bdl::cpu {

class ThreadPool {
public:
  /// `threads` counts the calling thread, which takes part in every run.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return int(workers.size()) + 1; }

  /// Calls task(i) for every i in [0, tasks), tasks <= size(), task 0 on
  /// the calling thread, and returns when all are done. One run at a time.
  void run(int tasks, const std::function<void(int)> &task);

private:
  void work(int index);

  std::mutex mutex;
  std::condition_variable wake, finished;
  const std::function<void(int)> *job = nullptr;
  int jobTasks = 0;
  int remaining = 0;
  uint64_t generation = 0;
  bool stopping = false;
  std::vector<std::thread> workers;
};

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_THREADPOOL_H
