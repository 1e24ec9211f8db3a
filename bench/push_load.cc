// firstsip-push-load: the capacity figures of push (docs/BENCHMARKS.md, "Push: watch streams
// and waiting claims"), measured against a running firstsip-server whose PID it is given.
//
//   --mode=watch   opens --streams WatchBriefings streams over --users users (stream i watches
//                  user --first-user + i % users) on --watch-channels HTTP/2 connections, waits
//                  until every stream has its headers, then measures the server's RSS and its
//                  CPU while idle. Then, with the streams open, drives --rate changes per second
//                  (open loop) for --seconds from --writer-channels other connections: each
//                  change on a random watched user with no change of its own outstanding, so an
//                  event is matched to its write exactly. Latency: the watcher's receipt minus
//                  the write's send (and minus the write's answer). Every write must reach every
//                  stream of its user, once.
//   --mode=claims  --workers loops of ClaimNextBriefing{wait}; the server's CPU while they all
//                  wait; then a producer creates briefings at --steady-rate for
//                  --steady-seconds and a --burst all at once. Latency: the claim's answer minus
//                  the create's send. Every created briefing must be claimed, none twice.
//
// Everything runs on gRPC's asynchronous completion-queue API: --threads threads drain one
// queue each, and every operation's tag is an Op. CPU figures are utime + stime deltas from
// /proc as % of one core; the server's, PostgreSQL's (the postmaster and its children, with
// --pg-pid) and this tool's own. Figures print as text, and as TSV (mode, figure, value) with
// --tsv. Exits 1 when a check fails (an error, a lost or repeated event, a double claim).
#include <dirent.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(std::string, mode, "watch", "watch (capacity, then delivery latency) | claims");
ABSL_FLAG(int, server_pid, 0, "the server's PID, for its RSS and CPU (required)");
ABSL_FLAG(int, pg_pid, 0, "the postmaster's PID: PostgreSQL's CPU is reported too (0: not)");
ABSL_FLAG(std::string, metrics, "", "the server's --metrics-listen HOST:PORT (empty: not read)");
ABSL_FLAG(std::string, tsv, "", "also append the figures to this file as TSV");
ABSL_FLAG(std::string, timeline, "",
          "watch: also write each second of the delivery phase (changes sent in it, their "
          "latency from send p50/p99/max in ms) to this file");
ABSL_FLAG(int, threads, 2, "completion-queue threads of this tool");
ABSL_FLAG(double, idle_seconds, 10, "how long idle CPU is measured");
// watch
ABSL_FLAG(int, streams, 10000, "WatchBriefings streams to open");
ABSL_FLAG(int, users, 10000, "users watched: ids first_user .. first_user + users - 1");
ABSL_FLAG(int, first_user, 1, "the first user id watched");
ABSL_FLAG(int, watch_channels, 10, "HTTP/2 connections the streams are spread over");
ABSL_FLAG(int, open_in_flight, 500, "streams opening at once (waiting for their headers)");
ABSL_FLAG(double, rate, 1000, "changes per second in the delivery phase; 0 skips the phase");
ABSL_FLAG(double, seconds, 25, "length of the delivery phase");
ABSL_FLAG(double, warmup, 2, "first seconds of the delivery phase left out of the percentiles");
ABSL_FLAG(bool, cycle, false,
          "each user's changes cycle Create, Start, Complete (every kind of event, completed "
          "ones with content); else every change is a CreateBriefing");
ABSL_FLAG(int, writer_channels, 4, "HTTP/2 connections the writes are spread over");
// claims
ABSL_FLAG(int, workers, 100, "workers looping ClaimNextBriefing with a wait");
ABSL_FLAG(absl::Duration, claim_wait, absl::Seconds(30), "ClaimNextBriefingRequest.wait");
ABSL_FLAG(double, steady_rate, 50, "creates per second in the steady phase");
ABSL_FLAG(double, steady_seconds, 10, "length of the steady phase");
ABSL_FLAG(int, burst, 500, "creates sent at once after the steady phase");
ABSL_FLAG(int, producer_users, 10000, "creates go to random users 1..producer_users");

namespace {

using Clock = std::chrono::steady_clock;
using firstsip::v1::BriefingService;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

void SleepSeconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// --- Figures -------------------------------------------------------------------------------

class Report {
 public:
  explicit Report(std::string mode) : mode_(std::move(mode)) {}

  void Add(const std::string& name, double value, const std::string& unit, int decimals = 0) {
    char text[64];
    std::snprintf(text, sizeof(text), "%.*f", decimals, value);
    Add(name, std::string(text), unit);
  }
  void Add(const std::string& name, const std::string& value, const std::string& unit) {
    std::printf("  %-44s %14s %s\n", name.c_str(), value.c_str(), unit.c_str());
    std::fflush(stdout);
    rows_.push_back(absl::StrCat(mode_, "\t", name, "\t", value, "\t", unit));
  }
  void Section(const std::string& title) {
    std::printf("%s\n", title.c_str());
    std::fflush(stdout);
  }
  void Fail(const std::string& why) {
    std::printf("  CHECK FAILED: %s\n", why.c_str());
    std::fflush(stdout);
    rows_.push_back(absl::StrCat(mode_, "\tcheck_failed\t", why, "\t-"));
    failed_ = true;
  }
  bool failed() const { return failed_; }

  void WriteTsv(const std::string& path) const {
    if (path.empty()) return;
    std::FILE* file = std::fopen(path.c_str(), "a");
    if (file == nullptr) {
      std::fprintf(stderr, "push-load: cannot write %s\n", path.c_str());
      return;
    }
    for (const std::string& row : rows_) std::fprintf(file, "%s\n", row.c_str());
    std::fclose(file);
  }

