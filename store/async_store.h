// Runs store jobs on worker threads so event loops never block on the database.
//
// Each worker owns one Store connection (made by the factory) and one bounded FIFO.
// Loops only enqueue: submit() takes a short mutex and never waits for the database.
// AsyncStore knows nothing of libuv: a job that has a result posts it back to its
// caller's loop through a callback it captured (e.g. RouterEnv::post).
//
// Ordering: jobs given the same `orderKey` run one after another in submission order
// (they share a worker). Unkeyed jobs go to the least loaded worker and may run
// concurrently with, or overtake, earlier jobs: pass the bare username as key for
// writes whose order matters (two roster updates for one user).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace xmesh::store {

// Opens one connection; called once per worker, on the thread calling start().
using StoreFactory = std::function<Result<StorePtr>()>;

struct AsyncStoreOptions {
  size_t threads = 2;
  size_t queueCapacity = 4096;  // jobs waiting, summed over workers
};

class AsyncStore {
 public:
  using Job = std::function<void(Store&)>;

  // Opens every worker's connection before starting any thread, so a bad path or a
  // locked database is reported here, as a value.
  static Result<std::unique_ptr<AsyncStore>> start(const StoreFactory& factory,
                                                   AsyncStoreOptions options = {});
  // Drains and joins (shutdown()). Jobs may still post to loops while draining:
  // destroy the AsyncStore before the loops their callbacks post to.
  ~AsyncStore();
  AsyncStore(const AsyncStore&) = delete;
  AsyncStore& operator=(const AsyncStore&) = delete;

  // False when the queue is full or shutdown has begun: the job is dropped and will
  // never run; the caller answers with a temporary error (back-pressure).
  [[nodiscard]] bool submit(Job job);
  [[nodiscard]] bool submit(std::string_view orderKey, Job job);

  // Runs `done` once every job submitted before this call has run, on every worker: a
  // marker queued behind them, beyond the capacity bound (it is not work); at once, on
  // the calling thread, when no worker has anything queued or running. False, and `done`
  // never runs, once shutdown has begun. For "what I handed to the database so far is
  // written" (router/ack_gate.h).
  bool afterQueued(std::function<void()> done);

  // Jobs queued and not yet started (a gauge for metrics); any thread.
  size_t queueDepth() const;

  // Stops accepting jobs, runs every job already queued, joins the workers.
  // Idempotent; call from the owning thread, never from inside a job.
  void shutdown();

 private:
  struct Worker {
    StorePtr store;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> queue;
    std::atomic<size_t> depth{0};  // queue.size(), readable without the mutex
    bool running = false;          // a job is running (under mu)
    bool stopping = false;
    std::thread thread;
  };

  AsyncStore(std::vector<std::unique_ptr<Worker>> workers, size_t perWorkerCapacity);
  bool enqueue(Worker& w, Job&& job);
  static void run(Worker& w);

  std::vector<std::unique_ptr<Worker>> workers_;
  size_t perWorkerCapacity_;
  std::atomic<size_t> nextWorker_{0};  // where the search for the least loaded starts
  std::mutex shutdownMu_;
  bool shutDown_ = false;
};

}  // namespace xmesh::store
