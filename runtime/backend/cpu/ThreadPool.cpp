//===- backend/cpu/ThreadPool.cpp -----------------------------------------===//

#include "ThreadPool.h"

namespace bdl::cpu {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

void ThreadPool::run(int tasks, const std::function<void(int)> &task) {
  if (tasks <= 1 || workers.empty()) {
    for (int i = 0; i < tasks; ++i)
      task(i);
    return;
  }
  {
    std::lock_guard lock(mutex);
    job = &task;
    jobTasks = tasks;
    remaining = tasks - 1;
    ++generation;
  }
  wake.notify_all();
  task(0);
  std::unique_lock lock(mutex);
  finished.wait(lock, [&] { return remaining == 0; });
  job = nullptr;
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  std::unique_lock lock(mutex);
  for (;;) {
    wake.wait(lock, [&] { return stopping || generation != seen; });
    if (stopping)
      return;
    // A worker that slept through a run it had no part in simply joins the
    // current one: job and jobTasks always describe the latest generation.
    seen = generation;
    if (index >= jobTasks)
      continue;
    const std::function<void(int)> *task = job;
    lock.unlock();
    (*task)(index);
    lock.lock();
    if (--remaining == 0)
      finished.notify_one();
  }
}

} // namespace bdl::cpu