 private:
  std::string mode_;
  std::vector<std::string> rows_;
  bool failed_ = false;
};

// Sorts `values` (microseconds) and adds p50/p99/p999/max in milliseconds.
void AddPercentiles(Report& report, const std::string& name, std::vector<int64_t>& values) {
  std::sort(values.begin(), values.end());
  auto at = [&](double fraction) {
    if (values.empty()) return 0.0;
    size_t index = std::min(values.size() - 1, static_cast<size_t>(fraction * values.size()));
    return values[index] / 1000.0;
  };
  report.Add(name + "_samples", static_cast<double>(values.size()), "");
  report.Add(name + "_p50", at(0.50), "ms", 2);
  report.Add(name + "_p99", at(0.99), "ms", 2);
  report.Add(name + "_p999", at(0.999), "ms", 2);
  report.Add(name + "_max", values.empty() ? 0.0 : values.back() / 1000.0, "ms", 2);
}

// --- /proc ---------------------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A /proc/PID/status field in kB; -1 when unreadable.
int64_t StatusKb(int pid, const std::string& field) {
  std::string text =
      ReadFile(pid == 0 ? "/proc/self/status" : absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t kb = -1;
    if (!words.empty() && absl::SimpleAtoi(words[0], &kb)) return kb;
  }
  return -1;
}

// /proc/PID/stat's fields after the command name: [0] is field 3 (state), [1] the parent's
// PID, [11] utime, [12] stime, [13] cutime, [14] cstime (clock ticks).
std::vector<std::string> StatFields(const std::string& pid) {
  std::string text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  size_t close = text.rfind(')');
  if (close == std::string::npos) return {};
  return absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
}

double Ticks(const std::vector<std::string>& fields, size_t first, size_t last) {
  double sum = 0;
  for (size_t i = first; i <= last && i < fields.size(); ++i) {
    int64_t ticks = 0;
    if (absl::SimpleAtoi(fields[i], &ticks)) sum += static_cast<double>(ticks);
  }
  return sum / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds (user + system) of a process.
double ProcessCpu(int pid) { return Ticks(StatFields(std::to_string(pid)), 11, 12); }

// CPU seconds of the postmaster and its live children, plus what its exited children used.
double PostgresCpu(int postmaster) {
  if (postmaster == 0) return 0;
  double sum = Ticks(StatFields(std::to_string(postmaster)), 11, 14);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return sum;
  const std::string parent = std::to_string(postmaster);
  while (dirent* entry = readdir(proc)) {
    std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::vector<std::string> fields = StatFields(name);
    if (fields.size() > 12 && fields[1] == parent) sum += Ticks(fields, 11, 12);
  }
  closedir(proc);
  return sum;
}

double SelfCpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// CPU of the server, PostgreSQL and this tool between Start() and Add().
class CpuWindow {
 public:
  CpuWindow(int server_pid, int pg_pid) : server_pid_(server_pid), pg_pid_(pg_pid) {}
  void Start() {
    from_ = Clock::now();
    server_ = ProcessCpu(server_pid_);
    pg_ = PostgresCpu(pg_pid_);
    self_ = SelfCpu();
  }
  // Adds <prefix>_server_cpu, _pg_cpu and _tool_cpu as % of one core.
  void Add(Report& report, const std::string& prefix) const {
    double seconds = std::chrono::duration<double>(Clock::now() - from_).count();
    auto percent = [&](double cpu) { return seconds > 0 ? 100.0 * cpu / seconds : 0.0; };
    report.Add(prefix + "_window", seconds, "s", 1);
    report.Add(prefix + "_server_cpu", percent(ProcessCpu(server_pid_) - server_), "% of a core",
               2);
    if (pg_pid_ != 0) {
      report.Add(prefix + "_pg_cpu", percent(PostgresCpu(pg_pid_) - pg_), "% of a core", 2);
    }
    report.Add(prefix + "_tool_cpu", percent(SelfCpu() - self_), "% of a core", 2);
  }

 private:
  int server_pid_;
  int pg_pid_;
  Clock::time_point from_;
  double server_ = 0, pg_ = 0, self_ = 0;
};

// --- The server's Prometheus metrics -------------------------------------------------------

// GET http://HOSTPORT/metrics with HTTP/1.0; the body, or empty on any failure.
std::string FetchMetrics(const std::string& hostport) {
  if (hostport.empty()) return "";
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return "";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(hostport.substr(0, colon).c_str(), hostport.substr(colon + 1).c_str(), &hints,
                  &found) != 0) {
    return "";
  }
  std::string response;
  int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
    std::string request = "GET /metrics HTTP/1.0\r\nHost: " + hostport + "\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[65536];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The sum of every series of `name` (any labels); -1 when none is there.
double MetricValue(const std::string& text, const std::string& name) {
  double sum = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name)) continue;
    if (line.empty() || (line[0] != ' ' && line[0] != '{')) continue;
    size_t space = line.rfind(' ');
    double value = 0;
    if (space != absl::string_view::npos && absl::SimpleAtod(line.substr(space + 1), &value)) {
      sum = std::max(sum, 0.0) + value;
    }
  }
  return sum;
}

struct Histogram {
  std::map<double, double> buckets;  // le -> cumulative count
  double sum = 0;
  double count = 0;
};

