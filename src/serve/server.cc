#include "server.h"

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <utility>

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "handlers.h"

namespace comptoir::serve {
namespace {

constexpr size_t kKeepAliveRequests = 10000;

const std::vector<std::string> kEndpoints = {"/healthz", "/metrics", "/v1/recommend", "/v1/events",
                                             "/v1/score", "/v1/offer", "/v1/forget"};

void Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  // Ids from model files are echoed as they are: never throw on bytes that are not UTF-8.
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

}  // namespace

struct Server::Impl {
  Impl(std::unique_ptr<ModelStore> store, const ServerOptions& opts)
      : options(opts),
        models(std::move(store)),
        sessions(opts.sessions, [this](EndedSession session) { models->AddEndedSession(session); }),
        metrics(kEndpoints) {
    state.models = models.get();
    state.sessions = &sessions;
  }

  // Wraps a JSON handler: parse, answer or error, and the endpoint's metrics.
  httplib::Server::Handler Json(const std::string& endpoint,
                                std::function<absl::StatusOr<serve::Json>(const ServiceState&, const serve::Json&)> handler) {
    return [this, endpoint, handler](const httplib::Request& req, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<serve::Json> answer = ParseBody(req.body);
      if (answer.ok()) answer = handler(state, *answer);
      const int status = answer.ok() ? 200 : HttpStatusOf(answer.status());
      Reply(res, status, answer.ok() ? *answer : ErrorBody(answer.status()));
      metrics.Observe(endpoint, status, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
  }

  std::string Gauges() const {
    std::string out = absl::StrCat("# HELP comptoir_live_sessions Live sessions held in memory.\n",
                                   "# TYPE comptoir_live_sessions gauge\ncomptoir_live_sessions ", sessions.size(), "\n",
                                   "# HELP comptoir_model_version Version of each served model (+1 per reload).\n",
                                   "# TYPE comptoir_model_version gauge\n");
    // Held for the loop: a range-for over *Snapshot() would free the set under it on a reload.
    const std::shared_ptr<const ModelSet> snapshot = models->Snapshot();
    for (const auto& [name, served] : *snapshot) {
      absl::StrAppend(&out, "comptoir_model_version{model=\"", name, "\",kind=\"", served->model->kind(), "\"} ",
                      served->version, "\n");
    }
    absl::StrAppend(&out, "# HELP comptoir_reloads_total Model reloads, by outcome.\n# TYPE comptoir_reloads_total counter\n",
                    "comptoir_reloads_total{outcome=\"ok\"} ", models->reloads(), "\n",
                    "comptoir_reloads_total{outcome=\"failed\"} ", models->failed_reloads(), "\n");
    return out;
  }

  void Route() {
    http.new_task_queue = [threads = options.threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_payload_max_length(kMaxBodyBytes);
    // Small JSON answers on keep-alive connections: without TCP_NODELAY each one waits out the
    // peer's delayed ACK (about 40 ms), and httplib's default of 5 requests per connection makes
    // clients reconnect all the time.
    http.set_tcp_nodelay(true);
    http.set_keep_alive_max_count(kKeepAliveRequests);
    http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      Reply(res, 200, Health(state));
      metrics.Observe("/healthz", 200, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      metrics.Observe("/metrics", 200, 0.0);
      res.set_content(metrics.Render(Gauges()), "text/plain; version=0.0.4");
    });
    http.Post("/v1/recommend", Json("/v1/recommend", HandleRecommend));
    http.Post("/v1/events", Json("/v1/events", HandleEvents));
    http.Post("/v1/score", Json("/v1/score", HandleScore));
    http.Post("/v1/offer", Json("/v1/offer", HandleOffer));
    http.Post("/v1/forget", Json("/v1/forget", HandleForget));
    // Errors the server itself answers (unknown path or method, body over the limit) get a JSON
    // body too; the handlers' own errors already carry one.
    http.set_error_handler(httplib::Server::Handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message = absl::StrCat("no endpoint ", req.method, " ", req.path);
      if (res.status == 413) message = absl::StrCat("the request body is larger than the ", kMaxBodyBytes, " bytes allowed");
      Reply(res, res.status, serve::Json{{"error", message}, {"code", res.status == 413 ? "RESOURCE_EXHAUSTED" : "NOT_FOUND"}});
      metrics.Observe(req.path, res.status, 0.0);
    }));
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
      std::string message = "internal error";
      try {
        if (error) std::rethrow_exception(error);
      } catch (const std::exception& e) {
        message = absl::StrCat("internal error: ", e.what());
      } catch (...) {
      }
      Reply(res, 500, serve::Json{{"error", message}, {"code", "INTERNAL"}});
      metrics.Observe(req.path, 500, 0.0);
    });
  }

  ServerOptions options;
  std::unique_ptr<ModelStore> models;
  LiveSessions sessions;
  Metrics metrics;
  ServiceState state;
  httplib::Server http;
};

Server::Server(std::unique_ptr<ModelStore> models, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(std::move(models), options)) {
  impl_->Route();
}

Server::~Server() = default;

absl::Status Server::Bind() {
  if (!impl_->http.bind_to_port(impl_->options.host, impl_->options.port)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", impl_->options.host, ":", impl_->options.port));
  }
  return absl::OkStatus();
}

absl::Status Server::Serve() {
  std::fprintf(stderr, "comptoir-serve: listening on %s:%d with %d threads\n", impl_->options.host.c_str(),
               impl_->options.port, impl_->options.threads);
  if (!impl_->http.listen_after_bind()) return absl::InternalError("the server stopped with an error");
  return absl::OkStatus();
}

void Server::Stop() { impl_->http.stop(); }

absl::Status Server::Reload() { return impl_->models->Reload(); }

}  // namespace comptoir::serve
