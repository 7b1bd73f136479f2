//===- LargeStack.cpp -----------------------------------------------------===//
#include "support/LargeStack.h"

#include <pthread.h>

namespace bdl {

int runWithLargeStack(const std::function<int()> &body) {
  struct Call {
    const std::function<int()> *body;
    int result;
  } call{&body, 0};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, size_t(512) << 20);
  pthread_t thread;
  auto run = [](void *p) -> void * {
    auto *c = static_cast<Call *>(p);
    c->result = (*c->body)();
    return nullptr;
  };
  int failed = pthread_create(&thread, &attr, run, &call);
  pthread_attr_destroy(&attr);
  if (failed)
    return body();
  pthread_join(thread, nullptr);
  return call.result;
}

} // namespace bdl