Histogram ParseHistogram(const std::string& text, const std::string& name) {
  Histogram histogram;
  const std::string bucket = name + "_bucket{";
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, bucket)) {
      size_t le = line.find("le=\"");
      size_t end = le == absl::string_view::npos ? le : line.find('"', le + 4);
      size_t space = line.rfind(' ');
      if (end == absl::string_view::npos || space == absl::string_view::npos) continue;
      absl::string_view bound_text = line.substr(le + 4, end - le - 4);
      double bound = 0, value = 0;
      if (bound_text == "+Inf") {
        bound = 1e300;
      } else if (!absl::SimpleAtod(bound_text, &bound)) {
        continue;
      }
      if (absl::SimpleAtod(line.substr(space + 1), &value)) histogram.buckets[bound] += value;
    }
  }
  histogram.sum = std::max(0.0, MetricValue(text, name + "_sum"));
  histogram.count = std::max(0.0, MetricValue(text, name + "_count"));
  return histogram;
}

// A quantile of `after - before`, interpolated inside its bucket as Prometheus does.
double HistogramQuantile(const Histogram& before, const Histogram& after, double q) {
  double total = after.count - before.count;
  if (total <= 0) return 0;
  double rank = q * total, lower = 0, below = 0;
  for (const auto& [bound, cumulative] : after.buckets) {
    auto was = before.buckets.find(bound);
    double count = cumulative - (was == before.buckets.end() ? 0 : was->second);
    if (count >= rank) {
      if (bound >= 1e300) return lower;
      return lower + (bound - lower) * (count - below <= 0 ? 0 : (rank - below) / (count - below));
    }
    lower = bound;
    below = count;
  }
  return lower;
}

void AddLagHistogram(Report& report, const std::string& before_text,
                     const std::string& after_text) {
  const std::string name = "firstsip_change_notify_lag_seconds";
  Histogram before = ParseHistogram(before_text, name);
  Histogram after = ParseHistogram(after_text, name);
  double count = after.count - before.count;
  report.Add("notify_lag_count", count, "");
  if (count <= 0) return;
  report.Add("notify_lag_mean", 1000 * (after.sum - before.sum) / count, "ms", 3);
  report.Add("notify_lag_p50_est", 1000 * HistogramQuantile(before, after, 0.50), "ms", 3);
  report.Add("notify_lag_p99_est", 1000 * HistogramQuantile(before, after, 0.99), "ms", 3);
  // The buckets themselves, as "le_ms:count" of this phase.
  std::string buckets;
  for (const auto& [bound, cumulative] : after.buckets) {
    auto was = before.buckets.find(bound);
    double in = cumulative - (was == before.buckets.end() ? 0 : was->second);
    absl::StrAppend(&buckets, buckets.empty() ? "" : ",",
                    bound >= 1e300 ? std::string("inf") : absl::StrCat(bound * 1000), ":",
                    static_cast<int64_t>(in));
  }
  report.Add("notify_lag_cumulative_buckets_ms", buckets, "le:count");
}

// --- Completion queues ---------------------------------------------------------------------

// An asynchronous operation's tag: Done runs on a queue thread when the operation completes.
class Op {
 public:
  virtual ~Op() = default;
  virtual void Done(bool ok) = 0;
};

class Queues {
 public:
  explicit Queues(int count) {
    for (int i = 0; i < std::max(1, count); ++i) {
      queues_.push_back(std::make_unique<grpc::CompletionQueue>());
    }
    for (auto& queue : queues_) {
      threads_.emplace_back([q = queue.get()] {
        void* tag = nullptr;
        bool ok = false;
        while (q->Next(&tag, &ok)) static_cast<Op*>(tag)->Done(ok);
      });
    }
  }
  ~Queues() {
    for (auto& queue : queues_) queue->Shutdown();
    for (auto& thread : threads_) thread.join();
  }
  grpc::CompletionQueue* Get(size_t i) { return queues_[i % queues_.size()].get(); }

 private:
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
};

// Connections of their own: distinct channel arguments keep gRPC from sharing a subchannel.
std::vector<std::unique_ptr<BriefingService::Stub>> Stubs(const std::string& target, int count,
                                                          const std::string& tag) {
  std::vector<std::unique_ptr<BriefingService::Stub>> stubs;
  for (int i = 0; i < std::max(1, count); ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetString("firstsip.push_load.channel", absl::StrCat(tag, i));
    stubs.push_back(BriefingService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments)));
  }
  return stubs;
}

// One unary call: the answer (or error) handed to `done` on a queue thread, then freed.
template <typename Request, typename Response>
class UnaryOp final : public Op {
 public:
  using DoneFn = std::function<void(const grpc::Status&, const Response&, int64_t answered_us)>;
  using PrepareFn = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (
      BriefingService::Stub::*)(grpc::ClientContext*, const Request&, grpc::CompletionQueue*);

  // Sends now; returns the send time (µs).
  static int64_t Send(BriefingService::Stub* stub, PrepareFn prepare, const Request& request,
                      grpc::CompletionQueue* queue, absl::Duration timeout, DoneFn done) {
    auto* op = new UnaryOp(std::move(done));
    op->context_.set_deadline(std::chrono::system_clock::now() +
                              absl::ToChronoNanoseconds(timeout));
    int64_t sent = NowUs();
    op->reader_ = (stub->*prepare)(&op->context_, request, queue);
    op->reader_->StartCall();
    op->reader_->Finish(&op->response_, &op->status_, op);
    return sent;
  }
  void Done(bool /*ok*/) override {
    done_(status_, response_, NowUs());
    delete this;
  }

 private:
  explicit UnaryOp(DoneFn done) : done_(std::move(done)) {}
  DoneFn done_;
  grpc::ClientContext context_;
  Response response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
};

using CreateOp = UnaryOp<firstsip::v1::CreateBriefingRequest, firstsip::v1::Briefing>;
using StartOp = UnaryOp<firstsip::v1::StartBriefingRequest, firstsip::v1::Briefing>;
using CompleteOp = UnaryOp<firstsip::v1::CompleteBriefingRequest, firstsip::v1::Briefing>;

constexpr absl::Duration kWriteTimeout = absl::Seconds(10);

