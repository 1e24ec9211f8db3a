#include "common/periodic_thread.h"

#include <pthread.h>

#include <string>
#include <utility>

namespace firstsip {

PeriodicThread::PeriodicThread(const char* name, absl::Duration interval,
                               std::function<void()> task)
    : interval_(interval), task_(std::move(task)) {
  thread_ = std::thread([this, thread_name = std::string(name)] {
    pthread_setname_np(pthread_self(), thread_name.c_str());
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [&] { return stopping_; })) {
      lock.unlock();
      task_();
      lock.lock();
    }
  });
}

PeriodicThread::~PeriodicThread() { Stop(); }

void PeriodicThread::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool PeriodicThread::stopping() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopping_;
}

}  // namespace firstsip
