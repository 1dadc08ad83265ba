// The HTTP face of the service: cpp-httplib's thread-pool server with every endpoint, JSON
// errors for every 4xx/5xx (bad bodies, unknown paths, bodies over the size limit), metrics per
// endpoint, and reload / stop hooks for the signal thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "live_sessions.h"
#include "metrics.h"
#include "model_store.h"

namespace comptoir::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 4;
  LiveSessionOptions sessions;
  std::size_t journal_limit = 100'000;  // online sessions kept to replay after a reload
};

class Server {
 public:
  // The models must already be loaded: the server is ready when it listens.
  Server(std::unique_ptr<ModelStore> models, const ServerOptions& options);
  ~Server();

  // Binds the port (Unavailable when it cannot); then Serve() answers until Stop(). Stop() may
  // be called from another thread once Bind() returned.
  absl::Status Bind();
  absl::Status Serve();
  void Stop();
  // SIGHUP: every file again, swapped in at once; a failure keeps the old models (and is logged).
  absl::Status Reload();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace comptoir::serve