// Counts errors and keeps the first few messages.
class Errors {
 public:
  void Add(const std::string& what, const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
    if (first_.size() < 5) {
      first_.push_back(absl::StrCat(what, ": ", status.error_code(), " ", status.error_message()));
    }
  }
  int64_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  void Print() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& line : first_) std::fprintf(stderr, "push-load: %s\n", line.c_str());
  }

 private:
  mutable std::mutex mutex_;
  int64_t count_ = 0;
  std::vector<std::string> first_;
};

// --- Watch: streams and delivery -----------------------------------------------------------

class Delivery;

class WatchStream final : public Op {
 public:
  WatchStream(Delivery& owner, BriefingService::Stub* stub, grpc::CompletionQueue* queue,
              int64_t user_id)
      : owner_(owner), stub_(stub), queue_(queue), user_id_(user_id) {}

  void Open() {
    request_.set_user_id(user_id_);
    reader_ = stub_->PrepareAsyncWatchBriefings(&context_, request_, queue_);
    state_ = State::kStarting;
    reader_->StartCall(this);
  }
  void Cancel() { context_.TryCancel(); }
  int64_t user_id() const { return user_id_; }
  void Done(bool ok) override;

 private:
  enum class State { kStarting, kHeaders, kReading, kFinishing };
  void Finish() {
    state_ = State::kFinishing;
    reader_->Finish(&status_, this);
  }

  Delivery& owner_;
  BriefingService::Stub* stub_;
  grpc::CompletionQueue* queue_;
  const int64_t user_id_;
  grpc::ClientContext context_;
  firstsip::v1::WatchBriefingsRequest request_;
  firstsip::v1::WatchBriefingsResponse message_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncReader<firstsip::v1::WatchBriefingsResponse>> reader_;
  State state_ = State::kStarting;
  bool live_ = false;  // had its headers
};

// Which change a user has outstanding, and when each of its streams heard of it.
struct UserSlot {
  int streams = 0;        // streams watching the user (live)
  bool busy = false;      // a change is outstanding
  bool measured = false;  // sent after the warm-up
  char kind = 'c';        // c create, s start, f complete (finish)
  int64_t sent_us = 0;
  int64_t answered_us = 0;  // 0 until the write's answer arrived
  int events_due = 0;       // streams that have not yet heard of it
  std::vector<int64_t> event_us;
  int64_t briefing_id = 0;  // the user's latest briefing (cycle mode)
  firstsip::v1::BriefingStatus status = firstsip::v1::BRIEFING_STATUS_UNSPECIFIED;
};

class Delivery {
 public:
  explicit Delivery(int64_t first_user, int users) : first_user_(first_user), slots_(users) {}

