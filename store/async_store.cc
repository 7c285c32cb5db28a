#include "store/async_store.h"

#include <utility>

namespace xmesh::store {

Result<std::unique_ptr<AsyncStore>> AsyncStore::start(const StoreFactory& factory, AsyncStoreOptions options) {
  size_t n = options.threads == 0 ? 1 : options.threads;
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < n; ++i) {
    Result<StorePtr> store = factory();
    if (!store) return store.error();
    auto w = std::make_unique<Worker>();
    w->store = std::move(store.value());
    workers.push_back(std::move(w));
  }
  size_t perWorker = (options.queueCapacity + n - 1) / n;
  std::unique_ptr<AsyncStore> as(new AsyncStore(std::move(workers), perWorker == 0 ? 1 : perWorker));
  return as;
}

AsyncStore::AsyncStore(std::vector<std::unique_ptr<Worker>> workers, size_t perWorkerCapacity)
    : workers_(std::move(workers)), perWorkerCapacity_(perWorkerCapacity) {
  for (auto& w : workers_) w->thread = std::thread([wp = w.get()] { run(*wp); });
}

AsyncStore::~AsyncStore() { shutdown(); }

bool AsyncStore::submit(Job job) {
  size_t n = workers_.size();
  size_t start = nextWorker_.fetch_add(1, std::memory_order_relaxed) % n;
  size_t best = start;
  for (size_t k = 1; k < n; ++k) {
    size_t i = (start + k) % n;
    if (workers_[i]->depth.load(std::memory_order_relaxed) <
        workers_[best]->depth.load(std::memory_order_relaxed))
      best = i;
  }
  return enqueue(*workers_[best], std::move(job));
}

bool AsyncStore::submit(std::string_view orderKey, Job job) {
  size_t i = std::hash<std::string_view>{}(orderKey) % workers_.size();
  return enqueue(*workers_[i], std::move(job));
}

bool AsyncStore::enqueue(Worker& w, Job&& job) {
  {
    std::lock_guard<std::mutex> lock(w.mu);
    if (w.stopping || w.queue.size() >= perWorkerCapacity_) return false;
    w.queue.push_back(std::move(job));
    w.depth.store(w.queue.size(), std::memory_order_relaxed);
  }
  w.cv.notify_one();
  return true;
}

bool AsyncStore::afterQueued(std::function<void()> done) {
  // One count for this call, one per marker: whoever brings it to zero runs `done`.
  auto left = std::make_shared<std::atomic<size_t>>(1);
  auto fn = std::make_shared<std::function<void()>>(std::move(done));
  auto countDown = [left, fn] {
    if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) (*fn)();
  };
  for (auto& w : workers_) {
    {
      std::lock_guard<std::mutex> lock(w->mu);
      if (w->stopping) return false;  // a worker that already took a marker just counts down
      if (w->queue.empty() && !w->running) continue;  // nothing earlier to wait for
      left->fetch_add(1, std::memory_order_relaxed);
      w->queue.push_back([countDown](Store&) { countDown(); });
      w->depth.store(w->queue.size(), std::memory_order_relaxed);
    }
    w->cv.notify_one();
  }
  countDown();
  return true;
}

size_t AsyncStore::queueDepth() const {
  size_t total = 0;
  for (const auto& w : workers_) total += w->depth.load(std::memory_order_relaxed);
  return total;
}

void AsyncStore::run(Worker& w) {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(w.mu);
      w.cv.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
      // Drain before exiting: a queued job was accepted, so its caller awaits a reply.
      if (w.queue.empty()) return;
      job = std::move(w.queue.front());
      w.queue.pop_front();
      w.depth.store(w.queue.size(), std::memory_order_relaxed);
      w.running = true;
    }
    job(*w.store);
    job = nullptr;  // its captures go before the flag says idle
    {
      std::lock_guard<std::mutex> lock(w.mu);
      w.running = false;
    }
  }
}

void AsyncStore::shutdown() {
  std::lock_guard<std::mutex> guard(shutdownMu_);
  if (shutDown_) return;
  shutDown_ = true;
  for (auto& w : workers_) {
    {
      std::lock_guard<std::mutex> lock(w->mu);
      w->stopping = true;
    }
    w->cv.notify_one();
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  // Connections close here, on the owning thread, after their worker is gone.
  for (auto& w : workers_) w->store.reset();
}

}  // namespace xmesh::store
