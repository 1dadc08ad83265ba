// comptoir-serve: a storefront's models behind HTTP.
//
//   comptoir-serve --port PORT --model NAME=PATH [--model NAME=PATH ...] [--threads N]
//                  [--host ADDRESS] [--user-id-key-env VAR] [--session-timeout SECONDS]
//                  [--max-sessions N] [--catalogue PATH]
//
// SIGHUP reloads every model file (all or nothing); SIGINT / SIGTERM stop the service.
#include <pthread.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "comptoir/comptoir.h"
#include "server.h"

namespace {

constexpr const char* kUsage =
    "usage: comptoir-serve --port PORT --model NAME=PATH [--model NAME=PATH ...] [--threads N]\n"
    "                      [--host ADDRESS] [--user-id-key-env VAR] [--session-timeout SECONDS]\n"
    "                      [--max-sessions N] [--catalogue PATH]\n"
    "  --catalogue PATH  product feed (CSV: item_id,category[,price]) for \"categories\" and price rules\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "comptoir-serve: %s\n%s", message.c_str(), kUsage);
  return 2;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  comptoir::SetLogSink([](comptoir::LogLevel, std::string_view message) {
    std::fprintf(stderr, "[comptoir] %.*s\n", static_cast<int>(message.size()), message.data());
  });
  comptoir::serve::ServerOptions options;
  options.port = -1;
  std::map<std::string, std::string> models;
  comptoir::LoadOptions load;
  std::string catalogue;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) return Fail(flag + " needs a value");
    const std::string value = argv[++i];
    long long number = 0;
    const bool numeric = absl::SimpleAtoi(value, &number);
    if (flag == "--port") {
      if (!numeric || number < 0 || number > 65535) return Fail("--port must be 0..65535");
      options.port = static_cast<int>(number);
    } else if (flag == "--threads") {
      if (!numeric || number < 1 || number > 1024) return Fail("--threads must be 1..1024");
      options.threads = static_cast<int>(number);
    } else if (flag == "--host") {
      options.host = value;
    } else if (flag == "--model") {
      const auto eq = value.find('=');
      if (eq == std::string::npos) return Fail("--model takes NAME=PATH, got '" + value + "'");
      const std::string name = value.substr(0, eq);
      if (!ValidName(name)) return Fail("model names are 1..64 letters, digits, '_', '-' or '.', got '" + name + "'");
      if (!models.emplace(name, value.substr(eq + 1)).second) return Fail("model '" + name + "' given twice");
    } else if (flag == "--user-id-key-env") {
      const char* key = std::getenv(value.c_str());
      if (key == nullptr || std::strlen(key) < 16) return Fail("$" + value + " must hold the user id key (16 bytes or more)");
      load.user_id_key = key;
    } else if (flag == "--session-timeout") {
      if (!numeric || number < 1) return Fail("--session-timeout must be a positive number of seconds");
      options.sessions.idle_timeout = std::chrono::seconds(number);
    } else if (flag == "--catalogue") {
      catalogue = value;
    } else if (flag == "--max-sessions") {
      if (!numeric || number < 1) return Fail("--max-sessions must be positive");
      options.sessions.max_sessions = static_cast<std::size_t>(number);
    } else {
      return Fail("unknown option " + flag);
    }
  }
  if (options.port < 0) return Fail("--port is required");
  if (models.empty()) return Fail("at least one --model NAME=PATH is required");

  // Signals go to one thread that waits for them; every other thread (the pool included) blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = comptoir::serve::ModelStore::Open(models, load, options.journal_limit, catalogue);
  if (!store.ok()) {
    std::fprintf(stderr, "comptoir-serve: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const auto loaded = (*store)->Snapshot();
  for (const auto& [name, served] : *loaded) {
    std::fprintf(stderr, "comptoir-serve: model '%s' (%s) from %s\n", name.c_str(), served->model->kind().c_str(),
                 served->path.c_str());
  }
  comptoir::serve::Server server(*std::move(store), options);
  // Bound before the signal thread starts, so that a stop never races the socket's creation.
  if (const absl::Status bound = server.Bind(); !bound.ok()) {
    std::fprintf(stderr, "comptoir-serve: %s\n", bound.ToString().c_str());
    return 1;
  }
  std::thread signal_thread([&] {
    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (signal == SIGHUP) {
        const absl::Status reloaded = server.Reload();
        std::fprintf(stderr, "comptoir-serve: reload %s\n", reloaded.ok() ? "done" : reloaded.ToString().c_str());
        continue;
      }
      server.Stop();
      return;
    }
  });
  const absl::Status served = server.Serve();
  if (!served.ok()) {
    std::fprintf(stderr, "comptoir-serve: %s\n", served.ToString().c_str());
    // Wake the signal thread so that it ends.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  return served.ok() ? 0 : 1;
}