  // --- streams ---
  void HeadersArrived(WatchStream& stream) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++slots_[Index(stream.user_id())].streams;
      ++live_;
      --opening_;
    }
    changed_.notify_all();
  }
  void Received(WatchStream& stream, const firstsip::v1::WatchBriefingsResponse& message) {
    int64_t now = NowUs();
    std::lock_guard<std::mutex> lock(mutex_);
    ++received_;
    UserSlot& slot = slots_[Index(stream.user_id())];
    if (message.briefing().user_id() != stream.user_id()) ++foreign_;
    if (!slot.busy || slot.events_due <= 0) {
      ++unexpected_;
      return;
    }
    slot.event_us.push_back(now);
    --slot.events_due;
    CompleteIfDoneLocked(slot);
  }
  void Ended(WatchStream& stream, const grpc::Status& status, bool was_live) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (was_live) {
        --slots_[Index(stream.user_id())].streams;
        --live_;
      } else {
        --opening_;
      }
      ++ended_;
      if (!(cancelling_ && status.error_code() == grpc::StatusCode::CANCELLED)) {
        errors_.Add(absl::StrCat("stream of user ", stream.user_id(), " ended"), status);
      }
    }
    changed_.notify_all();
  }

  // Blocks until fewer than `limit` streams are opening, then counts one more.
  void ReserveOpening(int limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return opening_ < limit; });
    ++opening_;
  }
  // Waits until no stream is opening; the live streams.
  int WaitOpened(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return opening_ == 0; });
    return live_;
  }
  void StartCancelling() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelling_ = true;
  }
  bool WaitEnded(int64_t total, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return ended_ >= total; });
  }

  // --- changes ---
  // Picks a random watched user with nothing outstanding and sends its next change.
  bool SendOne(std::vector<std::unique_ptr<BriefingService::Stub>>& writers, Queues& queues,
               bool cycle, bool measured, std::mt19937_64& random) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::uniform_int_distribution<size_t> pick(0, slots_.size() - 1);
    for (int attempt = 0; attempt < 64; ++attempt) {
      size_t index = pick(random);
      UserSlot& slot = slots_[index];
      if (slot.busy || slot.streams == 0) continue;
      const int64_t user_id = first_user_ + static_cast<int64_t>(index);
      slot.busy = true;
      slot.measured = measured;
      slot.answered_us = 0;
      slot.events_due = slot.streams;
      slot.event_us.clear();
      ++sent_;
      expected_events_ += slot.streams;
      BriefingService::Stub* stub = writers[sent_ % writers.size()].get();
      grpc::CompletionQueue* queue = queues.Get(sent_);
      auto answered = [this, index](const grpc::Status& status, const firstsip::v1::Briefing& b,
                                    int64_t at) { Answered(index, status, b, at); };
      if (cycle && slot.status == firstsip::v1::BRIEFING_STATUS_PENDING) {
        slot.kind = 's';
        firstsip::v1::StartBriefingRequest request;
        request.set_id(slot.briefing_id);
        slot.sent_us = StartOp::Send(stub, &BriefingService::Stub::PrepareAsyncStartBriefing,
                                     request, queue, kWriteTimeout, answered);
      } else if (cycle && slot.status == firstsip::v1::BRIEFING_STATUS_PROCESSING) {
        slot.kind = 'f';
        slot.sent_us =
            CompleteOp::Send(stub, &BriefingService::Stub::PrepareAsyncCompleteBriefing,
                             CompleteRequest(slot.briefing_id), queue, kWriteTimeout, answered);
      } else {
        slot.kind = 'c';
        firstsip::v1::CreateBriefingRequest request;
        request.set_user_id(user_id);
        slot.sent_us = CreateOp::Send(stub, &BriefingService::Stub::PrepareAsyncCreateBriefing,
                                      request, queue, kWriteTimeout, answered);
      }
      return true;
    }
    ++skipped_;
    return false;
  }

  // Waits until every change sent is answered and heard of (or the timeout).
  void WaitSettled(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return completed_ + failed_writes_ >= sent_; });
  }

  void AddFigures(Report& report, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    report.Add("changes_sent", static_cast<double>(sent_), "");
    report.Add("achieved_rate", static_cast<double>(sent_) / seconds, "changes/s", 1);
    report.Add("changes_skipped_no_idle_user", static_cast<double>(skipped_), "");
    report.Add("write_errors", static_cast<double>(failed_writes_), "");
    report.Add("events_expected", static_cast<double>(expected_events_), "");
    report.Add("events_delivered", static_cast<double>(delivered_), "");
    report.Add("events_received_total", static_cast<double>(received_), "");
    report.Add("events_unexpected", static_cast<double>(unexpected_), "");
    report.Add("events_foreign_user", static_cast<double>(foreign_), "");
    AddPercentiles(report, "latency_from_send", from_send_);
    AddPercentiles(report, "latency_from_answer", from_answer_);
    report.Add("events_before_write_answer", static_cast<double>(before_answer_), "");
    for (const auto& [kind, name] : std::vector<std::pair<char, std::string>>{
             {'c', "create"}, {'s', "start"}, {'f', "complete"}}) {
      auto& values = by_kind_[kind];
      if (values.empty()) continue;
      AddPercentiles(report, "latency_from_send_" + name, values);
    }
    AddPercentiles(report, "write_answer", write_latency_);
    if (failed_writes_ > 0) report.Fail(absl::StrCat(failed_writes_, " writes failed"));
    if (delivered_ != expected_events_ || unexpected_ > 0 || foreign_ > 0) {
      report.Fail(absl::StrCat("events: expected ", expected_events_, ", delivered ", delivered_,
                               ", unexpected ", unexpected_, ", another user's ", foreign_));
    }
  }

  // One line per second since `start_us`: second, events, p50, p99, max (ms).
  void WriteTimeline(const std::string& path, int64_t start_us) {
    if (path.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<int64_t, std::vector<int64_t>> by_second;
    for (const auto& [sent, latency] : timeline_) {
      by_second[(sent - start_us) / 1'000'000].push_back(latency);
    }
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr) return;
    std::fprintf(file, "second\tevents\tp50_ms\tp99_ms\tmax_ms\n");
    for (auto& [second, values] : by_second) {
      std::sort(values.begin(), values.end());
      auto at = [&](double f) {
        return values[std::min(values.size() - 1, static_cast<size_t>(f * values.size()))] / 1e3;
      };
      std::fprintf(file, "%lld\t%zu\t%.2f\t%.2f\t%.2f\n", static_cast<long long>(second),
                   values.size(), at(0.5), at(0.99), values.back() / 1e3);
    }
    std::fclose(file);
  }

  Errors& errors() { return errors_; }

 private:
  size_t Index(int64_t user_id) const { return static_cast<size_t>(user_id - first_user_); }

  static firstsip::v1::CompleteBriefingRequest CompleteRequest(int64_t id) {
    firstsip::v1::CompleteBriefingRequest request;
    request.set_id(id);
    auto& fields = *request.mutable_content()->mutable_fields();
    for (const char* section : {"news", "weather", "work"}) {
      fields[section].set_string_value(
          absl::StrCat("A few lines of ", section, " for the morning, as a worker writes them."));
    }
    return request;
  }

  void Answered(size_t index, const grpc::Status& status, const firstsip::v1::Briefing& briefing,
                int64_t at) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      UserSlot& slot = slots_[index];
      if (!status.ok()) {
        errors_.Add(absl::StrCat("write ", std::string(1, slot.kind)), status);
        ++failed_writes_;
        slot.busy = false;  // an event it may still cause counts as unexpected
        slot.status = firstsip::v1::BRIEFING_STATUS_UNSPECIFIED;
      } else {
        slot.answered_us = at;
        slot.briefing_id = briefing.id();
        slot.status = briefing.status();
        if (slot.measured) write_latency_.push_back(at - slot.sent_us);
        CompleteIfDoneLocked(slot);
      }
    }
    changed_.notify_all();
  }

  void CompleteIfDoneLocked(UserSlot& slot) {
    if (slot.answered_us == 0 || slot.events_due > 0) return;
    for (int64_t event : slot.event_us) {
      ++delivered_;
      if (event < slot.answered_us) ++before_answer_;
      if (!slot.measured) continue;
      from_send_.push_back(event - slot.sent_us);
      timeline_.emplace_back(slot.sent_us, event - slot.sent_us);
      // Negative when the event beat the answer: clamped, counted in before_answer_.
      from_answer_.push_back(std::max<int64_t>(0, event - slot.answered_us));
      by_kind_[slot.kind].push_back(event - slot.sent_us);
    }
    slot.busy = false;
    ++completed_;
    changed_.notify_all();
  }

  const int64_t first_user_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<UserSlot> slots_;  // guarded by mutex_, as is everything below
  int opening_ = 0;
  int live_ = 0;
  int64_t ended_ = 0;
  bool cancelling_ = false;
  int64_t sent_ = 0, completed_ = 0, failed_writes_ = 0, skipped_ = 0;
  int64_t expected_events_ = 0, delivered_ = 0, received_ = 0, unexpected_ = 0, foreign_ = 0;
  int64_t before_answer_ = 0;
  std::vector<int64_t> from_send_, from_answer_, write_latency_;
  std::vector<std::pair<int64_t, int64_t>> timeline_;  // sent, latency from send (µs)
  std::map<char, std::vector<int64_t>> by_kind_;
  Errors errors_;
};

void WatchStream::Done(bool ok) {
  switch (state_) {
    case State::kStarting:
      if (!ok) return Finish();
      state_ = State::kHeaders;
      reader_->ReadInitialMetadata(this);
      return;
    case State::kHeaders:
      if (!ok) return Finish();
      live_ = true;
      owner_.HeadersArrived(*this);
      state_ = State::kReading;
      reader_->Read(&message_, this);
      return;
    case State::kReading:
      if (!ok) return Finish();
      owner_.Received(*this, message_);
      reader_->Read(&message_, this);
      return;
    case State::kFinishing:
      owner_.Ended(*this, status_, live_);
      return;
  }
}

int RunWatch(Report& report, int server_pid, int pg_pid, const std::string& metrics) {
  const std::string target = absl::GetFlag(FLAGS_target);
  const int streams = absl::GetFlag(FLAGS_streams);
  const int users = absl::GetFlag(FLAGS_users);
  const int64_t first_user = absl::GetFlag(FLAGS_first_user);
  const double idle_seconds = absl::GetFlag(FLAGS_idle_seconds);
  Queues queues(absl::GetFlag(FLAGS_threads));
  auto watch_stubs = Stubs(target, absl::GetFlag(FLAGS_watch_channels), "watch");
  auto writer_stubs = Stubs(target, absl::GetFlag(FLAGS_writer_channels), "write");
  Delivery delivery(first_user, users);

  report.Section(absl::StrCat("watch capacity: ", streams, " streams over ", users, " users, ",
                              watch_stubs.size(), " connections"));
  report.Add("server_rss_before", static_cast<double>(StatusKb(server_pid, "VmRSS")), "kB");
  report.Add("tool_rss_before", static_cast<double>(StatusKb(0, "VmRSS")), "kB");
  std::vector<std::unique_ptr<WatchStream>> all;
  all.reserve(streams);
  const int limit = std::max(1, absl::GetFlag(FLAGS_open_in_flight));
  auto open_from = Clock::now();
  CpuWindow opening(server_pid, pg_pid);
  opening.Start();
  for (int i = 0; i < streams; ++i) {
    all.push_back(std::make_unique<WatchStream>(delivery, watch_stubs[i % watch_stubs.size()].get(),
                                                queues.Get(i), first_user + i % users));
    delivery.ReserveOpening(limit);
    all.back()->Open();
  }
  const int live = delivery.WaitOpened(absl::Seconds(60));
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_from).count();
  report.Add("streams_with_headers", live, "");
  report.Add("open_seconds", open_seconds, "s", 2);
  report.Add("open_rate", live / open_seconds, "streams/s", 0);
  opening.Add(report, "open");
  if (live != streams) report.Fail(absl::StrCat("only ", live, " of ", streams, " streams opened"));
  if (!metrics.empty()) {
    report.Add("server_watch_streams_gauge",
               MetricValue(FetchMetrics(metrics), "firstsip_watch_streams"), "");
  }
  SleepSeconds(2);  // let the opening's garbage settle (jemalloc returns pages after 1 s)
  CpuWindow idle(server_pid, pg_pid);
  idle.Start();
  SleepSeconds(idle_seconds);
  idle.Add(report, "idle");
  const int64_t rss = StatusKb(server_pid, "VmRSS");
  report.Add("server_rss_with_streams", static_cast<double>(rss), "kB");
  report.Add("server_hwm", static_cast<double>(StatusKb(server_pid, "VmHWM")), "kB");
  report.Add("server_threads", static_cast<double>(StatusKb(server_pid, "Threads")), "");
  report.Add("tool_rss_with_streams", static_cast<double>(StatusKb(0, "VmRSS")), "kB");

  const double rate = absl::GetFlag(FLAGS_rate);
  if (rate > 0 && live > 0) {
    const double seconds = absl::GetFlag(FLAGS_seconds);
    const double warmup = absl::GetFlag(FLAGS_warmup);
    const bool cycle = absl::GetFlag(FLAGS_cycle);
    report.Section(absl::StrCat("delivery latency: ", rate, " changes/s for ", seconds, " s (",
                                warmup, " s warm-up left out), ",
                                cycle ? "create/start/complete cycle" : "CreateBriefing only", ", ",
                                writer_stubs.size(), " writer connections"));
    const std::string metrics_before = FetchMetrics(metrics);
    CpuWindow busy(server_pid, pg_pid);
    busy.Start();
    std::mt19937_64 random(20261130);
    const auto start = Clock::now();
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    const int64_t total = static_cast<int64_t>(rate * seconds);
    double worst_behind_ms = 0;
    for (int64_t i = 0; i < total; ++i) {
      auto due = start + std::chrono::duration_cast<Clock::duration>(interval * i);
      std::this_thread::sleep_until(due);
      worst_behind_ms = std::max(
          worst_behind_ms, std::chrono::duration<double, std::milli>(Clock::now() - due).count());
      bool measured = Clock::now() - start >= std::chrono::duration<double>(warmup);
      delivery.SendOne(writer_stubs, queues, cycle, measured, random);
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    delivery.WaitSettled(absl::Seconds(15));
    busy.Add(report, "delivery");
    report.Add("pacer_worst_behind_schedule", worst_behind_ms, "ms", 2);
    delivery.AddFigures(report, elapsed);
    delivery.WriteTimeline(
        absl::GetFlag(FLAGS_timeline),
        std::chrono::duration_cast<std::chrono::microseconds>(start.time_since_epoch()).count());
    AddLagHistogram(report, metrics_before, FetchMetrics(metrics));
    report.Add("server_rss_after_delivery", static_cast<double>(StatusKb(server_pid, "VmRSS")),
               "kB");
    report.Add("server_hwm_after_delivery", static_cast<double>(StatusKb(server_pid, "VmHWM")),
               "kB");
  }

  delivery.StartCancelling();
  for (auto& stream : all) stream->Cancel();
  if (!delivery.WaitEnded(streams, absl::Seconds(30))) {
    report.Fail("streams did not end within 30 s of being cancelled");
  }
  if (delivery.errors().count() > 0) {
    delivery.errors().Print();
    report.Fail(absl::StrCat(delivery.errors().count(), " errors (streams ended early, writes)"));
  }
  return 0;
}

// --- Claims --------------------------------------------------------------------------------

class Claims;

class ClaimWorker final : public Op {
 public:
  ClaimWorker(Claims& owner, BriefingService::Stub* stub, grpc::CompletionQueue* queue)
      : owner_(owner), stub_(stub), queue_(queue) {}
  void Issue();
  void Cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (context_ != nullptr) context_->TryCancel();
  }
  void Done(bool ok) override;

 private:
  Claims& owner_;
  BriefingService::Stub* stub_;
  grpc::CompletionQueue* queue_;
  std::mutex mutex_;  // context_ against Cancel
  std::unique_ptr<grpc::ClientContext> context_;
  firstsip::v1::ClaimNextBriefingRequest request_;
  firstsip::v1::ClaimNextBriefingResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<firstsip::v1::ClaimNextBriefingResponse>> reader_;
};

class Claims {
 public:
  // phase: 's' steady, 'b' burst.
  void Created(int64_t id, int64_t sent_us, char phase) {
    std::lock_guard<std::mutex> lock(mutex_);
    created_[id] = {sent_us, phase};
    changed_.notify_all();
  }
  void CreateFailed(const grpc::Status& status) {
    errors_.Add("create", status);
    std::lock_guard<std::mutex> lock(mutex_);
    ++create_errors_;
    changed_.notify_all();
  }
  void Claimed(int64_t id, int64_t at) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!claimed_.emplace(id, at).second) ++claimed_twice_;
    ++claims_;
    changed_.notify_all();
  }
  void Empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++empty_answers_;
  }
  void Failed(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    ++claim_errors_;
    errors_.Add("claim", status);
  }
  void Finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++finished_;
    changed_.notify_all();
  }
  bool stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  int64_t claims() {
    std::lock_guard<std::mutex> lock(mutex_);
    return claims_;
  }
  // Waits until every create is answered and claimed.
  bool WaitAllClaimed(int64_t sent, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
      if (static_cast<int64_t>(created_.size()) + create_errors_ < sent) return false;
      for (const auto& [id, created] : created_) {
        if (claimed_.count(id) == 0) return false;
      }
      return true;
    });
  }
  bool WaitFinished(int workers, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return finished_ >= workers; });
  }
  void MarkLeftovers() {
    std::lock_guard<std::mutex> lock(mutex_);
    leftovers_ = claims_;
  }

  void AddFigures(Report& report) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<char, std::vector<int64_t>> latency;
    int64_t unclaimed = 0;
    for (const auto& [id, created] : created_) {
      auto claimed = claimed_.find(id);
      if (claimed == claimed_.end()) {
        ++unclaimed;
        continue;
      }
      latency[created.second].push_back(claimed->second - created.first);
    }
    const int64_t ours = claims_ - leftovers_;
    report.Add("creates_ok", static_cast<double>(created_.size()), "");
    report.Add("create_errors", static_cast<double>(create_errors_), "");
    report.Add("claims", static_cast<double>(ours), "");
    report.Add("claims_of_leftover_briefings", static_cast<double>(leftovers_), "");
    report.Add("claimed_twice", static_cast<double>(claimed_twice_), "");
    report.Add("unclaimed", static_cast<double>(unclaimed), "");
    report.Add("empty_answers_wait_over", static_cast<double>(empty_answers_), "");
    report.Add("claim_errors", static_cast<double>(claim_errors_), "");
    AddPercentiles(report, "steady_create_to_claim", latency['s']);
    AddPercentiles(report, "burst_create_to_claim", latency['b']);
    if (claimed_twice_ > 0) report.Fail(absl::StrCat(claimed_twice_, " briefings claimed twice"));
    if (unclaimed > 0 || ours != static_cast<int64_t>(created_.size())) {
      report.Fail(
          absl::StrCat("creates ", created_.size(), ", claims ", ours, ", unclaimed ", unclaimed));
    }
    if (create_errors_ + claim_errors_ > 0) {
      errors_.Print();
      report.Fail(absl::StrCat(create_errors_, " creates and ", claim_errors_, " claims failed"));
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::unordered_map<int64_t, std::pair<int64_t, char>> created_;  // id -> sent, phase
  std::unordered_map<int64_t, int64_t> claimed_;                   // id -> answered
  int64_t claims_ = 0, claimed_twice_ = 0, empty_answers_ = 0, claim_errors_ = 0;
  int64_t create_errors_ = 0, leftovers_ = 0;
  int finished_ = 0;
  bool stopping_ = false;
  Errors errors_;
};

void ClaimWorker::Issue() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (owner_.stopping()) {
    owner_.Finished();
    return;
  }
  const absl::Duration wait = absl::GetFlag(FLAGS_claim_wait);
  context_ = std::make_unique<grpc::ClientContext>();
  context_->set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoNanoseconds(wait + absl::Seconds(5)));
  request_.mutable_wait()->set_seconds(absl::ToInt64Seconds(wait));
  response_.Clear();
  reader_ = stub_->PrepareAsyncClaimNextBriefing(context_.get(), request_, queue_);
  reader_->StartCall();
  reader_->Finish(&response_, &status_, this);
}

void ClaimWorker::Done(bool /*ok*/) {
  const int64_t now = NowUs();
  if (status_.ok()) {
    if (response_.has_briefing()) {
      owner_.Claimed(response_.briefing().id(), now);
    } else {
      owner_.Empty();
    }
  } else {
    owner_.Failed(status_);
    if (!owner_.stopping()) SleepSeconds(0.1);  // no busy loop against a failing server
  }
  Issue();
}

int RunClaims(Report& report, int server_pid, int pg_pid, const std::string& metrics) {
  const std::string target = absl::GetFlag(FLAGS_target);
  const int workers = absl::GetFlag(FLAGS_workers);
  Queues queues(absl::GetFlag(FLAGS_threads));
  auto worker_stubs = Stubs(target, 2, "claim");
  auto producer_stubs = Stubs(target, 1, "produce");
  Claims claims;
  report.Section(absl::StrCat("waiting claims: ", workers, " workers, wait ",
                              absl::FormatDuration(absl::GetFlag(FLAGS_claim_wait))));
  std::vector<std::unique_ptr<ClaimWorker>> all;
  for (int i = 0; i < workers; ++i) {
    all.push_back(std::make_unique<ClaimWorker>(claims, worker_stubs[i % worker_stubs.size()].get(),
                                                queues.Get(i)));
  }
  for (auto& worker : all) worker->Issue();
  // Every worker waiting: the server's gauge says so, and leftovers have been claimed.
  double waiting = -1;
  for (int i = 0; i < 100; ++i) {
    SleepSeconds(0.1);
    waiting = MetricValue(FetchMetrics(metrics), "firstsip_claim_waiters");
    if (metrics.empty() || waiting >= workers) break;
  }
  SleepSeconds(1);
  claims.MarkLeftovers();
  report.Add("server_claim_waiters_gauge", waiting, "");
  report.Add("server_rss_waiting", static_cast<double>(StatusKb(server_pid, "VmRSS")), "kB");
  CpuWindow idle(server_pid, pg_pid);
  idle.Start();
  SleepSeconds(absl::GetFlag(FLAGS_idle_seconds));
  idle.Add(report, "waiting_idle");

  std::mt19937_64 random(4242);
  std::uniform_int_distribution<int64_t> user(1, std::max(1, absl::GetFlag(FLAGS_producer_users)));
  int64_t sent = 0;
  auto create = [&](char phase) {
    firstsip::v1::CreateBriefingRequest request;
    request.set_user_id(user(random));
    // Taken just before the call starts (CreateOp::Send takes its own a moment later).
    const int64_t sent_at = NowUs();
    auto done = [&claims, sent_at, phase](const grpc::Status& status,
                                          const firstsip::v1::Briefing& briefing, int64_t) {
      if (status.ok()) {
        claims.Created(briefing.id(), sent_at, phase);
      } else {
        claims.CreateFailed(status);
      }
    };
    CreateOp::Send(producer_stubs[0].get(), &BriefingService::Stub::PrepareAsyncCreateBriefing,
                   request, queues.Get(static_cast<size_t>(sent)), kWriteTimeout, done);
    ++sent;
  };
  const double rate = absl::GetFlag(FLAGS_steady_rate);
  const int64_t steady = static_cast<int64_t>(rate * absl::GetFlag(FLAGS_steady_seconds));
  CpuWindow busy(server_pid, pg_pid);
  busy.Start();
  const auto start = Clock::now();
  for (int64_t i = 0; i < steady; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(i / rate)));
    create('s');
  }
  claims.WaitAllClaimed(sent, absl::Seconds(10));
  busy.Add(report, "steady");
  const int burst = absl::GetFlag(FLAGS_burst);
  for (int i = 0; i < burst; ++i) create('b');
  if (!claims.WaitAllClaimed(sent, absl::Seconds(20))) {
    report.Fail("not every created briefing was claimed within 20 s");
  }
  report.Add("steady_rate", rate, "creates/s", 1);
  report.Add("burst_size", burst, "creates");
  claims.Stop();
  for (auto& worker : all) worker->Cancel();
  if (!claims.WaitFinished(workers, absl::Seconds(40))) report.Fail("workers did not stop");
  claims.AddFigures(report);
  report.Add("server_rss_end", static_cast<double>(StatusKb(server_pid, "VmRSS")), "kB");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  if (server_pid <= 0 || StatusKb(server_pid, "VmRSS") < 0) {
    std::fprintf(stderr, "push-load: --server-pid must name the running server\n");
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string metrics = absl::GetFlag(FLAGS_metrics);
  Report report(mode);
  if (mode == "watch") {
    RunWatch(report, server_pid, absl::GetFlag(FLAGS_pg_pid), metrics);
  } else if (mode == "claims") {
    RunClaims(report, server_pid, absl::GetFlag(FLAGS_pg_pid), metrics);
  } else {
    std::fprintf(stderr, "push-load: unknown --mode %s\n", mode.c_str());
    return 2;
  }
  report.WriteTsv(absl::GetFlag(FLAGS_tsv));
  return report.failed() ? 1 : 0;
}
